//! The Lyceum LMS: people and their accounts, courses of modules and items, enrolments and
//! progress. It speaks gRPC (`lyceum.lms.v1`), publishes `lyceum.lms.*` events and the xAPI
//! statements of what people do in it (`lyceum.xapi.submit`), all through its outbox.

mod courses;
mod enrollments;
mod error;
mod people;
pub mod seed;

use std::future::Future;

use lyceum_bus::{Outbox, RelaySettings};
use lyceum_proto::lms::v1::course_service_server::CourseServiceServer;
use lyceum_proto::lms::v1::enrollment_service_server::EnrollmentServiceServer;
use lyceum_proto::lms::v1::people_service_server::PeopleServiceServer;
use lyceum_server::{Listener, Platform, Workers};
use lyceum_store::{MigrationSet, Store};
use lyceum_xapi::platform::Identity;

pub use error::LmsError;

/// The LMS schema.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    postgres: sqlx::migrate!("./migrations/postgres"),
    sqlite: sqlx::migrate!("./migrations/sqlite"),
};

/// Event `source` of everything the LMS publishes.
pub const SOURCE: &str = "lms";

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct App {
    pub store: Store,
    pub outbox: Outbox,
    pub identity: Identity,
}

/// Connects to the LMS database and applies migrations.
pub async fn open_store(platform: &Platform) -> Result<Store, LmsError> {
    let config = &platform.config;
    let url = config.database_url(&config.lms.database_url, "lms");
    let store = Store::connect_with(
        &url,
        &lyceum_store::ConnectOptions {
            max_connections: config.lms.database_max_connections,
            ..Default::default()
        },
    )
    .await?;
    store
        .migrate(&[&lyceum_bus::MIGRATIONS, &MIGRATIONS])
        .await?;
    Ok(store)
}

/// Runs the LMS on `listener` until `shutdown`: gRPC and `/healthz`, `/readyz` on one port,
/// the outbox relay in the background. Creates the configured administrator (and demo data
/// when enabled) first.
pub async fn run(
    platform: Platform,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LmsError> {
    let store = open_store(&platform).await?;
    let outbox = Outbox::new(
        store.clone(),
        platform.bus.clone(),
        RelaySettings::default(),
    );
    let app = App {
        store: store.clone(),
        outbox: outbox.clone(),
        identity: Identity::new(&platform.config.public_url),
    };
    seed::admin(&app, &platform.config.admin).await?;
    if platform.config.demo {
        seed::demo(&app).await?;
    }

    let mut workers = Workers::new();
    workers.relay(|stop| outbox.clone().run_relay(stop));

    let auth = lyceum_auth::GrpcAuth::new(platform.verifier.clone());
    let routes = tonic::service::Routes::new(PeopleServiceServer::with_interceptor(
        people::PeopleApi::new(app.clone()),
        auth.clone(),
    ))
    .add_service(CourseServiceServer::with_interceptor(
        courses::CourseApi::new(app.clone()),
        auth.clone(),
    ))
    .add_service(EnrollmentServiceServer::with_interceptor(
        enrollments::EnrollmentApi::new(app.clone()),
        auth,
    ));
    let router = lyceum_server::grpc_router(routes).merge(lyceum_server::health_router(vec![
        ("database", Platform::store_check(&store)),
        ("bus", platform.bus_check()),
    ]));
    let metrics = lyceum_server::Metrics::new();
    metrics.watch_store(&store);
    metrics.watch_outbox(&outbox);
    let router =
        lyceum_server::with_common_layers(router, &metrics, platform.config.max_body_bytes);

    tracing::info!(addr = %listener.local_addr()?, "lms listening");
    lyceum_server::serve(listener, router, shutdown, platform.grace()).await?;
    platform.bus.quiesce(platform.grace()).await;
    workers.stop(platform.grace()).await;
    store.close().await;
    tracing::info!("lms stopped");
    Ok(())
}
