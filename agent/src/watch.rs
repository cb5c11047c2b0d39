//! `palisade-agent watch`: print change events live, with the process that made each one, for
//! an operator finding out who keeps changing the firewall or the network stack: nftables
//! commits (nfnetlink, with the ruleset generation) and everything palisade's eBPF programs
//! see (BPF loads and attachments, listeners, raw and packet sockets, rtnetlink and nfnetlink
//! writes in any namespace, legacy iptables). Needs no TPM and no configuration; each source
//! reads on its own thread and the calling thread prints.

use std::io::Write;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use palisade_collectors::nftables::events::{EventError, NftEvent, NftEvents};
use palisade_collectors::NetNs;
use palisade_ebpf::decode::{self, Clock};
use palisade_ebpf::{Monitor, MonitorError, Options};
use palisade_evidence::runtime::RuntimeEvent;

/// Failure to watch.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Subscribing or reading failed.
    #[error(transparent)]
    Events(#[from] EventError),
    /// The eBPF monitor could not start (and only it was asked for).
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    /// Writing the output failed (e.g. the pipe closed).
    #[error("writing the output: {0}")]
    Write(#[from] std::io::Error),
}

/// Which events to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WatchSource {
    /// nftables commits and eBPF events.
    #[default]
    All,
    /// nftables commits of the namespace only (no eBPF programs are loaded).
    Nftables,
    /// eBPF events only (every namespace).
    Ebpf,
}

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WatchFormat {
    /// One line per event for a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Prints events to `out` until `count` lines were printed (forever if `None`). Prints
/// `subscribed` on stderr once every source listens, so a script knows when to make changes.
pub fn watch(
    netns: &NetNs,
    source: WatchSource,
    format: WatchFormat,
    count: Option<u64>,
    out: &mut impl Write,
) -> Result<(), WatchError> {
    let (tx, rx) = mpsc::sync_channel::<String>(4096);
    if source != WatchSource::Ebpf {
        let mut events = NftEvents::subscribe(netns)?;
        let tx = tx.clone();
        thread::spawn(move || {
            while let Ok(event) = events.recv() {
                if tx.send(render(&event, &now(), format)).is_err() {
                    return;
                }
            }
        });
    }
    if source != WatchSource::Nftables {
        match Monitor::start(&Options::default()) {
            Ok(monitor) => {
                let tx = tx.clone();
                thread::spawn(move || watch_ebpf(monitor, format, &tx));
            }
            Err(e) if source == WatchSource::Ebpf => return Err(e.into()),
            Err(e) => eprintln!("no eBPF events ({e}); watching nftables commits only"),
        }
    }
    drop(tx);
    eprintln!("watching {source:?} events, nftables in {netns} (subscribed)");
    let mut printed = 0;
    while count.is_none_or(|c| printed < c) {
        let Ok(line) = rx.recv() else { break };
        writeln!(out, "{line}")?;
        out.flush()?;
        printed += 1;
    }
    Ok(())
}

fn watch_ebpf(mut monitor: Monitor, format: WatchFormat, tx: &mpsc::SyncSender<String>) {
    let clock = Clock::now();
    let mut loads = crate::runtime::LoadResolver::default();
    let mut seq = 0;
    loop {
        if monitor.wait(Duration::from_millis(500)).is_err() {
            return;
        }
        let batch = monitor.drain(1024);
        let mut lines: Vec<RuntimeEvent> = loads.decode(&batch.events, &clock, || {
            seq += 1;
            seq
        });
        if batch.lost > 0 {
            seq += 1;
            lines.push(decode::lost(batch.lost, &clock, seq));
        }
        for e in &lines {
            if tx.send(render_runtime(e, format)).is_err() {
                return;
            }
        }
    }
}

/// One output line for an eBPF event (escaped like [`render`]).
pub fn render_runtime(event: &RuntimeEvent, format: WatchFormat) -> String {
    match format {
        WatchFormat::Text => format!("{} {}", event.time, event.summary.escape_debug()),
        WatchFormat::Json => serde_json::to_string(event).unwrap_or_default(),
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One output line. The process name is chosen by the process, so it is escaped: it cannot
/// forge lines or send terminal control sequences.
pub fn render(event: &NftEvent, time: &str, format: WatchFormat) -> String {
    match (format, event) {
        (
            WatchFormat::Text,
            NftEvent::Committed {
                generation,
                pid,
                comm,
            },
        ) => format!(
            "{time} generation {generation} committed by pid {pid} comm \"{}\"",
            comm.escape_debug()
        ),
        (WatchFormat::Text, NftEvent::Overrun) => {
            format!("{time} events lost (socket overrun): something changed, writer unknown")
        }
        (
            WatchFormat::Json,
            NftEvent::Committed {
                generation,
                pid,
                comm,
            },
        ) => serde_json::json!({
            "time": time, "event": "committed", "generation": generation, "pid": pid, "comm": comm,
        })
        .to_string(),
        (WatchFormat::Json, NftEvent::Overrun) => {
            serde_json::json!({"time": time, "event": "overrun"}).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-11-23T05:00:00Z";

    #[test]
    fn text_line_names_generation_pid_and_comm() {
        let e = NftEvent::Committed {
            generation: 42,
            pid: 1234,
            comm: "nft".into(),
        };
        assert_eq!(
            render(&e, T, WatchFormat::Text),
            format!("{T} generation 42 committed by pid 1234 comm \"nft\"")
        );
    }

    #[test]
    fn hostile_process_names_are_escaped() {
        let e = NftEvent::Committed {
            generation: 1,
            pid: 1,
            comm: "x\"\n\u{1b}[2J".into(),
        };
        let line = render(&e, T, WatchFormat::Text);
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        let json = render(&e, T, WatchFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["comm"], "x\"\n\u{1b}[2J");
    }

    #[test]
    fn json_lines() {
        let v: serde_json::Value =
            serde_json::from_str(&render(&NftEvent::Overrun, T, WatchFormat::Json)).unwrap();
        assert_eq!(v, serde_json::json!({"time": T, "event": "overrun"}));
    }
}
