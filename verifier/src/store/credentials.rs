//! The credentials table: which client certificates carry which API role (`roles.rs`).

use sqlx::Row as _;

use super::{now, Store, StoreError};
use crate::roles::{Caller, Role};

/// One issued credential, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credential {
    /// Name (unique).
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the DER certificate, hex.
    pub fingerprint: String,
    /// When issued (RFC 3339).
    pub issued_at: String,
    /// When revoked, if it was.
    pub revoked_at: Option<String>,
}

impl Store {
    /// Records a credential; `false` if the name or fingerprint is already taken.
    pub async fn add_credential(
        &self,
        name: &str,
        role: Role,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO credentials (fingerprint, name, role, issued_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(fingerprint)
        .bind(name)
        .bind(role.as_str())
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The live (not revoked) credential with this certificate fingerprint.
    pub async fn credential(&self, fingerprint: &str) -> Result<Option<Caller>, StoreError> {
        let row = sqlx::query(
            "SELECT name, role FROM credentials WHERE fingerprint = $1 AND revoked_at IS NULL",
        )
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.try_get("role")?;
        Ok(Role::parse(&role).map(|role| Caller {
            name: row.try_get("name").unwrap_or_default(),
            role,
        }))
    }

    /// Every credential, revoked ones included, by name.
    pub async fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query("SELECT * FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Credential {
                    name: r.try_get("name")?,
                    role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
                        column: "role",
                        reason: role.clone(),
                    })?,
                    fingerprint: r.try_get("fingerprint")?,
                    issued_at: r.try_get("issued_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes the credential `name`; `false` if there is no live one by that name.
    pub async fn revoke_credential(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    testing::on_each_backend!(credentials_carry_roles_until_revoked_and_names_are_unique);

    async fn credentials_carry_roles_until_revoked_and_names_are_unique(db: &testing::Db) {
        let store = db.open().await;
        assert!(store
            .add_credential("alice", Role::Viewer, "f1")
            .await
            .unwrap());
        assert!(!store
            .add_credential("alice", Role::Admin, "f2")
            .await
            .unwrap());
        assert!(!store
            .add_credential("bob", Role::Admin, "f1")
            .await
            .unwrap());
        let alice = store.credential("f1").await.unwrap().unwrap();
        assert_eq!((alice.name.as_str(), alice.role), ("alice", Role::Viewer));
        assert_eq!(store.credential("f2").await.unwrap(), None);
        assert!(store.revoke_credential("alice").await.unwrap());
        assert!(!store.revoke_credential("alice").await.unwrap());
        assert_eq!(store.credential("f1").await.unwrap(), None);
        let listed = store.credentials().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].revoked_at.is_some());
    }
}
