//! API roles. Every operator route names the least role it needs; the role comes from the
//! client certificate the TLS layer verified against the verifier's CA, looked up by fingerprint
//! in the credentials table (`store/credentials.rs`), so a credential is revoked by marking it,
//! not by waiting for it to expire. Agents hold no credential: they use the registrar routes,
//! which prove possession of the TPM instead.
//!
//! `viewer` reads (agents, results, EARs, documents, audit records, metrics, the live stream);
//! `operator` also acts on agents (attest now, labels); `admin` also removes agents and manages
//! credentials.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use palisade_transport::PeerCertificate;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;

/// A role, ordered by what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads and acts on agents.
    Operator,
    /// Everything, credentials included.
    Admin,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The caller's credential: name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The credential's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The caller, if its certificate is a live credential: 401 without a certificate, 403 for an
/// unknown or revoked one.
async fn caller(parts: &Parts, app: &AppState) -> Result<Caller, ApiError> {
    let peer = match parts.extensions.get::<Option<PeerCertificate>>() {
        Some(Some(peer)) => peer,
        _ => return Err(ApiError::Unauthorized),
    };
    app.ctx
        .store
        .credential(&peer.fingerprint)
        .await?
        .ok_or_else(|| {
            ApiError::Forbidden(
                "this client certificate is not a registered credential, or it was revoked".into(),
            )
        })
}

fn at_least(caller: Caller, needed: Role) -> Result<Caller, ApiError> {
    if caller.role >= needed {
        Ok(caller)
    } else {
        Err(ApiError::Forbidden(format!(
            "this request needs the {} role; credential {:?} has {}",
            needed.as_str(),
            caller.name,
            caller.role.as_str()
        )))
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta] $name:ident => $role:expr),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                app: &AppState,
            ) -> Result<Self, ApiError> {
                at_least(caller(parts, app).await?, $role).map(Self)
            }
        }
    )*};
}

role_extractor! {
    /// A caller with at least the viewer role.
    Viewer => Role::Viewer,
    /// A caller with at least the operator role.
    Operator => Role::Operator,
    /// A caller with the admin role.
    Admin => Role::Admin,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            name: "alice".into(),
            role,
        }
    }

    #[test]
    fn roles_are_ordered_and_a_lower_one_is_refused_with_both_named() {
        assert!(at_least(caller(Role::Admin), Role::Operator).is_ok());
        assert!(at_least(caller(Role::Operator), Role::Operator).is_ok());
        let refused = at_least(caller(Role::Viewer), Role::Operator).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("operator role") && text.contains("has viewer"),
            "{text}"
        );
    }

    #[test]
    fn stored_forms_round_trip() {
        for role in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
