//! `/v1/approvals`: operators approve agents for monitoring (`require_approval`), before they
//! register (pinning the EK fingerprint from an inventory) or after they proved their TPM and
//! wait. The approval's labels override what the agent claims.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::wire::valid_agent_id;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::ApiError;
use crate::live::LiveEvent;
use crate::registrar::{check_pinned_ek, validate_labels};
use crate::roles::{Operator, Viewer};
use crate::store::{now, Approval};

/// The body of `POST /v1/approvals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApproveRequest {
    agent_id: String,
    /// SHA-256 of the EK public area (hex), as `palisade agents show` prints it.
    #[serde(default)]
    ek_fingerprint: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `POST /v1/approvals`: stores the approval and releases the agent if it waits. A pinned EK
/// that differs from the enrolled agent's → 409, nothing stored.
pub(super) async fn approve(
    Operator(caller): Operator,
    State(app): State<AppState>,
    body: Result<Json<ApproveRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body?;
    if !valid_agent_id(&req.agent_id) {
        return Err(ApiError::BadRequest(
            "agent_id must be 1-128 characters of [A-Za-z0-9._-]".into(),
        ));
    }
    let ek_fingerprint = req.ek_fingerprint.map(|f| f.to_ascii_lowercase());
    if let Some(f) = &ek_fingerprint {
        if f.len() != 64 || !f.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::BadRequest(
                "ek_fingerprint must be the 64 hex digits of a SHA-256".into(),
            ));
        }
    }
    validate_labels(&req.labels)?;
    let approval = Approval {
        agent_id: req.agent_id,
        ek_fingerprint,
        labels: req.labels,
        approved_by: caller.name,
        approved_at: now(),
    };
    if let Some(agent) = app.ctx.store.agent(&approval.agent_id).await? {
        let ek = TpmPublic::parse(&agent.ek_public)
            .map_err(|e| ApiError::Internal(format!("stored EK: {e}")))?;
        check_pinned_ek(&approval, &ek).map_err(|e| ApiError::Conflict(e.to_string()))?;
    }
    let released = app.ctx.store.approve(&approval).await?;
    tracing::info!(agent_id = %approval.agent_id, by = %approval.approved_by, released, "agent approved");
    if released {
        app.ctx
            .live
            .publish(LiveEvent::membership("approved", &approval.agent_id));
    }
    Ok(Json(json!({ "approval": approval, "released": released })))
}

/// `GET /v1/approvals`: every approval, by agent id.
pub(super) async fn list(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Vec<Approval>>, ApiError> {
    Ok(Json(app.ctx.store.approvals().await?))
}
