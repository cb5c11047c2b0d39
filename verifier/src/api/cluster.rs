//! `/v1/cluster`: the fleet under cluster policies — the report (totals per constraint, every
//! violation, what could not be evaluated), one node's document with the findings that name it
//! (what `palisade policy explain` shows), the templates and constraints in force (viewer), and
//! changing them (admin; checked against the whole set before anything is stored).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use palisade_cluster_policy::cluster::Report;
use palisade_cluster_policy::{Constraint, PolicyRef, TemplateSpec};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::cluster::{ChangeError, ClusterView};
use crate::error::ApiError;
use crate::roles::{Admin, Viewer};

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

/// `GET /v1/cluster/policy`: `[{name, version, hash, source, changed_at}]`, the objects in force.
pub(super) async fn in_force(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    view(&app)?;
    let versions = app.ctx.store.policies().await?;
    let objects: Vec<Value> = app
        .ctx
        .store
        .cluster_policy()
        .await?
        .into_iter()
        .map(|a| {
            let version = versions
                .iter()
                .find(|v| v.hash == a.hash)
                .map(|v| v.version);
            json!({"name": a.name, "version": version, "hash": a.hash, "source": a.source,
                "changed_at": a.changed_at})
        })
        .collect();
    Ok(Json(Value::Array(objects)))
}

/// The body of `PUT /v1/cluster/templates/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TemplateBody {
    /// What `template.json` holds.
    template: TemplateSpec,
    /// The Rego module (package `palisade.templates.<name>`).
    rego: String,
}

/// `PUT /v1/cluster/templates/{name}`: adds or replaces a template; `{name, version, hash}`.
pub(super) async fn put_template(
    _caller: Admin,
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<TemplateBody>, JsonRejection>,
) -> Result<Json<PolicyRef>, ApiError> {
    let Path(name) = name?;
    let Json(body) = body?;
    if body.template.name != name {
        return Err(ApiError::BadRequest(format!(
            "the template is named {:?}, the path {name:?}",
            body.template.name
        )));
    }
    let store = app.ctx.store.clone();
    let stored = view(&app)?
        .change(|current, limits| {
            crate::cluster::put_template(&store, current, body.template, body.rego, limits)
        })
        .await
        .map_err(change_error)?;
    tracing::info!(name = %stored.name, version = stored.version, "cluster policy template set through the API");
    Ok(Json(stored))
}

/// `PUT /v1/cluster/constraints`: replaces the constraint set; `{name, version, hash}`.
pub(super) async fn put_constraints(
    _caller: Admin,
    State(app): State<AppState>,
    body: Result<Json<Vec<Constraint>>, JsonRejection>,
) -> Result<Json<PolicyRef>, ApiError> {
    let Json(constraints) = body?;
    let store = app.ctx.store.clone();
    let stored = view(&app)?
        .change(|current, _| async move {
            crate::cluster::put_constraints(&store, &current, constraints).await
        })
        .await
        .map_err(change_error)?;
    tracing::info!(
        version = stored.version,
        "cluster policy constraints set through the API"
    );
    Ok(Json(stored))
}

fn change_error(e: ChangeError) -> ApiError {
    match e {
        ChangeError::Invalid(reason) => ApiError::BadRequest(reason),
        ChangeError::Store(e) => e.into(),
        other => ApiError::Internal(other.to_string()),
    }
}
