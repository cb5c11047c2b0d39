//! Replay of an IMA measurement list into PCR banks, one-shot ([`replay_all`]) or incrementally
//! against a quoted PCR value ([`replay_to_quote`], Keylime's prefix rule: the log and the quote
//! are not read atomically, so the quote may lag the log by some entries).
//!
//! Per entry whose PCR is the IMA PCR: `bank = H(bank || m)` with `m = H(template data)`, or
//! `m = 0xff * len` when the logged template hash is all zeros (a violation). Every entry's
//! template hash is checked against its data on the way (violations exempt), so a verified
//! prefix never contains an entry whose data is not what the TPM measured.

use serde::{Deserialize, Serialize};

use crate::hash::HashAlg;
use crate::list::Entry;

mod boot_aggregate;
mod hashing;

pub use boot_aggregate::{boot_aggregate, check_boot_aggregate, BootAggregate, BootAggregateError};
pub(crate) use hashing::fast_digest;

use crate::hash::DigestBuf;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

/// The PCR IMA extends unless the kernel was configured otherwise.
pub const IMA_PCR: u32 = 10;

/// One PCR bank's running value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcrBank {
    pub alg: HashAlg,
    #[serde(with = "hex::serde")]
    pub value: Vec<u8>,
}

/// Where a verifier stopped replaying a machine's list: how many entries it has consumed and
/// the IMA PCR's value in each bank after them. Persist it and resume from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaState {
    pub entries: u64,
    pub banks: Vec<PcrBank>,
}

impl ImaState {
    /// Nothing replayed yet: every bank (duplicates dropped) all zeros.
    pub fn new(algs: &[HashAlg]) -> Self {
        let mut banks: Vec<PcrBank> = Vec::with_capacity(algs.len());
        for alg in algs {
            if !banks.iter().any(|b| b.alg == *alg) {
                banks.push(PcrBank {
                    alg: *alg,
                    value: alg.zero(),
                });
            }
        }
        Self { entries: 0, banks }
    }

    /// The running value of the `alg` bank.
    pub fn value(&self, alg: HashAlg) -> Option<&[u8]> {
        self.banks
            .iter()
            .find(|b| b.alg == alg)
            .map(|b| b.value.as_slice())
    }
}

/// Which PCR is IMA's and which algorithm the logged template hashes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayParams {
    /// Entries for any other PCR are not extended (and are reported as skipped).
    pub pcr: u32,
    /// SHA-1 for the ASCII list and `binary_runtime_measurements`; the bank's algorithm for
    /// `binary_runtime_measurements_<alg>`.
    pub template_alg: HashAlg,
}

impl Default for ReplayParams {
    fn default() -> Self {
        Self {
            pcr: IMA_PCR,
            template_alg: HashAlg::Sha1,
        }
    }
}

/// Why a replay could not run. A quote that matches no prefix is not an error: see [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The entry's (1-based, counted over the whole list) template hash is not its data's hash.
    #[error("entry {entry}: template hash does not match {alg} of the template data")]
    TemplateHash { entry: u64, alg: HashAlg },
    /// The entry's template hash is not a `template_alg` digest.
    #[error("entry {entry}: template hash has {len} bytes, expected {expected}")]
    TemplateHashLength {
        entry: u64,
        len: usize,
        expected: usize,
    },
    /// A quoted bank that the state does not replay.
    #[error("no {0} bank in the replay state")]
    NoBank(HashAlg),
    /// A quoted value of the wrong length for its bank.
    #[error("quoted {alg} PCR value has {len} bytes, expected {}", alg.len())]
    QuoteLength { alg: HashAlg, len: usize },
    /// No quoted value to compare with.
    #[error("no quoted PCR value")]
    NoQuote,
    /// A saved state that cannot be resumed from (wrong value length, duplicate bank).
    #[error("replay state: {0}")]
    BadState(String),
}

