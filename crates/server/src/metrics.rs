//! Prometheus metrics of a service, served at `GET /metrics` on its port: request counts and
//! latency by route (HTTP) or method (gRPC) and status, outbox lag, consumer lag, database pool
//! use. Gauges that need a query (outbox, consumers) are refreshed when scraped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lyceum_bus::{EventBus, Outbox};
use lyceum_store::Store;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// A service's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_requests: Family<Labels, Counter>,
    http_duration: Family<Labels, Histogram, fn() -> Histogram>,
    grpc_requests: Family<Labels, Counter>,
    grpc_duration: Family<Labels, Histogram, fn() -> Histogram>,
    outbox_pending: Gauge,
    outbox_age: Gauge<f64, AtomicU64>,
    consumer_lag: Family<Labels, Gauge>,
    pool_in_use: Gauge,
    pool_size: Gauge,
    probes: Mutex<Vec<Probe>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty set of the platform's metrics.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<Labels, Counter>::default();
        let http_duration =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let grpc_requests = Family::<Labels, Counter>::default();
        let grpc_duration =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let outbox_pending = Gauge::default();
        let outbox_age = Gauge::<f64, AtomicU64>::default();
        let consumer_lag = Family::<Labels, Gauge>::default();
        let pool_in_use = Gauge::default();
        let pool_size = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            http_duration.clone(),
        );
        registry.register(
            "grpc_requests",
            "gRPC calls by method and status code",
            grpc_requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC call latency by method",
            grpc_duration.clone(),
        );
        registry.register(
            "outbox_pending_events",
            "Events written but not yet published",
            outbox_pending.clone(),
        );
        registry.register(
            "outbox_oldest_event_age_seconds",
            "Age of the oldest unpublished event",
            outbox_age.clone(),
        );
        registry.register(
            "bus_consumer_lag_events",
            "Events a consumer has not yet acknowledged",
            consumer_lag.clone(),
        );
        registry.register(
            "db_pool_connections_in_use",
            "Database connections in use",
            pool_in_use.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections open",
            pool_size.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                http_requests,
                http_duration,
                grpc_requests,
                grpc_duration,
                outbox_pending,
                outbox_age,
                consumer_lag,
                pool_in_use,
                pool_size,
                probes: Mutex::new(Vec::new()),
            }),
        }
    }

    fn probe(&self, probe: Probe) {
        self.inner
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(probe);
    }

    /// Reports the database pool's use.
    pub fn watch_store(&self, store: &Store) {
        let (store, inner) = (store.clone(), self.inner.clone());
        self.probe(Arc::new(move || {
            let (in_use, size) = store.pool_usage();
            inner.pool_in_use.set(i64::from(in_use));
            inner.pool_size.set(i64::from(size));
            Box::pin(async {})
        }));
    }

    /// Reports the outbox's pending events and the age of the oldest.
    pub fn watch_outbox(&self, outbox: &Outbox) {
        let (outbox, inner) = (outbox.clone(), self.inner.clone());
        self.probe(Arc::new(move || {
            let (outbox, inner) = (outbox.clone(), inner.clone());
            Box::pin(async move {
                if let Ok((count, age)) = outbox.lag().await {
                    inner.outbox_pending.set(count);
                    inner.outbox_age.set(age.as_secs_f64());
                }
            })
        }));
    }

    /// Reports a durable consumer's lag.
    pub fn watch_consumer(&self, bus: &EventBus, durable: &str) {
        let (bus, inner, durable) = (bus.clone(), self.inner.clone(), durable.to_string());
        self.probe(Arc::new(move || {
            let (bus, inner, durable) = (bus.clone(), inner.clone(), durable.clone());
            Box::pin(async move {
                if let Some(lag) = bus.consumer_lag(&durable).await {
                    inner
                        .consumer_lag
                        .get_or_create(&vec![("consumer", durable)])
                        .set(lag as i64);
                }
            })
        }));
    }

    /// `GET /metrics` in the Prometheus text format.
    pub fn router(&self) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.render().await }
            }),
        )
    }

    /// Refreshes the probed gauges and encodes everything.
    pub async fn render(&self) -> Response {
        let probes: Vec<Probe> = self
            .inner
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for probe in probes {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), probe()).await;
        }
        let mut body = String::new();
        if let Err(e) = encode(&mut body, &self.inner.registry) {
            return crate::ApiError::internal(e).into_response();
        }
        (
            [(
                http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response()
    }

    /// Middleware: counts and times every request.
    pub(crate) async fn record(self, req: Request, next: Next) -> Response {
        let grpc = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let method = req.method().to_string();
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string());
        let path = req.uri().path().to_string();
        let started = Instant::now();
        let resp = next.run(req).await;
        let seconds = started.elapsed().as_secs_f64();
        let inner = &self.inner;
        if grpc {
            // Errors travel in the grpc-status header (trailers-only responses); absent means OK.
            let code = resp
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map_or(tonic::Code::Ok, tonic::Code::from_i32);
            inner
                .grpc_requests
                .get_or_create(&vec![
                    ("method", path.clone()),
                    ("code", format!("{code:?}")),
                ])
                .inc();
            inner
                .grpc_duration
                .get_or_create(&vec![("method", path)])
                .observe(seconds);
        } else {
            let route = route.unwrap_or_else(|| "unmatched".into());
            let status = resp.status().as_u16().to_string();
            inner
                .http_requests
                .get_or_create(&vec![
                    ("method", method.clone()),
                    ("route", route.clone()),
                    ("status", status),
                ])
                .inc();
            inner
                .http_duration
                .get_or_create(&vec![("method", method), ("route", route)])
                .observe(seconds);
        }
        resp
    }
}
