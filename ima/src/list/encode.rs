//! Writes entries back in the kernel's binary and ASCII list formats (for tests, demos and
//! converting an ASCII list to the binary form); the parsers read both back to equal entries.

use std::fmt::Write as _;

use crate::list::{Entry, Event, Template};

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// The binary list (`binary_runtime_measurements` layout) of `entries`.
pub fn to_binary(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.data.len() + 64).sum());
    for entry in entries {
        out.extend_from_slice(&entry.pcr.to_le_bytes());
        out.extend_from_slice(&entry.template_hash);
        put_u32(&mut out, entry.template.name().len());
        out.extend_from_slice(entry.template.name().as_bytes());
        if entry.template == Template::Ima {
            out.extend_from_slice(entry.data.get(..20).unwrap_or(&entry.data));
            put_u32(&mut out, entry.name().len());
            out.extend_from_slice(entry.name().as_bytes());
        } else {
            put_u32(&mut out, entry.data.len());
            out.extend_from_slice(&entry.data);
        }
    }
    out
}

/// The algorithm label of the digest field number `index` (0-based: 0 is `d-ng`, 3 the
/// `d-modsig` of `ima-modsig`) of `data` as the kernel wrote it (`sm3` or `sm3-256`, whichever
/// the kernel named it).
fn alg_label(data: &[u8], index: usize) -> Option<&str> {
    let mut rest = data;
    for _ in 0..index {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        rest = tail.get(u32::from_le_bytes(*len) as usize..)?;
    }
    let field = rest.get(4..)?;
    let colon = field.iter().take(32).position(|c| *c == b':')?;
    std::str::from_utf8(field.get(..colon)?).ok()
}

/// The ASCII list (`ascii_runtime_measurements` layout) of `entries`, one line each.
pub fn to_ascii(entries: &[Entry]) -> String {
    let mut out = String::with_capacity(entries.iter().map(|e| e.data.len() * 2 + 64).sum());
    for entry in entries {
        let _ = write!(
            out,
            "{:2} {} {}",
            entry.pcr,
            hex::encode(entry.template_hash),
            entry.template.name()
        );
        match &entry.event {
            Event::File { digest, path, .. } if entry.template == Template::Ima => {
                let _ = write!(out, " {} {path}", hex::encode(digest.bytes));
            }
            Event::File {
                digest,
                path,
                signature,
                modsig,
            } => {
                let label = alg_label(&entry.data, 0).unwrap_or(digest.alg.name());
                let _ = write!(out, " {label}:{} {path}", hex::encode(digest.bytes));
                if entry.template != Template::ImaNg {
                    let _ = write!(
                        out,
                        " {}",
                        hex::encode(signature.as_deref().unwrap_or_default())
                    );
                }
                if entry.template == Template::ImaModsig {
                    match modsig {
                        Some(m) => {
                            let _ = write!(
                                out,
                                " {}:{} {}",
                                alg_label(&entry.data, 3).unwrap_or(m.digest.alg.name()),
                                hex::encode(m.digest.bytes),
                                hex::encode(&m.signature)
                            );
                        }
                        None => out.push_str("  "),
                    }
                }
            }
            Event::Buffer { digest, name, buf } => {
                let label = alg_label(&entry.data, 0).unwrap_or(digest.alg.name());
                let _ = write!(
                    out,
                    " {label}:{} {name} {}",
                    hex::encode(digest.bytes),
                    hex::encode(buf)
                );
            }
        }
        out.push('\n');
    }
    out
}

impl Entry {
    /// An `ima-ng` entry for PCR `pcr` measuring `path` with `digest`, with its template data
    /// encoded as the kernel does (`d-ng` then `n-ng`) and its SHA-1 template hash; what a
    /// test or demo appends to a list (and extends into the TPM) to play a kernel.
    pub fn ima_ng(pcr: u32, digest: crate::FileDigest, path: &str) -> Self {
        let mut data = Vec::with_capacity(digest.bytes.len() + path.len() + 24);
        let label = format!("{}:\0", digest.alg.name());
        put_u32(&mut data, label.len() + digest.bytes.len());
        data.extend_from_slice(label.as_bytes());
        data.extend_from_slice(&digest.bytes);
        put_u32(&mut data, path.len() + 1);
        data.extend_from_slice(path.as_bytes());
        data.push(0);
        Self {
            pcr,
            template_hash: crate::HashAlg::Sha1.digest_buf(&[&data]),
            template: Template::ImaNg,
            data,
            event: Event::File {
                digest,
                path: path.to_owned(),
                signature: None,
                modsig: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::parse_ascii;

    #[test]
    fn an_ima_ng_entry_reads_back_from_its_ascii_line() {
        let digest = crate::FileDigest {
            alg: crate::HashAlg::Sha256,
            bytes: crate::DigestBuf::new(&[0xab; 32]).unwrap(),
        };
        let entry = Entry::ima_ng(10, digest, "/usr/bin/evil");
        let line = to_ascii(std::slice::from_ref(&entry));
        let back = parse_ascii(line.as_bytes()).unwrap();
        assert_eq!(back, vec![entry.clone()]);
        assert!(entry.template_hash_ok(crate::HashAlg::Sha1));
    }
}
