//! The runtime inventory end to end, with a real agent (its eBPF programs loaded by aya), swtpm
//! and the verifier: an XDP program attached inside the host by `ip`, a packet socket and a
//! listener opened there, a route added there — each becomes a measured document in the
//! dedicated PCR, attributed to the process that did it, well before the 30 s fallback poll;
//! the evidence carries the attributed events; the verifier accepts it all. A kernel ring buffer
//! filled faster than it drains is measured as an `event-loss` entry and the agent goes on.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use palisade_evidence::log::{kind, LogEntry};
use palisade_evidence::runtime::RuntimeEvent;
use palisade_integration::palisade::fetch_evidence;
use palisade_integration::wait_until;

use super::events::{entries, start_with_fallback_poll_and};
use super::support::{block_on, World};

/// Agent TOML turning the runtime inventory on (the harness turns it off by default).
const RUNTIME: &str = "runtime.enabled = true";

/// The programs are host-wide: every running agent's monitor sees every test's events, so the
/// ring-overflow test's flood would overflow the other tests' agents too. These tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The log entry of `kind` whose served document contains every needle, once there is one.
fn wait_for_document(w: &World, doc_kind: &str, needles: &[&str]) -> LogEntry {
    let client = w.verifier.agent_client(&w.host).unwrap();
    wait_until(
        &format!("a {doc_kind} document containing {needles:?}"),
        Duration::from_secs(10),
        || {
            let evidence = block_on(fetch_evidence(&client, &w.host, &[5; 20], 0))?;
            let Some(doc) = evidence.documents.iter().find(|d| {
                d.kind == doc_kind && needles.iter().all(|n| d.content.get().contains(n))
            }) else {
                return Ok(None);
            };
            Ok(evidence.log.entries.into_iter().find(|e| e.seq == doc.seq))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()))
}

/// The runtime events the agent serves now.
fn events(w: &World) -> Vec<RuntimeEvent> {
    let client = w.verifier.agent_client(&w.host).unwrap();
    let evidence = block_on(fetch_evidence(&client, &w.host, &[6; 20], 0)).unwrap();
    let slice = evidence.events.expect("the agent sends its events");
    assert!(
        slice.monitoring,
        "monitor not running: {:?}",
        slice.monitor_error
    );
    slice.events
}

/// The runtime events the agent serves once one satisfies `pred` (an event is served when its
/// batch is decoded, which may come after the document the batch triggered).
fn events_with(w: &World, what: &str, pred: impl Fn(&RuntimeEvent) -> bool) -> Vec<RuntimeEvent> {
    wait_until(what, Duration::from_secs(10), || {
        let all = events(w);
        Ok(all.iter().any(&pred).then_some(all))
    })
    .unwrap_or_else(|e| panic!("{e}\nevents: {:#?}", events(w)))
}

/// Whether `entry` names the process `pid` as its writer or one of the burst's others.
fn attributed_to(entry: &LogEntry, pid: u32, comm: &str) -> bool {
    let a = &entry.annotations;
    a.writer
        .iter()
        .chain(&a.other_writers)
        .any(|w| w.pid == pid && w.comm == comm)
}

/// `ip netns exec NS PROGRAM ARGS…` as a child whose pid is the program's (exec in place).
fn spawn_in(w: &World, program: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", w.host.netns(), program])
        .args(args)
        .spawn()
        .unwrap()
}

