//! Results as EARs: a pass is `affirming`, the failure after ssh is opened `contraindicated`
//! on `configuration`, and the ES256 JWT verifies with the verifier's published record key.

use base64::Engine as _;
use palisade_integration::palisade::open_ssh;
use palisade_verifier::audit::key::{PublicKey, RecordKey};
use serde_json::Value;

use super::support::World;

#[test]
fn results_are_ears_whose_jwt_verifies_with_the_record_key() {
    let w = World::start("ear");
    let id = w.host.label();
    let pass = w.attest();
    assert_eq!(pass["outcome"], "pass");
    let pass_id = pass["id"].to_string();
    let claims = w.verifier.cli(&["agents", "ear", id, &pass_id]).unwrap();
    let sub = &claims["submods"][id];
    assert_eq!(sub["ear.status"], "affirming");
    assert_eq!(sub["ear.trustworthiness-vector"]["instance-identity"], 2);
    assert_eq!(sub["palisade.result"], pass["id"]);
    let policy = sub["ear.appraisal-policy-id"].as_str().unwrap();
    assert!(
        policy.contains(pass["policy"]["hash"].as_str().unwrap()),
        "{policy}"
    );

    open_ssh(&w.host).unwrap();
    let fail = w.attest_until("fail");
    // Without a result id: the latest.
    let claims = w.verifier.cli(&["agents", "ear", id]).unwrap();
    let sub = &claims["submods"][id];
    assert_eq!(sub["palisade.result"], fail["id"]);
    assert_eq!(sub["ear.status"], "contraindicated");
    assert_eq!(sub["ear.trustworthiness-vector"]["configuration"], 96);
    assert_eq!(sub["ear.trustworthiness-vector"]["hardware"], 0);

    let token = w.verifier.cli_raw(&["agents", "ear", id, "--jwt"]).unwrap();
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload["submods"][id]["palisade.result"], fail["id"]);
    // The key the verifier publishes (and signs durable records with) verifies the token.
    let key = RecordKey::load_or_create(&w.verifier.dir().join("records.key")).unwrap();
    let public = PublicKey::from_hex(&key.public_hex()).unwrap();
    let signature = hex::encode(b64.decode(parts[2]).unwrap());
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(
        public.verifies(signed.as_bytes(), &signature),
        "JWT signature does not verify"
    );
    let forged = format!("{}.{}", parts[0], b64.encode(b"{\"submods\":{}}"));
    assert!(!public.verifies(forged.as_bytes(), &signature));
}
