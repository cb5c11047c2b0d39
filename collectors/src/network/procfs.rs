//! The parts of the network configuration that netlink does not carry: sysctls under
//! `/proc/sys/net` and legacy x_tables names under `/proc/thread-self/net`.
//!
//! Both are read by the thread that has entered the namespace. `/proc/sys/net` resolves against
//! the reading *thread's* namespace; `/proc/net` is a link to `/proc/self/net`, which is the
//! thread-group leader's, so the per-thread `/proc/thread-self/net` is used instead
//! (tests: `sysctls_are_read_in_the_namespace`, `legacy_iptables_is_flagged`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::model::{LegacyXtables, Scalar};
use super::NetworkError;

/// Where the two trees are; tests point them at a directory of their own.
#[derive(Debug, Clone)]
pub(crate) struct ProcRoots {
    /// `/proc/sys`.
    pub sys: PathBuf,
    /// `/proc/thread-self/net`.
    pub net: PathBuf,
}

impl Default for ProcRoots {
    fn default() -> Self {
        Self {
            sys: PathBuf::from("/proc/sys"),
            net: PathBuf::from("/proc/thread-self/net"),
        }
    }
}

/// Per-interface IPv4 settings measured for `all`, `default` and every link.
pub(crate) const IPV4_CONF: &[&str] = &[
    "rp_filter",
    "forwarding",
    "accept_redirects",
    "send_redirects",
    "accept_source_route",
];

/// Per-interface IPv6 settings measured for `all`, `default` and every link.
pub(crate) const IPV6_CONF: &[&str] = &["forwarding", "accept_ra"];

/// The sysctl paths (below `/proc/sys`) measured for a namespace with these links.
pub(crate) fn sysctl_paths<'a>(links: impl Iterator<Item = &'a str> + Clone) -> Vec<String> {
    let scopes = ["all", "default"].into_iter().chain(links);
    let mut paths = vec!["net/ipv4/ip_forward".to_owned()];
    for scope in scopes.clone() {
        paths.extend(
            IPV4_CONF
                .iter()
                .map(|k| format!("net/ipv4/conf/{scope}/{k}")),
        );
    }
    for scope in scopes {
        paths.extend(
            IPV6_CONF
                .iter()
                .map(|k| format!("net/ipv6/conf/{scope}/{k}")),
        );
    }
    paths
}

/// Reads `paths` below `roots.sys`. A missing file is left out (IPv6 disabled, or a link that
/// went away after the link dump, which the link event re-measures); any other error fails.
pub(crate) fn read_sysctls(
    roots: &ProcRoots,
    paths: &[String],
) -> Result<BTreeMap<String, Scalar>, NetworkError> {
    let mut out = BTreeMap::new();
    for rel in paths {
        let path = roots.sys.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                out.insert(rel.clone(), parse_value(&text));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => return Err(NetworkError::Proc { path, source }),
        }
    }
    Ok(out)
}

/// A sysctl's text as an integer when it is one, else as text with whitespace runs collapsed.
pub(crate) fn parse_value(text: &str) -> Scalar {
    let trimmed = text.trim();
    match trimmed.parse::<i64>() {
        Ok(n) if n.unsigned_abs() <= (1 << 53) => Scalar::Int(n),
        _ => Scalar::Text(trimmed.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

/// Legacy x_tables table names. A missing file means the kernel has no legacy x_tables for
/// that family at all: nothing in use.
pub(crate) fn read_legacy_xtables(roots: &ProcRoots) -> Result<LegacyXtables, NetworkError> {
    Ok(LegacyXtables {
        ip: read_names(&roots.net.join("ip_tables_names"))?,
        ip6: read_names(&roots.net.join("ip6_tables_names"))?,
        arp: read_names(&roots.net.join("arp_tables_names"))?,
    })
}

fn read_names(path: &Path) -> Result<BTreeSet<String>, NetworkError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(source) => Err(NetworkError::Proc {
            path: path.to_owned(),
            source,
        }),
    }
}
