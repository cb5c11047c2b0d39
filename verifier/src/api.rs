//! The verifier's HTTP API: registrar routes (anonymous: agents have no client certificate yet)
//! and operator routes (client certificate from the verifier's CA required).

use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::AppState;

mod approvals;
mod cluster;
mod credentials;
mod openapi;
mod policies;
use crate::attest::MAX_EVIDENCE_BYTES;
use crate::error::ApiError;
use crate::live::LiveEvent;
use crate::push;
use crate::registrar;
use crate::roles::{Admin, Operator, Viewer};
use crate::store::{AgentRecord, ResultRecord};

/// Largest request body (registrations carry two public keys and a certificate).
const MAX_BODY: usize = 64 * 1024;

/// Largest template or constraint set (Rego modules are source text).
const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/agents", post(registrar::register).get(list))
        .route("/v1/agents/{id}", get(show).delete(remove))
        .route("/v1/agents/{id}/activate", post(registrar::activate))
        .route("/v1/agents/{id}/attestations", post(push::challenge))
        .route(
            "/v1/agents/{id}/attestations/latest",
            patch(push::evidence).layer(DefaultBodyLimit::max(MAX_EVIDENCE_BYTES)),
        )
        .route("/v1/agents/{id}/labels", patch(labels))
        .route("/v1/agents/{id}/results", get(results))
        .route("/v1/agents/{id}/results/{result}", get(result))
        .route("/v1/agents/{id}/results/{result}/ear", get(ear))
        .route("/v1/documents/{digest}", get(document))
        .route("/v1/agents/{id}/attest", post(attest_now))
        .route("/v1/audit/records", get(audit_records))
        .route("/v1/audit/key", get(audit_key))
        .route("/v1/events", get(events))
        .route(
            "/v1/credentials",
            get(credentials::list).post(credentials::issue),
        )
        .route("/v1/credentials/{name}", delete(credentials::revoke))
        .route(
            "/v1/approvals",
            post(approvals::approve).get(approvals::list),
        )
        .route("/v1/cluster/report", get(cluster::report))
        .route("/v1/cluster/nodes/{id}", get(cluster::node))
        .route("/v1/cluster/policy", get(cluster::in_force))
        .route(
            "/v1/cluster/templates/{name}",
            put(cluster::put_template).layer(DefaultBodyLimit::max(MAX_POLICY_BYTES)),
        )
        .route(
            "/v1/cluster/constraints",
            put(cluster::put_constraints).layer(DefaultBodyLimit::max(MAX_POLICY_BYTES)),
        )
        .route("/v1/policies", get(policies::list))
        .route("/v1/policies/{hash}", get(policies::show))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::BadRequest("method not allowed on this endpoint".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// One line of `GET /v1/agents`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AgentSummary {
    /// Identifier.
    pub id: String,
    /// `registered` or `active`.
    pub status: String,
    /// `pending`, `pass`, `fail` or `error`.
    pub last_outcome: String,
    /// `registered`, `awaiting_approval`, `missed` (a push-mode agent's evidence is overdue),
    /// else `last_outcome`.
    #[serde(default)]
    pub state: String,
    /// Push mode (the agent sends its evidence).
    #[serde(default)]
    pub push: bool,
    /// Pull API URL.
    pub contact: String,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

async fn list(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Vec<AgentSummary>>, ApiError> {
    let agents = app.ctx.store.agents().await?;
    Ok(Json(agents.into_iter().map(summary).collect()))
}

fn summary(a: AgentRecord) -> AgentSummary {
    let status = serde_json::to_value(a.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    AgentSummary {
        state: a.state().to_owned(),
        push: a.push,
        id: a.id,
        status,
        last_outcome: a.last_outcome,
        contact: a.contact,
        labels: a.labels,
    }
}

async fn agent(
    app: &AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<AgentRecord, ApiError> {
    let Path(id) = id?;
    app.ctx
        .store
        .agent(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {id}")))
}

async fn show(
    _caller: Viewer,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let a = agent(&app, id).await?;
    let latest = app.ctx.store.results(&a.id, 1).await?.into_iter().next();
    let fingerprint = |public: &[u8]| {
        palisade_evidence::tpm::TpmPublic::parse(public)
            .map(|k| k.fingerprint())
            .unwrap_or_default()
    };
    let ak = fingerprint(&a.ak_public);
    let ek = fingerprint(&a.ek_public);
    let log_offset = a.state.log_offset();
    let summary = |c: &Option<palisade_evidence::verify::HostLogCheckpoint>| {
        c.as_ref().map_or(Value::Null, |c| c.summary.clone())
    };
    let host_logs = json!({ "boot": summary(&a.state.boot), "ima": summary(&a.state.ima) });
    let mut agent = json!(a);
    if let Some(fields) = agent.as_object_mut() {
        fields.insert("state".into(), a.state().into());
    }
    Ok(Json(
        json!({ "agent": agent, "ak_fingerprint": ak, "ek_fingerprint": ek, "log_entries_verified": log_offset, "host_logs": host_logs, "latest": latest }),
    ))
}

#[derive(Debug, Deserialize)]
struct Limit {
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    20
}

async fn results(
    _caller: Viewer,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<Limit>, QueryRejection>,
) -> Result<Json<Vec<ResultRecord>>, ApiError> {
    let Query(q) = q?;
    if q.limit == 0 || q.limit > 1000 {
        return Err(ApiError::BadRequest("limit must be 1-1000".into()));
    }
    let a = agent(&app, id).await?;
    Ok(Json(app.ctx.store.results(&a.id, q.limit).await?))
}

async fn result(
    _caller: Viewer,
    State(app): State<AppState>,
    ids: Result<Path<(String, i64)>, PathRejection>,
) -> Result<Json<ResultRecord>, ApiError> {
    let Path((id, result)) = ids?;
    app.ctx
        .store
        .result(&id, result)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no result {result} for agent {id}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EarQuery {
    /// `jwt` (default: signed, `application/eat+jwt`) or `json` (the claims, unsigned).
    #[serde(default)]
    format: Option<String>,
}

/// One stored result as an EAR (`ear.rs`): `{result}` is a result id or `latest`.
async fn ear(
    _caller: Viewer,
    State(app): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<EarQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let Path((id, which)) = ids?;
    let Query(query) = query?;
    let asked = match which.as_str() {
        "latest" => None,
        n => Some(n.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!("result must be a result id or latest, not {n:?}"))
        })?),
    };
    // Read together with the answer, so that `latest` names the result the findings go with.
    let latest = app.ctx.store.results(&id, 1).await?.into_iter().next();
    let record = match asked {
        None => latest.clone(),
        Some(result) => app.ctx.store.result(&id, result).await?,
    }
    .ok_or_else(|| match asked {
        Some(result) => ApiError::NotFound(format!("no result {result} for agent {id}")),
        None => ApiError::NotFound(format!("agent {id} has no result")),
    })?;
    let ek_verified = app
        .ctx
        .store
        .agent(&id)
        .await?
        .is_some_and(|a| a.ek_status.starts_with(crate::ek::VERIFIED));
    // Cluster findings are the fleet's state now: they belong to the latest result only.
    let cluster = match (&app.ctx.cluster, latest.map(|r| r.id) == Some(record.id)) {
        (Some(view), true) => view
            .node(&id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map(|(_, findings)| findings),
        _ => None,
    };
    let claims = crate::ear::claims(&record, ek_verified, cluster.as_deref());
    match query.format.as_deref() {
        None | Some("jwt") => {
            let token = crate::ear::jwt(&claims, &app.ctx.records);
            let content_type = [(axum::http::header::CONTENT_TYPE, crate::ear::MEDIA_TYPE)];
            Ok((content_type, token).into_response())
        }
        Some("json") => Ok(Json(claims).into_response()),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format must be jwt or json, not {other:?}"
        ))),
    }
}

/// A verified document exactly as stored (canonical JSON).
async fn document(
    _caller: Viewer,
    State(app): State<AppState>,
    digest: Result<Path<String>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let Path(digest) = digest?;
    if digest.parse::<palisade_evidence::Sha256Digest>().is_err() {
        return Err(ApiError::BadRequest(
            "a document is named by its SHA-256 digest in lowercase hex".into(),
        ));
    }
    let bytes = app
        .ctx
        .store
        .document(&digest)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no document {digest}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response())
}

