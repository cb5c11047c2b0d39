//! Template-data fields as the kernel hashes them (`ima_template_lib.c`): encoding for the ASCII
//! parser, decoding for the binary parser, shared by both so they build identical entries.
//!
//! Field layouts (every field but the legacy `ima` ones is `u32le(len) || bytes`):
//! - `d-ng`: `alg ":" "\0" digest`; `n-ng`: `name "\0"` (the kernel turns spaces into `_`);
//!   `sig`, `buf`, `modsig`: raw bytes, possibly empty; `d-modsig`: like `d-ng`, or empty.
//! - legacy `ima` (`d|n`): a bare 20-byte SHA-1 digest, then the name NUL-padded to 256 bytes
//!   (`IMA_EVENT_NAME_LEN_MAX + 1`), with no length prefixes (`ima_calc_field_array_hash_tfm`).

use std::ops::Range;

use serde::Serialize;

use crate::hash::{DigestBuf, HashAlg, MAX_DIGEST_LEN};
use crate::list::{Event, FileDigest, Modsig};

/// Longest name the legacy `ima` template can carry (`IMA_EVENT_NAME_LEN_MAX`).
pub(crate) const LEGACY_NAME_MAX: usize = 255;
/// The legacy `ima` template hashes its name field padded to this size.
pub(crate) const LEGACY_NAME_FIELD: usize = LEGACY_NAME_MAX + 1;
/// The legacy `ima` template's digest (`d`) is always SHA-1 sized.
pub(crate) const LEGACY_DIGEST_LEN: usize = 20;

/// The templates this crate decodes (serialized as the kernel's name for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Template {
    /// `d|n`: SHA-1 digest and a name of at most 255 bytes (pre-3.13 kernels, `ima_template=ima`).
    #[serde(rename = "ima")]
    Ima,
    /// `d-ng|n-ng`.
    #[serde(rename = "ima-ng")]
    ImaNg,
    /// `d-ng|n-ng|sig`.
    #[serde(rename = "ima-sig")]
    ImaSig,
    /// `d-ng|n-ng|buf`.
    #[serde(rename = "ima-buf")]
    ImaBuf,
    /// `d-ng|n-ng|sig|d-modsig|modsig`.
    #[serde(rename = "ima-modsig")]
    ImaModsig,
}

impl Template {
    /// The template with this name, if supported.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"ima" => Self::Ima,
            b"ima-ng" => Self::ImaNg,
            b"ima-sig" => Self::ImaSig,
            b"ima-buf" => Self::ImaBuf,
            b"ima-modsig" => Self::ImaModsig,
            _ => return None,
        })
    }

    /// The kernel's name for the template.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ima => "ima",
            Self::ImaNg => "ima-ng",
            Self::ImaSig => "ima-sig",
            Self::ImaBuf => "ima-buf",
            Self::ImaModsig => "ima-modsig",
        }
    }
}

pub(crate) fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|_| "field too long".to_owned())?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// Hex digit values; 0xff marks a byte that is not a hex digit.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const NIBBLE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Appends the bytes `hex` spells to `out`; returns where they went.
pub(crate) fn push_hex(out: &mut Vec<u8>, hex: &[u8], what: &str) -> Result<Range<usize>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("{what}: odd number of hex digits"));
    }
    let start = out.len();
    out.resize(start + hex.len() / 2, 0);
    if !decode_hex(out.get_mut(start..).unwrap_or_default(), hex) {
        out.truncate(start);
        return Err(format!("{what}: not hex"));
    }
    Ok(start..out.len())
}

/// The digest `hex` spells (an even number of digits, at most [`MAX_DIGEST_LEN`] bytes).
pub(crate) fn hex_digest(hex: &[u8], what: &str) -> Result<DigestBuf, String> {
    if !hex.len().is_multiple_of(2) || hex.len() > 2 * MAX_DIGEST_LEN {
        return Err(format!("{what}: not a digest in hex"));
    }
    let mut digest = DigestBuf::filled(hex.len() / 2, 0);
    if !decode_hex(&mut digest, hex) {
        return Err(format!("{what}: not hex"));
    }
    Ok(digest)
}

