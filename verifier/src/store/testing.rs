//! Test fixtures: a store in a temporary directory with a registered agent.

use std::collections::BTreeMap;

use super::{now, Outcome, RegisterRequest, ResultRecord, Store};

/// A registration for `id` labelled `role=web`.
pub(crate) fn request(id: &str, contact: &str) -> RegisterRequest {
    RegisterRequest {
        agent_id: id.into(),
        ek_public: vec![1, 2, 3],
        ek_certificate: None,
        ak_public: vec![4, 5, 6],
        contact: contact.into(),
        tls_certificate: "PEM".into(),
        pcr: 15,
        labels: [("role".to_owned(), "web".to_owned())].into(),
        push: false,
    }
}

/// A fresh SQLite store in `dir`.
pub(crate) async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&format!("sqlite://{}", dir.path().join("db").display()))
        .await
        .unwrap()
}

/// One test's database: a SQLite file in a temporary directory, or a fresh database on a
/// throwaway PostgreSQL server (`crate::testing::Postgres`).
#[derive(Debug)]
pub(crate) enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(crate::testing::Postgres, String),
}

impl Db {
    pub(crate) fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    /// Starts a server from the calling (test) thread; fails the test if PostgreSQL is absent.
    pub(crate) fn postgres() -> Self {
        let server = crate::testing::Postgres::start().unwrap();
        let url = server.create_database("palisade").unwrap();
        Self::Postgres(server, url)
    }

    /// Opens the store (again: every call is a new pool on the same data).
    pub(crate) async fn open(&self) -> Store {
        match self {
            Self::Sqlite(dir) => open(dir).await,
            Self::Postgres(server, url) => Store::open(url)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", server.log())),
        }
    }
}

/// Runs each named `async fn(&Db)` as two tests, `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(&$crate::store::testing::Db::sqlite()).await
            })+
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(&$crate::store::testing::Db::postgres()).await
            })+
        }
    };
}
pub(crate) use on_each_backend;

/// Registers `request` (pending, not yet activated).
pub(crate) async fn register(store: &Store, request: &RegisterRequest) {
    store
        .register(request, b"s", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
}

/// A result for `agent` without reasons, documents or policy.
pub(crate) fn result(agent: &str, outcome: Outcome) -> ResultRecord {
    ResultRecord {
        id: 0,
        agent_id: agent.into(),
        at: now(),
        outcome,
        reasons: Vec::new(),
        error: None,
        policy: None,
        duration_us: 1,
        documents: BTreeMap::new(),
        changes: None,
        events: None,
    }
}

/// `"<alertname> <status>"` of each queued alert, in order.
pub(crate) fn alert_names<'a>(
    alerts: impl IntoIterator<Item = &'a super::PendingAlert>,
) -> Vec<String> {
    alerts
        .into_iter()
        .map(|a| {
            let p: serde_json::Value = serde_json::from_str(&a.payload).unwrap();
            format!(
                "{} {}",
                p["alerts"][0]["labels"]["alertname"].as_str().unwrap(),
                p["status"].as_str().unwrap()
            )
        })
        .collect()
}
