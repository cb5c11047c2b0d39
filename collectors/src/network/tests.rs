//! Unit tests of the document as a whole and of the `/proc` parts (rules 17–20 of
//! `docs/canonical-network.md`), over a fake `/proc` in a temporary directory: no root.

use std::path::{Path, PathBuf};

use palisade_evidence::Canonical;

use super::model::{Link, Route, Rule, FLAG_LEGACY_ARPTABLES, FLAG_LEGACY_IPTABLES};
use super::procfs::{self, ProcRoots};
use super::{NetworkConfig, Scalar, FORMAT};

/// A fake `/proc` below the system temporary directory, removed on drop.
struct FakeProc {
    root: PathBuf,
}

impl FakeProc {
    fn new(tag: &str) -> Self {
        let root = std::env::temp_dir().join(format!("palisade-net-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Self { root }
    }

    fn roots(&self) -> ProcRoots {
        ProcRoots {
            sys: self.root.join("sys"),
            net: self.root.join("net"),
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/"))).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn rule17_sysctls_are_keyed_by_path_and_integers_are_numbers() {
    let fake = FakeProc::new("sysctl");
    fake.write("sys/net/ipv4/ip_forward", "1\n");
    fake.write("sys/net/ipv4/conf/eth0.5/rp_filter", "2\n");
    fake.write("sys/net/ipv4/conf/all/accept_redirects", "0\n");
    let paths = procfs::sysctl_paths(["eth0.5"].into_iter());
    assert!(paths.contains(&"net/ipv4/conf/eth0.5/rp_filter".to_owned()));
    assert!(paths.contains(&"net/ipv6/conf/eth0.5/accept_ra".to_owned()));
    assert!(paths.contains(&"net/ipv6/conf/default/forwarding".to_owned()));
    let values = procfs::read_sysctls(&fake.roots(), &paths).unwrap();
    assert_eq!(values["net/ipv4/ip_forward"], Scalar::Int(1));
    assert_eq!(values["net/ipv4/conf/eth0.5/rp_filter"], Scalar::Int(2));
    // Missing files (IPv6 disabled, a link that just went away) are left out, not errors.
    assert_eq!(values.len(), 3);
    assert_eq!(
        procfs::parse_value("4096\t87380   6291456\n"),
        Scalar::Text("4096 87380 6291456".to_owned())
    );
    assert_eq!(procfs::parse_value("-1"), Scalar::Int(-1));
}

#[test]
fn rule18_legacy_xtables_are_listed_and_flagged() {
    let fake = FakeProc::new("xtables");
    fake.write("net/ip_tables_names", "nat\nfilter\n");
    fake.write("net/ip6_tables_names", "");
    // arp_tables_names absent: a kernel without legacy arp_tables.
    let tables = procfs::read_legacy_xtables(&fake.roots()).unwrap();
    assert_eq!(tables.ip.iter().collect::<Vec<_>>(), ["filter", "nat"]);
    assert!(tables.ip6.is_empty() && tables.arp.is_empty());
    let mut doc = NetworkConfig::new();
    doc.legacy_xtables = tables;
    doc.normalize();
    assert!(doc.flags.contains(FLAG_LEGACY_IPTABLES));
    assert!(!doc.flags.contains(FLAG_LEGACY_ARPTABLES));
}

fn sample() -> NetworkConfig {
    let mut doc = NetworkConfig::new();
    for name in ["eth1", "eth0", "lo"] {
        doc.links.push(Link {
            name: name.to_owned(),
            link_type: "ether".to_owned(),
            oper_state: "up".to_owned(),
            mtu: 1500,
            ..Link::default()
        });
    }
    for dst in ["10.0.0.0/8", "0.0.0.0/0"] {
        doc.routes.push(Route {
            family: "inet".to_owned(),
            table: 254,
            dst: dst.to_owned(),
            kind: "unicast".to_owned(),
            protocol: "static".to_owned(),
            scope: "global".to_owned(),
            ..Route::default()
        });
    }
    for (family, priority) in [("inet6", 0), ("inet", 32766), ("inet", 0)] {
        doc.rules.push(Rule {
            family: family.to_owned(),
            priority,
            action: "lookup".to_owned(),
            protocol: "kernel".to_owned(),
            ..Rule::default()
        });
    }
    doc.sysctls
        .insert("net/ipv4/ip_forward".to_owned(), Scalar::Int(0));
    doc
}

#[test]
fn rule19_the_document_is_rfc8785_with_its_format_and_depends_on_content_only() {
    let doc = sample();
    assert!(!doc.is_normalized());
    let canonical = doc.canonical().unwrap();
    // Already canonical bytes, and the format is part of them.
    Canonical::verify_bytes(canonical.as_bytes()).unwrap();
    assert!(canonical
        .as_str()
        .contains(r#""format":"palisade.network/1""#));
    assert_eq!(doc.format, FORMAT);
    // canonical() of an unsorted document equals canonical() of its normalised form.
    let mut normalized = doc.clone();
    normalized.normalize();
    assert!(normalized.is_normalized());
    assert_eq!(normalized.canonical().unwrap(), canonical);
    let names: Vec<&str> = normalized.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["eth0", "eth1", "lo"]);
    let rules: Vec<(&str, u32)> = normalized
        .rules
        .iter()
        .map(|r| (r.family.as_str(), r.priority))
        .collect();
    assert_eq!(rules, [("inet", 0), ("inet", 32766), ("inet6", 0)]);
}

#[test]
fn rule20_absent_optional_fields_are_omitted_not_null() {
    let canonical = sample().canonical().unwrap();
    assert!(
        !canonical.as_str().contains("null"),
        "{}",
        canonical.as_str()
    );
    // The document reads back into the model (for the CLI and tests).
    let back: NetworkConfig = serde_json::from_slice(canonical.as_bytes()).unwrap();
    let mut expected = sample();
    expected.normalize();
    assert_eq!(back, expected);
}
