//! Parser of the kernel's ASCII measurement list (`ascii_runtime_measurements[_<alg>]`,
//! `ima_ascii_measurements_show` in `ima_fs.c`): `PCR TEMPLATE_HASH TEMPLATE FIELDS...` lines,
//! each field preceded by one space, empty fields printed as nothing.
//!
//! The template data is rebuilt exactly as the kernel hashed it (see `fields.rs`). Paths: the
//! kernel turns spaces in names into `_`, so a current kernel's list never has a space in a path;
//! like Keylime, `ima` and `ima-ng` take the rest of the line as the path, and templates with
//! trailing fields (`ima-sig`, `ima-buf`, `ima-modsig`) take those from the right, so a path
//! with spaces from an older kernel still parses.

use crate::hash::HashAlg;
use crate::list::fields::{self, Template};
use crate::list::{Entry, Event, FileDigest, ListError, Modsig};

/// Parses `ascii_runtime_measurements`, whose template hashes are SHA-1.
pub fn parse_ascii(input: &[u8]) -> Result<Vec<Entry>, ListError> {
    parse_ascii_bank(input, HashAlg::Sha1)
}

/// Parses an ASCII list whose template hashes are `template_alg` digests
/// (`ascii_runtime_measurements_sha256` etc. on kernels with per-bank lists).
///
/// Trailing newlines are fine; an empty line elsewhere is an error. Errors name the 1-based
/// line, which is the entry number.
pub fn parse_ascii_bank(input: &[u8], template_alg: HashAlg) -> Result<Vec<Entry>, ListError> {
    let entries = AsciiEntries::new(input, template_alg);
    let mut out = Vec::with_capacity(entries.remaining());
    for entry in entries {
        out.push(entry?);
    }
    Ok(out)
}

/// The entries of an ASCII list, parsed one at a time (as [`parse_ascii_bank`] does, without
/// building the list): after an error the iterator ends.
#[derive(Debug, Clone)]
pub struct AsciiEntries<'a> {
    rest: Option<&'a [u8]>,
    template_alg: HashAlg,
    line: u64,
}

impl<'a> AsciiEntries<'a> {
    /// The entries of `input`, whose template hashes are `template_alg` digests.
    pub fn new(input: &'a [u8], template_alg: HashAlg) -> Self {
        let end = input.iter().rposition(|c| *c != b'\n').map_or(0, |i| i + 1);
        let body = input.get(..end).unwrap_or_default();
        Self {
            rest: (!body.is_empty()).then_some(body),
            template_alg,
            line: 0,
        }
    }

    /// How many lines are left (entries, if they all parse).
    pub fn remaining(&self) -> usize {
        self.rest
            .map_or(0, |rest| memchr::memchr_iter(b'\n', rest).count() + 1)
    }
}

impl AsciiEntries<'_> {
    /// Parses the next entry into `entry`, reusing its buffers (after an error its contents are
    /// unspecified); `None` at the end. What [`Iterator::next`] gives, without a new entry per
    /// line: a one-pass verifier parses a whole list into one.
    pub fn next_into(&mut self, entry: &mut Entry) -> Option<Result<(), ListError>> {
        let rest = self.rest?;
        self.line += 1;
        let (line, tail) = match memchr::memchr(b'\n', rest) {
            Some(i) => (rest.get(..i).unwrap_or_default(), rest.get(i + 1..)),
            None => (rest, None),
        };
        let parsed =
            parse_line(line, self.template_alg, entry).map_err(|r| ListError::at(self.line, r));
        self.rest = if parsed.is_ok() { tail } else { None };
        Some(parsed)
    }
}

impl Iterator for AsciiEntries<'_> {
    type Item = Result<Entry, ListError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut entry = Entry::blank();
        Some(self.next_into(&mut entry)?.map(|()| entry))
    }
}

fn split_first(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', s)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

fn split_last(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memrchr(b' ', s)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

fn parse_pcr(tok: &[u8]) -> Result<u32, String> {
    if tok.is_empty() || tok.len() > 10 || !tok.iter().all(u8::is_ascii_digit) {
        return Err("PCR is not a decimal number".to_owned());
    }
    tok.iter()
        .try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .ok_or_else(|| "PCR out of range".to_owned())
}

/// Parses `line` into `entry`.
fn parse_line(line: &[u8], template_alg: HashAlg, entry: &mut Entry) -> Result<(), String> {
    if line.is_empty() {
        return Err("empty line".to_owned());
    }
    // The kernel prints the PCR with "%2d": PCRs below 10 get a leading space.
    let start = line.iter().position(|c| *c != b' ').unwrap_or(line.len());
    let line = line.get(start..).unwrap_or_default();
    let (pcr, rest) =
        split_first(line).ok_or("too few fields: expected PCR, template hash, template")?;
    entry.pcr = parse_pcr(pcr)?;
    let (hash_hex, rest) = split_first(rest).ok_or("too few fields: no template name")?;
    if hash_hex.len() != 2 * template_alg.len() {
        return Err(format!(
            "template hash must be {} hex digits for {template_alg}",
            2 * template_alg.len()
        ));
    }
    entry.template_hash = fields::hex_digest(hash_hex, "template hash")?;
    let (name, rest) = split_first(rest).ok_or("too few fields: no template data")?;
    entry.template = Template::from_name(name).ok_or_else(|| {
        format!(
            "unsupported template {:?}",
            String::from_utf8_lossy(name.get(..64.min(name.len())).unwrap_or_default())
        )
    })?;
    parse_fields(entry.template, rest, &mut entry.data, &mut entry.event)
}

fn non_empty<'a>(path: &'a [u8], what: &str) -> Result<&'a [u8], String> {
    if path.is_empty() {
        Err(format!("empty {what}"))
    } else {
        Ok(path)
    }
}

