//! Wiring of the verifier: TLS material → store → policy → scheduler → HTTPS API.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use palisade_cluster_policy::{library, Limits, Policy, PolicyError};
use palisade_transport::tls::{server_config, ClientAuth};
use tokio::net::TcpListener;

use crate::agents::AgentClients;
use crate::alerts::outbox::Webhook;
use crate::attest::Context;
use crate::audit::key::{KeyError, RecordKey};
use crate::config::{AlertConfig, Config};
use crate::metrics::Metrics;
use crate::roles::Role;
use crate::scheduler::{Cadence, Scheduler};
use crate::store::{Store, StoreError};
use crate::{api, pki};

/// What API handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Attestation context (store, policy, clients).
    pub ctx: Arc<Context>,
    /// The scheduler (for on-demand attestations).
    pub scheduler: Arc<Scheduler>,
    /// The configuration.
    pub config: Arc<Config>,
    /// The CA that issues API credentials.
    pub ca: Arc<palisade_transport::pki::PemPair>,
    /// Trusted EK CA certificates, when configured.
    pub ek: Option<Arc<crate::ek::EkTrust>>,
    /// Outstanding push challenges.
    pub push: Arc<crate::push::PushState>,
}

/// Why the verifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] palisade_transport::TlsError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The record-signing key.
    #[error(transparent)]
    RecordKey(#[from] KeyError),
    /// The cluster policy directory does not load.
    #[error("cluster policies: {0}")]
    ClusterPolicy(#[from] crate::cluster::LoadError),
    /// The cluster policy in force does not load.
    #[error("cluster policy: {0}")]
    ClusterPolicyInForce(#[from] crate::cluster::ChangeError),
    /// The EK CA directory is unusable.
    #[error("EK CA directory: {0}")]
    EkTrust(#[from] crate::ek::EkTrustError),
    /// Files or sockets.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A started verifier.
#[derive(Debug)]
pub struct Running {
    /// The bound API address.
    pub addr: SocketAddr,
    /// Shared state (tests and tools drive attestations through it).
    pub state: AppState,
}

/// Loads the node policy: every `.rego` file of `policy_dir`, or the shipped baseline.
pub fn load_policy(config: &Config) -> Result<Policy, StartError> {
    let Some(dir) = &config.policy_dir else {
        return Ok(library::foundation(config.policy_limits)?);
    };
    let io = |source| StartError::Io {
        what: format!("reading policies from {}", dir.display()),
        source,
    };
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "rego") {
            let source = std::fs::read_to_string(&path).map_err(io)?;
            modules.push((
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                source,
            ));
        }
    }
    let name = dir
        .file_name()
        .map_or_else(|| "custom".to_owned(), |n| n.to_string_lossy().into_owned());
    Ok(Policy::load(&name, 1, modules, config.policy_limits)?)
}

/// The webhook client and key for `alerts`.
fn webhook(alerts: &AlertConfig, material: &pki::Material) -> Result<Webhook, StartError> {
    let secret = crate::alerts::load_or_create_secret(&alerts.hmac_key_file).map_err(|source| {
        StartError::Io {
            what: format!("alert HMAC key {}", alerts.hmac_key_file.display()),
            source,
        }
    })?;
    let roots = match &alerts.ca {
        Some(path) => palisade_transport::pki::read_certs(path)?,
        None => material.ca.cert_der()?,
    };
    let client =
        palisade_transport::client::ca_client(&roots, None, std::time::Duration::from_secs(10))?;
    Ok(Webhook {
        url: alerts.webhook.clone(),
        secret,
        client,
    })
}

/// `policy` with the version the store gives it: a changed policy of the same name gets the
/// next version, one that ran before keeps its own (`store/policies.rs`).
async fn versioned(store: &Store, policy: Policy, limits: Limits) -> Result<Policy, StartError> {
    let r = policy.reference();
    let version = store.policy_version(&r.name, &r.hash, r.version).await?;
    if version == r.version {
        return Ok(policy);
    }
    let name = r.name.clone();
    Ok(Policy::load(
        &name,
        version,
        policy.modules().to_vec(),
        limits,
    )?)
}

/// Where the record-signing key lives.
pub fn records_key_path(state_dir: &std::path::Path) -> std::path::PathBuf {
    state_dir.join("records.key")
}

/// Starts the verifier: API on `config.listen`, scheduler running, until `shutdown`.
pub async fn start(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let material = pki::ensure(&config.state_dir, &config.tls_names)?;
    let ek = match &config.ek_ca_dir {
        Some(dir) => {
            let trust = crate::ek::EkTrust::load(dir)?;
            tracing::info!(dir = %dir.display(), "EK certificates are checked against this directory");
            Some(Arc::new(trust))
        }
        None => None,
    };
    let store = Store::open(&config.database)
        .await?
        .with_alerts(config.alerts.is_some());
    if let Some(alerts) = &config.alerts {
        let webhook = webhook(alerts, &material)?;
        tracing::info!(url = %webhook.url, "alerts are delivered to this webhook");
        tokio::spawn(crate::alerts::outbox::run(store.clone(), webhook));
    }
    let policy = Arc::new(versioned(&store, load_policy(&config)?, config.policy_limits).await?);
    tracing::info!(policy = %policy.reference().name, version = policy.reference().version,
        hash = %policy.reference().hash, "policy loaded");
    store
        .save_policy(policy.reference(), policy.modules())
        .await?;
    // The state directory's CLI certificate is the first admin (idempotent across restarts).
    let operator = palisade_transport::pki::certs_from_pem(
        &material.operator.cert,
        std::path::Path::new("tls/operator.crt"),
    )?;
    if let Some(der) = operator.first() {
        let fingerprint = palisade_transport::pki::fingerprint(der.as_ref());
        if store
            .add_credential("operator", Role::Admin, &fingerprint)
            .await?
        {
            tracing::info!(
                "the state directory's operator certificate is the admin credential \"operator\""
            );
        }
    }
    let records = Arc::new(RecordKey::load_or_create(&records_key_path(
        &config.state_dir,
    ))?);
    tracing::info!(key = %records.public_hex(), "durable records signed with this key");
    let exposures: Arc<crate::exposures::ExposureCache> = Arc::default();
    let live = crate::live::Live::default();
    let cluster = match &config.cluster_policy_dir {
        None => None,
        Some(dir) => {
            let from_dir = crate::cluster::load_dir(dir, config.policy_limits)?;
            let (set, versions) =
                crate::cluster::import(&store, &from_dir, config.policy_limits).await?;
            tracing::info!(
                ?versions,
                "cluster policy templates and constraints in force"
            );
            tracing::info!(dir = %dir.display(), constraints = set.constraints().len(), templates = set.templates().len(), "cluster policies loaded");
            let view = crate::cluster::ClusterView::start(
                set,
                config.policy_limits,
                exposures.clone(),
                live.clone(),
                store.clone(),
            )
            .map_err(|source| StartError::Io {
                what: "starting the cluster policy thread".into(),
                source,
            })?;
            let (restoring, from) = (view.clone(), store.clone());
            tokio::spawn(async move {
                match crate::cluster::restore(&from, &restoring).await {
                    Ok(n) => tracing::info!(nodes = n, "cluster view restored from stored results"),
                    Err(error) => tracing::error!(%error, "cluster view not restored"),
                }
            });
            Some(view)
        }
    };
    let host_logs = crate::host_logs::HostLogs::load(&config.host_logs, &store)
        .await
        .map_err(|e| StartError::Io {
            what: "loading IMA runtime policies".into(),
            source: std::io::Error::other(e),
        })?;
    let ctx = Arc::new(Context {
        host_logs: Arc::new(host_logs),
        store,
        policy,
        clients: AgentClients::new(material.client.clone(), config.quote_timeout),
        exposures,
        records,
        metrics: Metrics::default(),
        live,
        verdicts: Default::default(),
        cluster,
    });
    let scheduler = Scheduler::new(ctx.clone(), config.max_concurrency);
    let state = AppState {
        ctx,
        scheduler: scheduler.clone(),
        config: Arc::new(config.clone()),
        ca: Arc::new(material.ca.clone()),
        ek,
        push: Arc::default(),
    };
    let tls = server_config(
        &material.server,
        &ClientAuth::Optional(material.ca.cert_der()?),
    )?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Io {
            what: format!("binding {}", config.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Io {
        what: "local address".into(),
        source,
    })?;
    tokio::spawn(palisade_transport::server::serve(
        listener,
        tls,
        api::router(state.clone()),
        shutdown,
    ));
    tokio::spawn(scheduler.run(Cadence::new(config.interval, config.max_backoff)));
    tracing::info!(%addr, ca = %pki::ca_path(&config.state_dir).display(), "verifier listening");
    Ok(Running { addr, state })
}
