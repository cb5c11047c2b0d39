//! EK certificates: swtpm's manufactured EK certificate verifies against its local CA and the
//! agent's EAR claims genuine hardware; against an unrelated CA directory the enrolment is
//! refused, naming the reason, and nothing is enrolled.

use std::path::Path;
use std::time::Duration;

use palisade_integration::palisade::{agent_config, start_agent, Verifier, BASELINE_RULESET};
use palisade_integration::{bin, require_root_tools, Host};
use palisade_transport::pki;

/// Where `swtpm_setup --create-ek-cert` keeps the CA that signed every harness EK certificate.
const SWTPM_LOCALCA: &str = "/var/lib/swtpm-localca";

fn host(label: &str) -> Host {
    require_root_tools().unwrap();
    let host = Host::create(label).unwrap();
    assert!(host.has_ek_cert(), "swtpm_setup made no EK certificate");
    host.nft(BASELINE_RULESET).unwrap();
    host
}

fn verifier(host: &Host, ca_dir: &Path) -> Verifier {
    let extra = format!(
        "ek_ca_dir = {:?}\nrequire_ek_certificate = true",
        ca_dir.display().to_string()
    );
    Verifier::start_with(&[host.gateway_ip()], Duration::from_secs(3600), &extra).unwrap()
}

#[test]
fn a_manufactured_ek_certificate_verifies_and_the_ear_claims_genuine_hardware() {
    let host = host("ekok");
    let dir = tempfile::tempdir().unwrap();
    for file in ["issuercert.pem", "swtpm-localca-rootca-cert.pem"] {
        std::fs::copy(Path::new(SWTPM_LOCALCA).join(file), dir.path().join(file)).unwrap();
    }
    let verifier = verifier(&host, dir.path());
    let _agent = start_agent(&host, &verifier).unwrap();
    let id = host.label();
    let shown = verifier.cli(&["agents", "show", id]).unwrap();
    let status = shown["agent"]["ek_status"].as_str().unwrap();
    assert!(status.starts_with("verified: signed by"), "{status}");
    assert!(status.contains("swtpm-localca"), "{status}");
    assert_eq!(verifier.attest(id).unwrap()["outcome"], "pass");
    let claims = verifier.cli(&["agents", "ear", id]).unwrap();
    assert_eq!(
        claims["submods"][id]["ear.trustworthiness-vector"]["hardware"],
        2
    );
    let text = verifier.cli_raw(&["agents", "show", id]).unwrap();
    assert!(text.contains("EK certificate: verified"), "{text}");
}

#[test]
fn an_ek_certificate_from_an_untrusted_ca_refuses_the_enrolment() {
    let host = host("ekbad");
    let dir = tempfile::tempdir().unwrap();
    let stranger = pki::new_ca("Some Other Manufacturer").unwrap();
    std::fs::write(dir.path().join("other.pem"), &stranger.cert).unwrap();
    let verifier = verifier(&host, dir.path());
    // The agent keeps running unenrolled (it says why); the verifier stores nothing.
    let config = agent_config(&host, &verifier, "").unwrap();
    let cfg = config.display().to_string();
    let agent = host
        .spawn(
            "agent",
            &bin("palisade-agent").unwrap(),
            &["-c", &cfg],
            &[("PALISADE_LOG", "info")],
        )
        .unwrap();
    agent
        .wait_for_log("enrolment refused", Duration::from_secs(30))
        .unwrap();
    let log = agent.log();
    assert!(log.contains("not signed by a trusted EK CA"), "{log}");
    let agents = verifier.cli(&["agents", "list"]).unwrap();
    assert_eq!(agents, serde_json::json!([]), "a refused agent was stored");
}
