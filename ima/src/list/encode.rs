//! Writes entries back in the kernel's binary and ASCII list formats (for tests, demos and
//! converting an ASCII list to the binary form); the parsers read both back to equal entries.

use std::fmt::Write as _;

use crate::list::{Entry, Event};

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// The binary list (`binary_runtime_measurements` layout) of `entries`.
pub fn to_binary(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.data.len() + 64).sum());
    for entry in entries {
        out.extend_from_slice(&entry.pcr.to_le_bytes());
        out.extend_from_slice(&entry.template_hash);
        put_u32(&mut out, entry.template.len());
        out.extend_from_slice(entry.template.as_bytes());
        if entry.template == "ima" {
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

/// The algorithm label of the first `d-ng` field of `data` as the kernel wrote it (`sm3` or
/// `sm3-256`, whichever the kernel named it).
fn alg_label(data: &[u8]) -> Option<&str> {
    let field = data.get(4..)?;
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
            hex::encode(&entry.template_hash),
            entry.template
        );
        match &entry.event {
            Event::File { digest, path, .. } if entry.template == "ima" => {
                let _ = write!(out, " {} {path}", hex::encode(&digest.bytes));
            }
            Event::File {
                digest,
                path,
                signature,
                modsig,
            } => {
                let label = alg_label(&entry.data).unwrap_or(digest.alg.name());
                let _ = write!(out, " {label}:{} {path}", hex::encode(&digest.bytes));
                if entry.template != "ima-ng" {
                    let _ = write!(
                        out,
                        " {}",
                        hex::encode(signature.as_deref().unwrap_or_default())
                    );
                }
                if entry.template == "ima-modsig" {
                    match modsig {
                        Some(m) => {
                            let _ = write!(
                                out,
                                " {}:{} {}",
                                m.digest.alg,
                                hex::encode(&m.digest.bytes),
                                hex::encode(&m.signature)
                            );
                        }
                        None => out.push_str("  "),
                    }
                }
            }
            Event::Buffer { digest, name, buf } => {
                let label = alg_label(&entry.data).unwrap_or(digest.alg.name());
                let _ = write!(
                    out,
                    " {label}:{} {name} {}",
                    hex::encode(&digest.bytes),
                    hex::encode(buf)
                );
            }
        }
        out.push('\n');
    }
    out
}
