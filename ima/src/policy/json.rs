//! Writing a runtime policy as Keylime writes it: Python's `json.dumps` layout (key order of
//! `EMPTY_RUNTIME_POLICY`, `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`), so the
//! bytes match what `keylime-policy` would write for the same policy.

use std::io;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::ser::Formatter;

use super::{DigestMap, RuntimePolicy};

impl Serialize for DigestMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (name, digests) in self.iter() {
            let hex: Vec<String> = digests.iter().map(hex::encode).collect();
            map.serialize_entry(name, &hex)?;
        }
        map.end()
    }
}

struct Meta<'a>(&'a RuntimePolicy);

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("version", &self.0.version)?;
        map.serialize_entry("generator", &self.0.generator)?;
        if let Some(ts) = &self.0.timestamp {
            map.serialize_entry("timestamp", ts)?;
        }
        map.end()
    }
}

struct Ima<'a>(&'a RuntimePolicy);

impl Serialize for Ima<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("ignored_keyrings", &self.0.ignored_keyrings)?;
        map.serialize_entry("log_hash_alg", self.0.log_hash_alg.name())?;
        map.serialize_entry("dm_policy", &())?;
        map.end()
    }
}

impl Serialize for RuntimePolicy {
    /// Keylime's layout, format version 1.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("meta", &Meta(self))?;
        map.serialize_entry("release", &self.release)?;
        map.serialize_entry("digests", &self.digests)?;
        map.serialize_entry("excludes", self.excludes.patterns())?;
        map.serialize_entry("keyrings", &self.keyrings)?;
        map.serialize_entry("ima", &Ima(self))?;
        map.serialize_entry("ima-buf", &self.ima_buf)?;
        map.serialize_entry("verification-keys", &self.verification_keys)?;
        map.end()
    }
}

impl RuntimePolicy {
    /// The policy as Keylime's JSON, byte for byte what Python's `json.dumps` writes.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
        // Serializing into a Vec cannot fail, and nothing here raises a custom error.
        if self.serialize(&mut ser).is_err() {
            return String::new();
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// `json.dumps` defaults: `", "` / `": "` separators and `ensure_ascii`.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(pos) = rest.find(|c: char| !(' '..='~').contains(&c)) {
            let (plain, tail) = rest.split_at(pos);
            w.write_all(plain.as_bytes())?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
            rest = chars.as_str();
        }
        w.write_all(rest.as_bytes())
    }
}
