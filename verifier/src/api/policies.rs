//! `/v1/policies` (viewer): every policy the verifier has run or held (the node policy, cluster
//! templates and constraint sets), by name and version, and one policy's files by hash — what a
//! result's `policy` names.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::ApiError;
use crate::roles::Viewer;

/// `GET /v1/policies`: `[{name, version, hash, added_at, current, in_force}]` (`current`: the
/// node policy; `in_force`: a cluster policy object in force).
pub(super) async fn list(
    _caller: Viewer,
    State(app): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let current = &app.ctx.policy.reference().hash;
    let in_force: Vec<String> = if app.ctx.cluster.is_some() {
        let active = app.ctx.store.cluster_policy().await?;
        active.into_iter().map(|a| a.hash).collect()
    } else {
        Vec::new()
    };
    let all: Vec<Value> = app
        .ctx
        .store
        .policies()
        .await?
        .into_iter()
        .map(|p| {
            let is_current = &p.hash == current;
            let is_in_force = in_force.contains(&p.hash);
            let mut v = json!(p);
            if let Some(o) = v.as_object_mut() {
                o.insert("current".into(), is_current.into());
                o.insert("in_force".into(), is_in_force.into());
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(all)))
}

/// `GET /v1/policies/{hash}`: `{name, version, hash, modules: [[path, source]], current}`.
pub(super) async fn show(
    _caller: Viewer,
    State(app): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(hash) = hash?;
    let source = app
        .ctx
        .store
        .policy_source(&hash)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no policy with hash {hash}")))?;
    let r = &source.reference;
    Ok(Json(json!({
        "name": r.name,
        "version": r.version,
        "hash": r.hash,
        "modules": source.modules,
        "current": r.hash == app.ctx.policy.reference().hash,
    })))
}
