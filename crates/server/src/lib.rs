//! What every Lyceum service shares: the [`Platform`] handle (settings, bus, token keys),
//! serving HTTP and gRPC on one pre-bound listener with graceful shutdown ([`serve`]), health
//! endpoints, Prometheus metrics, the error model ([`ApiError`], mapped once to problem+json and to gRPC status),
//! and background workers that stop in the right order.

mod error;
mod grpc;
mod health;
mod http_layers;
mod metrics;
pub mod paging;
mod platform;
mod serve;
mod service;
pub mod validate;
mod workers;

pub use error::{ApiError, ErrorKind, Json, Path, Query};
pub use grpc::{authorized, channel, grpc_router};
pub use health::{Check, health_router};
pub use http_layers::with_common_layers;
pub use metrics::Metrics;
pub use platform::{Platform, PlatformError};
pub use serve::{serve, shutdown_signal};
pub use service::Service;
pub use workers::Workers;

/// The listener type every service's `run` takes: bound by the caller.
pub type Listener = tokio::net::TcpListener;
