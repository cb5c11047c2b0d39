//! Network namespaces and veth pairs for hosts: unique names and subnets, creation, teardown, and
//! running code on a thread inside a namespace.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::util::ip;

/// Host networks are /30s carved out of 10.128.0.0/9: 2^21 of them, indexed by
/// `(pid mod 2^15) << 6 | (n mod 64)`, so concurrent test processes (pid_max is 32768 by default)
/// get disjoint subnets; an address already configured in the root namespace is skipped.
const SUBNET_BASE: u32 = 0x0A80_0000;

/// Per-process host counter (`n` in the names).
static NEXT_HOST: AtomicU32 = AtomicU32::new(0);

/// Path of a named network namespace.
pub(crate) fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

/// Moves the calling thread into network namespace `name`. Sockets it creates afterwards, and
/// threads it spawns afterwards, live in that namespace.
pub(crate) fn enter(name: &str) -> Result<()> {
    let path = netns_path(name);
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    setns(file, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("setns into network namespace {name}"))
}

/// Runs `f` on a new thread inside network namespace `name` and returns its result.
pub(crate) fn in_netns<T, F>(name: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = name.to_owned();
    let handle = thread::Builder::new()
        .name(format!("in-{name}"))
        .spawn(move || -> Result<T> {
            enter(&name)?;
            Ok(f())
        })
        .context("cannot spawn a thread")?;
    handle
        .join()
        .map_err(|_| anyhow!("the thread inside the network namespace panicked"))?
}

/// A named network namespace joined to the root namespace by a veth pair. Dropping it kills every
/// process left inside, deletes the veth pair and the namespace.
#[derive(Debug)]
pub(crate) struct NetNs {
    pub(crate) name: String,
    pub(crate) veth_root: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) gateway: Ipv4Addr,
    destroyed: bool,
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Root-namespace IPv4 addresses with their prefix lengths.
fn root_addresses() -> Result<Vec<(u32, u32)>> {
    let out = ip(["-4", "-o", "addr", "show"])?;
    let mut addrs = Vec::new();
    for word in out.split_whitespace() {
        if let Some((addr, len)) = word.split_once('/') {
            if let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u32>()) {
                addrs.push((u32::from(addr), len.min(32)));
            }
        }
    }
    Ok(addrs)
}

fn overlaps(a: u32, a_len: u32, b: u32, b_len: u32) -> bool {
    let len = a_len.min(b_len);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
}

impl NetNs {
    /// Creates `pal<pid>-<n>` with veth `pv<pid>-<n>a` (root side, `gateway`) and `…b` (inside,
    /// `ip`), loopback up and a default route through the gateway.
    pub(crate) fn create() -> Result<NetNs> {
        let pid = std::process::id();
        let taken = root_addresses()?;
        for _attempt in 0..64 {
            let n = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
            let name = format!("pal{pid}-{n}");
            let veth_root = format!("pv{pid}-{n}a");
            let veth_ns = format!("pv{pid}-{n}b");
            if veth_ns.len() > 15 {
                bail!("interface name {veth_ns} is longer than 15 characters");
            }
            let index = ((pid & 0x7fff) << 6) | (n & 0x3f);
            let base = SUBNET_BASE + index * 4;
            if netns_path(&name).exists()
                || link_exists(&veth_root)
                || link_exists(&veth_ns)
                || taken.iter().any(|&(a, len)| overlaps(a, len, base, 30))
            {
                continue;
            }
            if let Err(err) = ip(["netns", "add", name.as_str()]) {
                if netns_path(&name).exists() {
                    continue; // lost a race for the name
                }
                return Err(err);
            }
            let mut ns = NetNs {
                name,
                veth_root,
                ip: Ipv4Addr::from(base + 2),
                gateway: Ipv4Addr::from(base + 1),
                destroyed: false,
            };
            // On error, `ns` is dropped here and tears down what was built.
            ns.wire(&veth_ns)?;
            return Ok(ns);
        }
        bail!("no free network namespace name / subnet after 64 attempts")
    }

    fn wire(&mut self, veth_ns: &str) -> Result<()> {
        let ns = self.name.as_str();
        let root = self.veth_root.as_str();
        let gw = format!("{}/30", self.gateway);
        let host = format!("{}/30", self.ip);
        let gateway = self.gateway.to_string();
        ip([
            "link", "add", root, "type", "veth", "peer", "name", veth_ns, "netns", ns,
        ])?;
        ip(["addr", "add", gw.as_str(), "dev", root])?;
        ip(["link", "set", root, "up"])?;
        ip(["-n", ns, "link", "set", "lo", "up"])?;
        ip(["-n", ns, "addr", "add", host.as_str(), "dev", veth_ns])?;
        ip(["-n", ns, "link", "set", veth_ns, "up"])?;
        ip(["-n", ns, "route", "add", "default", "via", gateway.as_str()])?;
        Ok(())
    }

    /// Kills what is left inside, deletes the veth pair and the namespace. Idempotent.
    pub(crate) fn destroy(&mut self) {
        if self.destroyed {
            return;
        }
        self.destroyed = true;
        kill_all_in(&self.name);
        if link_exists(&self.veth_root) {
            if let Err(err) = ip(["link", "del", self.veth_root.as_str()]) {
                eprintln!(
                    "palisade harness: cannot delete veth {}: {err:#}",
                    self.veth_root
                );
            }
        }
        if let Err(err) = ip(["netns", "del", self.name.as_str()]) {
            eprintln!(
                "palisade harness: cannot delete netns {}: {err:#}",
                self.name
            );
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// Pids of the processes inside network namespace `name`, except this process.
fn pids_in(name: &str) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    ip(["netns", "pids", name])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .filter(|&p| p != me)
                .collect()
        })
        .unwrap_or_default()
}

/// SIGKILLs every process inside namespace `name` and waits up to 2 s for them to leave.
pub(crate) fn kill_all_in(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = pids_in(name);
        if pids.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("palisade harness: processes {pids:?} still inside netns {name}");
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn subnet_overlap_is_prefix_comparison() {
        let a = u32::from(std::net::Ipv4Addr::new(10, 128, 0, 4));
        let b = u32::from(std::net::Ipv4Addr::new(10, 128, 0, 6));
        let c = u32::from(std::net::Ipv4Addr::new(10, 128, 0, 8));
        assert!(overlaps(a, 30, b, 30));
        assert!(!overlaps(a, 30, c, 30));
        assert!(overlaps(a, 30, c, 8));
        assert!(overlaps(a, 0, c, 32));
    }
}
