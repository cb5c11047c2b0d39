//! `/v1/credentials` (admin): issue a client certificate with a role from the verifier's CA,
//! list credentials, revoke one. The new private key is returned once, over the admin's mutual
//! TLS connection, and never stored by the verifier (only the certificate's fingerprint is).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use palisade_transport::pki::{self, Usage};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::ApiError;
use crate::roles::{Admin, Role};
use crate::store::Credential;

/// Longest credential name.
const MAX_NAME: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssueRequest {
    name: String,
    role: Role,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// `POST /v1/credentials`: `{name, role}` → `{name, role, fingerprint, cert, key}` (PEM).
pub(super) async fn issue(
    Admin(admin): Admin,
    State(app): State<AppState>,
    body: Result<Json<IssueRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body?;
    if !valid_name(&req.name) {
        return Err(ApiError::BadRequest(format!(
            "name must be 1-{MAX_NAME} characters of A-Z a-z 0-9 - _ . @"
        )));
    }
    let cn = format!("palisade-{}:{}", req.role.as_str(), req.name);
    let pair = pki::issue(&app.ca, &cn, &[], Usage::Client)
        .map_err(|e| ApiError::Internal(format!("issuing the certificate: {e}")))?;
    let fingerprint = fingerprint(&pair.cert)?;
    if !app
        .ctx
        .store
        .add_credential(&req.name, req.role, &fingerprint)
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "a credential named {:?} exists (revoked ones keep their name)",
            req.name
        )));
    }
    tracing::info!(name = %req.name, role = req.role.as_str(), by = %admin.name, "credential issued");
    Ok(Json(json!({
        "name": req.name,
        "role": req.role,
        "fingerprint": fingerprint,
        "cert": pair.cert,
        "key": pair.key,
    })))
}

/// `GET /v1/credentials`.
pub(super) async fn list(
    _admin: Admin,
    State(app): State<AppState>,
) -> Result<Json<Vec<Credential>>, ApiError> {
    Ok(Json(app.ctx.store.credentials().await?))
}

/// `DELETE /v1/credentials/{name}`.
pub(super) async fn revoke(
    Admin(admin): Admin,
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
    if name == admin.name {
        return Err(ApiError::BadRequest(
            "a credential cannot revoke itself (use another admin)".into(),
        ));
    }
    if !app.ctx.store.revoke_credential(&name).await? {
        return Err(ApiError::NotFound(format!(
            "no live credential named {name:?}"
        )));
    }
    tracing::info!(%name, by = %admin.name, "credential revoked");
    Ok(Json(json!({ "name": name, "revoked": true })))
}

/// SHA-256 of the (first) certificate in `pem`, lowercase hex: what the TLS layer reports.
pub fn fingerprint(pem: &str) -> Result<String, ApiError> {
    let certs = pki::certs_from_pem(pem, std::path::Path::new("credential"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let der = certs
        .first()
        .ok_or_else(|| ApiError::Internal("no certificate".into()))?;
    Ok(pki::fingerprint(der.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(valid_name("alice@example.org"));
        assert!(valid_name("ci-bot_2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"a".repeat(65)));
    }
}