/// Rebuilds the template data of `text` (the fields after the template name) into `data` and
/// decodes its event into `event`, reusing both buffers.
fn parse_fields(
    template: Template,
    text: &[u8],
    data: &mut Vec<u8>,
    event: &mut Event,
) -> Result<(), String> {
    data.clear();
    let (digest_text, rest) =
        split_first(text).ok_or("too few fields: expected digest and path")?;
    if template == Template::Ima {
        let path = non_empty(rest, "path")?;
        let digest = fields::hex_digest(digest_text, "file digest")?;
        fields::push_legacy_data(data, &digest, path)?;
        let digest = FileDigest {
            alg: HashAlg::Sha1,
            bytes: digest,
        };
        set_file(event, digest, fields::check_name(path, "path")?, None, None);
        return Ok(());
    }
    // Everything after the digest: the name, then the template's trailing fields, right to left.
    let (name, sig, modsig_digest, modsig) = match template {
        Template::Ima | Template::ImaNg => (rest, None, None, None),
        Template::ImaSig | Template::ImaBuf => {
            let (name, last) =
                split_last(rest).ok_or("too few fields: expected a trailing field")?;
            (name, Some(last), None, None)
        }
        Template::ImaModsig => {
            let short = "too few fields: expected path, sig, modsig digest, modsig";
            let (rest, modsig) = split_last(rest).ok_or(short)?;
            let (rest, modsig_digest) = split_last(rest).ok_or(short)?;
            let (name, sig) = split_last(rest).ok_or(short)?;
            (name, Some(sig), Some(modsig_digest), Some(modsig))
        }
    };
    let name = non_empty(
        name,
        if template == Template::ImaBuf {
            "buffer name"
        } else {
            "path"
        },
    )?;
    // All the data at once: a no-op for a reused buffer, one allocation for a blank entry.
    data.reserve(text.len() / 2 + name.len() + 24);
    let (alg, digest_at) = fields::push_digest_ng(data, digest_text, "file digest")?;
    fields::push_name_ng(data, name)?;
    let what = if template == Template::ImaBuf {
        "buffer"
    } else {
        "signature"
    };
    let sig_at = sig
        .map(|hex| fields::push_hex_field(data, hex, what))
        .transpose()?;
    let modsig_digest_at = match modsig_digest {
        Some([]) => {
            fields::put_u32(data, 0)?;
            None
        }
        Some(text) => Some(fields::push_digest_ng(data, text, "modsig digest")?),
        None => None,
    };
    let modsig_at = modsig
        .map(|hex| fields::push_hex_field(data, hex, "modsig"))
        .transpose()?;

    let bytes_at = |range: std::ops::Range<usize>| data.get(range).unwrap_or_default().to_vec();
    let digest = FileDigest {
        alg,
        bytes: fields::digest_buf(data.get(digest_at).unwrap_or_default(), "file digest")?,
    };
    let name = fields::check_name(name, "name")?;
    if template == Template::ImaBuf {
        *event = Event::Buffer {
            digest,
            name: name.to_owned(),
            buf: sig_at.map(bytes_at).unwrap_or_default(),
        };
        return Ok(());
    }
    let signature = sig_at.filter(|r| !r.is_empty()).map(bytes_at);
    let modsig = match (modsig_digest_at, modsig_at.filter(|r| !r.is_empty())) {
        (Some((alg, d)), Some(sig)) => Some(Modsig {
            digest: FileDigest {
                alg,
                bytes: fields::digest_buf(data.get(d).unwrap_or_default(), "modsig digest")?,
            },
            signature: bytes_at(sig),
        }),
        (None, None) => None,
        _ => return Err("modsig digest and modsig must both be present or absent".to_owned()),
    };
    set_file(event, digest, name, signature, modsig);
    Ok(())
}

/// Makes `event` the file event of `digest` at `path`, reusing its path buffer.
fn set_file(
    event: &mut Event,
    digest: FileDigest,
    path: &str,
    signature: Option<Vec<u8>>,
    modsig: Option<Modsig>,
) {
    if let Event::File {
        digest: d,
        path: p,
        signature: s,
        modsig: m,
    } = event
    {
        *d = digest;
        p.clear();
        p.push_str(path);
        *s = signature;
        *m = modsig;
    } else {
        *event = Event::File {
            digest,
            path: path.to_owned(),
            signature,
            modsig,
        };
    }
}
