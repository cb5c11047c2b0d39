//! The socket and kernel inventories against the real kernel (needs root): python3 processes
//! in throwaway namespaces open listeners, raw and packet sockets; each must appear with its
//! owner, go away with it, and come back with the same digest after a restart (new pids, new
//! inodes). Sockets of another namespace must not appear.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use palisade_collectors::runtime::kernel::{self, SYSCTLS};
use palisade_collectors::runtime::sockets::{
    self, Listener, Owner, PacketSocket, RawSocket, Sockets, FLAG_PACKET, FLAG_RAW, FLAG_WILDCARD,
};

use crate::support::Ns;

/// A python3 process holding sockets open in a namespace until it is dropped (killed).
struct Holder {
    child: Child,
    pid: u32,
    exe: String,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Holder {
    fn owner(&self) -> Owner {
        Owner {
            comm: "python3".to_owned(),
            exe: Some(self.exe.clone()),
            uid: 0,
        }
    }
}

impl Ns {
    /// Runs `python3 -c` with `setup` (which appends its sockets to the list `s`) inside the
    /// namespace, and waits until the sockets are open.
    fn hold(&self, setup: &str) -> Holder {
        let script = format!(
            "import os, socket, sys\nfrom socket import *\ns = []\n{setup}\n\
             print('READY', os.getpid(), os.path.realpath(sys.executable), flush=True)\n\
             sys.stdin.read()\n"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.first(), Some(&"READY"), "python3 failed: {line:?}");
        Holder {
            pid: fields[1].parse().unwrap(),
            exe: fields[2].to_owned(),
            child,
        }
    }

    fn sockets(&self) -> Sockets {
        sockets::read(&self.netns()).unwrap()
    }
}

/// Every kind of socket the inventory lists, and some it must not.
const SETUP: &str = "
t = socket(AF_INET, SOCK_STREAM); t.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
t.bind(('0.0.0.0', 7001)); t.listen(); s.append(t)
t6 = socket(AF_INET6, SOCK_STREAM); t6.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
t6.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1); t6.bind(('::1', 7003)); t6.listen(); s.append(t6)
u = socket(AF_INET, SOCK_DGRAM); u.bind(('127.0.0.1', 7002)); s.append(u)
m = socket(AF_INET6, SOCK_DGRAM); m.bind(('::ffff:127.0.0.1', 7004)); s.append(m)
for _ in range(2):
    g = socket(AF_INET, SOCK_DGRAM); g.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    g.bind(('127.0.0.1', 7005)); s.append(g)
c = socket(AF_INET, SOCK_DGRAM); c.connect(('127.0.0.1', 7002)); s.append(c)
s.append(create_connection(('127.0.0.1', 7001)))
s.append(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP))
s.append(socket(AF_PACKET, SOCK_RAW, htons(3)))
d = socket(AF_PACKET, SOCK_DGRAM, htons(0x0800)); d.bind(('lo', 0x0800)); s.append(d)
";

fn listener(protocol: &str, family: &str, address: &str, port: u16, by: &Holder) -> Listener {
    Listener {
        protocol: protocol.to_owned(),
        family: family.to_owned(),
        address: address.to_owned(),
        port,
        owners: vec![by.owner()],
        count: 1,
    }
}

