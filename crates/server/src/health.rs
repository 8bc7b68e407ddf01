//! `/healthz` (the process is alive) and `/readyz` (its database and bus answer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

/// A named readiness check.
pub type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Health routes for a service: `/healthz` always answers 200 while the process serves;
/// `/readyz` answers 200 only when every check passes, else 503 naming the failures.
pub fn health_router(checks: Vec<(&'static str, Check)>) -> Router {
    let checks = Arc::new(checks);
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let checks = checks.clone();
                async move {
                    let mut failed = serde_json::Map::new();
                    for (name, check) in checks.iter() {
                        let result =
                            tokio::time::timeout(std::time::Duration::from_secs(2), check()).await;
                        match result {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                failed.insert(name.to_string(), e.into());
                            }
                            Err(_) => {
                                failed.insert(name.to_string(), "timed out".into());
                            }
                        }
                    }
                    if failed.is_empty() {
                        (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response()
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            axum::Json(json!({"status": "not ready", "failed": failed})),
                        )
                            .into_response()
                    }
                }
            }),
        )
}
