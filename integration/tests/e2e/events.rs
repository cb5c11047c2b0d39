//! Event-driven re-measurement end to end: an nftables commit made inside the host by another
//! process becomes a new log entry attributed to that process (pid, comm) and generation, and
//! the verifier sees the change at once although the agent's fallback poll is 30 s away; a
//! burst of commits coalesces into fewer entries that end at the burst's last generation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use palisade_collectors::nftables::events::{NftEvent, NftEvents};
use palisade_collectors::NetNs;
use palisade_evidence::log::{kind, LogEntry, Writer};
use palisade_integration::palisade::{
    agent_config, fetch_evidence, open_ssh, Verifier, BASELINE_RULESET,
};
use palisade_integration::{bin, require_root_tools, wait_until, Host};

use super::support::{block_on, reason_codes, World, MANUAL};

/// Far longer than any test here runs after start-up: a change the agent logs was seen through
/// an event, not by the poll.
const FALLBACK_POLL_MS: u64 = 30_000;

/// A verifier and one enrolled host whose agent re-measures on nftables events, with the
/// default fallback poll (30 s).
pub(super) fn start_with_fallback_poll(label: &str) -> World {
    start_with_fallback_poll_and(label, "")
}

/// [`start_with_fallback_poll`] with extra agent TOML (`agent_config`'s `extra`).
pub(super) fn start_with_fallback_poll_and(label: &str, extra: &str) -> World {
    require_root_tools().unwrap();
    let host = Host::create(label).unwrap();
    host.nft(BASELINE_RULESET).unwrap();
    let verifier = Verifier::start(&[host.gateway_ip()], MANUAL).unwrap();
    let path = agent_config(&host, &verifier, extra).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let patched = text.replace(
        "measure_interval_ms = 200",
        &format!("measure_interval_ms = {FALLBACK_POLL_MS}"),
    );
    assert_ne!(
        text, patched,
        "the harness's agent configuration changed shape"
    );
    std::fs::write(&path, patched).unwrap();
    let config = path.display().to_string();
    let agent = host
        .spawn(
            "agent",
            &bin("palisade-agent").unwrap(),
            &["-c", &config],
            &[("PALISADE_LOG", "info")],
        )
        .unwrap();
    agent
        .wait_for_log("enrolled with the verifier", Duration::from_secs(60))
        .unwrap();
    World {
        host,
        verifier,
        agent,
    }
}

/// Runs `nft ARGS…` inside the host as its own process (`ip netns exec` execs nft in place, so
/// the child's pid is nft's); returns the pid.
fn nft_in(host: &Host, args: &[&str]) -> u32 {
    let mut child = Command::new("ip")
        .args(["netns", "exec", host.netns(), "nft"])
        .args(args)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "nft {args:?}");
    pid
}

/// The agent's log entries from `offset` on (pulled as the verifier does).
pub(super) fn entries(w: &World, offset: u64) -> Vec<LogEntry> {
    let client = w.verifier.agent_client(&w.host).unwrap();
    block_on(fetch_evidence(&client, &w.host, &[1; 20], offset))
        .unwrap()
        .log
        .entries
}

/// Waits for the first nftables entry at or after `offset` caused by `cause`.
fn wait_for_entry(w: &World, offset: u64, cause: &str) -> LogEntry {
    wait_until(
        &format!("an nftables entry caused by {cause}"),
        Duration::from_secs(10),
        || {
            Ok(entries(w, offset).into_iter().find(|e| {
                e.kind == kind::NFTABLES && e.annotations.cause.as_deref() == Some(cause)
            }))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()))
}

pub(super) fn log_len(w: &World) -> u64 {
    u64::try_from(entries(w, 0).len()).unwrap()
}

#[test]
fn nft_commit_inside_the_host_is_logged_with_the_writers_pid_comm_and_generation() {
    let w = start_with_fallback_poll("evpid");
    let before = log_len(&w);
    // Our own subscription in the host's namespace tells us the generation the commit made.
    let mut events = NftEvents::subscribe(&NetNs::named(w.host.netns())).unwrap();

    let pid = nft_in(
        &w.host,
        &[
            "add", "rule", "inet", "filter", "input", "tcp", "dport", "8080", "accept",
        ],
    );
    let generation = match events.next_timeout(Duration::from_secs(5)).unwrap() {
        Some(NftEvent::Committed {
            generation, pid: p, ..
        }) if p == pid => generation,
        other => panic!("expected our commit, got {other:?}"),
    };

    let entry = wait_for_entry(&w, before, "nfnetlink");
    assert_eq!(
        entry.seq, before,
        "one new entry, the first after the change"
    );
    assert_eq!(
        entry.annotations.writer,
        Some(Writer {
            pid,
            comm: "nft".into()
        })
    );
    assert_eq!(entry.annotations.generation, Some(generation));
    assert!(entry.annotations.other_writers.is_empty());
    assert!(entry.annotations.time.is_some());

    // The logged document is the changed ruleset.
    let client = w.verifier.agent_client(&w.host).unwrap();
    let evidence = block_on(fetch_evidence(&client, &w.host, &[2; 20], 0)).unwrap();
    let doc = evidence
        .documents
        .iter()
        .find(|d| d.kind == kind::NFTABLES)
        .unwrap();
    assert_eq!(doc.seq, entry.seq);
    assert!(doc.content.get().contains("8080"), "{}", doc.content.get());

    // The attestation covering it passes (the policy allows 8080) and is genuine.
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
}

