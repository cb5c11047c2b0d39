//! Parser of the kernel's binary measurement list (`binary_runtime_measurements[_<alg>]`,
//! `ima_measurements_show` in `ima_fs.c`). Per entry, little-endian:
//!
//! `u32 pcr || template hash (bank digest size) || u32 name_len || name ||` then
//! - any template but `ima`: `u32 data_len || data` (the fields, each `u32 len || bytes`, exactly
//!   the bytes the kernel hashed);
//! - `ima`: `digest[20] || u32 strlen(name) || name` (no NUL; hashed NUL-padded to 256 bytes).
//!
//! Every length is checked against the bytes left before anything is copied, and bounded by the
//! limits below, so a hostile length cannot make the parser allocate more than its input.

use crate::hash::HashAlg;
use crate::list::fields::{self, Template};
use crate::list::{Entry, Event, FileDigest, ListError};

/// Longest template name accepted (the kernel's are at most 15 bytes: `IMA_TEMPLATE_NAME_LEN_MAX`).
pub const MAX_TEMPLATE_NAME: usize = 255;
/// Largest template data accepted for one entry: 1 MiB. Real entries are a path (≤ 4 KiB), a
/// signature or appended signature (a few KiB) or a measured buffer (keys, kexec command line,
/// SELinux / device-mapper state: KiBs).
pub const MAX_TEMPLATE_DATA: usize = 1 << 20;

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.rest.len()
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<usize, String> {
        let bytes = self.take(4, what)?;
        let mut le = [0u8; 4];
        le.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(le) as usize)
    }

    fn len(&mut self, what: &str, max: usize) -> Result<usize, String> {
        let len = self.u32(what)?;
        if len > max {
            return Err(format!("{what} {len} exceeds the limit {max}"));
        }
        Ok(len)
    }
}

/// Parses a binary list whose template hashes are `template_alg` digests: SHA-1 for
/// `binary_runtime_measurements`, the bank's algorithm for `binary_runtime_measurements_<alg>`.
/// Errors name the 1-based entry.
pub fn parse_binary(input: &[u8], template_alg: HashAlg) -> Result<Vec<Entry>, ListError> {
    let mut reader = Reader { rest: input };
    let mut entries = Vec::new();
    while !reader.rest.is_empty() {
        let n = entries.len() as u64 + 1;
        entries.push(
            parse_entry(&mut reader, template_alg).map_err(|reason| ListError::at(n, reason))?,
        );
    }
    Ok(entries)
}

fn parse_entry(r: &mut Reader<'_>, template_alg: HashAlg) -> Result<Entry, String> {
    let pcr = u32::try_from(r.u32("PCR")?).map_err(|_| "PCR out of range".to_owned())?;
    let template_hash = r.take(template_alg.len(), "template hash")?;
    let template_hash = fields::digest_buf(template_hash, "template hash")?;
    let name_len = r.len("template name length", MAX_TEMPLATE_NAME)?;
    let name = r.take(name_len, "template name")?;
    let template = Template::from_name(name)
        .ok_or_else(|| format!("unsupported template {:?}", String::from_utf8_lossy(name)))?;
    let (data, event) = if template == Template::Ima {
        let digest = r.take(fields::LEGACY_DIGEST_LEN, "file digest")?;
        let len = r.len("name length", fields::LEGACY_NAME_MAX)?;
        let path = r.take(len, "name")?;
        let mut data = Vec::new();
        fields::push_legacy_data(&mut data, digest, path)?;
        let digest = FileDigest {
            alg: HashAlg::Sha1,
            bytes: fields::digest_buf(digest, "file digest")?,
        };
        let path = fields::name_str(path, "path")?;
        (
            data,
            Event::File {
                digest,
                path,
                signature: None,
                modsig: None,
            },
        )
    } else {
        let len = r.len("template data length", MAX_TEMPLATE_DATA)?;
        let data = r.take(len, "template data")?;
        (data.to_vec(), fields::decode_event(template, data)?)
    };
    Ok(Entry {
        pcr,
        template_hash,
        template,
        data,
        event,
    })
}