fn xdp_object(dir: &std::path::Path) -> PathBuf {
    let src = dir.join("xdp.c");
    std::fs::write(
        &src,
        "__attribute__((section(\"xdp\"), used)) int xdp_drop_all(void *c) { return 1; }\n\
         char l[] __attribute__((section(\"license\"), used)) = \"GPL\";\n",
    )
    .unwrap();
    let obj = dir.join("xdp.o");
    let ok = Command::new("clang")
        .args(["-O2", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(ok.success());
    obj
}

#[test]
fn xdp_attached_inside_the_host_is_measured_and_attributed_to_ip() {
    let _serial = serial();
    let w = start_with_fallback_poll_and("rtxdp", RUNTIME);
    let dir = tempfile::tempdir().unwrap();
    let obj = xdp_object(dir.path());
    w.host
        .run(
            "ip",
            &["link", "add", "xa", "type", "veth", "peer", "name", "xb"],
        )
        .unwrap();
    // The verifier's baseline: the veth exists, nothing is attached to it.
    wait_for_document(&w, kind::NETWORK, &["\"xa\""]);
    assert_eq!(w.attest()["outcome"], "pass");
    let mut ip = spawn_in(
        &w,
        "ip",
        &[
            "link",
            "set",
            "dev",
            "xa",
            "xdp",
            "obj",
            obj.to_str().unwrap(),
            "sec",
            "xdp",
        ],
    );
    let pid = ip.id();
    assert!(ip.wait().unwrap().success());

    let entry = wait_for_document(&w, kind::BPF, &["\"target\":\"xa\"", "xdp_drop_all"]);
    assert_eq!(
        entry.annotations.cause.as_deref(),
        Some("ebpf"),
        "{entry:?}"
    );
    assert!(attributed_to(&entry, pid, "ip"), "{:?}", entry.annotations);

    // The event is traced at the call; the agent resolves the program the call created.
    let is_load = |e: &RuntimeEvent| {
        e.kind == "bpf_prog_load" && e.process.pid == pid && e.details["prog_type"] == 6
    };
    let events = events_with(&w, "the XDP load event", is_load);
    let load = events.iter().find(|e| is_load(e)).unwrap();
    assert_eq!(load.process.comm, "ip");
    assert_eq!(load.details["program_name"], "xdp_drop_all", "{load:?}");
    assert!(load.details["program_id"].as_u64().is_some(), "{load:?}");
    assert!(
        load.summary.starts_with(&format!(
            "pid {pid} (ip) loaded BPF program xdp_drop_all (xdp, id "
        )),
        "{}",
        load.summary
    );
    // iproute2 attaches XDP with an RTM_NEWLINK (some tools use RTM_SETLINK).
    assert!(events.iter().any(|e| e.process.pid == pid
        && e.kind == "netlink_write"
        && ["RTM_NEWLINK", "RTM_SETLINK"]
            .iter()
            .any(|m| e.details["message"] == *m)));

    // The verifier's result says what changed, in words, and who did it.
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    let (_, change) = r["changes"]
        .as_object()
        .and_then(|c| c.iter().find(|(k, _)| k.starts_with("bpf/")))
        .unwrap_or_else(|| panic!("no bpf change: {r}"));
    let text = change["text"].as_array().unwrap();
    assert!(
        text.iter()
            .any(|l| l.as_str().unwrap().starts_with("+ xdp on xa")
                && l.as_str().unwrap().contains("xdp_drop_all")),
        "{change}"
    );
    assert!(
        change["writers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|wr| wr["pid"] == pid && wr["comm"] == "ip"),
        "{change}"
    );
    assert!(
        r["events"]["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["process"]["pid"] == pid)),
        "{r}"
    );

    // Detached: the attachment leaves the document, attributed again.
    let mut off = spawn_in(&w, "ip", &["link", "set", "dev", "xa", "xdp", "off"]);
    let off_pid = off.id();
    assert!(off.wait().unwrap().success());
    let client = w.verifier.agent_client(&w.host).unwrap();
    let detached = wait_until("the attachment gone", Duration::from_secs(10), || {
        let ev = block_on(fetch_evidence(&client, &w.host, &[7; 20], 0))?;
        let gone = ev.documents.iter().any(|d| {
            d.kind == kind::BPF
                && d.seq > entry.seq
                && !d.content.get().contains("\"target\":\"xa\"")
        });
        Ok(gone.then(|| ev.log.entries.into_iter().rfind(|e| e.kind == kind::BPF)))
    })
    .unwrap()
    .unwrap();
    assert!(
        entries(&w, 0)
            .iter()
            .any(|e| attributed_to(e, off_pid, "ip")),
        "{detached:?}"
    );
    assert_eq!(w.attest()["outcome"], "pass");
}

#[test]
fn sockets_and_routes_opened_inside_the_host_are_measured_with_their_writer() {
    let _serial = serial();
    let w = start_with_fallback_poll_and("rtsock", RUNTIME);
    let script = "import socket, time\n\
        p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\n\
        s = socket.socket(); s.bind(('0.0.0.0', 23123)); s.listen()\n\
        time.sleep(20)\n";
    let mut python = spawn_in(&w, "python3", &["-c", script]);
    let pid = python.id();
    let entry = wait_for_document(&w, kind::SOCKETS, &["\"port\":23123", "packet_sockets"]);
    assert!(
        attributed_to(&entry, pid, "python3"),
        "{:?}",
        entry.annotations
    );
    let _ = python.kill();
    let _ = python.wait();

    let mut ip = spawn_in(
        &w,
        "ip",
        &[
            "route",
            "add",
            "198.18.7.0/24",
            "via",
            &w.host.gateway_ip().to_string(),
        ],
    );
    let ip_pid = ip.id();
    assert!(ip.wait().unwrap().success());
    let route = wait_for_document(&w, kind::NETWORK, &["198.18.7.0"]);
    // rtnetlink names no writer; the eBPF event does.
    assert!(
        attributed_to(&route, ip_pid, "ip"),
        "{:?}",
        route.annotations
    );
    assert_eq!(w.attest()["outcome"], "pass");
}

#[test]
fn a_full_ring_buffer_is_measured_as_lost_events_and_the_agent_goes_on() {
    let _serial = serial();
    let w = super::support::World::start_with(
        "rtloss",
        Duration::from_millis(30_000),
        "runtime.enabled = true\nruntime.ring_bytes = 4096\n",
    );
    let flood = "import socket\nfor i in range(20000): socket.socket(socket.AF_INET, socket.SOCK_RAW, 1).close()\n";
    let mut python = spawn_in(&w, "python3", &["-c", flood]);
    assert!(python.wait().unwrap().success());
    let client = w.verifier.agent_client(&w.host).unwrap();
    let loss = wait_until("an event-loss entry", Duration::from_secs(10), || {
        let ev = block_on(fetch_evidence(&client, &w.host, &[8; 20], 0))?;
        Ok(ev
            .documents
            .into_iter()
            .find(|d| d.kind == kind::EVENT_LOSS && !d.content.get().contains("\"lost\":0")))
    })
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()));
    let doc: serde_json::Value = serde_json::from_str(loss.content.get()).unwrap();
    assert!(doc["lost"].as_u64().unwrap() > 0, "{doc}");
    assert!(events(&w).iter().any(|e| e.kind == "events_lost"));
    // Still watching: a new listener is measured. Regression (a fresh-clone CI run): the port
    // is below the ephemeral range (32768–60999), where a connection's local port had taken an
    // earlier choice (47124) and the listener never started.
    let mut python = spawn_in(&w, "python3", &["-c",
        "import socket, time\ns = socket.socket(); s.bind(('0.0.0.0', 23124)); s.listen(); time.sleep(20)\n"]);
    wait_for_document(&w, kind::SOCKETS, &["\"port\":23124"]);
    let _ = python.kill();
    let _ = python.wait();
    assert_eq!(w.attest()["outcome"], "pass");
}