/// Writes the bytes the hex pairs of `hex` spell into `dst`; false if any is not a hex digit.
fn decode_hex(dst: &mut [u8], hex: &[u8]) -> bool {
    let mut bad = 0u8;
    for (byte, pair) in dst.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |i: usize| {
            pair.get(i).map_or(0xff, |c| {
                NIBBLE.get(usize::from(*c)).copied().unwrap_or(0xff)
            })
        };
        let (hi, lo) = (digit(0), digit(1));
        bad |= hi | lo;
        *byte = hi << 4 | lo;
    }
    bad & 0xf0 == 0
}

/// A file digest must have its algorithm's length; a violation's digest is all zeros and may be
/// 20 bytes whatever the algorithm (older kernels reserved `IMA_DIGEST_SIZE` for it).
pub(crate) fn check_digest(alg: HashAlg, bytes: &[u8]) -> Result<(), String> {
    let zero_20 = bytes.len() == LEGACY_DIGEST_LEN && bytes.iter().all(|b| *b == 0);
    if bytes.len() == alg.len() || zero_20 {
        Ok(())
    } else {
        Err(format!(
            "{alg} digest has {} bytes, expected {}",
            bytes.len(),
            alg.len()
        ))
    }
}

pub(crate) fn parse_alg(name: &[u8]) -> Result<HashAlg, String> {
    let name =
        std::str::from_utf8(name).map_err(|_| "hash algorithm name is not UTF-8".to_owned())?;
    HashAlg::from_name(name).map_err(|e| e.to_string())
}

/// A path or buffer name: UTF-8 without NUL.
pub(crate) fn check_name<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, String> {
    if memchr::memchr(0, bytes).is_some() {
        return Err(format!("{what} contains a NUL byte"));
    }
    std::str::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
}

/// [`check_name`], owned.
pub(crate) fn name_str(bytes: &[u8], what: &str) -> Result<String, String> {
    check_name(bytes, what).map(str::to_owned)
}

/// Appends a `d-ng` field from the ASCII `alg:hex` form; returns the algorithm and where the
/// digest bytes went.
pub(crate) fn push_digest_ng(
    out: &mut Vec<u8>,
    text: &[u8],
    what: &str,
) -> Result<(HashAlg, Range<usize>), String> {
    let colon = text
        .iter()
        .position(|c| *c == b':')
        .ok_or_else(|| format!("{what}: expected alg:hex"))?;
    let (name, hex) = (
        text.get(..colon).unwrap_or_default(),
        text.get(colon + 1..).unwrap_or_default(),
    );
    let alg = parse_alg(name)?;
    put_u32(out, name.len() + 2 + hex.len() / 2)?;
    out.extend_from_slice(name);
    out.extend_from_slice(b":\0");
    let range = push_hex(out, hex, what)?;
    check_digest(alg, out.get(range.clone()).unwrap_or_default())?;
    Ok((alg, range))
}

/// Appends an `n-ng` field.
pub(crate) fn push_name_ng(out: &mut Vec<u8>, name: &[u8]) -> Result<(), String> {
    put_u32(out, name.len() + 1)?;
    out.extend_from_slice(name);
    out.push(0);
    Ok(())
}

/// Appends a hex-spelled raw field (`sig`, `buf`, `modsig`); returns where its bytes went.
pub(crate) fn push_hex_field(
    out: &mut Vec<u8>,
    hex: &[u8],
    what: &str,
) -> Result<Range<usize>, String> {
    put_u32(out, hex.len() / 2)?;
    push_hex(out, hex, what)
}

