//! Registrar: enrolment of agents. An agent sends its EK and AK; the verifier answers with a
//! MakeCredential challenge only the TPM holding that EK can open, and only if the AK is on the
//! same TPM; the agent proves it opened it with an HMAC keyed by the secret.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use palisade_evidence::tpm::{credential::make_credential, TpmPublic};
use palisade_evidence::wire::{
    activation_tag, valid_agent_id, ActivateRequest, RegisterChallenge, RegisterRequest, MAX_PCR,
};
use rand::RngCore as _;
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{now, Approval};

/// PCRs resettable from locality 0.
pub const RESETTABLE_PCRS: [u8; 2] = [16, 23];
/// How long a challenge stays valid.
pub const CHALLENGE_TTL: time::Duration = time::Duration::minutes(5);
const MAX_LABELS: usize = 64;
const MAX_LABEL_LEN: usize = 256;

/// `POST /v1/agents`
pub async fn register(
    State(app): State<AppState>,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Json<RegisterChallenge>, ApiError> {
    let Json(req) = body?;
    let (ek, ak) = validate(&req, app.config.allow_resettable_pcr)?;
    // A certificate that fails its check refuses the enrolment; none is `unverified`.
    let ek_status = ek_status(&app, &req, &ek)?;
    if let Some(approval) = app.ctx.store.approval(&req.agent_id).await? {
        check_pinned_ek(&approval, &ek)?;
    }
    if let Some(existing) = app.ctx.store.agent(&req.agent_id).await? {
        if existing.ek_public != req.ek_public || existing.ak_public != req.ak_public {
            return Err(ApiError::Conflict(format!(
                "agent {} is enrolled with another EK or AK; remove it before enrolling a different TPM",
                req.agent_id
            )));
        }
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let (credential_blob, encrypted_secret) =
        make_credential(&ek, &ak.name(), &secret, &mut rand::rngs::OsRng).map_err(|e| {
            ApiError::BadRequest(format!("cannot make a credential for this EK: {e}"))
        })?;
    let expires = (time::OffsetDateTime::now_utc() + CHALLENGE_TTL)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    app.ctx.store.register(&req, &secret, &expires).await?;
    tracing::info!(agent_id = %req.agent_id, ek = %ek.fingerprint(), ak = %ak.fingerprint(), %ek_status, "registration challenge issued");
    Ok(Json(RegisterChallenge {
        credential_blob,
        encrypted_secret,
    }))
}

fn validate(
    req: &RegisterRequest,
    allow_resettable: bool,
) -> Result<(TpmPublic, TpmPublic), ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    if !valid_agent_id(&req.agent_id) {
        return Err(bad(
            "agent_id must be 1-128 characters of [A-Za-z0-9._-]".into()
        ));
    }
    let ek = TpmPublic::parse(&req.ek_public).map_err(|e| bad(format!("ek_public: {e}")))?;
    if !ek.is_storage_key() {
        return Err(bad(
            "ek_public is not a restricted decryption (storage) key".into(),
        ));
    }
    let ak = TpmPublic::parse(&req.ak_public).map_err(|e| bad(format!("ak_public: {e}")))?;
    if !ak.is_restricted_signing_key() {
        return Err(bad(
            "ak_public is not a restricted signing key created in the TPM".into(),
        ));
    }
    if req.pcr > MAX_PCR {
        return Err(bad(format!("pcr {} does not exist", req.pcr)));
    }
    if RESETTABLE_PCRS.contains(&req.pcr) && !allow_resettable {
        return Err(bad(format!(
            "pcr {} is resettable from locality 0: a root attacker could reset it and replay a clean log",
            req.pcr
        )));
    }
    if !req.push && !req.contact.starts_with("https://") {
        return Err(bad("contact must be an https:// URL".into()));
    }
    palisade_transport::pki::certs_from_pem(
        &req.tls_certificate,
        std::path::Path::new("tls_certificate"),
    )
    .map_err(|e| bad(e.to_string()))?;
    validate_labels(&req.labels)?;
    Ok((ek, ak))
}

/// 403 unless `approval` pins no EK or pins exactly `ek`.
pub fn check_pinned_ek(approval: &Approval, ek: &TpmPublic) -> Result<(), ApiError> {
    match &approval.ek_fingerprint {
        Some(pinned) if !pinned.eq_ignore_ascii_case(&ek.fingerprint()) => {
            Err(ApiError::Forbidden(format!(
                "agent {} is approved for EK {pinned}, not for EK {}",
                approval.agent_id,
                ek.fingerprint()
            )))
        }
        _ => Ok(()),
    }
}

/// Bounds on labels (count, key and value length): 400 with the rule otherwise.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let too_long = labels
        .iter()
        .any(|(k, v)| k.is_empty() || k.len() > MAX_LABEL_LEN || v.len() > MAX_LABEL_LEN);
    if labels.len() > MAX_LABELS || too_long {
        return Err(ApiError::BadRequest(format!(
            "labels: at most {MAX_LABELS}, keys non-empty, keys and values at most {MAX_LABEL_LEN} bytes"
        )));
    }
    Ok(())
}

/// The EK status of `req` (`ek.rs`), or the 400 that refuses it.
fn ek_status(app: &AppState, req: &RegisterRequest, ek: &TpmPublic) -> Result<String, ApiError> {
    crate::ek::status(
        app.ek.as_deref(),
        req.ek_certificate.as_deref(),
        ek,
        app.config.require_ek_certificate,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .map_err(|reason| ApiError::BadRequest(format!("EK certificate: {reason}")))
}

/// `POST /v1/agents/{id}/activate`
pub async fn activate(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ActivateRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id?;
    let Json(req) = body?;
    let pending = app.ctx.store.pending(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no registration of agent {id} awaits activation"))
    })?;
    if pending.expires < now() {
        return Err(ApiError::Forbidden(
            "the challenge expired; register again".into(),
        ));
    }
    let tag = hex::decode(&req.auth_tag)
        .map_err(|_| ApiError::BadRequest("auth_tag must be hex".into()))?;
    let expected = activation_tag(&pending.secret, &id);
    if !bool::from(tag.as_slice().ct_eq(expected.as_slice())) {
        return Err(ApiError::Forbidden(
            "activation proof does not match: the AK is not shown to be on the TPM of this EK"
                .into(),
        ));
    }
    // Checked again: the certificate may have expired since the challenge was issued.
    let ek = TpmPublic::parse(&pending.request.ek_public)
        .map_err(|e| ApiError::BadRequest(format!("ek_public: {e}")))?;
    let ek_status = ek_status(&app, &pending.request, &ek)?;
    // Checked again: the approval may have been replaced since the challenge was issued.
    let approval = app.ctx.store.approval(&id).await?;
    if let Some(approval) = &approval {
        check_pinned_ek(approval, &ek)?;
    }
    let require = app.config.require_approval;
    app.ctx
        .store
        .activate(&pending, &ek_status, approval.as_ref(), require)
        .await?;
    app.ctx
        .live
        .publish(crate::live::LiveEvent::membership("enrolled", &id));
    let status = if require && approval.is_none() {
        tracing::warn!(agent_id = %id, ek = %ek.fingerprint(), "agent proved its TPM and awaits approval (palisade agents enroll)");
        "awaiting_approval"
    } else {
        tracing::info!(agent_id = %id, "agent activated");
        "active"
    };
    Ok(Json(json!({ "agent_id": id, "status": status })))
}
