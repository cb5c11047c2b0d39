//! Time of `network::read` + `NetworkConfig::canonical` for a namespace with 50 links and
//! ~1,000 routes (plus the kernel's own), as root: `cargo bench -p palisade-collectors --bench
//! network [-- ITERATIONS]`. A plain `harness = false` binary because the set-up needs root and a
//! namespace; under `cargo test` (no `--bench`) it does one quick iteration as a smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark set-up"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palisade_collectors::network;
use palisade_collectors::NetNs;

const LINKS: usize = 50; // 25 veth pairs
const ROUTES: usize = 1000;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The namespace, or `None` when it cannot be created (not root, no iproute2).
fn setup() -> Option<Ns> {
    let name = format!("palbench-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &name])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let ns = Ns(name);
    let mut script = String::from("link set lo up\n");
    for i in 0..LINKS / 2 {
        script.push_str(&format!(
            "link add va{i} type veth peer name vb{i}\n\
             link set va{i} up\nlink set vb{i} up\n\
             addr add 10.{i}.0.1/24 dev va{i}\n\
             addr add fd00:{i}::1/64 dev va{i} nodad\n"
        ));
    }
    for r in 0..ROUTES {
        let link = r % (LINKS / 2);
        let table = if r % 4 == 0 { 100 + (r % 3) } else { 254 };
        script.push_str(&format!(
            "route add 172.{}.{}.0/24 via 10.{link}.0.2 table {table}\n",
            16 + r / 256,
            r % 256
        ));
    }
    for p in 0..10 {
        script.push_str(&format!(
            "rule add priority {} fwmark {p} lookup {}\n",
            1000 + p,
            100 + p % 3
        ));
    }
    let mut child = Command::new("ip")
        .args(["-n", &ns.0, "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "ip -batch failed");
    Some(ns)
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let median = samples[n / 2];
    let p90 = samples[(n * 9 / 10).min(n - 1)];
    println!(
        "{name:<28} min {:>9.3?}  median {:>9.3?}  p90 {:>9.3?}  (n={n})",
        samples[0], median, p90
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(if bench { 200 } else { 1 });
    let Some(ns) = setup() else {
        println!("network bench skipped: cannot create a network namespace (needs root)");
        return;
    };
    let netns = NetNs::named(&ns.0);

    let config = network::read(&netns).unwrap();
    let canonical = config.canonical().unwrap();
    println!(
        "namespace: {} links, {} addresses, {} routes, {} rules, {} sysctls; canonical {} bytes",
        config.links.len(),
        config.addresses.len(),
        config.routes.len(),
        config.rules.len(),
        config.sysctls.len(),
        canonical.as_bytes().len()
    );

    let (mut read, mut canon, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let t0 = Instant::now();
        let config = network::read(&netns).unwrap();
        let t1 = Instant::now();
        let c = config.canonical().unwrap();
        let t2 = Instant::now();
        assert_eq!(c.digest(), canonical.digest(), "digest moved between reads");
        read.push(t1 - t0);
        canon.push(t2 - t1);
        total.push(t2 - t0);
    }
    summary("read (netns+netlink+/proc)", read);
    summary("canonical (JCS + SHA-256)", canon);
    summary("read + canonical", total);

    let (mut events_setup, mut current) = (Vec::new(), Vec::new());
    for _ in 0..iterations.min(50) {
        let t0 = Instant::now();
        drop(network::NetworkEvents::subscribe(&netns).unwrap());
        events_setup.push(t0.elapsed());
        let t0 = Instant::now();
        let _ = network::read(&NetNs::Current).unwrap().canonical().unwrap();
        current.push(t0.elapsed());
    }
    summary("NetworkEvents::subscribe", events_setup);
    summary("host namespace read+canon", current);
}
