//! Exclude regexes: compiled once into one start-anchored regex, as Keylime joins them into
//! `(p1)|(p2)|…` and tests paths with Python's `re.match` (anchored at the start, not the end).

use regex::{Regex, RegexBuilder};

use super::PolicyError;

/// Most exclude regexes a policy may carry.
pub const MAX_EXCLUDES: usize = 10_000;
/// Longest single exclude regex, in bytes.
pub const MAX_EXCLUDE_LEN: usize = 4096;
/// Compiled-program size limit for one exclude regex.
const ONE_SIZE_LIMIT: usize = 1 << 20;
/// Compiled-program size limit for all of them together.
const ALL_SIZE_LIMIT: usize = 64 << 20;

/// The policy's exclude regexes (verbatim) and their combined compiled form.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    patterns: Vec<String>,
    combined: Option<Regex>,
}

impl Excludes {
    /// Compiles `patterns`; the error names the first one that fails (0-based index).
    pub fn new(patterns: Vec<String>) -> Result<Self, PolicyError> {
        if patterns.len() > MAX_EXCLUDES {
            return Err(PolicyError::ExcludesTooLarge(format!(
                "{} excludes, at most {MAX_EXCLUDES}",
                patterns.len()
            )));
        }
        if patterns.is_empty() {
            return Ok(Self::default());
        }
        let mut combined = String::from("^(?:");
        for (index, pattern) in patterns.iter().enumerate() {
            let bad = |reason: String| PolicyError::BadExclude {
                index,
                pattern: pattern.chars().take(200).collect(),
                reason,
            };
            if pattern.len() > MAX_EXCLUDE_LEN {
                return Err(bad(format!("longer than {MAX_EXCLUDE_LEN} bytes")));
            }
            RegexBuilder::new(pattern)
                .size_limit(ONE_SIZE_LIMIT)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            if index > 0 {
                combined.push('|');
            }
            combined.push_str("(?:");
            combined.push_str(pattern);
            combined.push(')');
        }
        combined.push(')');
        let combined = RegexBuilder::new(&combined)
            .size_limit(ALL_SIZE_LIMIT)
            .build()
            .map_err(|e| PolicyError::ExcludesTooLarge(e.to_string()))?;
        Ok(Self {
            patterns,
            combined: Some(combined),
        })
    }

    /// True when some exclude matches at the start of `path` (Python `re.match`).
    #[inline]
    pub fn is_excluded(&self, path: &str) -> bool {
        match &self.combined {
            Some(re) => re.is_match(path),
            None => false,
        }
    }

    /// The regexes as the policy lists them.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// True when there are no excludes.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

impl PartialEq for Excludes {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}
impl Eq for Excludes {}

/// Reads an exclude-list file as Keylime's `--excludelist` / `-e`: one regex per line, lines
/// stripped of surrounding whitespace, empty lines and `#` comment lines skipped. Each regex must
/// compile (the error names its line).
pub fn parse_excludes_list(bytes: &[u8]) -> Result<Vec<String>, PolicyError> {
    let text = super::load::utf8_text(bytes)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Err(PolicyError::BadExclude { reason, .. }) = Excludes::new(vec![line.to_owned()]) {
            return Err(PolicyError::Line {
                line: n + 1,
                reason: format!("bad regex: {reason}"),
            });
        }
        out.push(line.to_owned());
        if out.len() > MAX_EXCLUDES {
            return Err(PolicyError::ExcludesTooLarge(format!(
                "more than {MAX_EXCLUDES} excludes"
            )));
        }
    }
    Ok(out)
}
