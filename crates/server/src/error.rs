//! The error model every service maps its own error type into, once; from here it becomes an
//! HTTP problem+json response (RFC 9457) or a gRPC status, and gRPC statuses become HTTP
//! responses again at the gateway.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// Classes of failure, each with one HTTP status and one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input (400, INVALID_ARGUMENT).
    InvalidArgument,
    /// No credentials or bad credentials (401, UNAUTHENTICATED).
    Unauthenticated,
    /// Known caller, not allowed (403, PERMISSION_DENIED).
    PermissionDenied,
    /// Unknown id (404, NOT_FOUND).
    NotFound,
    /// Duplicate (409, ALREADY_EXISTS).
    AlreadyExists,
    /// The request conflicts with the current state (409, FAILED_PRECONDITION).
    Conflict,
    /// The body is larger than allowed (413, OUT_OF_RANGE).
    PayloadTooLarge,
    /// Wrong media type (415, INVALID_ARGUMENT).
    UnsupportedMediaType,
    /// A dependency is down (503, UNAVAILABLE).
    Unavailable,
    /// A bug or unexpected failure (500, INTERNAL); details are logged, never sent.
    Internal,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC code.
    pub fn code(self) -> tonic::Code {
        match self {
            ErrorKind::InvalidArgument | ErrorKind::UnsupportedMediaType => {
                tonic::Code::InvalidArgument
            }
            ErrorKind::Unauthenticated => tonic::Code::Unauthenticated,
            ErrorKind::PermissionDenied => tonic::Code::PermissionDenied,
            ErrorKind::NotFound => tonic::Code::NotFound,
            ErrorKind::AlreadyExists => tonic::Code::AlreadyExists,
            ErrorKind::Conflict => tonic::Code::FailedPrecondition,
            ErrorKind::PayloadTooLarge => tonic::Code::OutOfRange,
            ErrorKind::Unavailable => tonic::Code::Unavailable,
            ErrorKind::Internal => tonic::Code::Internal,
        }
    }

    fn from_code(code: tonic::Code) -> ErrorKind {
        use tonic::Code::*;
        match code {
            InvalidArgument => ErrorKind::InvalidArgument,
            Unauthenticated => ErrorKind::Unauthenticated,
            PermissionDenied => ErrorKind::PermissionDenied,
            NotFound => ErrorKind::NotFound,
            AlreadyExists => ErrorKind::AlreadyExists,
            FailedPrecondition | Aborted => ErrorKind::Conflict,
            OutOfRange => ErrorKind::PayloadTooLarge,
            Unavailable | DeadlineExceeded | ResourceExhausted | Cancelled => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission-denied",
            ErrorKind::NotFound => "not-found",
            ErrorKind::AlreadyExists => "already-exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload-too-large",
            ErrorKind::UnsupportedMediaType => "unsupported-media-type",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A failure as clients see it: a class, a message that says what is wrong, and the input
/// field at fault when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The class.
    pub kind: ErrorKind,
    /// What is wrong, for the client.
    pub message: String,
    /// The input field at fault (`title`, `modules[0].items[1].url`).
    pub field: Option<String>,
}

/// gRPC metadata key carrying [`ApiError::field`].
const FIELD_METADATA: &str = "x-lyceum-field";

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// Invalid input in `field`; the message is prefixed with the field name.
    pub fn invalid(field: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            kind: ErrorKind::InvalidArgument,
            message: format!("{field}: {problem}"),
            field: Some(field),
        }
    }

    /// Unknown id.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} not found"))
    }

    /// Duplicate.
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }

    /// Conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// Something unexpected: logged in full here, sent as "internal error".
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }

    /// A dependency (database, bus, another service) is down.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Self::new(
            ErrorKind::Unavailable,
            "service temporarily unavailable; retry later",
        )
    }
}

