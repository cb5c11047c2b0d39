//! The agent's pull API over mutual TLS: `GET /v1/quote` (evidence) and `GET /v1/info`.
//! Every error leaves the handler through [`ApiError`]'s one `IntoResponse`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use palisade_evidence::wire::{ErrorBody, Evidence, QuoteQuery, QuoteRequest};
use serde::Serialize;

use crate::events::EventLog;
use crate::measure::{MeasureError, Measurer};

/// Requests carry no body; anything larger than this is refused.
const MAX_BODY: usize = 4 * 1024;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The measurement state.
    pub measurer: Arc<Measurer>,
    /// This agent's identifier.
    pub agent_id: String,
    /// SHA-256 of the AK public area.
    pub ak_fingerprint: String,
    /// Attributed runtime events, for the evidence.
    pub events: Arc<EventLog>,
}

/// An API failure, mapped to a status and a stable `type`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No such route.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The TPM (or the log) failed: try again later.
    #[error("{0}")]
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        (
            status,
            Json(ErrorBody {
                kind: kind.to_owned(),
                message: self.to_string(),
            }),
        )
            .into_response()
    }
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/quote", get(quote))
        .route("/v1/info", get(info))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[tracing::instrument(skip_all, fields(log_offset))]
async fn quote(
    State(state): State<ApiState>,
    query: Result<Query<QuoteQuery>, QueryRejection>,
) -> Result<Json<Evidence>, ApiError> {
    let Query(raw) =
        query.map_err(|e| ApiError::BadRequest(format!("invalid query: {}", e.body_text())))?;
    let req = QuoteRequest::parse(&raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    tracing::Span::current().record("log_offset", req.log_offset);
    if !req.pcrs.contains(&state.measurer.pcr()) {
        return Err(ApiError::BadRequest(format!(
            "pcrs must include the dedicated PCR {}",
            state.measurer.pcr()
        )));
    }
    let mut evidence = state
        .measurer
        .evidence(&req)
        .await
        .map_err(|e: MeasureError| {
            tracing::warn!(error = %e, "quote failed");
            ApiError::Unavailable(format!("cannot produce evidence: {e}"))
        })?;
    evidence.events = Some(state.events.slice(req.event_cursor.as_deref()));
    Ok(Json(evidence))
}

#[derive(Debug, Serialize)]
struct Info {
    agent_id: String,
    version: &'static str,
    pcr: u8,
    ak_fingerprint: String,
    log_entries: usize,
}

async fn info(State(state): State<ApiState>) -> Json<Info> {
    Json(Info {
        agent_id: state.agent_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        pcr: state.measurer.pcr(),
        ak_fingerprint: state.ak_fingerprint.clone(),
        log_entries: state.measurer.log_len().await,
    })
}