#[test]
fn with_the_fallback_poll_at_30s_the_verifier_sees_changes_as_they_are_committed() {
    let w = start_with_fallback_poll("evpoll");
    assert_eq!(w.attest()["outcome"], "pass");

    // Open ssh: the next attestation after the event-driven entry fails, naming the rule.
    let before = log_len(&w);
    open_ssh(&w.host).unwrap();
    let entry = wait_for_entry(&w, before, "nfnetlink");
    assert_eq!(
        entry.annotations.writer.as_ref().map(|w| w.comm.as_str()),
        Some("nft")
    );
    let fail = w.attest();
    assert_eq!(fail["outcome"], "fail", "{fail}");
    assert_eq!(reason_codes(&fail), vec!["policy_violation"]);
    assert!(
        fail["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("accepts tcp/22"),
        "{fail}"
    );

    // Put the baseline back (one transaction: flush + load): passes again at once.
    let before = log_len(&w);
    w.host.nft(BASELINE_RULESET).unwrap();
    wait_for_entry(&w, before, "nfnetlink");
    let pass = w.attest();
    assert_eq!(pass["outcome"], "pass", "{pass}");

    // Every entry after start-up came from an event, none from the poll.
    let causes: Vec<Option<String>> = entries(&w, 0)
        .into_iter()
        .filter(|e| e.kind == kind::NFTABLES)
        .map(|e| e.annotations.cause)
        .collect();
    assert!(
        !causes.iter().any(|c| c.as_deref() == Some("poll")),
        "{causes:?}"
    );
}

/// The `nft` binary on this machine.
fn nft_binary() -> PathBuf {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nft is installed")
}

/// A link to `nft` named `name` in `dir`: a process executed through it has `name` as its
/// `comm` (the kernel takes the executed path's last component).
fn renamed_nft(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    std::os::unix::fs::symlink(nft_binary(), &link).unwrap();
    link
}

#[test]
fn a_burst_of_commits_coalesces_into_fewer_entries_ending_at_its_last_generation() {
    const COMMITS: u32 = 50;
    let w = start_with_fallback_poll("evburst");
    let before = log_len(&w);
    let mut events = NftEvents::subscribe(&NetNs::named(w.host.netns())).unwrap();

    // 50 separate `nft add rule` processes from one shell loop, each its own transaction.
    let writer = renamed_nft(w.host.dir(), "fw-burst");
    let script = format!(
        "for p in $(seq 10001 {}); do {} add rule inet filter input tcp dport $p accept || exit 1; done",
        10_000 + COMMITS,
        writer.display()
    );
    w.host.run("sh", &["-c", &script]).unwrap();

    // What the kernel announced: 50 commits, all by fw-burst.
    let (mut pids, mut last) = (BTreeSet::new(), 0);
    while u32::try_from(pids.len()).unwrap() < COMMITS {
        match events.next_timeout(Duration::from_secs(5)).unwrap() {
            Some(NftEvent::Committed {
                generation,
                pid,
                comm,
            }) => {
                assert_eq!(comm, "fw-burst");
                pids.insert(pid);
                last = generation;
            }
            other => panic!("expected 50 commits, got {other:?} after {}", pids.len()),
        }
    }

    // The agent's entries for the burst end with one at the last generation — or, when a
    // window of the burst already listed the final ruleset, the last window's measurement was
    // equal to it and appended nothing: then the entries settle on an earlier generation of
    // the burst (the final document is checked below either way).
    let mut settled: Option<(usize, Instant)> = None;
    let burst: Vec<LogEntry> = wait_until(
        "the burst's entries to end at its last generation or settle",
        Duration::from_secs(10),
        || {
            let new: Vec<LogEntry> = entries(&w, before)
                .into_iter()
                .filter(|e| e.kind == kind::NFTABLES)
                .collect();
            let Some(gen) = new.last().and_then(|e| e.annotations.generation) else {
                return Ok(None);
            };
            if gen == last {
                return Ok(Some(new));
            }
            match settled {
                Some((n, since)) if n == new.len() && since.elapsed() > Duration::from_secs(1) => {
                    Ok(Some(new))
                }
                Some((n, _)) if n == new.len() => Ok(None),
                _ => {
                    settled = Some((new.len(), Instant::now()));
                    Ok(None)
                }
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()));
    assert!(
        burst.len() < usize::try_from(COMMITS).unwrap(),
        "{} entries for {COMMITS} commits: nothing coalesced",
        burst.len()
    );
    let mut generations = Vec::new();
    for e in &burst {
        assert_eq!(e.annotations.cause.as_deref(), Some("nfnetlink"), "{e:?}");
        let writer = e.annotations.writer.as_ref().unwrap();
        assert_eq!(writer.comm, "fw-burst");
        assert!(pids.contains(&writer.pid), "{e:?}");
        for other in &e.annotations.other_writers {
            assert_eq!(other.comm, "fw-burst");
            assert!(
                pids.contains(&other.pid) && other.pid != writer.pid,
                "{e:?}"
            );
        }
        generations.push(e.annotations.generation.unwrap());
    }
    assert!(
        generations.windows(2).all(|g| g[0] < g[1]),
        "{generations:?}"
    );
    // Some entry stood for several writers: the burst was folded, not dropped.
    assert!(
        burst
            .iter()
            .any(|e| !e.annotations.other_writers.is_empty()),
        "{burst:?}"
    );

    // The last entry's document has every rule; the verifier accepts the quote over it.
    let client = w.verifier.agent_client(&w.host).unwrap();
    let evidence = block_on(fetch_evidence(&client, &w.host, &[3; 20], 0)).unwrap();
    let doc = evidence
        .documents
        .iter()
        .find(|d| d.kind == kind::NFTABLES)
        .unwrap();
    assert_eq!(doc.seq, burst.last().unwrap().seq);
    for port in [10_001, 10_000 + COMMITS] {
        assert!(doc.content.get().contains(&port.to_string()), "{port}");
    }
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
}
