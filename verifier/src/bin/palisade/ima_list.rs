//! Reading an IMA measurement list for `palisade ima`: the format (ASCII or binary, detected
//! unless given), the template-hash algorithm, and printing that tolerates a closed pipe.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::ValueEnum;
use palisade_ima::list::{parse_ascii_bank, parse_binary};
use palisade_ima::{Entry, HashAlg};
use serde::Serialize;

/// How to read a measurement list.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// The list's format (default: detected from its first byte).
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
    /// The template-hash algorithm: sha1 for `ascii_runtime_measurements` and
    /// `binary_runtime_measurements`, the bank's for `…_<alg>` lists (default: sha1; for
    /// `ima replay --policy`, the policy's `ima.log_hash_alg`).
    #[arg(long)]
    pub template_alg: Option<HashAlg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    /// `PCR TEMPLATE_HASH TEMPLATE FIELDS…` lines.
    Ascii,
    /// The kernel's binary list.
    Binary,
}

impl ListFormat {
    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ascii => "ASCII",
            Self::Binary => "binary",
        }
    }
}

/// ASCII lists start with the PCR in decimal (`%2d`: maybe a space); binary lists with a
/// little-endian u32 PCR, whose first byte is a PCR number below 32, neither a digit nor a space.
pub fn detect(bytes: &[u8]) -> ListFormat {
    match bytes.first() {
        None | Some(b'0'..=b'9' | b' ') => ListFormat::Ascii,
        Some(_) => ListFormat::Binary,
    }
}

/// Reads and parses a measurement list; returns its entries and format.
pub fn read_list(
    path: &Path,
    args: &ListArgs,
    template_alg: HashAlg,
) -> anyhow::Result<(Vec<Entry>, ListFormat)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let format = args.format.unwrap_or_else(|| detect(&bytes));
    let entries = match format {
        ListFormat::Ascii => parse_ascii_bank(&bytes, template_alg),
        ListFormat::Binary => parse_binary(&bytes, template_alg),
    };
    let entries = entries.with_context(|| {
        format!(
            "{} is not a valid {} IMA measurement list ({template_alg} template hashes)",
            path.display(),
            format.name()
        )
    })?;
    Ok((entries, format))
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::from(e).context("writing to standard output"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_detected_from_the_first_byte() {
        assert_eq!(detect(b"10 abcd ima-ng"), ListFormat::Ascii);
        assert_eq!(detect(b" 9 abcd ima-ng"), ListFormat::Ascii);
        assert_eq!(detect(b""), ListFormat::Ascii);
        assert_eq!(detect(&[10, 0, 0, 0, 1]), ListFormat::Binary);
        assert_eq!(detect(&[0, 0, 0, 0]), ListFormat::Binary);
    }
}
