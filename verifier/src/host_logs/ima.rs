//! The IMA measurement list against the quoted PCR 10: parse the new entries, check every
//! template hash, find the prefix that reproduces the quoted SHA-256 bank (the kernel may have
//! appended entries after the quote), check `boot_aggregate` against PCRs 0-7, and judge the
//! entries by the agent's runtime policy into a running report.

use std::collections::BTreeMap;

use palisade_evidence::verify::HostLogCheckpoint;
use palisade_evidence::{Reason, ReasonCode, Sha256Digest};
use palisade_ima::policy::PolicyReport;
use palisade_ima::replay::{
    check_boot_aggregate, BootAggregate, ImaState, Outcome, PcrBank, ReplayError, ReplayParams,
};
use palisade_ima::verify::{verify_ascii, VerifyError};
use palisade_ima::{Entry, HashAlg};
use serde_json::{json, Value};

use super::{ImaPolicy, Sent, BOOT_PCRS, IMA_PCR};

/// The checkpoint to store and the policy finding, when the list could be trusted.
#[derive(Debug)]
pub struct Judged {
    /// `None`: the host does not use IMA (no list, PCR 10 never extended).
    pub checkpoint: Option<HostLogCheckpoint>,
    /// Files the runtime policy does not allow, in the whole list so far.
    pub finding: Option<Reason>,
}

/// Judges `sent.ima` from `previous` (ignored when another policy judged it).
pub fn judge(
    sent: &Sent,
    previous: Option<&HostLogCheckpoint>,
    policy: Option<&ImaPolicy>,
    wanted: Option<&str>,
) -> Result<Judged, Reason> {
    let malformed = |msg: String| Reason::new(ReasonCode::ImaLogMalformed, msg);
    let quoted = *sent
        .pcrs
        .get(&IMA_PCR)
        .ok_or_else(|| malformed("the quote does not cover PCR 10".into()))?;
    let hash = policy.map(|p| p.reference.hash.clone());
    let previous = previous.filter(|c| c.policy == hash);
    let start = previous.map_or(0, |c| c.entries);
    let Some(slice) = &sent.ima else {
        return match previous {
            None if quoted == Sha256Digest::ZERO => Ok(Judged {
                checkpoint: None,
                finding: None,
            }),
            Some(c) if c.pcrs.get(&IMA_PCR) == Some(&quoted) => Ok(Judged {
                checkpoint: Some(c.clone()),
                finding: finding(c, policy),
            }),
            _ => Err(malformed(format!(
                "PCR 10 is {quoted} but the agent sent no IMA measurement list"
            ))),
        };
    };
    if slice.offset != start {
        let msg = format!(
            "the IMA list starts at entry {} but entries from {start} were asked for",
            slice.offset
        );
        return Err(malformed(msg));
    }
    let running = previous
        .and_then(|c| c.pcrs.get(&IMA_PCR))
        .copied()
        .unwrap_or(Sha256Digest::ZERO);
    let state = ImaState {
        entries: start,
        banks: vec![PcrBank {
            alg: HashAlg::Sha256,
            value: running.0.to_vec(),
        }],
    };
    let params = ReplayParams {
        pcr: u32::from(IMA_PCR),
        template_alg: HashAlg::Sha1,
    };
    let quotes = [(HashAlg::Sha256, quoted.0.as_slice())];
    // One pass over the text: no list of entries is built, however long the slice.
    let runtime_policy = policy.map(|p| &p.policy);
    let verified = verify_ascii(
        slice.list.as_bytes(),
        &state,
        &quotes,
        &params,
        runtime_policy,
    )
    .map_err(|e| verify_error(e, start))?;
    let state = match verified.outcome {
        Outcome::Match { state, .. } => state,
        Outcome::Mismatch { new_entries, .. } => {
            let msg = format!(
                "replaying the IMA list from entry {start} ({new_entries} new entries) never \
                 reaches the quoted PCR 10 {quoted}: entries are missing, reordered or forged"
            );
            return Err(Reason::new(ReasonCode::ImaReplayMismatch, msg));
        }
    };
    let boot_aggregate = match (start, &verified.first) {
        (0, Some(first)) if state.entries > 0 => Some(boot_aggregate(first, &sent.pcrs)?),
        _ => previous.and_then(|c| c.summary.get("boot_aggregate").cloned()),
    };
    let mut report = previous
        .and_then(|c| serde_json::from_value::<PolicyReport>(c.resume.clone()).ok())
        .unwrap_or_default();
    report.merge(verified.report);
    let mut summary = match policy {
        Some(p) => report.summary(Some(&p.policy), Some(&p.name)),
        None => json!({ "entries": state.entries, "policy": null, "ok": null }),
    };
    if let Value::Object(map) = &mut summary {
        map.insert("entries".into(), state.entries.into());
        map.insert(
            "boot_aggregate".into(),
            boot_aggregate.unwrap_or(Value::Null),
        );
        if let (None, Some(name)) = (policy, wanted) {
            map.insert("missing_policy".into(), name.into());
        }
    }
    let checkpoint = HostLogCheckpoint {
        entries: state.entries,
        pcrs: BTreeMap::from([(IMA_PCR, quoted)]),
        policy: hash,
        summary,
        resume: if policy.is_some() {
            serde_json::to_value(&report).unwrap_or(Value::Null)
        } else {
            Value::Null
        },
    };
    let finding = finding(&checkpoint, policy);
    Ok(Judged {
        checkpoint: Some(checkpoint),
        finding,
    })
}

