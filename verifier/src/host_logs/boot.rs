//! The UEFI boot event log against the quoted PCRs 0-7: parse it, replay its SHA-256 bank, and
//! keep its reference state (Secure Boot, PK/KEK/db/dbx, boot applications, kernel command
//! line) as the policy input's `boot` for the rest of this boot.

use std::collections::BTreeMap;

use palisade_evidence::verify::HostLogCheckpoint;
use palisade_evidence::{Reason, ReasonCode, Sha256Digest};
use palisade_ima::uefi::EventLog;
use palisade_ima::HashAlg;
use serde_json::{json, Value};

use super::{Sent, BOOT_PCRS};

/// The verified boot log's checkpoint; `None` when the host sent none and has none verified.
pub fn judge(
    sent: &Sent,
    previous: Option<&HostLogCheckpoint>,
) -> Result<Option<HostLogCheckpoint>, Reason> {
    let quoted: BTreeMap<u8, Sha256Digest> = BOOT_PCRS
        .filter_map(|i| Some((i, *sent.pcrs.get(&i)?)))
        .collect();
    if quoted.len() != BOOT_PCRS.count() {
        let msg = "the quote does not cover PCRs 0-7";
        return Err(Reason::new(ReasonCode::BootLogMalformed, msg));
    }
    let Some(log) = &sent.boot_log else {
        return match previous {
            // PCRs 0-7 are extendable at run time: once verified, they must stay as they were.
            Some(c) if c.pcrs != quoted => Err(mismatch(
                &changed(&c.pcrs, &quoted),
                "changed since this boot's log was verified",
            )),
            other => Ok(other.cloned()),
        };
    };
    let parsed = EventLog::parse(&log.bytes).map_err(|e| {
        Reason::new(
            ReasonCode::BootLogMalformed,
            format!("the UEFI boot event log does not parse: {e}"),
        )
    })?;
    let replayed = parsed.replay();
    let Some(bank) = replayed.get(&HashAlg::Sha256) else {
        let msg = "the UEFI boot event log has no SHA-256 bank";
        return Err(Reason::new(ReasonCode::BootLogMalformed, msg));
    };
    let replayed: BTreeMap<u8, Sha256Digest> = BOOT_PCRS
        .map(|i| {
            let value = bank
                .get(&u32::from(i))
                .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok());
            (i, value.map_or(Sha256Digest::ZERO, Sha256Digest))
        })
        .collect();
    if replayed != quoted {
        let differ = changed(&replayed, &quoted);
        return Err(
            mismatch(&differ, "differ from the replayed UEFI boot event log").with_details(json!({
                "replayed": hex_map(&replayed),
                "quoted": hex_map(&quoted),
            })),
        );
    }
    let mut summary = serde_json::to_value(parsed.reference()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut summary {
        map.insert("events".into(), parsed.events().len().into());
        map.insert("pcrs".into(), hex_map(&quoted));
    }
    Ok(Some(HostLogCheckpoint {
        entries: parsed.events().len() as u64,
        pcrs: quoted,
        policy: None,
        summary,
        resume: Value::Null,
    }))
}

fn mismatch(pcrs: &[u8], what: &str) -> Reason {
    let list: Vec<String> = pcrs.iter().map(u8::to_string).collect();
    Reason::new(
        ReasonCode::BootLogReplayMismatch,
        format!("quoted PCR {} {what}", list.join(", ")),
    )
}

fn changed(a: &BTreeMap<u8, Sha256Digest>, b: &BTreeMap<u8, Sha256Digest>) -> Vec<u8> {
    BOOT_PCRS.filter(|i| a.get(i) != b.get(i)).collect()
}

fn hex_map(pcrs: &BTreeMap<u8, Sha256Digest>) -> Value {
    pcrs.iter()
        .map(|(i, v)| (i.to_string(), Value::String(v.to_string())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
