//! A streaming RFC 8785 (JCS) writer: a `serde_json` [`Formatter`] that writes numbers in their
//! ECMAScript form and *checks* that every object's members arrive in JCS order, so a typed model
//! serialises straight into canonical bytes without building a `serde_json::Value` tree.
//!
//! The writer never sorts: struct fields are declared in sorted order, maps with arbitrary keys go
//! through [`serialize_map_sorted`] and verbatim JSON through [`JcsValue`]. If anything arrives out
//! of order the writer fails instead of producing bytes that are not canonical. Strings need no
//! work: `serde_json` escapes exactly what RFC 8785 escapes (`"`, `\`, U+0000..U+001F with the
//! short forms and lowercase `\u00xx`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::ser::{CharEscape, Formatter};
use serde_json::Value;

/// Integers up to 2^53 in magnitude are their own ECMAScript form.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Serialises `value` into RFC 8785 bytes, failing if the serialisation is not canonical.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(4096);
    write(&mut out, value)?;
    Ok(out)
}

/// Appends the RFC 8785 bytes of `value` to `out`.
pub(crate) fn write<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::with_formatter(out, JcsFormatter::default());
    value.serialize(&mut ser)
}

/// RFC 8785 orders member names by UTF-16 code units; for ASCII that is byte order.
pub(crate) fn compare_keys(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// UTF-8 byte order (a `BTreeMap<String, _>`'s order) equals UTF-16 order unless a key holds a
/// character at or above U+E000.
fn byte_order_is_jcs_order(key: &str) -> bool {
    key.is_ascii() || key.chars().all(|c| c < '\u{E000}')
}

/// Serialises a string-keyed map in JCS member order.
pub(crate) fn serialize_map_sorted<S, V>(map: &BTreeMap<String, V>, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    V: Serialize,
{
    let mut out = s.serialize_map(Some(map.len()))?;
    if map.keys().all(|k| byte_order_is_jcs_order(k)) {
        for (k, v) in map {
            out.serialize_entry(k, v)?;
        }
    } else {
        let mut entries: Vec<(&String, &V)> = map.iter().collect();
        entries.sort_by(|a, b| compare_keys(a.0, b.0));
        for (k, v) in entries {
            out.serialize_entry(k, v)?;
        }
    }
    out.end()
}

/// Verbatim JSON (an unknown construct) serialised with its object members in JCS order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JcsValue<'a>(pub &'a Value);

impl Serialize for JcsValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&JcsValue(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if !entries.iter().all(|(k, _)| byte_order_is_jcs_order(k)) {
                    entries.sort_by(|a, b| compare_keys(a.0, b.0));
                }
                let mut out = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    out.serialize_entry(k, &JcsValue(v))?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

/// What went wrong while writing canonical bytes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JcsViolation {
    /// An object member arrived out of RFC 8785 order (a bug in a `Serialize` impl) or twice.
    #[error("object member {key:?} written after {previous:?}: not in RFC 8785 order")]
    KeyOrder { previous: String, key: String },
    /// An integer whose digits are not the ECMAScript form of a double.
    #[error("integer {0} is not exactly a JSON number (IEEE-754 double) in canonical form")]
    UnsafeInteger(String),
    /// NaN or an infinity.
    #[error("number {0} is not finite")]
    NotFinite(String),
}

fn violation(v: JcsViolation) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, v)
}

/// The formatter behind [`write`].
#[derive(Debug, Default)]
pub(crate) struct JcsFormatter {
    /// Per open object: the last member name written and whether there was one.
    levels: Vec<(String, bool)>,
    /// Spare buffers for `levels`, so nested objects do not allocate every time.
    pool: Vec<String>,
    /// The member name being written.
    key: String,
    in_key: bool,
}

impl JcsFormatter {
    fn write_integer<W: ?Sized + io::Write>(
        writer: &mut W,
        digits: &str,
        magnitude: u64,
        as_f64: f64,
    ) -> io::Result<()> {
        if magnitude > MAX_SAFE_INTEGER {
            let mut buf = ryu_js::Buffer::new();
            if buf.format_finite(as_f64) != digits {
                return Err(violation(JcsViolation::UnsafeInteger(digits.to_owned())));
            }
        }
        writer.write_all(digits.as_bytes())
    }
}