/// A malformed list, or an integrity failure the replay found, naming the entry.
fn verify_error(e: VerifyError, start: u64) -> Reason {
    match e {
        VerifyError::List(e) => Reason::new(
            ReasonCode::ImaLogMalformed,
            format!("IMA list after entry {start} does not parse: {e}"),
        ),
        VerifyError::Replay {
            error:
                ReplayError::TemplateHash { entry, .. } | ReplayError::TemplateHashLength { entry, .. },
            name,
        } => {
            let name = name.unwrap_or_default();
            let msg = format!(
                "IMA entry {entry} ({name}) does not hash to its template hash: the list was altered"
            );
            Reason::new(ReasonCode::ImaLogMalformed, msg)
                .with_details(json!({ "entry": entry, "path": name }))
        }
        VerifyError::Replay { error, .. } => {
            Reason::new(ReasonCode::ImaLogMalformed, error.to_string())
        }
    }
}

/// The first entry's `boot_aggregate` against the quoted PCRs 0-7 (SHA-256 bank): a mismatch
/// fails; a zero aggregate (no TPM at boot) or one of another bank is noted, not judged.
fn boot_aggregate(first: &Entry, pcrs: &BTreeMap<u8, Sha256Digest>) -> Result<Value, Reason> {
    if first.name() != "boot_aggregate" {
        return Ok(json!("absent"));
    }
    if first.digest().alg != HashAlg::Sha256 {
        return Ok(json!(format!(
            "unchecked: {} aggregate",
            first.digest().alg
        )));
    }
    let values: Vec<(u32, Vec<u8>)> = BOOT_PCRS
        .filter_map(|i| Some((u32::from(i), pcrs.get(&i)?.0.to_vec())))
        .collect();
    match check_boot_aggregate(first, &values) {
        Ok(BootAggregate::Match) => Ok(json!("match")),
        Ok(BootAggregate::Zero) => Ok(json!("zero")),
        Ok(BootAggregate::Mismatch { logged, .. }) => Err(Reason::new(
            ReasonCode::ImaBootAggregate,
            format!(
                "IMA boot_aggregate sha256:{} is not the hash of the quoted PCRs 0-7: the list \
                 is not from this boot",
                hex::encode(logged)
            ),
        )),
        Err(e) => Ok(json!(format!("unchecked: {e}"))),
    }
}

/// The runtime-policy finding over the whole list so far, naming the first offenders.
fn finding(checkpoint: &HostLogCheckpoint, policy: Option<&ImaPolicy>) -> Option<Reason> {
    let policy = policy?;
    let s = &checkpoint.summary;
    if s.get("ok") != Some(&Value::Bool(false)) {
        return None;
    }
    let count = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut parts = Vec::new();
    if let Some(path) = s.pointer("/unknown_files/0").and_then(Value::as_str) {
        parts.push(format!(
            "{} file(s) not in the policy, first {path}",
            count("unknown")
        ));
    }
    if let Some(m) = s.pointer("/mismatches/0") {
        let path = m.get("path").and_then(Value::as_str).unwrap_or("");
        let entry = m.get("entry").and_then(Value::as_u64).unwrap_or(0);
        parts.push(format!(
            "{} file(s) with a digest the policy does not allow, first {path} (entry {entry})",
            count("mismatched")
        ));
    }
    let msg = format!(
        "IMA runtime policy {} v{}: {}",
        policy.name,
        policy.reference.version,
        parts.join("; ")
    );
    Some(Reason::new(ReasonCode::ImaPolicy, msg).with_details(s.clone()))
}
