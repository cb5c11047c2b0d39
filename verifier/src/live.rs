//! The live stream for watchers (`GET /v1/events`, server-sent events, `palisade watch`): every
//! stored result, enrolment and removal as it happens. Best effort by design — a watcher that
//! falls behind is told how many events it missed; the durable history is the store (results,
//! records) and the alert outbox, never this stream.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::store::ResultRecord;

/// Events a slow watcher may fall behind by before it is told it lagged.
const CAPACITY: usize = 4096;

/// One event on the stream (`data:` of an SSE event whose `event:` is `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// `result`, `enrolled`, `approved` (released by an operator), `removed`, `missed` (a
    /// push-mode agent's evidence is overdue), `violation` or `violation_cleared` (a cluster
    /// policy finding naming the agent).
    pub kind: String,
    /// The agent.
    pub agent_id: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// For `result`: the stored result's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
    /// For `result`: `pass`, `fail` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// For `result`: the agent's outcome before this one (`pending` before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// For `result`: one line per reason (`code: message`), or the error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl LiveEvent {
    /// The event for a stored result of an agent whose outcome was `previous`.
    pub fn result(result: &ResultRecord, previous: &str) -> Self {
        let mut reasons: Vec<String> = result.reasons.iter().map(ToString::to_string).collect();
        reasons.extend(result.error.clone());
        Self {
            kind: "result".into(),
            agent_id: result.agent_id.clone(),
            at: result.at.clone(),
            result: Some(result.id),
            outcome: Some(result.outcome.as_str().into()),
            previous: Some(previous.into()),
            reasons,
        }
    }

    /// A cluster-policy finding naming `agent_id` that appeared (`violation`) or cleared
    /// (`violation_cleared`); `reasons` holds `constraint: message`.
    pub fn cluster(kind: &str, agent_id: &str, finding: &palisade_cluster_policy::Finding) -> Self {
        Self {
            reasons: vec![format!("{}: {}", finding.constraint, finding.message)],
            ..Self::membership(kind, agent_id)
        }
    }

    /// An enrolment (`enrolled`) or removal (`removed`) of `agent_id`.
    pub fn membership(kind: &str, agent_id: &str) -> Self {
        Self {
            kind: kind.into(),
            agent_id: agent_id.into(),
            at: crate::store::now(),
            result: None,
            outcome: None,
            previous: None,
            reasons: Vec::new(),
        }
    }
}

/// The broadcast behind the stream.
#[derive(Debug, Clone)]
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Live {
    /// Sends `event` to every current watcher (none: dropped).
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.tx.send(event);
    }

    /// The SSE response for one watcher, optionally only for `agent`.
    pub fn sse(
        &self,
        agent: Option<String>,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let stream = futures_util::stream::unfold(self.watch(agent), |mut w| async move {
            let event = match w.next().await? {
                Next::Event(e) => sse_event(&e),
                Next::Lagged(missed) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
            };
            Some((Ok(event), w))
        });
        Sse::new(stream).keep_alive(KeepAlive::default())
    }

    fn watch(&self, agent: Option<String>) -> Watcher {
        Watcher {
            rx: self.tx.subscribe(),
            agent,
        }
    }
}

/// One watcher's subscription.
struct Watcher {
    rx: broadcast::Receiver<LiveEvent>,
    agent: Option<String>,
}

#[derive(Debug, PartialEq)]
enum Next {
    Event(LiveEvent),
    Lagged(u64),
}

impl Watcher {
    /// The next event for this watcher (`None`: the verifier is shutting down).
    async fn next(&mut self) -> Option<Next> {
        loop {
            match self.rx.recv().await {
                Ok(e) if self.agent.as_ref().is_some_and(|a| *a != e.agent_id) => continue,
                Ok(e) => return Some(Next::Event(e)),
                Err(RecvError::Lagged(missed)) => return Some(Next::Lagged(missed)),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn sse_event(e: &LiveEvent) -> Event {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    let event = Event::default().event(&e.kind).data(data);
    match e.result {
        Some(id) => event.id(id.to_string()),
        None => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{testing, Outcome};

    #[tokio::test]
    async fn watchers_get_events_for_their_agent_in_order() {
        let live = Live::default();
        let mut all = live.watch(None);
        let mut a2 = live.watch(Some("a2".into()));
        let mut r = testing::result("a1", Outcome::Fail);
        r.id = 7;
        r.error = Some("unreachable".into());
        live.publish(LiveEvent::result(&r, "pass"));
        live.publish(LiveEvent::membership("enrolled", "a2"));
        let Some(Next::Event(first)) = all.next().await else {
            panic!("no event")
        };
        assert_eq!(
            (
                first.result,
                first.outcome.as_deref(),
                first.previous.as_deref()
            ),
            (Some(7), Some("fail"), Some("pass"))
        );
        assert_eq!(first.reasons, ["unreachable"]);
        let Some(Next::Event(second)) = all.next().await else {
            panic!("no second event")
        };
        assert_eq!(second.kind, "enrolled");
        let Some(Next::Event(only)) = a2.next().await else {
            panic!("no event for a2")
        };
        assert_eq!(
            (only.kind.as_str(), only.agent_id.as_str()),
            ("enrolled", "a2")
        );
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_told_how_many_events_it_missed() {
        let live = Live::default();
        let mut slow = live.watch(None);
        for i in 0..CAPACITY + 10 {
            live.publish(LiveEvent::membership("enrolled", &format!("a{i}")));
        }
        assert_eq!(slow.next().await, Some(Next::Lagged(10)));
        let Some(Next::Event(e)) = slow.next().await else {
            panic!("no event after the lag")
        };
        assert_eq!(e.agent_id, "a10");
    }

    #[tokio::test]
    async fn a_watcher_ends_when_the_verifier_drops_the_stream() {
        let live = Live::default();
        let mut w = live.watch(None);
        drop(live);
        assert_eq!(w.next().await, None);
    }
}
