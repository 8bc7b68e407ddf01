//! The LXP's error type, mapped once to the platform's error model (and so to HTTP and gRPC).

use lyceum_server::ApiError;
use uuid::Uuid;

/// Everything that can go wrong in the LXP.
#[derive(Debug, thiserror::Error)]
pub enum LxpError {
    /// Bad input, auth failure or another already-classified error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Refused by identity checks.
    #[error(transparent)]
    Auth(#[from] lyceum_auth::AuthError),
    /// Unknown catalogue item.
    #[error("catalogue item {0} not found")]
    ItemNotFound(Uuid),
    /// The URL is already in the catalogue.
    #[error("an item with url {0} is already in the catalogue")]
    UrlTaken(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] lyceum_store::StoreError),
    /// Listener failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for LxpError {
    fn from(e: sqlx::Error) -> Self {
        LxpError::Store(e.into())
    }
}

impl From<LxpError> for ApiError {
    fn from(e: LxpError) -> Self {
        let message = e.to_string();
        match e {
            LxpError::Api(a) => a,
            LxpError::Auth(a) => a.into(),
            LxpError::ItemNotFound(_) => ApiError::new(lyceum_server::ErrorKind::NotFound, message),
            LxpError::UrlTaken(_) => ApiError {
                field: Some("url".into()),
                ..ApiError::already_exists(message)
            },
            LxpError::Store(s) => s.into(),
            LxpError::Io(io) => ApiError::internal(io),
        }
    }
}

impl From<LxpError> for tonic::Status {
    fn from(e: LxpError) -> Self {
        ApiError::from(e).into()
    }
}

/// Result of LXP operations.
pub type Result<T, E = LxpError> = std::result::Result<T, E>;
