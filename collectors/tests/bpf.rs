//! The BPF inventory against the kernel: programs loaded and attached by iproute2 (the way an
//! operator or an attacker would) from an object built here with clang, in a throwaway
//! namespace. Each attachment must appear with its hook, target and program identity, and go
//! away when detached; the same program loaded twice has one identity.

use std::collections::BTreeSet;
use std::path::PathBuf;

use palisade_collectors::runtime::bpf::{self, BpfInventory};

use crate::support::{run, Ns};

/// An XDP and a tc program in C, with no headers (clang `-target bpf`). `MARK` makes each
/// build's instructions (so its tag and digest) its own: tests run in parallel and programs are
/// global, so each test looks only at its own.
const PROGRAM: &str = r#"
#define SEC(n) __attribute__((section(n), used))
struct xdp_md { unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
SEC("xdp") int xdp_pass(struct xdp_md *ctx) { volatile unsigned int mark = MARK; return mark ? 2 : 1; }
SEC("tc") int tc_pass(void *skb) { volatile unsigned int mark = MARK; return mark ? 0 : 2; }
char _license[] SEC("license") = "GPL";
"#;

/// Builds [`PROGRAM`] with a mark no other build in this run has into a temporary object file.
pub fn object() -> (tempfile::TempDir, PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let mark = (std::process::id() << 8) | NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("prog.c");
    let obj = dir.path().join("prog.o");
    std::fs::write(&src, PROGRAM.replace("MARK", &mark.to_string())).unwrap();
    run(
        "clang",
        &[
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-c",
            src.to_str().unwrap(),
            "-o",
            obj.to_str().unwrap(),
        ],
        None,
    );
    (dir, obj)
}

fn inventory(ns: &Ns) -> BpfInventory {
    bpf::read(&ns.netns(), &BTreeSet::new()).unwrap()
}

fn attached<'a>(inv: &'a BpfInventory, hook: &str, target: &str) -> Vec<&'a bpf::Attachment> {
    inv.attachments
        .iter()
        .filter(|a| a.hook == hook && a.target == target)
        .collect()
}

#[test]
fn xdp_and_tc_programs_attached_by_iproute2_are_listed_and_go_away() {
    let (_dir, obj) = object();
    let obj = obj.to_str().unwrap();
    let ns = Ns::new("bpf");
    ns.ip_batch("link add va type veth peer name vb\nlink set va up\nlink set vb up\n");
    assert!(attached(&inventory(&ns), "xdp", "va").is_empty());

    ns.exec(
        &[
            "ip", "link", "set", "dev", "va", "xdp", "obj", obj, "sec", "xdp",
        ],
        None,
    );
    ns.exec(&["tc", "qdisc", "add", "dev", "vb", "clsact"], None);
    ns.exec(
        &[
            "tc", "filter", "add", "dev", "vb", "ingress", "bpf", "da", "obj", obj, "sec", "tc",
        ],
        None,
    );
    let inv = inventory(&ns);
    let xdp = attached(&inv, "xdp", "va");
    assert_eq!(xdp.len(), 1, "{:#?}", inv.attachments);
    assert_eq!(xdp[0].program.name, "xdp_pass");
    assert_eq!(xdp[0].program.prog_type, "xdp");
    assert_eq!(xdp[0].program.tag.len(), 16);
    assert_eq!(xdp[0].program.digest.len(), 64);
    let tc = attached(&inv, "tc", "vb");
    assert_eq!(tc.len(), 1, "{:#?}", inv.attachments);
    assert_eq!(tc[0].program.name, "tc_pass");
    assert_eq!(tc[0].program.prog_type, "sched_cls");
    assert_eq!(
        tc[0].details["direction"],
        palisade_collectors::network::Scalar::Text("ingress".into())
    );
    assert!(inv.flags.contains(bpf::FLAG_XDP) && inv.flags.contains(bpf::FLAG_TC));
    assert!(inv.programs.iter().any(|p| p.program == xdp[0].program));

    // The same object on the peer: one more instance of the same identity.
    ns.exec(
        &[
            "ip", "link", "set", "dev", "vb", "xdp", "obj", obj, "sec", "xdp",
        ],
        None,
    );
    let twice = inventory(&ns);
    let p = twice
        .programs
        .iter()
        .find(|p| p.program == xdp[0].program)
        .unwrap();
    assert_eq!(p.count, 2, "{:#?}", twice.programs);
    assert_eq!(attached(&twice, "xdp", "vb")[0].program, xdp[0].program);

    ns.exec(&["ip", "link", "set", "dev", "va", "xdp", "off"], None);
    ns.exec(&["ip", "link", "set", "dev", "vb", "xdp", "off"], None);
    ns.exec(&["tc", "qdisc", "del", "dev", "vb", "clsact"], None);
    let after = inventory(&ns);
    assert!(attached(&after, "xdp", "va").is_empty());
    assert!(attached(&after, "tc", "vb").is_empty());
    // Unloaded with their last attachment, once the kernel has freed them (deferred).
    let ours = [xdp[0].program.clone(), tc[0].program.clone()];
    let gone = (0..100).any(|_| {
        let now = inventory(&ns);
        let left = now.programs.iter().any(|p| ours.contains(&p.program));
        if left {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        !left
    });
    assert!(gone, "programs still loaded 5 s after their last detach");
}

#[test]
fn attachments_of_other_namespaces_are_not_listed() {
    let (_dir, obj) = object();
    let here = Ns::new("bpfa");
    let there = Ns::new("bpfb");
    for ns in [&here, &there] {
        ns.ip_batch("link add va type veth peer name vb\nlink set va up\n");
    }
    there.exec(
        &[
            "ip",
            "link",
            "set",
            "dev",
            "va",
            "xdp",
            "obj",
            obj.to_str().unwrap(),
            "sec",
            "xdp",
        ],
        None,
    );
    assert!(attached(&inventory(&here), "xdp", "va").is_empty());
    assert_eq!(attached(&inventory(&there), "xdp", "va").len(), 1);
}
