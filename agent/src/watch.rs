//! `palisade-agent watch`: print nftables change events live, with the writer's pid and name,
//! for an operator finding out who keeps changing the firewall. Needs no TPM and no
//! configuration; blocks on the event socket on the calling thread.

use std::io::Write;

use palisade_collectors::nftables::events::{EventError, NftEvent, NftEvents};
use palisade_collectors::NetNs;

/// Failure to watch.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Subscribing or reading failed.
    #[error(transparent)]
    Events(#[from] EventError),
    /// Writing the output failed (e.g. the pipe closed).
    #[error("writing the output: {0}")]
    Write(#[from] std::io::Error),
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

/// Prints events from `netns` to `out` until `count` events were printed (forever if `None`).
/// Prints `subscribed` on stderr once listening, so a script knows when to make changes.
pub fn watch(
    netns: &NetNs,
    format: WatchFormat,
    count: Option<u64>,
    out: &mut impl Write,
) -> Result<(), WatchError> {
    let mut events = NftEvents::subscribe(netns)?;
    eprintln!("watching nftables changes in {netns} (subscribed)");
    let mut printed = 0;
    while count.is_none_or(|c| printed < c) {
        let event = events.recv()?;
        let line = render(&event, &now(), format);
        writeln!(out, "{line}")?;
        out.flush()?;
        printed += 1;
    }
    Ok(())
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
