//! One pass over an ASCII measurement list: each entry is parsed, its template hash checked,
//! extended into the banks and judged by the runtime policy before the next line is read, so no
//! list of entries is built. The result is what [`parse_ascii_bank`](crate::list::parse_ascii_bank),
//! [`replay_to_quote`](crate::replay::replay_to_quote) and
//! [`RuntimePolicy::evaluate_into`] over the matched prefix give (a property test checks it).

use crate::hash::HashAlg;
use crate::list::{AsciiEntries, Entry, ListError};
use crate::policy::{PolicyReport, RuntimePolicy};
use crate::replay::{ImaState, Outcome, QuoteRun, ReplayError, ReplayParams};

#[cfg(test)]
mod tests;

/// What [`verify_ascii`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The replay's outcome, as [`replay_to_quote`](crate::replay::replay_to_quote) gives it.
    pub outcome: Outcome,
    /// The policy's report over the matched new entries (empty without a policy or when no
    /// prefix matched), numbered over the whole list; merge it into a resumed report.
    pub report: PolicyReport,
    /// The first new entry, for the caller's `boot_aggregate` check.
    pub first: Option<Entry>,
}

/// Why [`verify_ascii`] could not finish: a line does not parse, or an entry fails replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A malformed line (numbered within `list`, like the parser's errors).
    #[error(transparent)]
    List(#[from] ListError),
    /// An entry's template hash is wrong, or the state or quotes are unusable. `name` is the
    /// entry's path or buffer name when an entry caused it.
    #[error("{error}")]
    Replay {
        error: ReplayError,
        name: Option<String>,
    },
}

impl From<ReplayError> for VerifyError {
    fn from(error: ReplayError) -> Self {
        Self::Replay { error, name: None }
    }
}

/// Verifies `list` (the ASCII list's entries after `state.entries`) against the quoted IMA PCR
/// values in one pass: every line parsed, every template hash checked, the longest prefix that
/// reaches `quotes` found, and, with a policy, every entry of that prefix judged.
pub fn verify_ascii(
    list: &[u8],
    state: &ImaState,
    quotes: &[(HashAlg, &[u8])],
    params: &ReplayParams,
    policy: Option<&RuntimePolicy>,
) -> Result<Verified, VerifyError> {
    let mut run = QuoteRun::new(state, quotes, params)?;
    let mut report = PolicyReport::default();
    // The report over the longest matching prefix, when entries were judged after it.
    let mut at_match = None;
    // Whether the entries so far reach the quote, so that the report before the next entry is
    // the report at a match. The empty prefix counts as reaching: its report is empty either way.
    let mut last_reached = true;
    let mut first = None;
    // One entry, parsed into line after line: no entry is built, moved or dropped per line.
    let mut entries = AsciiEntries::new(list, params.template_alg);
    let mut entry = Entry::blank();
    let mut number = state.entries;
    while let Some(parsed) = entries.next_into(&mut entry) {
        parsed?;
        number = number.saturating_add(1);
        if let Some(policy) = policy {
            if last_reached {
                at_match = Some(report.clone());
            }
            report.record(number, &entry, policy.check(&entry));
        }
        last_reached = run.step(&entry).map_err(|error| VerifyError::Replay {
            error,
            name: Some(entry.name().to_owned()),
        })?;
        if first.is_none() {
            first = Some(entry.clone());
        }
    }
    let outcome = run.finish();
    let report = match (&outcome, last_reached) {
        (Outcome::Match { .. }, true) => report,
        (Outcome::Match { .. }, false) => at_match.unwrap_or_default(),
        (Outcome::Mismatch { .. }, _) => PolicyReport::default(),
    };
    Ok(Verified {
        outcome,
        report,
        first,
    })
}
