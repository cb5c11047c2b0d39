//! The canonicalisation rules of `palisade.bpf/1` (`docs/canonical-runtime.md`), one test
//! each; the readers are tested against the kernel in `collectors/tests/bpf.rs`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use super::*;

fn prog(name: &str, tag: &str) -> ProgramRef {
    ProgramRef {
        prog_type: "xdp".into(),
        name: name.into(),
        tag: tag.into(),
        digest: "d".repeat(64),
    }
}

fn program(p: ProgramRef, count: u32) -> Program {
    Program {
        program: p,
        uid: 0,
        gpl: true,
        xlated_bytes: 16,
        maps: 0,
        palisade: false,
        count,
    }
}

fn inventory(programs: Vec<Program>, attachments: Vec<Attachment>) -> BpfInventory {
    BpfInventory {
        programs,
        attachments,
        ..BpfInventory::default()
    }
}

fn attach(hook: &str, target: &str, p: ProgramRef) -> Attachment {
    Attachment {
        hook: hook.into(),
        target: target.into(),
        details: Default::default(),
        program: p,
    }
}

#[test]
fn rule1_identical_programs_are_one_entry_with_a_count() {
    let mut inv = BpfInventory::default();
    let p = prog("xdp_pass", "aa");
    inv.programs = vec![
        program(p.clone(), 1),
        program(prog("other", "bb"), 1),
        program(p, 1),
    ];
    inv.normalize();
    assert_eq!(inv.programs.len(), 2);
    let xdp = inv
        .programs
        .iter()
        .find(|x| x.program.name == "xdp_pass")
        .unwrap();
    assert_eq!(xdp.count, 2);
}

#[test]
fn rule2_ids_and_load_times_are_never_in_the_document() {
    let mut inv = BpfInventory::default();
    inv.observed.programs.insert(4242, prog("x", "aa"));
    inv.observed.loads.insert(4242, (123_456_789, 0));
    let text = inv.canonical().unwrap().as_str().to_owned();
    assert!(
        !text.contains("4242") && !text.contains("123456789"),
        "{text}"
    );
}

#[test]
fn rule3_order_of_discovery_does_not_matter() {
    let a = attach("xdp", "eth0", prog("a", "aa"));
    let b = attach("tc", "eth1", prog("b", "bb"));
    let one = inventory(
        vec![program(prog("a", "aa"), 1), program(prog("b", "bb"), 1)],
        vec![a.clone(), b.clone()],
    );
    let two = inventory(
        vec![program(prog("b", "bb"), 1), program(prog("a", "aa"), 1)],
        vec![b, a.clone(), a],
    );
    assert_eq!(one.canonical().unwrap(), two.canonical().unwrap());
}

#[test]
fn rule4_flags_say_which_hooks_are_used() {
    let mut inv = inventory(
        Vec::new(),
        vec![
            attach("xdp", "eth0", prog("a", "aa")),
            attach("cgroup", "/", prog("c", "cc")),
            attach("sk_lookup", "netns", prog("s", "ss")),
            attach("perf_event", "kernel", prog("p", "pp")),
        ],
    );
    inv.normalize();
    let flags: Vec<&str> = inv.flags.iter().map(String::as_str).collect();
    assert_eq!(flags, [FLAG_CGROUP, FLAG_NETNS, FLAG_XDP]);
}

#[test]
fn rule5_a_program_whose_instructions_cannot_be_read_is_flagged() {
    let mut inv = BpfInventory::default();
    let mut p = prog("x", "aa");
    p.digest.clear();
    inv.programs = vec![program(p, 1)];
    inv.normalize();
    assert!(inv.flags.contains(FLAG_UNREADABLE));
}

#[test]
fn rule6_palisades_own_programs_are_marked_and_set_apart() {
    let mut inv = BpfInventory::default();
    let own = prog("sys_enter_bpf", "ee");
    let mut p = program(own.clone(), 1);
    p.palisade = true;
    inv.programs = vec![p, program(prog("xdp_pass", "aa"), 1)];
    inv.attachments = vec![
        attach("perf_event", "kernel", own),
        attach("xdp", "eth0", prog("xdp_pass", "aa")),
    ];
    inv.normalize();
    let foreign: Vec<&str> = inv.foreign_attachments().map(|a| a.hook.as_str()).collect();
    assert_eq!(foreign, ["xdp"]);
}

#[test]
fn rule7_every_field_is_in_the_exact_canonical_bytes() {
    let inv = inventory(
        vec![program(prog("x", "aa"), 1)],
        vec![attach("xdp", "eth0", prog("x", "aa"))],
    );
    let d = "d".repeat(64);
    assert_eq!(
        inv.canonical().unwrap().as_str(),
        format!(
            r#"{{"attachments":[{{"hook":"xdp","program":{{"digest":"{d}","name":"x","tag":"aa","type":"xdp"}},"target":"eth0"}}],"flags":["xdp_attached"],"format":"palisade.bpf/1","programs":[{{"count":1,"digest":"{d}","gpl":true,"maps":0,"name":"x","palisade":false,"tag":"aa","type":"xdp","uid":0,"xlated_bytes":16}}]}}"#
        )
    );
}