impl Formatter for JcsFormatter {
    fn write_i64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i64) -> io::Result<()> {
        let f = value as f64; // rounded on purpose: the check compares the rounded form
        Self::write_integer(writer, &value.to_string(), value.unsigned_abs(), f)
    }

    fn write_u64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u64) -> io::Result<()> {
        if value <= MAX_SAFE_INTEGER {
            return writer.write_all(itoa_buffer(value).as_bytes());
        }
        let f = value as f64; // rounded on purpose: the check compares the rounded form
        Self::write_integer(writer, &value.to_string(), value, f)
    }

    fn write_i128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i128) -> io::Result<()> {
        match i64::try_from(value) {
            Ok(v) => self.write_i64(writer, v),
            Err(_) => Err(violation(JcsViolation::UnsafeInteger(value.to_string()))),
        }
    }

    fn write_u128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u128) -> io::Result<()> {
        match u64::try_from(value) {
            Ok(v) => self.write_u64(writer, v),
            Err(_) => Err(violation(JcsViolation::UnsafeInteger(value.to_string()))),
        }
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if !value.is_finite() {
            return Err(violation(JcsViolation::NotFinite(value.to_string())));
        }
        let mut buf = ryu_js::Buffer::new();
        writer.write_all(buf.format_finite(value).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.in_key {
            self.key.push_str(fragment);
        }
        writer.write_all(fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        if self.in_key {
            self.key.push(match char_escape {
                CharEscape::Quote => '"',
                CharEscape::ReverseSolidus => '\\',
                CharEscape::Solidus => '/',
                CharEscape::Backspace => '\u{8}',
                CharEscape::FormFeed => '\u{c}',
                CharEscape::LineFeed => '\n',
                CharEscape::CarriageReturn => '\r',
                CharEscape::Tab => '\t',
                CharEscape::AsciiControl(b) => char::from(b),
            });
        }
        serde_json::ser::CompactFormatter.write_char_escape(writer, char_escape)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        self.levels.push((buf, false));
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if let Some((buf, _)) = self.levels.pop() {
            self.pool.push(buf);
        }
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.in_key = true;
        self.key.clear();
        if first {
            Ok(())
        } else {
            writer.write_all(b",")
        }
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.in_key = false;
        if let Some((previous, seen)) = self.levels.last_mut() {
            if *seen && compare_keys(previous, &self.key) != Ordering::Less {
                return Err(violation(JcsViolation::KeyOrder {
                    previous: previous.clone(),
                    key: self.key.clone(),
                }));
            }
            std::mem::swap(previous, &mut self.key);
            *seen = true;
        }
        Ok(())
    }
}

/// Decimal digits of `value` without allocating.
fn itoa_buffer(value: u64) -> DigitBuf {
    let mut buf = DigitBuf {
        bytes: [0; 20],
        start: 20,
    };
    let mut v = value;
    loop {
        buf.start -= 1;
        if let Some(slot) = buf.bytes.get_mut(buf.start) {
            // `v % 10` < 10, so the cast cannot truncate.
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || buf.start == 0 {
            break;
        }
    }
    buf
}

/// Digits of a `u64`, right-aligned.
struct DigitBuf {
    bytes: [u8; 20],
    start: usize,
}

impl DigitBuf {
    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_evidence::Canonical;
    use serde_json::json;

    #[test]
    fn matches_the_reference_implementation() {
        let doc = json!({"b": [1, -2, 9007199254740992_u64, 1.5, "x\u{1}\"\\\n"], "a": {"é": null, "z": true},
                         "\u{e000}": 1, "\u{1f600}": 2});
        let ours = to_vec(&JcsValue(&doc)).unwrap();
        assert_eq!(ours, Canonical::from_value(&doc).unwrap().into_bytes());
    }

    #[test]
    fn refuses_members_out_of_order() {
        #[derive(Serialize)]
        struct Wrong {
            b: u8,
            a: u8,
        }
        let err = to_vec(&Wrong { b: 1, a: 2 }).unwrap_err();
        assert!(err.to_string().contains("RFC 8785 order"), "{err}");
    }

    #[test]
    fn refuses_integers_a_double_cannot_hold() {
        assert!(to_vec(&(u64::MAX - 1)).is_err());
        assert!(to_vec(&i64::MIN).is_err());
        assert!(to_vec(&(1u64 << 60)).is_err()); // ECMAScript prints 1152921504606847000
        assert_eq!(
            to_vec(&1_000_000_000_000_000_000u64).unwrap(),
            b"1000000000000000000"
        );
        assert_eq!(to_vec(&0u64).unwrap(), b"0");
    }
}
