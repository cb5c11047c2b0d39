//! Wiring of the agent: TPM → measurement state → change-event subscription → first measurement
//! → pull API → enrolment, until shutdown. Each measured object runs its own trigger loop
//! ([`crate::triggers`]): kernel change events measured within milliseconds, a slow periodic
//! poll as the safety net.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use palisade_evidence::wire::RegisterRequest;
use palisade_transport::pki::{self, PemPair};
use palisade_transport::tls::{server_config, ClientAuth};
use tokio::net::TcpListener;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::enrol::Enrolment;
use crate::events::EventLog;
use crate::measure::{annotations, MeasureError, Measurer};
use crate::network::{self, NetworkMeasureError};
use crate::nftables::{self, NftMeasureError};
use crate::push::Pusher;
use crate::runtime::{self, Object, OwnPrograms, Routes, RuntimeMeasureError};
use crate::store::LogStore;
use crate::tpm::esapi::{EsapiConfig, EsapiTpm};
use crate::tpm::{TpmError, TpmIdentity};
use crate::tpm_actor::TpmHandle;
use crate::triggers;

/// How long enrolment requests may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The TPM could not be opened or used.
    #[error(transparent)]
    Tpm(#[from] TpmError),
    /// The log or measurement failed at start-up.
    #[error(transparent)]
    Measure(#[from] MeasureError),
    /// TLS material could not be created or loaded.
    #[error(transparent)]
    Tls(#[from] palisade_transport::TlsError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ruleset could not be measured at start-up.
    #[error(transparent)]
    Nft(#[from] NftMeasureError),
    /// The network configuration could not be measured at start-up.
    #[error(transparent)]
    Network(#[from] NetworkMeasureError),
    /// The runtime inventory could not be measured at start-up.
    #[error(transparent)]
    Runtime(#[from] RuntimeMeasureError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AgentError {
    let what = what.into();
    move |source| AgentError::Io { what, source }
}

/// Runs the agent until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let esapi = EsapiConfig {
        tcti: config.tpm.tcti.clone(),
        ek_alg: config.tpm.ek_alg,
        ak_alg: config.tpm.ak_alg,
        state_dir: config.state_dir.join("tpm"),
    };
    let tpm = tokio::task::spawn_blocking(move || EsapiTpm::open(esapi))
        .await
        .map_err(|e| AgentError::Io {
            what: "opening the TPM".into(),
            source: std::io::Error::other(e),
        })??;
    let tpm = TpmHandle::spawn(Box::new(tpm))?;
    let identity = tpm.call(|t| t.identity()).await?;
    let ak_fingerprint = palisade_evidence::tpm::TpmPublic::parse(&identity.ak_public)
        .map(|p| p.fingerprint())
        .unwrap_or_default();
    let agent_id = config
        .agent_id
        .clone()
        .unwrap_or_else(|| default_agent_id(&identity));
    tracing::info!(%agent_id, %ak_fingerprint, pcr = config.pcr, "TPM ready");

    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map_err(io("reading the boot id"))?
        .trim()
        .to_owned();
    let store =
        LogStore::open(config.state_dir.join("measurements")).map_err(MeasureError::from)?;
    let measurer = Measurer::start(
        tpm.clone(),
        config.pcr,
        agent_id.clone(),
        store,
        boot_id,
        config.host_logs.clone(),
    )
    .await?;

    // The ruleset: subscribe to its changes first, so none falls between the first measurement
    // and the subscription; then measure it; then measure it again on every change.
    let (m, ns) = (measurer.clone(), config.netns.clone());
    let nft_triggers = triggers::spawn_measure_loop(
        "nftables",
        config.measure_interval,
        triggers::COALESCE_WINDOW,
        move |burst| nftables::on_burst(m.clone(), ns.clone(), burst),
    );
    if let Err(error) = nftables::spawn_event_source(&config.netns, nft_triggers.clone()) {
        tracing::warn!(%error, fallback_ms = config.measure_interval.as_millis(),
            "no nftables change events: changes are measured by the periodic poll only");
    }
    nftables::measure(&measurer, &config.netns, annotations("startup")).await?;

    // The network configuration, the same way, with its own loop and window.
    let mut net_loop = None;
    if config.network.enabled {
        let (m, ns) = (measurer.clone(), config.netns.clone());
        let attribution = if config.runtime.enabled && config.runtime.ebpf {
            triggers::ATTRIBUTION_GRACE
        } else {
            std::time::Duration::ZERO
        };
        let net_triggers = triggers::spawn_measure_loop(
            "network",
            config.measure_interval,
            triggers::Window {
                coalesce: config.network.coalesce,
                attribution,
            },
            move |burst| network::on_burst(m.clone(), ns.clone(), burst),
        );
        if let Err(error) = network::spawn_event_source(&config.netns, net_triggers.clone()) {
            tracing::warn!(%error, fallback_ms = config.measure_interval.as_millis(),
                "no rtnetlink change events: network changes are measured by the periodic poll only");
        }
        network::measure(&measurer, &config.netns, annotations("startup")).await?;
        net_loop = Some(net_triggers);
    }

    // The runtime inventory: one loop per object, the eBPF monitor feeding all of them (and
    // the ruleset's and network's loops, with writers rtnetlink does not name).
    let events = Arc::new(EventLog::new(config.runtime.event_buffer));
    if config.runtime.enabled {
        start_runtime(&config, &measurer, &events, nft_triggers, net_loop).await?;
    } else {
        events.set_monitor(Err("runtime measurement disabled by configuration".into()));
    }

    let tls = tls_identity(&config)?;
    let ca = pki::read_certs(&config.verifier.ca_cert)?;
    let server = server_config(&tls, &ClientAuth::Required(ca.clone()))?;
    let listener = TcpListener::bind(config.api.listen)
        .await
        .map_err(io(format!("binding {}", config.api.listen)))?;
    let state = ApiState {
        measurer: measurer.clone(),
        agent_id: agent_id.clone(),
        ak_fingerprint,
        events: events.clone(),
    };
    tokio::spawn(palisade_transport::server::serve(
        listener,
        server,
        api::router(state),
        shutdown_signal(),
    ));
    tracing::info!(listen = %config.api.listen, "serving the pull API");

    let enrolment = Enrolment {
        client: palisade_transport::client::ca_client(&ca, None, HTTP_TIMEOUT)?,
        verifier_url: config.verifier.url.clone(),
        request: RegisterRequest {
            agent_id,
            ek_public: identity.ek_public.clone(),
            ek_certificate: identity
                .ek_certificate
                .as_ref()
                .map(|der| base64::engine::general_purpose::STANDARD.encode(der)),
            ak_public: identity.ak_public.clone(),
            contact: config.api.contact.clone(),
            tls_certificate: tls.cert.clone(),
            pcr: config.pcr,
            labels: config.labels.clone(),
            push: config.verifier.push,
        },
    };
    let pusher = config.verifier.push.then(|| Pusher {
        client: enrolment.client.clone(),
        verifier_url: config.verifier.url.clone(),
        agent_id: enrolment.request.agent_id.clone(),
        measurer: measurer.clone(),
        events: events.clone(),
    });
    let enrol_tpm = tpm.clone();
    tokio::spawn(async move {
        if let Err(error) = enrolment.run(&enrol_tpm).await {
            tracing::error!(%error, "enrolment refused; the verifier will not attest this agent");
            return;
        }
        if let Some(pusher) = pusher {
            tracing::info!("push mode: sending evidence to the verifier");
            pusher.run().await;
        }
    });
    shutdown.await;
    tracing::info!("shutting down");
    Ok(())
}

/// Starts the runtime objects' loops and the eBPF monitor, then measures each object once.
async fn start_runtime(
    config: &Config,
    measurer: &Arc<Measurer>,
    events: &Arc<EventLog>,
    nftables: tokio::sync::mpsc::Sender<triggers::Trigger>,
    network: Option<tokio::sync::mpsc::Sender<triggers::Trigger>>,
) -> Result<(), AgentError> {
    let own = OwnPrograms::default();
    let spawn = |object: Object| {
        let (m, ns, own) = (measurer.clone(), config.netns.clone(), own.clone());
        triggers::spawn_measure_loop(
            object.kind(),
            config.measure_interval,
            config.runtime.coalesce,
            move |burst| runtime::on_burst(object, m.clone(), ns.clone(), own.clone(), burst),
        )
    };
    let lost = Arc::new(AtomicU64::new(0));
    let (m, total) = (measurer.clone(), lost.clone());
    let routes = Routes {
        bpf: spawn(Object::Bpf),
        sockets: spawn(Object::Sockets),
        kernel: spawn(Object::Kernel),
        network,
        nftables,
        loss: triggers::spawn_measure_loop(
            "event-loss",
            config.measure_interval,
            config.runtime.coalesce,
            move |burst| runtime::on_loss(m.clone(), total.clone(), burst),
        ),
    };
    let monitoring = if config.runtime.ebpf {
        runtime::spawn_monitor(
            &config.netns,
            config.runtime.ring_bytes,
            routes,
            events.clone(),
            own.clone(),
            lost,
        )
    } else {
        Err("eBPF monitoring disabled by configuration".to_owned())
    };
    match &monitoring {
        Ok(()) => {
            let doc = runtime::loss_document(0).map_err(RuntimeMeasureError::from)?;
            measurer
                .record(
                    palisade_evidence::log::kind::EVENT_LOSS,
                    runtime::LOSS_NAME,
                    doc,
                    annotations("startup"),
                )
                .await
                .map_err(RuntimeMeasureError::from)?;
        }
        Err(error) => {
            tracing::warn!(%error, fallback_ms = config.measure_interval.as_millis(),
                "no eBPF events: the runtime inventory is measured by the periodic poll only");
            events.set_monitor(Err(error.clone()));
        }
    }
    for object in Object::ALL {
        runtime::measure(
            object,
            measurer,
            &config.netns,
            &own,
            annotations("startup"),
        )
        .await?;
    }
    Ok(())
}

/// `agent-` + the first 16 hex digits of the EK fingerprint: stable for a TPM.
fn default_agent_id(identity: &TpmIdentity) -> String {
    let fp = palisade_evidence::Sha256Digest::of(&identity.ek_public).to_string();
    format!("agent-{}", fp.get(..16).unwrap_or(&fp))
}

/// The agent's self-signed server certificate, created on first start.
fn tls_identity(config: &Config) -> Result<PemPair, AgentError> {
    let dir = config.state_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    if let Some(pair) = PemPair::read(&dir, "agent")? {
        return Ok(pair);
    }
    let mut names: Vec<String> = config.contact_host().into_iter().collect();
    names.extend(config.api.tls_names.iter().cloned());
    let pair = pki::self_signed_server("palisade-agent", &names)?;
    pair.write(&dir, "agent")?;
    Ok(pair)
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
