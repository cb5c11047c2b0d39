//! The `boot_aggregate` entry: IMA's first measurement, a digest over the boot PCRs
//! (`ima_calc_boot_aggregate` in `ima_crypto.c`), which ties the IMA list to the boot log.
//!
//! `H(PCR0 || ... || PCR7)` over the bank of the logged digest's algorithm; for any bank but
//! SHA-1, kernels since 5.8 also hash PCR 8 and 9. Like Keylime (which computes both the 8- and
//! 10-PCR forms), either form is accepted. A kernel that found no TPM logs all zeros: Keylime
//! accepts that only when the runtime policy lists the zero digest for `boot_aggregate`, so it
//! is reported as [`BootAggregate::Zero`] for the policy to decide.

use crate::hash::HashAlg;
use crate::list::Entry;

/// The name IMA logs for the boot aggregate.
const NAME: &str = "boot_aggregate";

/// What the logged boot aggregate is, against the quoted boot PCRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootAggregate {
    /// Equals a candidate computed from the PCRs.
    Match,
    /// All zeros: no TPM when IMA started.
    Zero,
    /// Equals none of the candidates (listed most-recent-kernel first).
    Mismatch {
        logged: Vec<u8>,
        candidates: Vec<Vec<u8>>,
    },
}

/// Why the boot aggregate could not be computed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootAggregateError {
    #[error("PCR {0} is missing")]
    MissingPcr(u32),
    #[error("PCR {pcr} has {len} bytes, expected {expected} for the {alg} bank")]
    PcrLength {
        pcr: u32,
        alg: HashAlg,
        len: usize,
        expected: usize,
    },
    #[error("entry is {0:?}, not boot_aggregate")]
    NotBootAggregate(String),
}

fn pcr(
    pcrs: &[(u32, Vec<u8>)],
    alg: HashAlg,
    index: u32,
) -> Result<Option<&[u8]>, BootAggregateError> {
    match pcrs.iter().find(|(i, _)| *i == index) {
        None => Ok(None),
        Some((_, v)) if v.len() == alg.len() => Ok(Some(v.as_slice())),
        Some((_, v)) => Err(BootAggregateError::PcrLength {
            pcr: index,
            alg,
            len: v.len(),
            expected: alg.len(),
        }),
    }
}

/// The boot aggregate candidates from the `alg` bank's PCR values (`(index, value)`): for SHA-1
/// `H(PCR0..7)`; for other banks `H(PCR0..9)` (kernels ≥ 5.8; only when PCR 8 and 9 are given)
/// then `H(PCR0..7)` (older kernels).
pub fn boot_aggregate(
    alg: HashAlg,
    pcrs: &[(u32, Vec<u8>)],
) -> Result<Vec<Vec<u8>>, BootAggregateError> {
    let mut low: Vec<&[u8]> = Vec::with_capacity(10);
    for i in 0..8 {
        low.push(pcr(pcrs, alg, i)?.ok_or(BootAggregateError::MissingPcr(i))?);
    }
    let mut candidates = Vec::with_capacity(2);
    if alg != HashAlg::Sha1 {
        if let (Some(p8), Some(p9)) = (pcr(pcrs, alg, 8)?, pcr(pcrs, alg, 9)?) {
            let mut all = low.clone();
            all.extend([p8, p9]);
            candidates.push(alg.digest(&all));
        }
    }
    candidates.push(alg.digest(&low));
    Ok(candidates)
}

/// Checks a `boot_aggregate` entry against the PCRs of the bank matching its digest's algorithm.
pub fn check_boot_aggregate(
    entry: &Entry,
    pcrs: &[(u32, Vec<u8>)],
) -> Result<BootAggregate, BootAggregateError> {
    if entry.name() != NAME {
        return Err(BootAggregateError::NotBootAggregate(
            entry.name().chars().take(64).collect(),
        ));
    }
    let digest = entry.digest();
    if digest.bytes.iter().all(|b| *b == 0) {
        return Ok(BootAggregate::Zero);
    }
    let candidates = boot_aggregate(digest.alg, pcrs)?;
    if candidates.iter().any(|c| digest.bytes == *c) {
        Ok(BootAggregate::Match)
    } else {
        Ok(BootAggregate::Mismatch {
            logged: digest.bytes.to_vec(),
            candidates,
        })
    }
}
