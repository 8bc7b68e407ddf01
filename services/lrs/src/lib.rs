//! The Lyceum LRS: a Learning Record Store for xAPI 1.0.3 and 2.0 (IEEE 9274.1.1). It records
//! statements from any source (the xAPI HTTP API under `/xapi`, gRPC
//! `lyceum.lrs.v1.StatementService`, and `lyceum.xapi.submit` events from the other services)
//! and serves the xAPI resources: statements (with attachments and signatures), state,
//! activity and agent profiles, activities, agents, about. Every stored statement is announced
//! as `lyceum.lrs.statement.stored` through the outbox, in the transaction that stores it.

mod about;
mod access;
mod activities;
mod agents;
mod alternate;
mod attachments;
mod clients;
mod consistency;
mod cors;
mod documents;
mod error;
mod grpc;
mod multipart;
mod protocol;
mod signature;
mod sql;
mod statements;
mod submit;
mod summary;

use std::future::Future;

use axum::Router;
use axum::routing::any;
use lyceum_auth::TokenVerifier;
use lyceum_bus::{ConsumerSpec, Inbox, subjects};
use lyceum_proto::lrs::v1::statement_service_server::StatementServiceServer;
use lyceum_proto::lrs::v1::xapi_client_service_server::XapiClientServiceServer;
use lyceum_server::{Listener, Platform, Service};
use lyceum_store::{MigrationSet, Store};
use lyceum_xapi::platform::Identity;
use serde_json::Value;

pub use clients::{ClientInfo, SCOPES, generate_secret};
pub use error::LrsError;

/// The LRS schema.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    postgres: sqlx::migrate!("./migrations/postgres"),
    sqlite: sqlx::migrate!("./migrations/sqlite"),
};

/// Event `source` of everything the LRS publishes.
pub const SOURCE: &str = "lrs";

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct App {
    pub store: Store,
    pub identity: Identity,
    pub verifier: TokenVerifier,
    pub max_body_bytes: usize,
    pub clients: clients::ClientCache,
    pub consistency: consistency::Consistency,
    pub writer: statements::writer::Writer,
}

/// Connects to the LRS database and applies migrations.
pub async fn open_store(platform: &Platform) -> Result<Store, LrsError> {
    let c = &platform.config.lrs;
    Ok(platform
        .open_store(
            "lrs",
            &c.database_url,
            c.database_max_connections,
            &MIGRATIONS,
        )
        .await?)
}

/// Creates an xAPI client (or replaces its secret and scopes), with an authority under the
/// platform's public URL. Scopes: see [`SCOPES`].
pub async fn register_client(
    store: &Store,
    public_url: &str,
    key: &str,
    secret: &str,
    scopes: &[&str],
) -> Result<ClientInfo, LrsError> {
    clients::check_new(key, secret, scopes)?;
    let identity = Identity::new(public_url);
    let authority = clients::authority_for(key, identity.home_page());
    clients::upsert(store, key, secret, scopes, &authority).await?;
    clients::get(store, key).await
}

/// Lists every xAPI client, by key.
pub async fn list_clients(store: &Store) -> Result<Vec<ClientInfo>, LrsError> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map(|c: &ClientInfo| c.key.clone());
        let page = clients::list(store, after.as_deref(), 500).await?;
        let done = page.len() < 500;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Deletes an xAPI client.
pub async fn delete_client(store: &Store, key: &str) -> Result<(), LrsError> {
    clients::delete(store, key).await
}

/// Creates or replaces a client on a running LRS (the cache forgets the old credentials).
pub(crate) async fn create_client(
    app: &App,
    key: &str,
    secret: &str,
    scopes: &[&str],
    authority: Option<Value>,
) -> Result<ClientInfo, LrsError> {
    clients::check_new(key, secret, scopes)?;
    let authority = match authority {
        Some(a) => {
            lyceum_xapi::validate::agent_or_group("authority_json", &a)?;
            a
        }
        None => clients::authority_for(key, app.identity.home_page()),
    };
    clients::upsert(&app.store, key, secret, scopes, &authority).await?;
    app.clients.invalidate(key);
    tracing::info!(client = key, scopes = ?scopes, "xAPI client saved");
    clients::get(&app.store, key).await
}

/// Runs the LRS on `listener` until `shutdown`: the xAPI HTTP API (`/xapi/...`), gRPC and
/// `/healthz`, `/readyz` on one port; the `lrs-submit` consumer and the outbox relay in the
/// background. Creates or updates the configured bootstrap xAPI client first.
pub async fn run(
    platform: Platform,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LrsError> {
    let store = open_store(&platform).await?;
    let identity = Identity::new(&platform.config.public_url);
    if let Some(spec) = &platform.config.lrs.bootstrap_client {
        clients::bootstrap(&store, spec, identity.home_page()).await?;
    }
    let mut service = Service::new("lrs", &platform, &store);
    let outbox = service.outbox();
    let consistency = consistency::Consistency::default();
    let app = App {
        store: store.clone(),
        identity: identity.clone(),
        verifier: platform.verifier.clone(),
        max_body_bytes: platform.config.max_body_bytes,
        clients: clients::ClientCache::default(),
        consistency: consistency.clone(),
        writer: statements::writer::Writer::start(store.clone(), outbox.clone()),
    };
    service.consumer(
        Inbox::new(
            store.clone(),
            platform.bus.clone(),
            ConsumerSpec::new(submit::DURABLE, subjects::XAPI_SUBMIT),
            submit::SubmitHandler::new(identity, consistency),
        )
        .waking(outbox),
    );

    let auth = lyceum_auth::GrpcAuth::new(platform.verifier.clone());
    let routes = tonic::service::Routes::new(StatementServiceServer::with_interceptor(
        grpc::StatementApi::new(app.clone()),
        auth.clone(),
    ))
    .add_service(XapiClientServiceServer::with_interceptor(
        grpc::ClientApi::new(app.clone()),
        auth,
    ));
    let xapi = Router::new()
        .route("/xapi", any(protocol::handle))
        .route("/xapi/{*rest}", any(protocol::handle))
        .with_state(app);
    service
        .serve(
            listener,
            lyceum_server::grpc_router(routes).merge(xapi),
            shutdown,
        )
        .await?;
    Ok(())
}