fn flags(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn sockets_appear_with_their_owner_go_away_with_it_and_digest_the_same_after_a_restart() {
    let ns = Ns::new("rt");
    let python = ns.hold(SETUP);
    let doc = ns.sockets();
    let mut reuseport = listener("udp", "inet", "127.0.0.1", 7005, &python);
    reuseport.count = 2;
    let expected_listeners = vec![
        listener("tcp", "inet", "0.0.0.0", 7001, &python),
        listener("tcp", "inet6", "::1", 7003, &python),
        listener("udp", "inet", "127.0.0.1", 7002, &python),
        reuseport,
        listener("udp", "inet6", "::ffff:127.0.0.1", 7004, &python),
    ];
    assert_eq!(doc.listeners, expected_listeners);
    let icmp = RawSocket {
        family: "inet".to_owned(),
        protocol: "icmp".to_owned(),
        address: "0.0.0.0".to_owned(),
        owners: vec![python.owner()],
        count: 1,
    };
    assert_eq!(doc.raw, [icmp]);
    let packet = |kind: &str, protocol: &str, interface: Option<&str>| PacketSocket {
        kind: kind.to_owned(),
        protocol: protocol.to_owned(),
        interface: interface.map(str::to_owned),
        owners: vec![python.owner()],
        count: 1,
    };
    assert_eq!(
        doc.packet,
        [
            packet("dgram", "ip", Some("lo")),
            packet("raw", "all", None)
        ]
    );
    assert_eq!(doc.flags, flags(&[FLAG_PACKET, FLAG_RAW, FLAG_WILDCARD]));
    let pids = &doc.owners_with_pids()[&python.owner()];
    assert!(pids.contains(&python.pid), "{pids:?}");
    let first = doc.canonical().unwrap();
    assert_eq!(ns.sockets().canonical().unwrap(), first, "reading twice");

    drop(python);
    let gone = ns.sockets();
    assert!(gone.listeners.is_empty() && gone.raw.is_empty() && gone.packet.is_empty());
    assert!(gone.flags.is_empty(), "{:?}", gone.flags);
    assert_ne!(gone.canonical().unwrap(), first);

    let again = ns.hold(SETUP);
    let restarted = ns.sockets();
    assert_eq!(
        restarted.canonical().unwrap(),
        first,
        "new pid and inodes, same digest"
    );
    assert!(restarted.owners_with_pids()[&again.owner()].contains(&again.pid));
}

#[test]
fn sockets_of_another_namespace_are_not_listed() {
    let quiet = Ns::new("rt");
    let busy = Ns::new("rt");
    let python = busy.hold(
        "t = socket(AF_INET, SOCK_STREAM); t.bind(('0.0.0.0', 7101)); t.listen(); s.append(t)\n\
         s.append(socket(AF_INET, SOCK_RAW, IPPROTO_UDP))",
    );
    let doc = busy.sockets();
    assert_eq!(
        doc.listeners,
        [listener("tcp", "inet", "0.0.0.0", 7101, &python)]
    );
    assert_eq!(doc.raw.len(), 1);
    let empty = quiet.sockets();
    assert_eq!(
        empty.canonical().unwrap(),
        Sockets::new().canonical().unwrap()
    );
    // The host namespace does not see it either (its process is global, its socket is not).
    let host = sockets::read(&palisade_collectors::NetNs::Current).unwrap();
    let by_python = |l: &Listener| l.port == 7101 && l.owners.contains(&python.owner());
    assert!(!host.listeners.iter().any(by_python));
}

#[test]
fn kernel_state_of_this_machine_is_read() {
    let state = kernel::read().unwrap();
    assert_eq!(state.format, kernel::FORMAT);
    let has_modules = Path::new("/proc/modules").exists();
    assert_eq!(state.modules.supported, has_modules);
    if !has_modules {
        assert!(state.modules.loaded.is_empty());
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(
            json["modules"],
            serde_json::json!({"supported": false, "loaded": []})
        );
    }
    assert_eq!(state.sysctls.len(), SYSCTLS.len());
    for name in SYSCTLS {
        let path = Path::new("/proc/sys").join(name.replace('.', "/"));
        let on_disk = std::fs::read_to_string(&path).ok();
        let want = on_disk.map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "));
        assert_eq!(state.sysctls[*name], want, "{name}");
    }
    assert!(state.sysctls["kernel.kptr_restrict"].is_some());
    let lockdown = Path::new("/sys/kernel/security/lockdown").exists();
    assert_eq!(state.lockdown.is_some(), lockdown);
    let again = kernel::read().unwrap();
    assert_eq!(again.canonical().unwrap(), state.canonical().unwrap());
}
