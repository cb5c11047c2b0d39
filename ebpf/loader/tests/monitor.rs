//! The monitor against the kernel (root): palisade's programs loaded and attached with aya,
//! then real processes do what the programs watch for — open packet and raw sockets, listen,
//! change links and routes over rtnetlink, write nftables, load and attach a BPF program — and
//! each must come back as an attributed event. A tiny ring buffer filled faster than it is
//! read must report the loss and keep working.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use palisade_ebpf::decode::{decode, Clock};
use palisade_ebpf::{Monitor, Options};
use palisade_evidence::runtime::RuntimeEvent;

/// One monitor at a time: each test's events must be its own processes'.
static SERIAL: Mutex<()> = Mutex::new(());

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Events until `want` holds for one of them or 5 s pass.
fn collect(m: &mut Monitor, want: impl Fn(&RuntimeEvent) -> bool) -> Vec<RuntimeEvent> {
    let clock = Clock::now();
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        m.wait(Duration::from_millis(100)).unwrap();
        for (e, exe) in m.drain(4096).events {
            all.push(decode(&e, exe, &clock, all.len() as u64));
        }
        if all.iter().any(&want) {
            break;
        }
    }
    all
}

fn find<'a>(events: &'a [RuntimeEvent], kind: &str, comm: &str) -> &'a RuntimeEvent {
    events
        .iter()
        .find(|e| e.kind == kind && e.process.comm == comm)
        .unwrap_or_else(|| panic!("no {kind} event by {comm} in {events:#?}"))
}

#[test]
fn sockets_listeners_and_netlink_writes_are_attributed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = Monitor::start(&Options::default()).unwrap();
    assert!(m
        .status()
        .attached
        .iter()
        .any(|t| t == "sock:inet_sock_set_state"));
    assert!(
        m.status().netns,
        "kernel BTF offsets for the namespace walk"
    );
    sh("python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); \
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); \
        s = socket.socket(); s.bind((\"127.0.0.1\", 47011)); s.listen()'");
    sh(
        "ip netns add palmon-$$ && ip -n palmon-$$ link add pm0 type veth peer name pm1 && \
        ip -n palmon-$$ link set pm0 up && ip -n palmon-$$ address add 10.9.9.1/24 dev pm0 && \
        ip -n palmon-$$ route add 10.8.0.0/16 via 10.9.9.2 && ip netns del palmon-$$",
    );
    let events = collect(&mut m, |e| {
        e.details
            .get("message")
            .is_some_and(|v| v == "RTM_NEWROUTE")
    });
    let packet = find(&events, "packet_socket", "python3");
    assert!(
        packet
            .process
            .exe
            .as_deref()
            .is_some_and(|p| p.contains("python")),
        "{packet:?}"
    );
    assert!(packet.netns.is_some());
    find(&events, "raw_socket", "python3");
    let listen = find(&events, "listen", "python3");
    assert_eq!(listen.details["port"], 47011);
    assert_eq!(listen.details["address"], "127.0.0.1");
    let route = events
        .iter()
        .find(|e| {
            e.details
                .get("message")
                .is_some_and(|v| v == "RTM_NEWROUTE")
        })
        .unwrap();
    assert_eq!(route.process.comm, "ip");
    assert!(route
        .summary
        .starts_with(&format!("pid {} (ip)", route.process.pid)));
    // The route went into the new namespace, not ours.
    let own = std::fs::metadata("/proc/self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    assert_ne!(u64::from(route.netns.unwrap()), own);
    assert!(events
        .iter()
        .any(|e| e.kind == "netlink_write" && e.details["message"] == "RTM_NEWLINK"));
}

#[test]
fn nftables_writes_and_bpf_loads_are_attributed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = Monitor::start(&Options::default()).unwrap();
    let own = m.program_ids();
    // One program per tracepoint (a kernel without modules still loads `module_load`).
    assert_eq!(own.len(), 9, "{own:?}");
    sh(
        "ip netns add palmon2-$$ && ip netns exec palmon2-$$ nft add table inet t && \
        ip netns exec palmon2-$$ nft list ruleset >/dev/null && ip netns del palmon2-$$",
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("x.c");
    std::fs::write(
        &src,
        "__attribute__((section(\"xdp\"), used)) int x(void *c) { return 2; }\n\
        char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n",
    )
    .unwrap();
    let obj = dir.path().join("x.o");
    sh(&format!(
        "clang -O2 -target bpf -c {} -o {}",
        src.display(),
        obj.display()
    ));
    sh(&format!(
        "ip netns add palmon3-$$ && ip -n palmon3-$$ link add pa type veth peer name pb && \
        ip -n palmon3-$$ link set dev pa xdp obj {} sec xdp && ip netns del palmon3-$$",
        obj.display()
    ));
    let events = collect(&mut m, |e| {
        e.kind == "bpf_prog_load" && e.process.comm == "ip"
    });
    let nft: Vec<_> = events.iter().filter(|e| e.process.comm == "nft").collect();
    // `nft add` writes a transaction; `nft list` only reads.
    assert_eq!(nft.len(), 1, "{nft:#?}");
    assert!(nft[0].summary.contains("nftables transaction"));
    // `ip` probes with a socket filter first, then loads the XDP program (type 6); the agent
    // resolves which program each call became (runtime::loads).
    assert!(
        events.iter().any(|e| e.kind == "bpf_prog_load"
            && e.process.comm == "ip"
            && e.details["prog_type"] == 6),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e.kind == "netlink_write"
        && e.process.comm == "ip"
        && e.details["message"] == "RTM_SETLINK"
        || e.details.get("message").is_some_and(|m| m == "RTM_NEWLINK")));
}

#[test]
fn a_full_ring_buffer_reports_its_losses_and_keeps_working() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = Monitor::start(&Options {
        ring_bytes: Some(4096),
        ..Options::default()
    })
    .unwrap();
    // 3,000 raw sockets in one burst, nothing read meanwhile: a 4 KiB ring holds ~35.
    sh("python3 -c 'import socket\nfor i in range(3000): socket.socket(socket.AF_INET, socket.SOCK_RAW, 1).close()'");
    let batch = m.drain(100_000);
    assert!(batch.lost > 2000, "lost {}", batch.lost);
    assert!(!batch.events.is_empty() && batch.events.len() < 100);
    // Still running: the next event arrives, and the loss is not reported twice.
    sh("python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'");
    let events = collect(&mut m, |e| e.kind == "packet_socket");
    assert!(!events.is_empty());
    assert_eq!(m.drain(10).lost, 0);
}
