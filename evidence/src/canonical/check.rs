//! A streaming check that bytes are already RFC 8785 canonical, without building a `Value` tree:
//! the verifier's hot path for every document an agent sends. It is deliberately strict — it
//! accepts only bytes it can prove canonical and leaves anything unusual (deep nesting, numbers
//! other than plain integers, escaped or non-BMP-ordered keys) to the full parse in
//! [`Canonical::verify_bytes`](super::Canonical::verify_bytes), which also words the error.

use serde_json::Number;

use super::{compare_keys, write_number};

/// Nesting the check follows; deeper documents take the full parse (serde_json's own limit is
/// 128, so everything accepted here also parses).
const MAX_DEPTH: usize = 96;

/// Whether `bytes` are provably canonical JSON. `false` means "not proven", not "not canonical".
pub(super) fn is_canonical(bytes: &[u8]) -> bool {
    if std::str::from_utf8(bytes).is_err() {
        return false;
    }
    let mut cursor = Cursor { bytes, at: 0 };
    cursor.value(0).is_some() && cursor.at == bytes.len()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'"' => self.string().map(drop),
            b'[' => self.array(depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?),
            b'{' => self.object(depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            if self.eat(b']').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut previous: Option<&'a str> = None;
        loop {
            // The whole input is UTF-8 and quotes are ASCII, so a key's slice is too.
            let key = std::str::from_utf8(self.string()?).ok()?;
            // An escaped key is compared by its unescaped text; leave that to the full parse.
            // Strictly increasing keys are sorted and free of duplicates.
            if key.contains('\\') || previous.is_some_and(|p| !key_before(p, key)) {
                return None;
            }
            previous = Some(key);
            self.eat(b':')?;
            self.value(depth)?;
            if self.eat(b'}').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }

    /// A canonical string; returns its raw bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.escape()?,
                0x00..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let raw = self.bytes.get(start..self.at)?;
        self.at += 1;
        Some(raw)
    }

    /// The escapes RFC 8785 writes: `\"`, `\\`, the five short control escapes, and `\u00xx`
    /// (lowercase) for the other control characters. Nothing else is canonical.
    fn escape(&mut self) -> Option<()> {
        self.eat(b'\\')?;
        let short = self.peek()?;
        self.at += 1;
        match short {
            b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => Some(()),
            b'u' => {
                let end = self.at.checked_add(4)?;
                let hex = self.bytes.get(self.at..end)?;
                self.at = end;
                let lower = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                let code = match hex {
                    [b'0', b'0', hi @ (b'0' | b'1'), lo] if lower(lo) => {
                        (hi - b'0') * 16 + (*lo as char).to_digit(16)? as u8
                    }
                    _ => return None,
                };
                (!matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)).then_some(())
            }
            _ => None,
        }
    }

    fn number(&mut self) -> Option<()> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        let token = self.bytes.get(start..self.at)?;
        let digits = token.strip_prefix(b"-").unwrap_or(token);
        // Plain integers below 2^53 (at most 15 digits) without a leading zero are their own
        // ECMAScript form; `0` is, `-0` is not.
        let plain = match digits {
            [b'0'] => token.len() == 1,
            [b'1'..=b'9', rest @ ..] => rest.len() < 15 && rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        plain.then_some(()).or_else(|| general_number(token))
    }
}

/// Any other number token: canonical when the writer prints its parsed value back unchanged.
fn general_number(token: &[u8]) -> Option<()> {
    let number: Number = serde_json::from_slice(token).ok()?;
    let mut printed = Vec::with_capacity(token.len());
    write_number(&mut printed, &number).ok()?;
    (printed == token).then_some(())
}

/// Whether member name `a` sorts strictly before `b` (UTF-16 code-unit order).
fn key_before(a: &str, b: &str) -> bool {
    compare_keys(a, b).is_lt()
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
