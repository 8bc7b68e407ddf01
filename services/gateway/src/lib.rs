//! The API gateway: the one front door. Web and mobile apps speak REST/JSON under `/api/v1`;
//! the gateway authenticates people (issuing short-lived JWTs) and calls the LMS and LXP over
//! gRPC with the caller's token. xAPI clients reach the LRS through `/xapi`, passed through
//! untouched. The gateway keeps no state.

mod auth;
mod catalog;
mod courses;
mod dto;
mod enrollments;
mod error;
mod people;
mod upstream;
mod xapi_clients;
mod xapi_proxy;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, delete, get, post};
use lyceum_server::{Listener, Platform};

pub use error::GatewayError;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct Gateway {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub upstream: upstream::Upstreams,
    pub signer: lyceum_auth::TokenSigner,
    pub verifier: lyceum_auth::TokenVerifier,
}

impl std::ops::Deref for Gateway {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The gateway's routes (without the common layers).
fn routes(gw: Gateway) -> Router {
    Router::new()
        .route("/api/v1/auth/token", post(auth::token))
        .route("/api/v1/me", get(people::me))
        .route("/api/v1/me/enrollments", get(enrollments::mine))
        .route("/api/v1/me/feed", get(catalog::feed))
        .route("/api/v1/people", post(people::create).get(people::list))
        .route("/api/v1/people/export.csv", get(people::export_csv))
        .route("/api/v1/people/{id}", get(people::get))
        .route("/api/v1/courses", post(courses::create).get(courses::list))
        .route("/api/v1/courses/{id}", get(courses::get))
        .route("/api/v1/courses/{id}/publish", post(courses::publish))
        .route(
            "/api/v1/courses/{id}/enrollments",
            post(enrollments::enroll),
        )
        .route("/api/v1/enrollments/{id}", get(enrollments::get))
        .route(
            "/api/v1/enrollments/{id}/items/{item_id}/complete",
            post(enrollments::complete_item),
        )
        .route(
            "/api/v1/catalog",
            get(catalog::list).post(catalog::add_external),
        )
        .route("/api/v1/catalog/{id}", get(catalog::get))
        .route(
            "/api/v1/admin/xapi-clients",
            post(xapi_clients::create).get(xapi_clients::list),
        )
        .route(
            "/api/v1/admin/xapi-clients/{key}",
            delete(xapi_clients::delete),
        )
        .route("/xapi", any(xapi_proxy::forward))
        .route("/xapi/{*rest}", any(xapi_proxy::forward))
        .with_state(gw)
}

/// Runs the gateway on `listener` until `shutdown`. Needs the token-signing key.
pub async fn run(
    platform: Platform,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let signer = platform.signer.clone().ok_or(GatewayError::NoSigningKey)?;
    let upstream = upstream::Upstreams::connect(&platform.config.gateway)?;
    let health = lyceum_server::health_router(upstream.checks());
    let gw = Gateway {
        inner: Arc::new(Inner {
            upstream,
            signer,
            verifier: platform.verifier.clone(),
        }),
    };
    let router = lyceum_server::with_common_layers(
        routes(gw).merge(health),
        &lyceum_server::Metrics::new(),
        platform.config.max_body_bytes,
    );
    tracing::info!(addr = %listener.local_addr()?, "gateway listening");
    lyceum_server::serve(listener, router, shutdown, platform.grace()).await?;
    tracing::info!("gateway stopped");
    Ok(())
}
