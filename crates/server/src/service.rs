//! The life of a service with a database, the same for every one: open and migrate its store,
//! start its outbox relay and consumers, serve its routes with health, metrics and the common
//! layers, and at shutdown stop in order (requests, bus drain, consumers, relay, store).

use std::future::Future;

use axum::Router;
use lyceum_bus::{EventHandler, Inbox, Outbox, RelaySettings};
use lyceum_store::{ConnectOptions, MigrationSet, Store, StoreError};

use crate::{Listener, Metrics, Platform, Workers};

/// A service being assembled: its store, metrics and background tasks.
pub struct Service {
    name: &'static str,
    platform: Platform,
    store: Store,
    metrics: Metrics,
    workers: Workers,
}

impl Platform {
    /// Connects to a service's database (default: a SQLite file named after the service under
    /// the data directory) and applies the platform's tables and the service's `migrations`.
    pub async fn open_store(
        &self,
        service: &str,
        database_url: &Option<String>,
        max_connections: u32,
        migrations: &MigrationSet,
    ) -> Result<Store, StoreError> {
        let url = self.config.database_url(database_url, service);
        let options = ConnectOptions {
            max_connections,
            ..Default::default()
        };
        let store = Store::connect_with(&url, &options).await?;
        store
            .migrate(&[&lyceum_bus::MIGRATIONS, migrations])
            .await?;
        Ok(store)
    }
}

impl Service {
    /// A service named `name` (for logs) on `store`.
    pub fn new(name: &'static str, platform: &Platform, store: &Store) -> Self {
        let metrics = Metrics::new();
        metrics.watch_store(store);
        Self {
            name,
            platform: platform.clone(),
            store: store.clone(),
            metrics,
            workers: Workers::new(),
        }
    }

    /// The service's outbox, with its relay running and its lag reported.
    pub fn outbox(&mut self) -> Outbox {
        let outbox = Outbox::new(
            self.store.clone(),
            self.platform.bus.clone(),
            RelaySettings::default(),
        );
        self.metrics.watch_outbox(&outbox);
        let relay = outbox.clone();
        self.workers.relay(|stop| relay.run_relay(stop));
        outbox
    }

    /// Runs a consumer in the background and reports its lag.
    pub fn consumer<H: EventHandler>(&mut self, inbox: Inbox<H>) {
        self.metrics
            .watch_consumer(&self.platform.bus, inbox.durable());
        self.workers.consumer(|stop| inbox.run(stop));
    }

    /// Serves `routes` (plus `/healthz`, `/readyz` on the database and bus, `/metrics`) on
    /// `listener` until `shutdown`, then stops: requests drain, in-process events are consumed,
    /// consumers stop, relays flush, the store closes.
    pub async fn serve(
        self,
        listener: Listener,
        routes: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let p = &self.platform;
        let health = crate::health_router(vec![
            ("database", Platform::store_check(&self.store)),
            ("bus", p.bus_check()),
        ]);
        let router =
            crate::with_common_layers(routes.merge(health), &self.metrics, p.config.max_body_bytes);
        tracing::info!(addr = %listener.local_addr()?, "{} listening", self.name);
        let served = crate::serve(listener, router, shutdown, p.grace()).await;
        p.bus.quiesce(p.grace()).await;
        self.workers.stop(p.grace()).await;
        self.store.close().await;
        tracing::info!("{} stopped", self.name);
        served
    }
}
