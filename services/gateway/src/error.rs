//! The gateway's error type; upstream gRPC statuses keep their meaning over HTTP.

use axum::response::{IntoResponse, Response};
use lyceum_server::ApiError;

/// Everything that can go wrong in the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Classified error (bad input, auth, upstream status).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Started without the private key it signs tokens with.
    #[error("the gateway needs the token-signing key: set LYCEUM_JWT_PRIVATE_KEY_FILE")]
    NoSigningKey,
    /// An upstream URL is malformed.
    #[error("upstream URL: {0}")]
    Upstream(#[from] tonic::transport::Error),
    /// An upstream could not be reached for a pass-through request.
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// Listener failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<tonic::Status> for GatewayError {
    fn from(s: tonic::Status) -> Self {
        GatewayError::Api(s.into())
    }
}

impl From<lyceum_auth::AuthError> for GatewayError {
    fn from(e: lyceum_auth::AuthError) -> Self {
        GatewayError::Api(e.into())
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Api(a) => a,
            GatewayError::Unreachable(cause) => ApiError::unavailable(cause),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

/// Result of gateway handlers.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;
