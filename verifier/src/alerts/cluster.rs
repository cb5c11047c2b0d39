//! Alerts for cluster-policy findings: `PalisadeClusterPolicyViolation`, firing when a finding
//! appears and resolved when it clears, in the same Alertmanager webhook shape as the agent
//! alerts. `deny` findings are critical, `warn` warnings; `dryrun` findings are never alerted.

use palisade_cluster_policy::{Enforcement, Finding};
use serde_json::{json, Value};

/// The alert name.
pub const ALERTNAME: &str = "PalisadeClusterPolicyViolation";

/// The webhook body for `finding` appearing (`firing`) or clearing, at `at` (RFC 3339); `None`
/// for a dry-run constraint.
pub fn payload(finding: &Finding, firing: bool, at: &str) -> Option<Value> {
    let severity = match finding.enforcement {
        Enforcement::Deny => "critical",
        Enforcement::Warn => "warning",
        Enforcement::Dryrun => return None,
    };
    let status = if firing { "firing" } else { "resolved" };
    let nodes = finding.nodes.join(",");
    let labels = json!({
        "alertname": ALERTNAME,
        "constraint": finding.constraint,
        "template": finding.template,
        "nodes": nodes,
        "severity": severity,
    });
    let summary = format!("{} [{nodes}]: {}", finding.constraint, finding.message);
    let fingerprint = palisade_evidence::Sha256Digest::of(
        format!(
            "{ALERTNAME}\0{}\0{nodes}\0{}",
            finding.constraint, finding.message
        )
        .as_bytes(),
    )
    .to_string()
    .chars()
    .take(16)
    .collect::<String>();
    let ends = if firing { "0001-01-01T00:00:00Z" } else { at };
    Some(json!({
        "version": "4",
        "groupKey": format!("palisade/cluster/{}", finding.constraint),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "palisade",
        "groupLabels": { "constraint": finding.constraint },
        "commonLabels": labels,
        "commonAnnotations": { "summary": summary },
        "externalURL": "",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": { "summary": summary, "description": finding.details.to_string() },
            "startsAt": at,
            "endsAt": ends,
            "generatorURL": "",
            "fingerprint": fingerprint,
        }],
        "palisade": { "finding": finding },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(enforcement: Enforcement) -> Finding {
        Finding {
            constraint: "web-same-firewall".into(),
            template: "firewall_consistency".into(),
            enforcement,
            nodes: vec!["web-02".into()],
            message: "web-02 differs".into(),
            details: json!({"digest": "d9"}),
        }
    }

    #[test]
    fn deny_fires_critical_and_resolves_with_the_same_fingerprint_dryrun_never_alerts() {
        let at = "2026-12-06T00:00:00Z";
        let firing = payload(&finding(Enforcement::Deny), true, at).unwrap();
        let resolved = payload(&finding(Enforcement::Deny), false, at).unwrap();
        assert_eq!(firing["status"], "firing");
        assert_eq!(firing["alerts"][0]["labels"]["severity"], "critical");
        assert_eq!(firing["alerts"][0]["labels"]["nodes"], "web-02");
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["alerts"][0]["endsAt"], at);
        assert_eq!(
            firing["alerts"][0]["fingerprint"],
            resolved["alerts"][0]["fingerprint"]
        );
        let warn = payload(&finding(Enforcement::Warn), true, at).unwrap();
        assert_eq!(warn["alerts"][0]["labels"]["severity"], "warning");
        assert!(payload(&finding(Enforcement::Dryrun), true, at).is_none());
    }
}
