//! RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form every measured document takes.
//!
//! Rules implemented (RFC 8785 §3.2):
//! - objects: members sorted by their names compared as UTF-16 code units, no duplicates
//!   (serde_json's map already guarantees uniqueness);
//! - no insignificant whitespace;
//! - strings: only `"` `\` and the control characters U+0000..U+001F are escaped, the latter as
//!   `\b \t \n \f \r` or `\u00xx` (lowercase hex); everything else is emitted as UTF-8;
//! - numbers: the ECMAScript `Number.prototype.toString` form of the IEEE-754 double.
//!
//! One deliberate restriction: an integer that a double cannot hold exactly (|n| > 2^53) is an
//! error, not silently rounded, since rounding would make two different documents one digest.

use serde::Serialize;
use serde_json::{Map, Number, Value};
use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// An integer whose digits are not the ECMAScript form of a double would be rounded.
    #[error("integer {0} is not exactly a JSON number (IEEE-754 double) in canonical form")]
    UnsafeInteger(String),
    /// A float that is NaN or infinite has no JSON form.
    #[error("number {0} is not finite")]
    NotFinite(String),
    /// The value could not be turned into JSON at all.
    #[error("value is not representable as JSON: {0}")]
    Serialize(String),
    /// The bytes are not JSON.
    #[error("document is not valid JSON: {0}")]
    Parse(String),
}

/// A document in canonical form together with its SHA-256 digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Canonical {
    bytes: Vec<u8>,
    digest: Sha256Digest,
}

impl std::fmt::Debug for Canonical {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canonical")
            .field("len", &self.bytes.len())
            .field("digest", &self.digest)
            .finish()
    }
}

impl Canonical {
    /// Canonicalises a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, CanonicalError> {
        let mut bytes = Vec::with_capacity(256);
        write_value(&mut bytes, value)?;
        let digest = Sha256Digest(Sha256::digest(&bytes).into());
        Ok(Self { bytes, digest })
    }

    /// Canonicalises anything serde can turn into JSON.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, CanonicalError> {
        let value =
            serde_json::to_value(value).map_err(|e| CanonicalError::Serialize(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Wraps bytes that a streaming RFC 8785 writer produced without a [`Value`] tree (such as
    /// `palisade-firewall`'s, which serialises a typed model directly and checks member order),
    /// and digests them. The writer vouches that the bytes are canonical; its tests compare them
    /// with [`Canonical::from_value`], and debug builds (tests, fuzzing) re-check every call.
    pub fn from_jcs_bytes(bytes: Vec<u8>) -> Self {
        debug_assert!(
            Self::check_bytes(&bytes).is_ok(),
            "bytes handed to Canonical::from_jcs_bytes are not RFC 8785 canonical"
        );
        let digest = Sha256Digest(Sha256::digest(&bytes).into());
        Self { bytes, digest }
    }

    /// Accepts bytes only if they are already exactly canonical; returns the parsed value too.
    pub fn verify_bytes(bytes: &[u8]) -> Result<(Self, Value), CanonicalError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| CanonicalError::Parse(e.to_string()))?;
        let canonical = Self::from_value(&value)?;
        if canonical.bytes != bytes {
            return Err(CanonicalError::Parse(
                "document parses but is not in RFC 8785 canonical form".to_owned(),
            ));
        }
        Ok((canonical, value))
    }

    /// Accepts bytes only if they are already exactly canonical, like [`Canonical::verify_bytes`],
    /// without building the parsed value: a streaming check proves the common case, and
    /// anything it cannot prove takes the full parse (which also words the error).
    pub fn check_bytes(bytes: &[u8]) -> Result<Self, CanonicalError> {
        Self::check_digested(bytes, Sha256Digest(Sha256::digest(bytes).into()))
    }

    /// [`Canonical::check_bytes`] for a caller that has just computed `digest` = SHA-256 of
    /// `bytes` (the verifier, comparing it with the measured digest).
    pub(crate) fn check_digested(
        bytes: &[u8],
        digest: Sha256Digest,
    ) -> Result<Self, CanonicalError> {
        if check::is_canonical(bytes) {
            return Ok(Self {
                bytes: bytes.to_vec(),
                digest,
            });
        }
        Self::verify_bytes(bytes).map(|(canonical, _)| canonical)
    }

    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The canonical bytes as text (always valid UTF-8).
    pub fn as_str(&self) -> &str {
        // Every byte written comes from `str`s or ASCII, so this never fails.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes.
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// Consumes the document, returning its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, map)?,
    }
    Ok(())
}

fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) -> Result<(), CanonicalError> {
    out.push(b'{');
    let start = out.len();
    // serde_json's map iterates in byte order, which is the canonical order for almost every key;
    // only when a key says otherwise is the object rewritten in sorted order.
    if !write_members(out, map.iter(), true)? {
        out.truncate(start);
        let mut members: Vec<(&String, &Value)> = map.iter().collect();
        members.sort_by(|(a, _), (b, _)| compare_keys(a, b));
        write_members(out, members.into_iter(), false)?;
    }
    out.push(b'}');
    Ok(())
}

/// Writes members in the order given. With `check_order`, stops and returns `false` at the first
/// key whose byte order may differ from its UTF-16 order.
fn write_members<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    check_order: bool,
) -> Result<bool, CanonicalError> {
    for (i, (key, value)) in members.enumerate() {
        if check_order && !byte_order_is_utf16_order(key) {
            return Ok(false);
        }
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value)?;
    }
    Ok(true)
}

/// UTF-8 byte order and UTF-16 code-unit order differ only between characters at or above
/// U+E000 and supplementary characters; keys without such characters sort the same either way.
fn byte_order_is_utf16_order(key: &str) -> bool {
    key.is_ascii() || key.chars().all(|c| c < '\u{E000}')
}

/// RFC 8785 orders member names by UTF-16 code units. For ASCII (almost every key) that is byte
/// order, which needs no decoding.
fn compare_keys(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Integers up to 2^53 in magnitude are their own ECMAScript form.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), CanonicalError> {
    use std::io::Write as _;
    if let Some(u) = n.as_u64().filter(|u| *u <= MAX_SAFE_INTEGER) {
        let _ = write!(out, "{u}");
        return Ok(());
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
        let _ = write!(out, "{i}");
        return Ok(());
    }
    let mut buf = ryu_js::Buffer::new();
    if n.is_u64() || n.is_i64() {
        // An integer literal is canonical only if it is exactly how ECMAScript prints its nearest
        // double: then parsing and printing agree, and two different integers never share a form.
        let digits = n.to_string();
        let printed = n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|f| buf.format_finite(f));
        if printed != Some(digits.as_str()) {
            return Err(CanonicalError::UnsafeInteger(digits));
        }
        out.extend_from_slice(digits.as_bytes());
        return Ok(());
    }
    let f = n
        .as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| CanonicalError::NotFinite(n.to_string()))?;
    out.extend_from_slice(buf.format_finite(f).as_bytes());
    Ok(())
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(s.as_bytes().get(start..i).unwrap_or_default());
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
        }
        start = i + 1;
    }
    out.extend_from_slice(s.as_bytes().get(start..).unwrap_or_default());
    out.push(b'"');
}

mod check;
#[cfg(test)]
mod tests;