/// Appends the legacy `ima` template data: digest || name NUL-padded to 256 bytes.
pub(crate) fn push_legacy_data(
    out: &mut Vec<u8>,
    digest: &[u8],
    name: &[u8],
) -> Result<(), String> {
    if digest.len() != LEGACY_DIGEST_LEN {
        return Err(format!(
            "ima template digest has {} bytes, expected 20",
            digest.len()
        ));
    }
    if name.len() > LEGACY_NAME_MAX {
        return Err(format!(
            "ima template name longer than {LEGACY_NAME_MAX} bytes"
        ));
    }
    let start = out.len();
    out.reserve(LEGACY_DIGEST_LEN + LEGACY_NAME_FIELD);
    out.extend_from_slice(digest);
    out.extend_from_slice(name);
    out.resize(start + LEGACY_DIGEST_LEN + LEGACY_NAME_FIELD, 0);
    Ok(())
}

/// Splits `u32le(len) || bytes` fields; exactly `n` of them must fill `data`.
fn split_fields(data: &[u8], n: usize) -> Result<Vec<&[u8]>, String> {
    let mut fields = Vec::with_capacity(n);
    let mut rest = data;
    for i in 0..n {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| format!("template data truncated at field {}", i + 1))?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > tail.len() {
            return Err(format!(
                "template field {} length {len} exceeds the data",
                i + 1
            ));
        }
        let (field, tail) = tail.split_at(len);
        fields.push(field);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes after the last template field",
            rest.len()
        ));
    }
    Ok(fields)
}

/// `bytes` as a [`DigestBuf`] (checked digests always fit).
pub(crate) fn digest_buf(bytes: &[u8], what: &str) -> Result<DigestBuf, String> {
    DigestBuf::new(bytes).map_err(|e| format!("{what}: {e}"))
}

/// Decodes a binary `d-ng` field (`alg ":" "\0" digest`).
fn decode_digest_ng(field: &[u8], what: &str) -> Result<FileDigest, String> {
    let colon = field
        .iter()
        .position(|c| *c == b':')
        .ok_or_else(|| format!("{what}: no ':' after the algorithm"))?;
    let alg = parse_alg(field.get(..colon).unwrap_or_default())?;
    match field.get(colon + 1..) {
        Some([0, digest @ ..]) => {
            check_digest(alg, digest)?;
            Ok(FileDigest {
                alg,
                bytes: digest_buf(digest, what)?,
            })
        }
        _ => Err(format!("{what}: no NUL after ':'")),
    }
}

/// Decodes a binary `n-ng` field (NUL-terminated).
fn decode_name_ng(field: &[u8], what: &str) -> Result<String, String> {
    match field.split_last() {
        Some((0, name)) => name_str(name, what),
        _ => Err(format!("{what} is not NUL-terminated")),
    }
}

fn opt(field: &[u8]) -> Option<Vec<u8>> {
    (!field.is_empty()).then(|| field.to_vec())
}

/// The event a non-legacy template's data describes.
pub(crate) fn decode_event(template: Template, data: &[u8]) -> Result<Event, String> {
    let count = match template {
        Template::Ima => return Err("the ima template has no length-prefixed fields".to_owned()),
        Template::ImaNg => 2,
        Template::ImaSig | Template::ImaBuf => 3,
        Template::ImaModsig => 5,
    };
    let fields = split_fields(data, count)?;
    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
    let digest = decode_digest_ng(field(0), "file digest")?;
    if template == Template::ImaBuf {
        let name = decode_name_ng(field(1), "buffer name")?;
        return Ok(Event::Buffer {
            digest,
            name,
            buf: field(2).to_vec(),
        });
    }
    let path = decode_name_ng(field(1), "path")?;
    let signature = if template == Template::ImaNg {
        None
    } else {
        opt(field(2))
    };
    let modsig = match (template, field(3), field(4)) {
        (Template::ImaModsig, [], []) | (Template::ImaNg | Template::ImaSig, _, _) => None,
        (_, [], _) | (_, _, []) => {
            return Err("modsig digest and modsig must both be present or absent".to_owned())
        }
        (_, d, sig) => Some(Modsig {
            digest: decode_digest_ng(d, "modsig digest")?,
            signature: sig.to_vec(),
        }),
    };
    Ok(Event::File {
        digest,
        path,
        signature,
        modsig,
    })
}