async fn attest_now(
    _caller: Operator,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ResultRecord>, ApiError> {
    let a = agent(&app, id).await?;
    if !a.monitored() {
        return Err(ApiError::Conflict(format!(
            "agent {} is not monitored (state {})",
            a.id,
            a.state()
        )));
    }
    Ok(Json(app.scheduler.attest_now(&a.id).await?))
}

async fn remove(
    _caller: Admin,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let a = agent(&app, id).await?;
    app.ctx.store.remove(&a.id).await?;
    tracing::info!(agent_id = %a.id, "agent removed");
    app.ctx
        .live
        .publish(LiveEvent::membership("removed", &a.id));
    app.ctx.verdicts.forget(&a.id);
    if let Some(view) = &app.ctx.cluster {
        view.remove(&a.id);
    }
    Ok(Json(json!({ "agent_id": a.id, "removed": true })))
}

/// `PATCH /v1/agents/{id}/labels`: keys to set and keys to remove. A re-enrolment replaces
/// the labels with the agent's configured ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelChange {
    #[serde(default)]
    set: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
}

async fn labels(
    _caller: Operator,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<LabelChange>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let Json(change) = body?;
    let updated = app
        .ctx
        .store
        .update_labels(&id, &change.set, &change.remove, registrar::validate_labels)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {id}")))?;
    let labels = updated?;
    tracing::info!(agent_id = %id, ?labels, "labels changed");
    Ok(Json(json!({ "agent_id": id, "labels": labels })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    agent: Option<String>,
}

/// Server-sent events: every stored result, enrolment and removal (see `live.rs`).
async fn events(
    _caller: Viewer,
    State(app): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Query(query) = query?;
    Ok(app.ctx.live.sse(query.agent))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    agent: Option<String>,
    #[serde(default)]
    from_seq: u64,
    #[serde(default = "default_page")]
    limit: u32,
}

fn default_page() -> u32 {
    1000
}

/// A page of durable records with the documents and policies they name (`palisade.audit/1`).
async fn audit_records(
    _caller: Viewer,
    State(app): State<AppState>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<crate::audit::Export>, ApiError> {
    use crate::audit::export::{export, Selection, MAX_PAGE};
    let Query(q) = q?;
    if q.limit == 0 || q.limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!("limit must be 1-{MAX_PAGE}")));
    }
    let selection = Selection {
        agent: q.agent,
        from_seq: q.from_seq,
        limit: q.limit,
    };
    let key = app.ctx.records.public_hex();
    Ok(Json(export(&app.ctx.store, key, &selection).await?))
}

/// The verifier's record-signing public key, and every agent that has records.
async fn audit_key(_caller: Viewer, State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let agents = app.ctx.store.record_agents().await?;
    Ok(Json(
        json!({ "verifier_key": app.ctx.records.public_hex(), "agents": agents }),
    ))
}

/// Prometheus metrics (text exposition format 0.0.4).
async fn metrics(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let agents = app.ctx.store.agent_states().await?;
    let outbox = app.ctx.store.outbox_depth().await?;
    let text = app.ctx.metrics.render(&agents, outbox);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
