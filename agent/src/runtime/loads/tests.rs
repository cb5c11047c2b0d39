//! Matching load calls to the programs the kernel stamped, without a kernel.

use super::*;

fn load(id: u32, prog_type: u32, load_time: u64) -> Load {
    Load {
        id,
        prog_type,
        load_time,
        uid: 0,
    }
}

fn call(prog_type: u32, since: u64, until: Option<u64>) -> Call {
    Call {
        uid: 0,
        prog_type,
        since,
        until,
    }
}

fn raw(pid: u32, prog_type: i64, boot_ns: u64) -> Event {
    let mut e = Event::ZERO;
    e.kind = kind::BPF_PROG_LOAD;
    e.pid = pid;
    e.args[2] = prog_type;
    e.boot_ns = boot_ns;
    e
}

#[test]
fn a_feature_probe_that_was_unloaded_does_not_take_the_next_program() {
    // `ip` probes with a socket filter (type 1, freed at once), then loads XDP (type 6).
    let calls = [call(1, 100, Some(200)), call(6, 200, None)];
    let loads = [load(7, 1, 50), load(9, 6, 250)];
    let mut found = [None, None];
    match_calls(&calls, &loads, &mut BTreeSet::new(), &mut found);
    assert_eq!(found, [None, Some(9)]);
}

#[test]
fn a_thread_s_program_is_stamped_before_its_next_call() {
    let calls = [call(6, 100, Some(200)), call(6, 200, None)];
    let loads = [load(9, 6, 150), load(10, 6, 250)];
    let mut found = [None, None];
    match_calls(&calls, &loads, &mut BTreeSet::new(), &mut found);
    assert_eq!(found, [Some(9), Some(10)]);
    // Without an earlier program, the first call cannot take the second's.
    let mut found = [None, None];
    match_calls(&calls, &loads[1..], &mut BTreeSet::new(), &mut found);
    assert_eq!(found, [None, Some(10)]);
}

#[test]
fn claimed_programs_and_other_uids_are_never_named_twice() {
    let calls = [call(6, 100, None)];
    let mut other = load(8, 6, 120);
    other.uid = 1000;
    let loads = [other, load(9, 6, 130), load(10, 6, 140)];
    let mut claimed = BTreeSet::from([9]);
    let mut found = [None];
    match_calls(&calls, &loads, &mut claimed, &mut found);
    assert_eq!(found, [Some(10)]);
    assert!(claimed.contains(&10));
}

#[test]
fn calls_are_bounded_by_the_same_thread_s_next_load_only() {
    let a = raw(1, 1, 100);
    let b = raw(2, 6, 150);
    let mut other = raw(1, 0, 170);
    other.kind = kind::LISTEN;
    let c = raw(1, 6, 200);
    let got = calls(&[&a, &b, &other, &c]);
    let bounds: Vec<(usize, Option<u64>)> = got.iter().map(|(i, c)| (*i, c.until)).collect();
    assert_eq!(bounds, [(0, Some(200)), (1, None), (3, None)]);
    assert_eq!(got[0].1.prog_type, 1);
}

#[test]
fn a_resolved_load_names_the_program_in_words() {
    let mut e = RuntimeEvent {
        seq: 0,
        time: String::new(),
        kind: "bpf_prog_load".into(),
        process: Default::default(),
        netns: None,
        details: Default::default(),
        summary: "pid 42 (ip) loaded a BPF program (type 6)".into(),
    };
    let p = ProgramRef {
        prog_type: "xdp".into(),
        name: "xdp_pass".into(),
        tag: "0123456789abcdef".into(),
        digest: "d".into(),
    };
    describe(&mut e, 57, &p);
    assert_eq!(
        e.summary,
        "pid 42 (ip) loaded BPF program xdp_pass (xdp, id 57, tag 0123456789abcdef)"
    );
    assert_eq!(e.details["program_id"], json!(57));
    assert_eq!(e.details["tag"], json!("0123456789abcdef"));
}

#[test]
fn remembered_ids_are_bounded_oldest_first() {
    let mut r = LoadResolver::default();
    for id in 0..(CLAIMED as u32 + 10) {
        r.remember(id);
    }
    // A matched id whose program was gone is never remembered: only `remember` adds.
    let claimed: BTreeSet<u32> = r.named.iter().copied().collect();
    assert_eq!(claimed.len(), CLAIMED);
    assert!(!claimed.contains(&0) && claimed.contains(&(CLAIMED as u32 + 9)));
    assert!(!claimed.contains(&99_999));
}
