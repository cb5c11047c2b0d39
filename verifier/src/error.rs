//! The verifier API's one error type and its one `IntoResponse`: a status and a JSON body with a
//! stable `type`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use palisade_evidence::wire::ErrorBody;

use crate::store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid.
    #[error("{0}")]
    BadRequest(String),
    /// A body, path or query extractor refused the request (status kept: 400, 413, 415, 422).
    #[error("{message}")]
    Rejected {
        /// The extractor's status.
        status: StatusCode,
        /// The extractor's explanation.
        message: String,
    },
    /// The operator API needs a client certificate from the verifier's CA.
    #[error("a client certificate issued by the verifier's CA is required")]
    Unauthorized,
    /// The proof offered is wrong.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is enrolled.
    #[error("{0}")]
    Conflict(String),
    /// A push-mode agent asked before its next attestation is due.
    #[error("too early: the next attestation is due in {retry_after_s} s")]
    TooEarly {
        /// Seconds until it is due (the `Retry-After` header).
        retry_after_s: u64,
    },
    /// A push challenge that was answered already, or that expired.
    #[error("{0}")]
    Gone(String),
    /// Something on the verifier's side failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Rejected { status, .. } => match *status {
                StatusCode::PAYLOAD_TOO_LARGE => (*status, "payload_too_large"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => (*status, "unsupported_media_type"),
                s => (
                    if s.is_client_error() {
                        s
                    } else {
                        StatusCode::BAD_REQUEST
                    },
                    "bad_request",
                ),
            },
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooEarly { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_early"),
            Self::Gone(_) => (StatusCode::GONE, "challenge_gone"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_type();
        if status.is_server_error() {
            tracing::error!(error = %self, "API request failed");
        }
        let body = Json(ErrorBody {
            kind: kind.to_owned(),
            message: self.to_string(),
        });
        match self {
            Self::TooEarly { retry_after_s } => (
                status,
                [(axum::http::header::RETRY_AFTER, retry_after_s.to_string())],
                body,
            )
                .into_response(),
            // The body limit refuses a request by its length, before it is read; the connection
            // cannot carry another request after an unread body, so say it closes — otherwise a
            // client may reuse it and lose its next request to the close.
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
                (status, [(axum::http::header::CONNECTION, "close")], body).into_response()
            }
            _ => (status, body).into_response(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

macro_rules! rejection {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(r: $t) -> Self {
                Self::Rejected { status: r.status(), message: r.body_text() }
            }
        }
    )*};
}
rejection!(JsonRejection, PathRejection, QueryRejection);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_too_large_says_the_connection_closes() {
        let too_large = ApiError::Rejected {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "length limit exceeded".into(),
        }
        .into_response();
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let connection = too_large.headers().get(axum::http::header::CONNECTION);
        assert_eq!(connection.map(|v| v.as_bytes()), Some(&b"close"[..]));
        let bad = ApiError::BadRequest("x".into()).into_response();
        assert!(bad.headers().get(axum::http::header::CONNECTION).is_none());
    }
}
