//! `palisade_collectors::nftables::events` against the real kernel (needs root): commits made
//! by another process in a throwaway network namespace are announced with that process's pid
//! and name, once per transaction, only in their own namespace, and a reader that falls behind
//! is told so.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use palisade_collectors::nftables::events::{NftEvent, NftEvents};

use crate::support::Ns;

const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing else arrives" is watched for.
const QUIET: Duration = Duration::from_millis(500);

impl Ns {
    /// Starts `ip netns exec NS nft ARGS…` with `stdin` on its standard input.
    fn spawn_nft(&self, args: &[&str], stdin: &str) -> Child {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child
    }

    /// Runs `nft ARGS…` in the namespace; returns its pid.
    fn nft(&self, args: &[&str]) -> u32 {
        self.nft_stdin(args, "")
    }

    /// Runs `nft ARGS…` in the namespace with `stdin`; returns its pid.
    fn nft_stdin(&self, args: &[&str], stdin: &str) -> u32 {
        let mut child = self.spawn_nft(args, stdin);
        let pid = child.id();
        let status = child.wait().unwrap();
        assert!(status.success(), "nft {args:?} failed in {}", self.name);
        pid
    }
}

fn committed(events: &mut NftEvents) -> (u32, u32, String) {
    match events.next_timeout(WAIT).unwrap() {
        Some(NftEvent::Committed {
            generation,
            pid,
            comm,
        }) => (generation, pid, comm),
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[test]
fn commit_is_announced_with_the_writers_pid_and_comm_and_generations_increase() {
    let ns = Ns::new("ev");
    let mut events = NftEvents::subscribe(&ns.netns()).unwrap();
    // `ip netns exec` enters the namespace and execs nft in place: the child's pid is nft's.
    let pid = ns.nft(&["add", "table", "inet", "t"]);
    let (first, got_pid, comm) = committed(&mut events);
    assert_eq!((got_pid, comm.as_str()), (pid, "nft"));

    let pid = ns.nft(&["add", "chain", "inet", "t", "c"]);
    let (second, got_pid, _) = committed(&mut events);
    assert_eq!(got_pid, pid);
    assert!(second > first, "generation {second} after {first}");
    assert_eq!(events.next_timeout(QUIET).unwrap(), None);
}

#[test]
fn changes_in_another_namespace_are_not_seen() {
    let (watched, other) = (Ns::new("ev"), Ns::new("ev"));
    let mut events = NftEvents::subscribe(&watched.netns()).unwrap();
    other.nft(&["add", "table", "inet", "elsewhere"]);
    assert_eq!(events.next_timeout(QUIET).unwrap(), None);
    // The subscription works: a change in its own namespace arrives.
    let pid = watched.nft(&["add", "table", "inet", "here"]);
    assert_eq!(committed(&mut events).1, pid);
}

#[test]
fn a_batch_of_many_commands_is_one_commit() {
    let ns = Ns::new("ev");
    let mut events = NftEvents::subscribe(&ns.netns()).unwrap();
    let mut script = String::from(
        "add table inet b\nadd chain inet b input { type filter hook input priority 0; }\n\
         add set inet b allowed { type ipv4_addr; }\n",
    );
    for port in 1000..1100 {
        script.push_str(&format!("add rule inet b input tcp dport {port} accept\n"));
    }
    for i in 1..50 {
        script.push_str(&format!("add element inet b allowed {{ 10.0.0.{i} }}\n"));
    }
    let pid = ns.nft_stdin(&["-f", "-"], &script);
    assert_eq!(committed(&mut events).1, pid);
    assert_eq!(events.next_timeout(QUIET).unwrap(), None);
}

#[test]
fn a_reader_that_falls_behind_is_told_events_were_lost() {
    let ns = Ns::new("ev");
    let mut events = NftEvents::subscribe(&ns.netns()).unwrap();
    // Tens of thousands of object notifications, unread while they arrive: more than the
    // socket's receive buffer holds.
    let mut script = String::from(
        "add table inet big\nadd chain inet big c { type filter hook input priority 0; }\n",
    );
    for i in 0..40_000u32 {
        script.push_str(&format!(
            "add rule inet big c ip saddr 10.{}.{}.{} tcp dport {} accept\n",
            (i >> 16) & 0xff,
            (i >> 8) & 0xff,
            i & 0xff,
            1 + i % 60_000
        ));
    }
    ns.nft_stdin(&["-f", "-"], &script);
    let mut seen = Vec::new();
    while let Some(event) = events.next_timeout(QUIET).unwrap() {
        seen.push(event);
    }
    assert!(seen.contains(&NftEvent::Overrun), "{seen:?}");
}
