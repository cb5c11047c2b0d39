//! Bounds-checked little-endian reader over untrusted bytes, plus GUIDs and UEFI text helpers.

use std::fmt;

use serde::{Serialize, Serializer};

/// Not enough bytes left for a field: what was wanted, where, and how much there was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Short {
    pub what: &'static str,
    pub offset: usize,
    pub need: u64,
    pub have: usize,
}

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} needs {} bytes at offset {} but only {} remain",
            self.what, self.need, self.offset, self.have
        )
    }
}

/// A cursor over a byte slice; every read checks the remaining length first.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, consuming them.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    /// The next `n` bytes, where `n` comes from the input (u64 so nothing truncates first).
    pub fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], Short> {
        let short = Short {
            what,
            offset: self.pos,
            need: n,
            have: self.remaining(),
        };
        let n = usize::try_from(n).map_err(|_| short.clone())?;
        let end = self.pos.checked_add(n).ok_or_else(|| short.clone())?;
        let bytes = self.buf.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(bytes)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Short> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A UINTN of `size` bytes (4 or 8, from the Spec ID event's uintnSize).
    pub fn uintn(&mut self, size: usize, what: &'static str) -> Result<u64, Short> {
        if size == 4 {
            Ok(u64::from(self.u32(what)?))
        } else {
            self.u64(what)
        }
    }

    pub fn guid(&mut self, what: &'static str) -> Result<Guid, Short> {
        Ok(Guid(self.array(what)?))
    }
}

/// An EFI_GUID as stored (mixed endian), shown as `8be4df61-93ca-11d2-aa0d-00e098032b8c`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Builds a GUID from its text-form fields (as in the UEFI specification's tables).
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Self {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Self([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-",
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9]
        )?;
        g.iter().skip(10).try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// UTF-16LE code units of `bytes` (an odd trailing byte is dropped).
pub(crate) fn utf16_units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(|c| {
        u16::from_le_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ])
    })
}

/// UTF-16LE text up to the first NUL (or the end); unpaired surrogates become U+FFFD.
pub(crate) fn utf16_until_nul(bytes: &[u8]) -> String {
    char::decode_utf16(utf16_units(bytes).take_while(|&u| u != 0))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Reads a NUL-terminated UTF-16LE string, consuming the terminator.
pub(crate) fn read_utf16z(r: &mut Reader<'_>, what: &'static str) -> Result<String, Short> {
    let mut units = Vec::new();
    loop {
        let unit = r.u16(what)?;
        if unit == 0 {
            break;
        }
        units.push(unit);
    }
    Ok(char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

/// Text encodings event data strings come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    Utf8,
    Utf16,
}

/// Decodes event data that is a string: UTF-16LE when it looks like it (every other byte zero for
/// ASCII), else UTF-8. Trailing NULs are dropped. `None` if it is not printable text.
pub(crate) fn decode_text(bytes: &[u8]) -> Option<(String, TextEncoding)> {
    // systemd-boot sometimes measures an odd length: UTF-16 plus one stray NUL.
    let looks_utf16 = bytes.len() >= 2
        && (bytes.len().is_multiple_of(2) || bytes.last() == Some(&0))
        && bytes.get(1) == Some(&0)
        && bytes.first().is_some_and(|&b| b != 0);
    let (text, encoding) = if looks_utf16 {
        let units: Vec<u16> = utf16_units(bytes).collect();
        let end = units.iter().rposition(|&u| u != 0).map_or(0, |i| i + 1);
        let text = String::from_utf16(units.get(..end).unwrap_or_default()).ok()?;
        (text, TextEncoding::Utf16)
    } else {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let text = std::str::from_utf8(bytes.get(..end).unwrap_or_default()).ok()?;
        (text.to_owned(), TextEncoding::Utf8)
    };
    let printable = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
    printable.then_some((text, encoding))
}
