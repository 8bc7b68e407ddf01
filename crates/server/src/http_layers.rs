//! Layers every service's router gets: a server span per request that continues the caller's
//! trace, a body size limit, and problem+json for requests that match no route.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::{ApiError, ErrorKind, Metrics};

/// Adds the common layers and `GET /metrics` to a service's complete router.
pub fn with_common_layers(router: Router, metrics: &Metrics, max_body_bytes: usize) -> Router {
    let recorder = metrics.clone();
    router
        .merge(metrics.router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(move |req, next| {
            recorder.clone().record(req, next)
        }))
        .layer(middleware::from_fn(trace_request))
}

async fn not_found(req: Request) -> Response {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
    .into_response()
}

async fn trace_request(req: Request, next: Next) -> Response {
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let path = req.uri().path().to_string();
    let span = if grpc {
        tracing::info_span!("grpc", otel.name = %path, otel.kind = "server", rpc.method = %path,
            rpc.grpc.status_code = tracing::field::Empty)
    } else {
        tracing::info_span!("http", otel.name = %format!("{} {}", req.method(), path),
            otel.kind = "server", http.method = %req.method(), url.path = %path,
            http.status_code = tracing::field::Empty)
    };
    lyceum_telemetry::set_parent_from_http(&span, req.headers());
    let resp = next.run(req).instrument(span.clone()).await;
    if grpc {
        if let Some(code) = resp
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
        {
            span.record("rpc.grpc.status_code", code);
        }
    } else {
        span.record("http.status_code", resp.status().as_u16());
    }
    resp
}
