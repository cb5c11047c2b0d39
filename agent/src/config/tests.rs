//! Configuration parsing, overrides and validation.

use super::*;

const MINIMAL: &str = r#"
[api]
listen = "0.0.0.0:9443"
contact = "https://10.0.0.2:9443"
[verifier]
url = "https://10.0.0.1:8443"
ca_cert = "/etc/palisade/ca.crt"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults() {
    let c = Config::from_toml(MINIMAL, env(&[])).unwrap();
    assert_eq!(c.pcr, 15);
    assert_eq!(c.tpm.tcti, "device:/dev/tpmrm0");
    assert_eq!(c.tpm.ek_alg, KeyAlg::Rsa);
    assert_eq!(c.netns, palisade_collectors::NetNs::Current);
    assert_eq!(c.measure_interval, Duration::from_secs(30));
    assert!(c.network.enabled);
    assert_eq!(c.network.coalesce, Duration::from_millis(25));
    assert_eq!(c.contact_host().as_deref(), Some("10.0.0.2"));
}

#[test]
fn environment_overrides_nested_keys_and_types() {
    let c = Config::from_toml(
        MINIMAL,
        env(&[
            ("PALISADE_AGENT_PCR", "14"),
            ("PALISADE_AGENT_TPM__TCTI", "swtpm:host=127.0.0.1,port=2321"),
            ("PALISADE_AGENT_TPM__EK_ALG", "ecc"),
            ("PALISADE_AGENT_LABELS__ROLE", "web"),
            ("PALISADE_AGENT_NETNS", "web1"),
            ("OTHER_VAR", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(c.pcr, 14);
    assert_eq!(c.tpm.tcti, "swtpm:host=127.0.0.1,port=2321");
    assert_eq!(c.tpm.ek_alg, KeyAlg::Ecc);
    assert_eq!(c.labels["role"], "web");
    assert_eq!(c.netns, palisade_collectors::NetNs::named("web1"));
}

#[test]
fn resettable_pcrs_16_and_23_are_refused() {
    for pcr in ["16", "23"] {
        let err = Config::from_toml(MINIMAL, env(&[("PALISADE_AGENT_PCR", pcr)])).unwrap_err();
        assert!(
            err.to_string().contains("can be reset from locality 0"),
            "{err}"
        );
    }
    for pcr in ["7", "24"] {
        assert!(Config::from_toml(MINIMAL, env(&[("PALISADE_AGENT_PCR", pcr)])).is_err());
    }
}

#[test]
fn unknown_keys_and_bad_urls_are_rejected() {
    assert!(Config::from_toml(&format!("{MINIMAL}\nbogus = 1"), env(&[])).is_err());
    assert!(Config::from_toml(
        MINIMAL,
        env(&[("PALISADE_AGENT_VERIFIER__URL", "http://plain")])
    )
    .is_err());
    assert!(Config::from_toml(MINIMAL, env(&[("PALISADE_AGENT_AGENT_ID", "bad/id")])).is_err());
    assert!(Config::from_toml("[api", env(&[])).is_err());
}

#[test]
fn contact_host_handles_ipv6_and_names() {
    let c = Config::from_toml(
        MINIMAL,
        env(&[("PALISADE_AGENT_API__CONTACT", "https://[fd00::2]:9443")]),
    )
    .unwrap();
    assert_eq!(c.contact_host().as_deref(), Some("fd00::2"));
    let c = Config::from_toml(
        MINIMAL,
        env(&[("PALISADE_AGENT_API__CONTACT", "https://web1.example")]),
    )
    .unwrap();
    assert_eq!(c.contact_host().as_deref(), Some("web1.example"));
}

#[test]
fn network_measurement_can_be_switched_off_and_its_window_is_bounded() {
    let c = Config::from_toml(
        MINIMAL,
        env(&[("PALISADE_AGENT_NETWORK__ENABLED", "false")]),
    )
    .unwrap();
    assert!(!c.network.enabled);
    let text = format!("{MINIMAL}\n[network]\ncoalesce_ms = 40\n");
    let c = Config::from_toml(&text, env(&[])).unwrap();
    assert_eq!(c.network.coalesce, Duration::from_millis(40));
    for bad in ["0", "5000"] {
        let e = Config::from_toml(
            MINIMAL,
            env(&[("PALISADE_AGENT_NETWORK__COALESCE_MS", bad)]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("network.coalesce_ms"), "{e}");
    }
}
