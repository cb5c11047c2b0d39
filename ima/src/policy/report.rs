//! The result of evaluating entries against a runtime policy: exact counts, capped lists of
//! findings (by 1-based entry number), merging for incremental attestation, and a compact
//! summary for the Rego input document.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use super::{Outcome, RuntimePolicy};
use crate::list::{Entry, FileDigest};

/// Most findings a report keeps per list (the counts stay exact).
pub const FINDINGS_LIMIT: usize = 1000;
/// Most findings [`PolicyReport::summary`] shows per list.
pub const SUMMARY_LIMIT: usize = 100;

/// One entry the policy did not allow, or that needs another check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// 1-based position in the whole measurement list.
    pub entry: u64,
    /// The measured path or buffer name.
    pub path: String,
    /// The measured digest, written `alg:hex`.
    #[serde(serialize_with = "digest_str", deserialize_with = "digest_from_str")]
    pub digest: FileDigest,
    /// Boot aggregate only: whether the policy lists this digest (`None`: no such policy entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<bool>,
}

fn digest_str<S: Serializer>(d: &FileDigest, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}:{}", d.alg, hex::encode(d.bytes)))
}

/// `alg:hex`, as [`digest_str`] writes it.
fn digest_from_str<'de, D: Deserializer<'de>>(d: D) -> Result<FileDigest, D::Error> {
    use serde::de::Error as _;
    let text = String::deserialize(d)?;
    let (alg, hex) = text
        .split_once(':')
        .ok_or_else(|| D::Error::custom("digest is not alg:hex"))?;
    let alg = crate::HashAlg::from_name(alg).map_err(D::Error::custom)?;
    let bytes = hex::decode(hex).map_err(D::Error::custom)?;
    let bytes = crate::DigestBuf::new(&bytes).map_err(D::Error::custom)?;
    Ok(FileDigest { alg, bytes })
}

/// Counts of entries by outcome, and the first [`FINDINGS_LIMIT`] findings of each kind
/// (serialisable both ways so that a verifier can resume it from a checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub total: u64,
    pub allowed: u64,
    pub excluded: u64,
    pub ignored: u64,
    pub unknown: u64,
    pub mismatched: u64,
    pub violations: u64,
    pub boot_aggregates: u64,
    /// Paths the policy does not list.
    pub unknown_files: Vec<Finding>,
    /// Listed paths measured with a digest the policy does not list.
    pub mismatches: Vec<Finding>,
    /// Measurement violations (policy not consulted).
    pub violation_entries: Vec<Finding>,
    /// `boot_aggregate` entries, for the verifier's check against the boot PCRs.
    pub boot_aggregate: Vec<Finding>,
}

impl PolicyReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts entry number `number` (1-based) with its outcome.
    #[inline]
    pub fn record(&mut self, number: u64, entry: &Entry, outcome: Outcome) {
        self.total = self.total.saturating_add(1);
        let (count, list, listed) = match outcome {
            Outcome::Allowed => {
                self.allowed = self.allowed.saturating_add(1);
                return;
            }
            Outcome::Excluded => {
                self.excluded = self.excluded.saturating_add(1);
                return;
            }
            Outcome::Ignored => {
                self.ignored = self.ignored.saturating_add(1);
                return;
            }
            Outcome::Unknown => (&mut self.unknown, &mut self.unknown_files, None),
            Outcome::Mismatch => (&mut self.mismatched, &mut self.mismatches, None),
            Outcome::Violation => (&mut self.violations, &mut self.violation_entries, None),
            Outcome::BootAggregate { listed } => {
                (&mut self.boot_aggregates, &mut self.boot_aggregate, listed)
            }
        };
        *count = count.saturating_add(1);
        if list.len() < FINDINGS_LIMIT {
            list.push(Finding {
                entry: number,
                path: entry.name().to_owned(),
                digest: entry.digest().clone(),
                listed,
            });
        }
    }

    /// True when no entry was unknown to the policy or mismatched it. Violations and the boot
    /// aggregate are left to the caller.
    pub fn ok(&self) -> bool {
        self.unknown == 0 && self.mismatched == 0
    }

    /// Adds a later report (for the entries after this one's) into this one.
    pub fn merge(&mut self, other: PolicyReport) {
        self.total = self.total.saturating_add(other.total);
        self.allowed = self.allowed.saturating_add(other.allowed);
        self.excluded = self.excluded.saturating_add(other.excluded);
        self.ignored = self.ignored.saturating_add(other.ignored);
        self.unknown = self.unknown.saturating_add(other.unknown);
        self.mismatched = self.mismatched.saturating_add(other.mismatched);
        self.violations = self.violations.saturating_add(other.violations);
        self.boot_aggregates = self.boot_aggregates.saturating_add(other.boot_aggregates);
        for (mine, theirs) in [
            (&mut self.unknown_files, other.unknown_files),
            (&mut self.mismatches, other.mismatches),
            (&mut self.violation_entries, other.violation_entries),
            (&mut self.boot_aggregate, other.boot_aggregate),
        ] {
            let room = FINDINGS_LIMIT.saturating_sub(mine.len());
            mine.extend(theirs.into_iter().take(room));
        }
    }

    /// A compact document for the Rego input (`input.ima`): counts, the first
    /// [`SUMMARY_LIMIT`] unknown paths and mismatches, violations and boot aggregate, and (when
    /// given) which policy was used.
    pub fn summary(&self, policy: Option<&RuntimePolicy>, name: Option<&str>) -> Value {
        let first = |list: &[Finding]| -> Vec<Finding> {
            list.iter().take(SUMMARY_LIMIT).cloned().collect()
        };
        let unknown_files: Vec<&str> = self
            .unknown_files
            .iter()
            .take(SUMMARY_LIMIT)
            .map(|f| f.path.as_str())
            .collect();
        let mut out = json!({
            "entries": self.total,
            "allowed": self.allowed,
            "excluded": self.excluded,
            "ignored": self.ignored,
            "unknown": self.unknown,
            "mismatched": self.mismatched,
            "violations": self.violations,
            "ok": self.ok(),
            "unknown_files": unknown_files,
            "mismatches": first(&self.mismatches),
            "violation_entries": first(&self.violation_entries),
            "boot_aggregate": first(&self.boot_aggregate),
        });
        if let (Some(policy), Value::Object(map)) = (policy, &mut out) {
            let mut p = json!({
                "digests_count": policy.digests.len(),
                "excludes_count": policy.excludes.patterns().len(),
                "keyrings_count": policy.keyrings.len(),
                "ima_buf_count": policy.ima_buf.len(),
                "generator": policy.generator,
            });
            if let (Some(name), Value::Object(pm)) = (name, &mut p) {
                pm.insert("name".into(), Value::String(name.to_owned()));
            }
            map.insert("policy".into(), p);
        }
        out
    }
}
