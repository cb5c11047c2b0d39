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

/// Largest integer an IEEE-754 double represents exactly together with all smaller ones.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// An integer outside ±(2^53 − 1) would lose precision as a double.
    #[error("integer {0} is outside the range JSON numbers hold exactly (±2^53-1)")]
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
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::UnsafeInteger(u.to_string()));
        }
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::UnsafeInteger(i.to_string()));
        }
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if !f.is_finite() {
            return Err(CanonicalError::NotFinite(n.to_string()));
        }
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
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

#[cfg(test)]
mod tests;
