//! `palisade agents enroll|approvals`: operator approval of agents (the verifier's
//! `require_approval`), before they register or while they wait.

use anyhow::Context as _;
use serde_json::Value;

use super::Api;

/// `agents enroll ID [--ek FINGERPRINT] [KEY=VALUE…]`: approves `id`; prints whether an
/// enrolled agent was released.
pub async fn enroll(
    api: &Api,
    id: &str,
    ek_fingerprint: Option<&str>,
    labels: &[(String, String)],
    json: bool,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "agent_id": id,
        "ek_fingerprint": ek_fingerprint,
        "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    });
    let request = api
        .client
        .post(format!("{}/v1/approvals", api.base))
        .json(&body);
    let answer: Value = api
        .send(request)
        .await?
        .json()
        .await
        .context("the verifier's answer is not JSON")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else if answer.get("released").and_then(Value::as_bool) == Some(true) {
        println!("approved {id}: it is monitored from now on");
    } else {
        println!("approved {id}: it will be monitored once it enrols with its TPM");
    }
    Ok(())
}

/// `agents approvals`: every approval.
pub async fn list(api: &Api, json: bool) -> anyhow::Result<()> {
    let approvals: Vec<Value> = serde_json::from_slice(&api.get_bytes("/v1/approvals").await?)
        .context("the verifier's approval list does not parse")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&approvals)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<20} {:<16} {:<18} LABELS",
        "AGENT", "APPROVED", "BY", "EK"
    );
    for a in approvals {
        let field = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let ek = a
            .get("ek_fingerprint")
            .and_then(Value::as_str)
            .map_or("any".to_owned(), |f| {
                format!("sha256:{}…", f.chars().take(8).collect::<String>())
            });
        println!(
            "{:<24} {:<20} {:<16} {:<18} {}",
            field("agent_id"),
            field("approved_at"),
            field("approved_by"),
            ek,
            super::show::labels_text(a.get("labels"))
        );
    }
    Ok(())
}
