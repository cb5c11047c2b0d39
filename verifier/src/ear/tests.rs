//! EAR claims and their JWT: status per outcome, the vector per reason, the signature.

use base64::Engine as _;
use palisade_cluster_policy::PolicyRef;
use palisade_evidence::{Reason, ReasonCode};

use super::*;
use crate::audit::key::PublicKey;
use crate::store::testing;

const EVERY_CODE: [ReasonCode; 21] = [
    ReasonCode::QuoteMalformed,
    ReasonCode::QuoteSignature,
    ReasonCode::NonceMismatch,
    ReasonCode::PcrSelection,
    ReasonCode::PcrDigestMismatch,
    ReasonCode::ClockRegressed,
    ReasonCode::LogMalformed,
    ReasonCode::LogReplayMismatch,
    ReasonCode::BootBinding,
    ReasonCode::DocumentDigestMismatch,
    ReasonCode::DocumentMissing,
    ReasonCode::DocumentUnmeasured,
    ReasonCode::DocumentMalformed,
    ReasonCode::PolicyViolation,
    ReasonCode::PolicyUnevaluable,
    ReasonCode::ImaLogMalformed,
    ReasonCode::ImaReplayMismatch,
    ReasonCode::ImaBootAggregate,
    ReasonCode::ImaPolicy,
    ReasonCode::BootLogMalformed,
    ReasonCode::BootLogReplayMismatch,
];

#[test]
fn a_pass_is_affirming_and_an_error_makes_no_claim() {
    let pass = Vector::of(Outcome::Pass, &[]);
    assert_eq!((pass.instance, pass.configuration), (2, 2));
    assert_eq!(pass.status(), "affirming");
    assert_eq!(Vector::of(Outcome::Error, &[]).status(), "none");
}

#[test]
fn every_failure_reason_leaves_the_affirming_tier() {
    for code in EVERY_CODE {
        let v = Vector::of(Outcome::Fail, &[Reason::new(code, "x")]);
        assert!(
            matches!(v.status(), "warning" | "contraindicated"),
            "{code:?} gives {v:?} ({})",
            v.status()
        );
    }
}

#[test]
fn reasons_land_on_the_claim_they_concern() {
    let v = |code| Vector::of(Outcome::Fail, &[Reason::new(code, "x")]);
    assert_eq!(v(ReasonCode::QuoteSignature).instance, 99);
    assert_eq!(v(ReasonCode::LogReplayMismatch).configuration, 99);
    assert_eq!(v(ReasonCode::LogReplayMismatch).instance, 2);
    assert_eq!(v(ReasonCode::PolicyViolation).configuration, 96);
    assert_eq!(v(ReasonCode::PolicyUnevaluable).status(), "warning");
    assert_eq!(v(ReasonCode::ImaPolicy).executables, 96);
    assert_eq!(v(ReasonCode::ImaPolicy).configuration, 2);
    assert_eq!(v(ReasonCode::ImaReplayMismatch).executables, 99);
    assert_eq!(v(ReasonCode::BootLogReplayMismatch).executables, 99);
    let both = Vector::of(
        Outcome::Fail,
        &[
            Reason::new(ReasonCode::PolicyViolation, "ssh"),
            Reason::new(ReasonCode::PolicyUnevaluable, "timeout"),
        ],
    );
    assert_eq!(both.configuration, 96, "the worse tier wins");
}

#[test]
fn claims_name_the_agent_policy_and_result_and_the_jwt_verifies_with_the_record_key() {
    let mut r = testing::result("web-1", Outcome::Fail);
    r.id = 42;
    r.at = "2026-12-05T10:00:00Z".into();
    r.reasons = vec![Reason::new(ReasonCode::PolicyViolation, "ssh open")];
    r.policy = Some(PolicyRef {
        name: "foundation".into(),
        version: 3,
        hash: "ab".repeat(32),
    });
    let c = claims(&r, false, None);
    assert_eq!(c["eat_profile"], PROFILE);
    assert_eq!(c["iat"], 1_796_464_800);
    let sub = &c["submods"]["web-1"];
    assert_eq!(sub["ear.status"], "contraindicated");
    assert_eq!(sub["ear.trustworthiness-vector"]["configuration"], 96);
    assert_eq!(sub["ear.trustworthiness-vector"]["hardware"], 0);
    assert_eq!(
        sub["ear.appraisal-policy-id"],
        format!("palisade:policy/foundation@3#sha256:{}", "ab".repeat(32))
    );
    assert_eq!(sub["palisade.result"], 42);
    let genuine = claims(&r, true, None);
    assert_eq!(
        genuine["submods"]["web-1"]["ear.trustworthiness-vector"]["hardware"],
        2
    );

    let key = RecordKey::generate();
    let token = jwt(&c, &key);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload, c);
    let signature = hex::encode(b64.decode(parts[2]).unwrap());
    let public = PublicKey::from_hex(&key.public_hex()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(public.verifies(signed.as_bytes(), &signature));
    assert!(!public.verifies(format!("{signed}x").as_bytes(), &signature));
}

#[test]
fn a_deny_cluster_finding_contraindicates_the_configuration_and_is_carried() {
    let r = testing::result("web-1", Outcome::Pass);
    let finding = |enforcement| palisade_cluster_policy::Finding {
        constraint: "web-same-firewall".into(),
        template: "firewall_consistency".into(),
        enforcement,
        nodes: vec![r.agent_id.clone()],
        message: "differs".into(),
        details: serde_json::json!({}),
    };
    let warned = claims(
        &r,
        false,
        Some(&[finding(palisade_cluster_policy::Enforcement::Warn)]),
    );
    let sub = &warned["submods"][r.agent_id.as_str()];
    assert_eq!(sub["ear.trustworthiness-vector"]["configuration"], 2);
    assert_eq!(
        sub["palisade.cluster-findings"][0]["constraint"],
        "web-same-firewall"
    );
    let denied = claims(
        &r,
        false,
        Some(&[finding(palisade_cluster_policy::Enforcement::Deny)]),
    );
    let sub = &denied["submods"][r.agent_id.as_str()];
    assert_eq!(sub["ear.trustworthiness-vector"]["configuration"], 96);
    assert_eq!(sub["ear.status"], "contraindicated");
    assert!(claims(&r, false, None)["submods"][r.agent_id.as_str()]
        .get("palisade.cluster-findings")
        .is_none());
}
