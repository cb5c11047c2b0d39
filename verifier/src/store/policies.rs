//! Named, versioned node policies: every policy the verifier ever ran, by hash (the durable
//! records name them), with a version that increases whenever a policy of the same name changes.

use palisade_cluster_policy::PolicyRef;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use sqlx::Row as _;

use super::{Store, StoreError};

/// One stored policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// Name.
    pub name: String,
    /// Version (per name, increasing).
    pub version: u32,
    /// SHA-256 over its modules.
    pub hash: String,
    /// When the verifier first ran it.
    pub added_at: String,
}

impl Store {
    /// Stores a policy's files (path, content) under the hash of all of them, as version
    /// `proposed` or the next of its name if it changed (`policy_version`); its reference.
    pub async fn record_policy(
        &self,
        name: &str,
        proposed: u32,
        modules: &[(String, String)],
    ) -> Result<PolicyRef, StoreError> {
        let mut hasher = sha2::Sha256::new();
        for (path, source) in modules {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update(source.as_bytes());
            hasher.update([0]);
        }
        let hash = hex::encode(hasher.finalize());
        let version = self.policy_version(name, &hash, proposed).await?;
        let reference = PolicyRef {
            name: name.to_owned(),
            version,
            hash,
        };
        self.save_policy(&reference, modules).await?;
        Ok(reference)
    }

    /// The version a policy `name` with modules hashing to `hash` gets: its stored version if
    /// it ran before, else one more than the newest of that name, and at least `proposed`.
    pub async fn policy_version(
        &self,
        name: &str,
        hash: &str,
        proposed: u32,
    ) -> Result<u32, StoreError> {
        let known: Option<i64> = sqlx::query_scalar("SELECT version FROM policies WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(v) = known {
            return to_version(v);
        }
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM policies WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(match newest {
            Some(v) => to_version(v)?.saturating_add(1).max(proposed),
            None => proposed,
        })
    }

    /// Every stored policy version, by name then version.
    pub async fn policies(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, version, hash, added_at FROM policies ORDER BY name, version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PolicyVersion {
                    name: r.try_get("name")?,
                    version: to_version(r.try_get("version")?)?,
                    hash: r.try_get("hash")?,
                    added_at: r.try_get("added_at")?,
                })
            })
            .collect()
    }
}

fn to_version(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|e| StoreError::Corrupt {
        column: "policies.version",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use palisade_cluster_policy::PolicyRef;

    use super::super::testing;

    fn policy(name: &str, version: u32, hash: &str) -> PolicyRef {
        PolicyRef {
            name: name.into(),
            version,
            hash: hash.into(),
        }
    }

    testing::on_each_backend!(a_changed_policy_gets_the_next_version_and_a_known_one_keeps_its_own);

    async fn a_changed_policy_gets_the_next_version_and_a_known_one_keeps_its_own(
        db: &testing::Db,
    ) {
        let store = db.open().await;
        assert_eq!(store.policy_version("p", "h1", 1).await.unwrap(), 1);
        store.save_policy(&policy("p", 1, "h1"), &[]).await.unwrap();
        assert_eq!(store.policy_version("p", "h1", 1).await.unwrap(), 1);
        assert_eq!(store.policy_version("p", "h2", 1).await.unwrap(), 2);
        store.save_policy(&policy("p", 2, "h2"), &[]).await.unwrap();
        // Going back to an earlier policy is that earlier version, not a new one.
        assert_eq!(store.policy_version("p", "h1", 1).await.unwrap(), 1);
        // A shipped policy's own version is a floor.
        assert_eq!(store.policy_version("p", "h3", 7).await.unwrap(), 7);
        assert_eq!(store.policy_version("q", "h4", 1).await.unwrap(), 1);
        let listed = store.policies().await.unwrap();
        let versions: Vec<(String, u32)> =
            listed.iter().map(|p| (p.name.clone(), p.version)).collect();
        assert_eq!(versions, [("p".to_owned(), 1), ("p".to_owned(), 2)]);
    }
}