/// The result of [`replay_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Entries consumed (all of them) and the final bank values.
    pub state: ImaState,
    /// 1-based numbers of the entries not for the IMA PCR, which were not extended.
    pub skipped: Vec<u64>,
}

/// The quoted value as replayed vs. as quoted, for a bank no prefix reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankMismatch {
    pub alg: HashAlg,
    /// The bank's value after all the new entries.
    pub replayed: Vec<u8>,
    pub quoted: Vec<u8>,
}

/// What replaying new entries against a quote found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The first `matched` new entries (possibly none) bring every quoted bank to its quoted
    /// value; `state` is the state after them, to resume from next time. When several prefixes
    /// match (entries for other PCRs at the end), the longest is taken.
    Match {
        state: ImaState,
        matched: u64,
        skipped: Vec<u64>,
    },
    /// No prefix of the new entries reaches the quoted values.
    Mismatch {
        new_entries: u64,
        banks: Vec<BankMismatch>,
    },
}

#[derive(Debug)]
struct Engine {
    params: ReplayParams,
    algs: Vec<HashAlg>,
    values: Vec<DigestBuf>,
}

impl Engine {
    fn new(state: &ImaState, params: ReplayParams) -> Result<Self, ReplayError> {
        let mut algs: Vec<HashAlg> = Vec::with_capacity(state.banks.len());
        let mut values = Vec::with_capacity(state.banks.len());
        for bank in &state.banks {
            if bank.value.len() != bank.alg.len() {
                return Err(ReplayError::BadState(format!(
                    "{} value has {} bytes",
                    bank.alg,
                    bank.value.len()
                )));
            }
            if algs.contains(&bank.alg) {
                return Err(ReplayError::BadState(format!(
                    "{} bank listed twice",
                    bank.alg
                )));
            }
            algs.push(bank.alg);
            values.push(DigestBuf::truncating(&bank.value));
        }
        Ok(Self {
            params,
            algs,
            values,
        })
    }

    /// Verifies `entry` (number `n`, 1-based over the whole list) and extends it; false when it
    /// is for another PCR and was skipped.
    fn step(&mut self, entry: &Entry, n: u64) -> Result<bool, ReplayError> {
        let tpl = self.params.template_alg;
        if entry.template_hash.len() != tpl.len() {
            let (len, expected) = (entry.template_hash.len(), tpl.len());
            return Err(ReplayError::TemplateHashLength {
                entry: n,
                len,
                expected,
            });
        }
        let violation = entry.is_violation();
        let logged = if violation {
            None
        } else {
            let digest = fast_digest(tpl, &[&entry.data]);
            if digest != entry.template_hash {
                return Err(ReplayError::TemplateHash { entry: n, alg: tpl });
            }
            Some(digest)
        };
        if entry.pcr != self.params.pcr {
            return Ok(false);
        }
        for (alg, value) in self.algs.iter().zip(self.values.iter_mut()) {
            let measurement = match logged {
                None => DigestBuf::filled(alg.len(), 0xff),
                Some(digest) if *alg == tpl => digest,
                Some(_) => fast_digest(*alg, &[&entry.data]),
            };
            *value = fast_digest(*alg, &[value.as_ref(), measurement.as_ref()]);
        }
        Ok(true)
    }

    fn state(&self, entries: u64) -> ImaState {
        let banks = self.algs.iter().zip(&self.values);
        let banks = banks
            .map(|(alg, v)| PcrBank {
                alg: *alg,
                value: v.as_ref().to_vec(),
            })
            .collect();
        ImaState { entries, banks }
    }
}

/// Replays `entries` from all-zero `algs` banks; `skipped` lists the entries for other PCRs.
pub fn replay_all(
    entries: &[Entry],
    algs: &[HashAlg],
    params: &ReplayParams,
) -> Result<Replayed, ReplayError> {
    let mut engine = Engine::new(&ImaState::new(algs), *params)?;
    let mut skipped = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let n = i as u64 + 1;
        if !engine.step(entry, n)? {
            skipped.push(n);
        }
    }
    Ok(Replayed {
        state: engine.state(entries.len() as u64),
        skipped,
    })
}

