//! Operator changes to an agent's labels (which select it in cluster policies), applied in one
//! transaction so two concurrent edits cannot lose each other's keys.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::{corrupt, json, Store, StoreError};

impl Store {
    /// Sets the keys of `set` and removes those of `remove` on agent `id`'s labels; `check`
    /// vets the resulting map first (`Err`: nothing is written). `None`: no such agent.
    pub async fn update_labels<E>(
        &self,
        id: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
        check: impl FnOnce(&BTreeMap<String, String>) -> Result<(), E>,
    ) -> Result<Option<Result<BTreeMap<String, String>, E>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let Some(row) = sqlx::query("SELECT labels FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let stored: String = row.try_get("labels")?;
        let mut labels: BTreeMap<String, String> =
            serde_json::from_str(&stored).map_err(corrupt("labels"))?;
        for key in remove {
            labels.remove(key);
        }
        labels.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Err(e) = check(&labels) {
            return Ok(Some(Err(e)));
        }
        sqlx::query("UPDATE agents SET labels = $2 WHERE id = $1")
            .bind(id)
            .bind(json(&labels))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Ok(labels)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;

    testing::on_each_backend!(labels_are_merged_removed_and_a_refused_change_writes_nothing);

    async fn labels_are_merged_removed_and_a_refused_change_writes_nothing(db: &testing::Db) {
        let store = db.open().await;
        testing::register(&store, &testing::request("a1", "https://x")).await;
        let set = [("zone".to_owned(), "dmz".to_owned())].into();
        let ok = |_: &_| Ok::<(), String>(());
        let labels = store.update_labels("a1", &set, &[], ok).await.unwrap();
        let expected = [("role", "web"), ("zone", "dmz")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(labels, Some(Ok(expected)));
        let refuse = |_: &_| Err("no".to_owned());
        let refused = store
            .update_labels("a1", &set, &["role".into()], refuse)
            .await
            .unwrap();
        assert_eq!(refused, Some(Err("no".to_owned())));
        let agent = store.agent("a1").await.unwrap().unwrap();
        assert_eq!(agent.labels.len(), 2, "a refused change was written");
        let removed = store
            .update_labels("a1", &Default::default(), &["role".into()], ok)
            .await
            .unwrap();
        assert_eq!(removed.unwrap().unwrap().len(), 1);
        assert!(store
            .update_labels("nobody", &set, &[], ok)
            .await
            .unwrap()
            .is_none());
    }
}
