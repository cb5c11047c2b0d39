//! Liveness of push-mode agents: marking one `missed` (once, with its alert in the same
//! transaction); the next stored result clears it (`Store::record`).

use super::{now, Store, StoreError};
use crate::alerts;

impl Store {
    /// Marks push-mode agent `id` missed unless it already is (or is gone, or pulled): whether
    /// it changed. The `missed` alert is queued in the same transaction.
    pub async fn mark_missed(&self, id: &str) -> Result<bool, StoreError> {
        let at = now();
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE agents SET missed_at = $2
             WHERE id = $1 AND push = 1 AND status = 'active' AND missed_at IS NULL",
        )
        .bind(id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let changed = done.rows_affected() == 1;
        if changed && self.alerts {
            let labels: Option<String> =
                sqlx::query_scalar("SELECT labels FROM agents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let labels = labels
                .and_then(|l| serde_json::from_str(&l).ok())
                .unwrap_or_default();
            let subject = alerts::Subject {
                agent: id,
                labels: &labels,
                at: &at,
                result_id: None,
                reasons: &[],
                error: Some("no evidence within the liveness window"),
                changes: None,
            };
            let payload = alerts::payload(alerts::Change::Missed, &subject);
            super::outbox::enqueue(&mut tx, id, &at, &payload).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{testing, Outcome, Seal, Store};

    async fn enrolled(store: &Store, id: &str, push: bool) {
        let mut request = testing::request(id, "");
        request.push = push;
        testing::register(store, &request).await;
        let pending = store.pending(id).await.unwrap().unwrap();
        store
            .activate(&pending, "unverified: test", None, false)
            .await
            .unwrap();
    }

    testing::on_each_backend!(
        a_silent_push_agent_is_missed_once_and_its_next_result_clears_it_with_alerts
    );

    async fn a_silent_push_agent_is_missed_once_and_its_next_result_clears_it_with_alerts(
        db: &testing::Db,
    ) {
        let store = db.open().await.with_alerts(true);
        enrolled(&store, "p1", true).await;
        enrolled(&store, "q1", false).await;
        assert!(store.mark_missed("p1").await.unwrap());
        assert!(!store.mark_missed("p1").await.unwrap(), "missed twice");
        assert!(
            !store.mark_missed("q1").await.unwrap(),
            "a pull agent was missed"
        );
        assert_eq!(store.agent("p1").await.unwrap().unwrap().state(), "missed");
        let states = store.agent_states().await.unwrap();
        assert!(states.contains(&("missed".to_owned(), 1)), "{states:?}");
        let result = testing::result("p1", Outcome::Pass);
        store
            .record(&result, &BTreeMap::new(), None, &Seal::for_tests())
            .await
            .unwrap();
        let agent = store.agent("p1").await.unwrap().unwrap();
        assert_eq!(agent.state(), "pass");
        assert_eq!(agent.missed_at, None);
        let due = store.due_alerts(10).await.unwrap();
        assert_eq!(
            testing::alert_names(due.iter().filter(|a| a.agent_id == "p1")),
            [
                "PalisadeAgentEnrolled firing",
                "PalisadeAgentMissed firing",
                "PalisadeAgentMissed resolved"
            ]
        );
    }
}