/// Resumes from `state` over `new_entries` (the list's entries after `state.entries`) and finds
/// the longest prefix of them, possibly empty, after which every bank in `quotes` equals its
/// quoted IMA PCR value. Every new entry's template hash is checked, matched or not.
pub fn replay_to_quote(
    state: &ImaState,
    new_entries: &[Entry],
    quotes: &[(HashAlg, &[u8])],
    params: &ReplayParams,
) -> Result<Outcome, ReplayError> {
    let mut run = QuoteRun::new(state, quotes, params)?;
    for entry in new_entries {
        run.step(entry)?;
    }
    Ok(run.finish())
}

/// [`replay_to_quote`] one entry at a time, for callers that do not hold the entries in a list.
#[derive(Debug)]
pub(crate) struct QuoteRun<'q> {
    engine: Engine,
    /// Bank index and quoted value.
    targets: Vec<(usize, &'q [u8])>,
    /// Entries consumed before this run.
    start: u64,
    /// New entries stepped so far.
    stepped: u64,
    skipped: Vec<u64>,
    /// The longest matching prefix so far and the bank values after it.
    best: Option<(u64, Vec<DigestBuf>)>,
}

impl<'q> QuoteRun<'q> {
    pub(crate) fn new(
        state: &ImaState,
        quotes: &[(HashAlg, &'q [u8])],
        params: &ReplayParams,
    ) -> Result<Self, ReplayError> {
        let engine = Engine::new(state, *params)?;
        if quotes.is_empty() {
            return Err(ReplayError::NoQuote);
        }
        let mut targets = Vec::with_capacity(quotes.len());
        for (alg, quoted) in quotes {
            let bank = engine
                .algs
                .iter()
                .position(|a| a == alg)
                .ok_or(ReplayError::NoBank(*alg))?;
            if quoted.len() != alg.len() {
                return Err(ReplayError::QuoteLength {
                    alg: *alg,
                    len: quoted.len(),
                });
            }
            targets.push((bank, *quoted));
        }
        let mut run = Self {
            engine,
            targets,
            start: state.entries,
            stepped: 0,
            skipped: Vec::new(),
            best: None,
        };
        run.best = run.reached().then(|| (0, run.engine.values.clone()));
        Ok(run)
    }

    fn reached(&self) -> bool {
        self.targets.iter().all(|(bank, quoted)| {
            self.engine
                .values
                .get(*bank)
                .is_some_and(|v| v.as_ref() == *quoted)
        })
    }

    /// Verifies and extends the next entry; true when every quoted bank is now at its quoted
    /// value (the entries so far are a matching prefix).
    pub(crate) fn step(&mut self, entry: &Entry) -> Result<bool, ReplayError> {
        self.stepped += 1;
        let n = self.start.saturating_add(self.stepped);
        if !self.engine.step(entry, n)? {
            self.skipped.push(n);
        }
        let reached = self.reached();
        if reached {
            self.best = Some((self.stepped, self.engine.values.clone()));
        }
        Ok(reached)
    }

    pub(crate) fn finish(mut self) -> Outcome {
        match self.best {
            Some((matched, values)) => {
                let limit = self.start.saturating_add(matched);
                self.skipped.retain(|n| *n <= limit);
                self.engine.values = values;
                Outcome::Match {
                    state: self.engine.state(limit),
                    matched,
                    skipped: self.skipped,
                }
            }
            None => {
                let engine = &self.engine;
                let banks = self.targets.iter().filter_map(|(bank, quoted)| {
                    let (alg, value) = (engine.algs.get(*bank)?, engine.values.get(*bank)?);
                    Some(BankMismatch {
                        alg: *alg,
                        replayed: value.as_ref().to_vec(),
                        quoted: quoted.to_vec(),
                    })
                });
                Outcome::Mismatch {
                    new_entries: self.stepped,
                    banks: banks.collect(),
                }
            }
        }
    }
}
