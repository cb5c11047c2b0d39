//! TEST-ONLY simulated agents for the load harness: one HTTPS listener serving
//! `/sim/{id}/v1/quote` for N software hosts (`palisade_evidence::testing::SoftHost`), each with
//! its boot binding and a CIS-style ruleset measured. Every agent shares one TLS certificate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use palisade_evidence::log::kind;
use palisade_evidence::testing::SoftHost;
use palisade_evidence::wire::{QuoteQuery, QuoteRequest};
use palisade_transport::pki::PemPair;
use palisade_transport::tls::{server_config, ClientAuth};

/// The simulated agents' dedicated PCR.
pub const PCR: u8 = 15;

/// The ruleset every simulated host measures: the CIS baseline without its one public admin
/// address (so the foundation policy passes).
const RULESET: &str = include_str!("../../../firewall/testdata/canonical/cis-baseline.json");

/// Agent `i`'s identifier.
pub fn agent_id(i: usize) -> String {
    format!("sim-{i:05}")
}

type Hosts = Arc<HashMap<String, Mutex<SoftHost>>>;

/// `agents N PORT DIR`: serves N agents until killed.
pub fn serve(args: &[String]) -> anyhow::Result<()> {
    let n: usize = args.first().context("agents N PORT DIR")?.parse()?;
    let port: u16 = args.get(1).context("PORT")?.parse()?;
    let dir = Path::new(args.get(2).context("DIR")?);
    let ruleset: serde_json::Value = serde_json::from_str(
        &RULESET
            .replace("\"203.0.113.7\",", "")
            .replace("2001:db8:100::", "fd00:100::"),
    )?;
    let hosts: Hosts = Arc::new(
        (0..n)
            .map(|i| {
                let mut host = SoftHost::new(&agent_id(i), i as u64, PCR);
                host.measure(kind::NFTABLES, "host", &ruleset);
                (agent_id(i), Mutex::new(host))
            })
            .collect(),
    );
    let identity = PemPair::read(dir, "server")?.context("server identity")?;
    let ca = PemPair::read(dir, "ca")?.context("CA")?;
    let tls = server_config(&identity, &ClientAuth::Optional(ca.cert_der()?))?;
    let router = Router::new()
        .route("/sim/{id}/v1/quote", get(quote))
        .with_state(hosts);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            palisade_transport::server::serve(listener, tls, router, std::future::pending()).await;
            Ok(())
        })
}

async fn quote(
    State(hosts): State<Hosts>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<QuoteQuery>,
) -> Response {
    let Ok(request) = QuoteRequest::parse(&q) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(host) = hosts.get(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let evidence = {
        let mut host = host
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The TPM clock advances between quotes, as a real one does.
        host.tpm.clock.clock += 1;
        host.evidence(&request.nonce, request.log_offset)
    };
    Json(evidence).into_response()
}
