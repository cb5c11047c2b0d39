//! How `palisade agents list|show|results|attest` print for people (`--json` prints the API's
//! JSON instead).

use palisade_evidence::log::Writer;
use palisade_verifier::api::AgentSummary;
use palisade_verifier::store::ResultRecord;
use serde_json::Value;

/// `k=v,k=v` of a JSON labels object (empty when absent).
pub fn labels_text(labels: Option<&Value>) -> String {
    let pairs: Vec<String> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.join(",")
}

pub fn print_list(agents: Vec<AgentSummary>) {
    println!(
        "{:<24} {:<17} {:<8} {:<28} LABELS",
        "AGENT", "STATE", "OUTCOME", "CONTACT"
    );
    for a in agents {
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<24} {:<17} {:<8} {:<28} {}",
            a.id,
            if a.state.is_empty() {
                &a.status
            } else {
                &a.state
            },
            a.last_outcome.to_uppercase(),
            a.contact,
            labels.join(",")
        );
    }
}

pub fn print_show(body: &Value) -> anyhow::Result<()> {
    let agent = &body["agent"];
    println!(
        "agent {} ({})",
        agent["id"].as_str().unwrap_or("?"),
        agent["status"].as_str().unwrap_or("?")
    );
    println!(
        "  contact:        {}",
        agent["contact"].as_str().unwrap_or("?")
    );
    println!(
        "  dedicated PCR:  {}  (log entries verified: {})",
        agent["pcr"], body["log_entries_verified"]
    );
    println!(
        "  state:          {}",
        agent["state"].as_str().unwrap_or("?")
    );
    println!(
        "  AK:             sha256:{}",
        body["ak_fingerprint"].as_str().unwrap_or("?")
    );
    println!(
        "  EK:             sha256:{}",
        body["ek_fingerprint"].as_str().unwrap_or("?")
    );
    println!(
        "  EK certificate: {}",
        agent["ek_status"].as_str().unwrap_or("?")
    );
    println!(
        "  measured boot:  {}",
        boot_line(body.pointer("/host_logs/boot").unwrap_or(&Value::Null))
    );
    println!(
        "  IMA:            {}",
        ima_line(body.pointer("/host_logs/ima").unwrap_or(&Value::Null))
    );
    match body.get("latest").filter(|v| !v.is_null()) {
        Some(latest) => print_result(&serde_json::from_value(latest.clone())?),
        None => println!("  no attestation yet"),
    }
    Ok(())
}

/// The verified UEFI boot log in one line.
fn boot_line(boot: &Value) -> String {
    if boot.is_null() {
        return "not verified (no boot log sent)".into();
    }
    let secure = match boot["secure_boot"].as_bool() {
        Some(true) => "Secure Boot on",
        Some(false) => "Secure Boot OFF",
        None => "Secure Boot state not logged",
    };
    format!("{secure}, {} events replayed to PCRs 0-7", boot["events"])
}

/// The verified IMA list in one line.
fn ima_line(ima: &Value) -> String {
    if ima.is_null() {
        return "not in use (no list, PCR 10 never extended)".into();
    }
    let policy = match ima.pointer("/policy/name").and_then(Value::as_str) {
        Some(name) => format!("runtime policy {name}"),
        None => "no runtime policy".into(),
    };
    let verdict = match ima["ok"].as_bool() {
        Some(true) => "all allowed".to_owned(),
        Some(false) => format!(
            "{} unknown, {} mismatched",
            ima["unknown"], ima["mismatched"]
        ),
        None => "not judged".into(),
    };
    format!(
        "{} entries replayed to PCR 10; {policy}: {verdict}",
        ima["entries"]
    )
}

pub fn print_result(r: &ResultRecord) {
    let policy = r.policy.as_ref().map_or(String::new(), |p| {
        format!(
            "  [policy {} v{} sha256:{}]",
            p.name,
            p.version,
            p.hash.get(..12).unwrap_or(&p.hash)
        )
    });
    println!(
        "  #{} {} at {} ({} ms){}",
        r.id,
        r.outcome.as_str().to_uppercase(),
        r.at,
        r.duration_us / 1000,
        policy
    );
    if let Some(e) = &r.error {
        println!("    - could not attest: {e}");
    }
    for reason in &r.reasons {
        println!("    - {reason}");
    }
    if let Some(changes) = r.changes.as_ref().and_then(Value::as_object) {
        for (key, change) in changes {
            print_change(key, change);
        }
    }
}

/// One changed document of a result: its text lines and the processes the log names as writers.
pub fn print_change(key: &str, change: &Value) {
    let writers: Vec<Writer> =
        serde_json::from_value(change["writers"].clone()).unwrap_or_default();
    let by: Vec<String> = writers
        .iter()
        .map(|w| format!("pid {} ({})", w.pid, w.comm))
        .collect();
    let by = if by.is_empty() {
        String::new()
    } else {
        format!("  by {}", by.join(", "))
    };
    println!("    changed {key}{by}");
    for line in change["text"].as_str().unwrap_or_default().lines().take(20) {
        println!("      {line}");
    }
}
