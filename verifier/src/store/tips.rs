//! What the store remembers of each agent's latest stored result (its record-chain head and its
//! latest verified documents), so that a steady-state attestation does not read them back.
//!
//! A tip is trusted only when the caller shows it is current: the agent row read at the start of
//! the attestation names the same `last_result_id` (every stored result updates that column in
//! its own transaction, and result ids are never reused). Anything else — another verifier on
//! the same PostgreSQL, a removed and re-enrolled agent, a commit whose outcome is unknown —
//! makes the ids differ, and the store reads the database as it would without tips.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The latest verified result of an agent: its id and the digests of the documents it judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousVerified {
    /// Result id.
    pub id: i64,
    /// Document digests by `kind/name`.
    pub documents: BTreeMap<String, String>,
}

/// An agent's latest stored result as this process stored it.
#[derive(Debug, Clone)]
pub(super) struct Tip {
    /// The result (what `agents.last_result_id` holds after it was stored).
    pub result_id: i64,
    /// Its durable record: sequence number and hash (the next record's `prev`).
    pub seq: i64,
    pub hash: String,
    /// The agent's latest verified result (this one or an earlier one); `None`: it has none.
    pub verified: Option<Arc<PreviousVerified>>,
}

/// Tips by agent id.
#[derive(Debug, Default)]
pub(super) struct Tips(Mutex<HashMap<String, Tip>>);

impl Tips {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Tip>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The agent's tip if it is current: its result is `last_result_id`.
    pub fn current(&self, agent_id: &str, last_result_id: Option<i64>) -> Option<Tip> {
        let last = last_result_id?;
        self.map()
            .get(agent_id)
            .filter(|tip| tip.result_id == last)
            .cloned()
    }

    /// Remembers `tip` as the agent's latest.
    pub fn set(&self, agent_id: &str, tip: Tip) {
        self.map().insert(agent_id.to_owned(), tip);
    }

    /// Forgets the agent's tip (its latest verified result is not known).
    pub fn forget(&self, agent_id: &str) {
        self.map().remove(agent_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(result_id: i64) -> Tip {
        Tip {
            result_id,
            seq: 1,
            hash: "h".into(),
            verified: None,
        }
    }

    #[test]
    fn tip_is_trusted_only_for_the_result_the_agent_row_names() {
        let tips = Tips::default();
        tips.set("a1", tip(7));
        assert!(tips.current("a1", Some(7)).is_some());
        assert!(tips.current("a1", Some(8)).is_none(), "a newer result");
        assert!(tips.current("a1", None).is_none(), "no result in the row");
        assert!(tips.current("a2", Some(7)).is_none(), "another agent");
        tips.forget("a1");
        assert!(tips.current("a1", Some(7)).is_none());
    }
}
