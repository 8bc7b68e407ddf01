//! The Lyceum LXP: a catalogue of LMS courses and external content, the skill profiles of
//! people built from what they learn, and a personal feed of recommendations. It speaks gRPC
//! (`lyceum.lxp.v1`) and consumes `lyceum.lms.course.*` (the catalogue) and
//! `lyceum.lrs.statement.stored` (profiles), each through an idempotent inbox.

mod catalog;
mod course_events;
mod error;
mod feed;
mod profile;
pub mod ranking;
mod statements;

use std::future::Future;

use lyceum_bus::{ConsumerSpec, Inbox, subjects};
use lyceum_proto::lxp::v1::catalog_service_server::CatalogServiceServer;
use lyceum_proto::lxp::v1::feed_service_server::FeedServiceServer;
use lyceum_server::{Listener, Platform, Service};
use lyceum_store::{MigrationSet, Store};
use lyceum_xapi::platform::Identity;

pub use error::LxpError;

/// The LXP schema.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    postgres: sqlx::migrate!("./migrations/postgres"),
    sqlite: sqlx::migrate!("./migrations/sqlite"),
};

/// Durable consumer that mirrors LMS courses into the catalogue.
pub const CATALOG_CONSUMER: &str = "lxp-catalog";
/// Durable consumer that records interactions from stored xAPI statements.
pub const PROFILE_CONSUMER: &str = "lxp-profile";

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct App {
    pub store: Store,
}

/// Connects to the LXP database and applies migrations.
pub async fn open_store(platform: &Platform) -> Result<Store, LxpError> {
    let c = &platform.config.lxp;
    Ok(platform
        .open_store(
            "lxp",
            &c.database_url,
            c.database_max_connections,
            &MIGRATIONS,
        )
        .await?)
}

/// Runs the LXP on `listener` until `shutdown`: gRPC and `/healthz`, `/readyz` on one port,
/// the catalogue and profile consumers in the background.
pub async fn run(
    platform: Platform,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LxpError> {
    let store = open_store(&platform).await?;
    let identity = Identity::new(&platform.config.public_url);
    let app = App {
        store: store.clone(),
    };

    let mut service = Service::new("lxp", &platform, &store);
    service.consumer(Inbox::new(
        store.clone(),
        platform.bus.clone(),
        ConsumerSpec::new(CATALOG_CONSUMER, subjects::COURSE_ALL),
        course_events::CourseEvents::new(identity.clone()),
    ));
    service.consumer(Inbox::new(
        store.clone(),
        platform.bus.clone(),
        ConsumerSpec::new(PROFILE_CONSUMER, subjects::STATEMENT_STORED),
        statements::StatementEvents::new(identity),
    ));

    let auth = lyceum_auth::GrpcAuth::new(platform.verifier.clone());
    let routes = tonic::service::Routes::new(CatalogServiceServer::with_interceptor(
        catalog::CatalogApi::new(app.clone()),
        auth.clone(),
    ))
    .add_service(FeedServiceServer::with_interceptor(
        feed::FeedApi::new(app),
        auth,
    ));
    service
        .serve(listener, lyceum_server::grpc_router(routes), shutdown)
        .await?;
    Ok(())
}
