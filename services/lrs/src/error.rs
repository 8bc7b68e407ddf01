//! The LRS's error type, mapped once to the platform's error model (and so to problem+json
//! over HTTP and to a gRPC status).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use lyceum_server::{ApiError, ErrorKind};
use uuid::Uuid;

/// Everything that can go wrong in the LRS.
#[derive(Debug, thiserror::Error)]
pub enum LrsError {
    /// Bad input, auth failure or another already-classified error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Refused by identity checks (401 or 403).
    #[error(transparent)]
    Auth(#[from] lyceum_auth::AuthError),
    /// A statement or a request parameter breaks the xAPI data model.
    #[error(transparent)]
    Invalid(#[from] lyceum_xapi::Invalid),
    /// A statement with this id exists with other content; statements are immutable.
    #[error("statement {0} already exists with different content")]
    Conflict(Uuid),
    /// A document changed since the client read it, or exists while the client said it
    /// should not (`If-Match` / `If-None-Match`): HTTP 412.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A document write that would overwrite without knowing what it overwrites: HTTP 409.
    #[error("{0}")]
    DocumentConflict(String),
    /// Unknown statement (or one the caller may not see).
    #[error("statement {0} not found")]
    NotFound(Uuid),
    /// Unknown document, client or attachment.
    #[error("{0} not found")]
    Missing(String),
    /// A setting is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] lyceum_store::StoreError),
    /// Listener failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for LrsError {
    fn from(e: sqlx::Error) -> Self {
        LrsError::Store(e.into())
    }
}

impl From<LrsError> for ApiError {
    fn from(e: LrsError) -> Self {
        let message = e.to_string();
        match e {
            LrsError::Api(a) => a,
            LrsError::Auth(a) => a.into(),
            LrsError::Invalid(i) if i.field.is_empty() => {
                ApiError::new(ErrorKind::InvalidArgument, i.problem)
            }
            LrsError::Invalid(i) => ApiError::invalid(i.field, i.problem),
            LrsError::Conflict(_) => ApiError::already_exists(message),
            // gRPC's FAILED_PRECONDITION; HTTP answers 412 (see `into_response`).
            LrsError::PreconditionFailed(_) | LrsError::DocumentConflict(_) => {
                ApiError::conflict(message)
            }
            LrsError::NotFound(_) | LrsError::Missing(_) => {
                ApiError::new(ErrorKind::NotFound, message)
            }
            LrsError::Config(_) => ApiError::internal(message),
            LrsError::Store(s) => s.into(),
            LrsError::Io(io) => ApiError::internal(io),
        }
    }
}

impl From<LrsError> for tonic::Status {
    fn from(e: LrsError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for LrsError {
    fn into_response(self) -> Response {
        let precondition = matches!(self, LrsError::PreconditionFailed(_));
        let api = ApiError::from(self);
        if !precondition {
            return api.into_response();
        }
        // The platform's error model has no 412 (no other service needs one); the body has
        // the same problem+json shape as every other error.
        let body = serde_json::json!({
            "type": "https://lyceum.dev/problems/precondition-failed",
            "title": "Precondition Failed",
            "status": 412,
            "detail": api.message,
        });
        let mut resp = (StatusCode::PRECONDITION_FAILED, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

/// Result of LRS operations.
pub type Result<T, E = LrsError> = std::result::Result<T, E>;
