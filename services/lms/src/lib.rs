//! The Lyceum LMS: people and their accounts, courses of modules and items, enrolments and
//! progress. It speaks gRPC (`lyceum.lms.v1`), publishes `lyceum.lms.*` events and the xAPI
//! statements of what people do in it (`lyceum.xapi.submit`), all through its outbox.

mod courses;
mod enrollments;
mod error;
mod people;
pub mod seed;

use std::future::Future;

use lyceum_bus::Outbox;
use lyceum_proto::lms::v1::course_service_server::CourseServiceServer;
use lyceum_proto::lms::v1::enrollment_service_server::EnrollmentServiceServer;
use lyceum_proto::lms::v1::people_service_server::PeopleServiceServer;
use lyceum_server::{Listener, Platform, Service};
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
    let c = &platform.config.lms;
    Ok(platform
        .open_store(
            "lms",
            &c.database_url,
            c.database_max_connections,
            &MIGRATIONS,
        )
        .await?)
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
    let mut service = Service::new("lms", &platform, &store);
    let app = App {
        store: store.clone(),
        outbox: service.outbox(),
        identity: Identity::new(&platform.config.public_url),
    };
    seed::admin(&app, &platform.config.admin).await?;
    if platform.config.demo {
        seed::demo(&app).await?;
    }

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
        enrollments::EnrollmentApi::new(app),
        auth,
    ));
    service
        .serve(listener, lyceum_server::grpc_router(routes), shutdown)
        .await?;
    Ok(())
}
