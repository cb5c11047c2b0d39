//! Which version of each cluster policy object (`template/<name>`, `constraints`) is in force,
//! and who put it there: the policy directory at start, or an administrator through the API.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::{now, Store, StoreError};

/// Who made a cluster policy object current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The cluster policy directory (or the shipped library), imported at start.
    Dir,
    /// An administrator, through `PUT /v1/cluster/...`.
    Api,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Dir => "dir",
            Self::Api => "api",
        }
    }
}

/// One object in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveObject {
    /// `template/<name>` or `constraints`.
    pub name: String,
    /// The stored version in force (`policies.hash`).
    pub hash: String,
    /// Who made it current.
    pub source: Source,
    /// The hash the directory had for it at its last import (`None`: never in the directory).
    pub dir_hash: Option<String>,
    /// When it became current (RFC 3339).
    pub changed_at: String,
}

impl Store {
    /// Every cluster policy object in force, by name.
    pub async fn cluster_policy(&self) -> Result<Vec<ActiveObject>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, hash, source, dir_hash, changed_at FROM cluster_policy ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let source: String = r.try_get("source")?;
                Ok(ActiveObject {
                    name: r.try_get("name")?,
                    hash: r.try_get("hash")?,
                    source: match source.as_str() {
                        "dir" => Source::Dir,
                        "api" => Source::Api,
                        other => {
                            return Err(StoreError::Corrupt {
                                column: "cluster_policy.source",
                                reason: format!("unknown source {other:?}"),
                            })
                        }
                    },
                    dir_hash: r.try_get("dir_hash")?,
                    changed_at: r.try_get("changed_at")?,
                })
            })
            .collect()
    }

    /// Makes the stored version `hash` of `name` current. `dir_hash`: the directory's hash
    /// for it when the directory made it current; an API change keeps the one recorded.
    pub async fn activate_cluster_policy(
        &self,
        name: &str,
        hash: &str,
        source: Source,
        dir_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cluster_policy (name, hash, source, dir_hash, changed_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET hash = $2, source = $3,
                    dir_hash = COALESCE($4, cluster_policy.dir_hash), changed_at = $5",
        )
        .bind(name)
        .bind(hash)
        .bind(source.as_str())
        .bind(dir_hash)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// `name` is no longer in force (a template the directory dropped).
    pub async fn deactivate_cluster_policy(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cluster_policy WHERE name = $1")
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::Source;

    testing::on_each_backend!(
        an_api_change_keeps_the_directory_hash_and_a_directory_import_sets_it
    );

    async fn an_api_change_keeps_the_directory_hash_and_a_directory_import_sets_it(
        db: &testing::Db,
    ) {
        let store = db.open().await;
        assert!(store.cluster_policy().await.unwrap().is_empty());
        store
            .activate_cluster_policy("constraints", "h1", Source::Dir, Some("h1"))
            .await
            .unwrap();
        store
            .activate_cluster_policy("constraints", "h2", Source::Api, None)
            .await
            .unwrap();
        let active = store.cluster_policy().await.unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(
            (
                active[0].hash.as_str(),
                active[0].source,
                active[0].dir_hash.as_deref()
            ),
            ("h2", Source::Api, Some("h1"))
        );
        store
            .activate_cluster_policy("constraints", "h3", Source::Dir, Some("h3"))
            .await
            .unwrap();
        let active = store.cluster_policy().await.unwrap();
        assert_eq!(active[0].dir_hash.as_deref(), Some("h3"));
        store
            .deactivate_cluster_policy("constraints")
            .await
            .unwrap();
        assert!(store.cluster_policy().await.unwrap().is_empty());
    }
}
