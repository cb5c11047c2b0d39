//! `/v1/cluster` (viewer): the fleet under cluster policies — the report (totals per
//! constraint, every violation, what could not be evaluated) and one node's document with the
//! findings that name it (what `palisade policy explain` shows).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use palisade_cluster_policy::cluster::Report;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::cluster::ClusterView;
use crate::error::ApiError;
use crate::roles::Viewer;

fn view(app: &AppState) -> Result<&ClusterView, ApiError> {
    app.ctx.cluster.as_ref().ok_or_else(|| {
        ApiError::NotFound("no cluster policies are configured (cluster_policy_dir)".into())
    })
}

/// `GET /v1/cluster/report`.
pub(super) async fn report(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Report>, ApiError> {
    let report = view(&app)?
        .report()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(report))
}

/// `GET /v1/cluster/nodes/{id}`: `{node, findings}`.
pub(super) async fn node(
    _caller: Viewer,
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let found = view(&app)?
        .node(&id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (node, findings) = found.ok_or_else(|| {
        ApiError::NotFound(format!(
            "node {id} has no result since the verifier started"
        ))
    })?;
    Ok(Json(json!({ "node": node, "findings": findings })))
}