impl From<lyceum_auth::AuthError> for ApiError {
    fn from(e: lyceum_auth::AuthError) -> Self {
        let kind = if e.is_unauthenticated() {
            ErrorKind::Unauthenticated
        } else {
            ErrorKind::PermissionDenied
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<lyceum_store::StoreError> for ApiError {
    fn from(e: lyceum_store::StoreError) -> Self {
        match &e {
            lyceum_store::StoreError::Sqlx(
                sqlx_err @ (lyceum_store::sqlx::Error::PoolTimedOut
                | lyceum_store::sqlx::Error::PoolClosed
                | lyceum_store::sqlx::Error::Io(_)),
            ) => ApiError::unavailable(sqlx_err),
            _ => ApiError::internal(e),
        }
    }
}

impl From<lyceum_store::sqlx::Error> for ApiError {
    fn from(e: lyceum_store::sqlx::Error) -> Self {
        ApiError::from(lyceum_store::StoreError::from(e))
    }
}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        let mut status = tonic::Status::new(e.kind.code(), e.message);
        if let Some(field) = e.field
            && let Ok(v) = field.parse()
        {
            status.metadata_mut().insert(FIELD_METADATA, v);
        }
        status
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        let kind = ErrorKind::from_code(s.code());
        let field = s
            .metadata()
            .get(FIELD_METADATA)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let message = match kind {
            ErrorKind::Internal => {
                tracing::error!(code = ?s.code(), message = %s.message(), "upstream error");
                "internal error".to_string()
            }
            ErrorKind::Unavailable => {
                tracing::warn!(code = ?s.code(), message = %s.message(), "upstream unavailable");
                "service temporarily unavailable; retry later".to_string()
            }
            _ => s.message().to_string(),
        };
        ApiError {
            kind,
            message,
            field,
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let body = Problem {
            kind: format!("https://lyceum.dev/problems/{}", self.kind.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: &self.message,
            field: self.field.as_deref(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// A JSON body extractor whose rejections are problem+json with a message that names the
/// offending field or says what is wrong (400, 413, 415).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "expected a JSON body with Content-Type: application/json",
        ),
        JsonRejection::JsonDataError(e) => {
            // "Failed to deserialize the JSON body into the target type: title: invalid type ..."
            let text = e.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d);
            let field = detail
                .split_once(": ")
                .map(|(f, _)| f.to_string())
                .filter(|f| !f.contains(' '));
            ApiError {
                kind: ErrorKind::InvalidArgument,
                message: detail.to_string(),
                field,
            }
        }
        JsonRejection::JsonSyntaxError(e) => {
            let text = e.body_text();
            let detail = text
                .split_once("syntax error: ")
                .map_or(text.as_str(), |(_, d)| d)
                .to_string();
            ApiError::new(
                ErrorKind::InvalidArgument,
                format!("malformed JSON: {detail}"),
            )
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorKind::PayloadTooLarge, "request body is too large")
            } else {
                ApiError::new(ErrorKind::InvalidArgument, e.body_text())
            }
        }
        other => ApiError::new(ErrorKind::InvalidArgument, other.body_text()),
    }
}

/// A query-string extractor whose rejections are problem+json naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => {
                let text = r.body_text();
                let detail = text
                    .split_once("query string: ")
                    .map_or(text.as_str(), |(_, d)| d)
                    .to_string();
                let field = detail
                    .split_once(": ")
                    .map(|(f, _)| f.to_string())
                    .filter(|f| !f.contains(' '));
                Err(ApiError {
                    kind: ErrorKind::InvalidArgument,
                    message: format!("query: {detail}"),
                    field,
                })
            }
        }
    }
}

/// A path-parameter extractor whose rejections are problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(ApiError::new(
                ErrorKind::InvalidArgument,
                format!("path: {}", r.body_text()),
            )),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_round_trip_keeps_kind_message_and_field() {
        let e = ApiError::invalid("modules[0].title", "must not be empty");
        let status = tonic::Status::from(e);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let back = ApiError::from(status);
        assert_eq!(back.kind, ErrorKind::InvalidArgument);
        assert_eq!(back.field.as_deref(), Some("modules[0].title"));
        assert_eq!(back.message, "modules[0].title: must not be empty");
    }

    #[test]
    fn internal_details_are_not_sent() {
        let back = ApiError::from(tonic::Status::internal("db password is hunter2"));
        assert_eq!(back.message, "internal error");
        assert_eq!(back.kind.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
