//! `palisade watch`: follows the verifier's live stream (`GET /v1/events`, server-sent events)
//! and prints one line per result, enrolment and removal; reconnects when the verifier restarts.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use palisade_verifier::live::LiveEvent;

use super::Api;

/// No byte for this long (the verifier sends a keep-alive every 15 s): the connection is dead.
const IDLE: Duration = Duration::from_secs(60);
/// Longest pause between reconnection attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Follows the stream until interrupted; `--json` prints each event's JSON on one line.
pub async fn run(api: &Api, agent: Option<&str>, json: bool) -> anyhow::Result<()> {
    let client = api.stream_client(IDLE)?;
    let mut url = format!("{}/v1/events", api.base);
    if let Some(agent) = agent {
        url.push_str(&format!("?agent={agent}"));
    }
    let mut pause = Duration::from_millis(500);
    let mut ever_connected = false;
    loop {
        let mut connected = false;
        let outcome = follow(api, &client, &url, json, &mut connected).await;
        if connected {
            ever_connected = true;
            pause = Duration::from_millis(500);
        }
        match outcome {
            // Refused or unreachable before anything was shown: nothing to resume.
            Err(e) if !ever_connected => return Err(e),
            Err(e) => eprintln!("palisade: {e:#}; reconnecting in {pause:?}"),
            Ok(()) => eprintln!("palisade: the stream ended; reconnecting in {pause:?}"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One connection: prints events until the stream ends; sets `connected` once the verifier
/// accepted the request.
async fn follow(
    api: &Api,
    client: &reqwest::Client,
    url: &str,
    json: bool,
    connected: &mut bool,
) -> anyhow::Result<()> {
    let mut response = api
        .send(client.get(url).header("accept", "text/event-stream"))
        .await?;
    *connected = true;
    eprintln!("palisade: watching {url} (events since reconnecting are not replayed)");
    let mut parser = Parser::default();
    while let Some(chunk) = response.chunk().await.context("reading the stream")? {
        for (kind, data) in parser.push(&chunk) {
            print_event(&kind, &data, json)?;
        }
    }
    Ok(())
}

fn print_event(kind: &str, data: &str, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if kind == "lagged" {
        eprintln!("palisade: fell behind the stream: {data}");
        return Ok(());
    }
    if json {
        writeln!(out, "{data}")?;
    } else {
        match serde_json::from_str::<LiveEvent>(data) {
            Ok(e) => writeln!(out, "{}", line(&e))?,
            Err(_) => writeln!(out, "{kind}: {data}")?,
        }
    }
    out.flush()?;
    Ok(())
}

/// One event for people: `AT  AGENT  PREVIOUS → OUTCOME  #RESULT`, then its reasons indented.
fn line(e: &LiveEvent) -> String {
    let mut s = match (&e.outcome, &e.result) {
        (Some(outcome), Some(id)) => format!(
            "{}  {}  {} → {}  #{id}",
            e.at,
            e.agent_id,
            e.previous.as_deref().unwrap_or("?"),
            outcome
        ),
        _ => format!("{}  {}  {}", e.at, e.agent_id, e.kind),
    };
    for r in &e.reasons {
        s.push_str("\n    ");
        s.push_str(r);
    }
    s
}

/// Server-sent events framing: `field: value` lines, an event ends at a blank line.
#[derive(Debug, Default)]
struct Parser {
    pending: Vec<u8>,
    kind: String,
    data: Vec<String>,
}

impl Parser {
    /// Feeds bytes; returns the events (`event`, `data`) they complete.
    fn push(&mut self, bytes: &[u8]) -> Vec<(String, String)> {
        self.pending.extend_from_slice(bytes);
        let mut done = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    let kind = std::mem::take(&mut self.kind);
                    let kind = if kind.is_empty() {
                        "message".into()
                    } else {
                        kind
                    };
                    done.push((kind, self.data.join("\n")));
                }
                self.data.clear();
                self.kind.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                self.kind = v.trim_start().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                self.data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
            // `id:`, `retry:` and `:` comments (keep-alives) need nothing.
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_keep_alives_are_parsed() {
        let mut p = Parser::default();
        assert!(p.push(b":\n\nevent: res").is_empty());
        assert!(p.push(b"ult\nid: 7\ndata: {\"a\":").is_empty());
        let got = p.push(b"1}\r\n\r\nevent: lagged\ndata: {\"missed\":3}\n\n");
        assert_eq!(
            got,
            [
                ("result".to_owned(), "{\"a\":1}".to_owned()),
                ("lagged".to_owned(), "{\"missed\":3}".to_owned())
            ]
        );
    }

    #[test]
    fn a_result_line_names_the_agent_the_change_and_the_reasons() {
        let e = LiveEvent {
            kind: "result".into(),
            agent_id: "web-1".into(),
            at: "2026-12-05T10:00:00Z".into(),
            result: Some(42),
            outcome: Some("fail".into()),
            previous: Some("pass".into()),
            reasons: vec!["policy_violation: ssh open to 0.0.0.0/0".into()],
        };
        assert_eq!(
            line(&e),
            "2026-12-05T10:00:00Z  web-1  pass → fail  #42\n    policy_violation: ssh open to 0.0.0.0/0"
        );
    }
}
