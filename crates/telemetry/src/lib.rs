//! Logs, traces and trace-context propagation, the same way in every service.
//!
//! - Logs go to stderr: readable in development, JSON (with trace and span ids) in production.
//! - Spans are exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! - When they are, W3C `traceparent`/`tracestate` cross HTTP headers, gRPC metadata and NATS
//!   headers through [`inject_current`] / [`set_parent_from`], so one user action is one
//!   trace. Without an endpoint no trace context is kept (it would cost every request).

mod json;
mod propagation;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use propagation::{
    HeaderCarrier, current_trace_id, extract, inject_current, inject_current_http, set_parent_from,
    set_parent_from_http,
};

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for development.
    #[default]
    Pretty,
    /// One JSON object per line with trace and span ids, for production.
    Json,
}

/// Logging settings (`LYCEUM_LOG_FILTER`, `LYCEUM_LOG_FORMAT`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// An `EnvFilter` directive such as `info,lyceum_lms=debug`.
    pub filter: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn,async_nats=warn,h2=warn,hyper=warn,tower=warn".into(),
            format: LogFormat::Pretty,
        }
    }
}

/// Keeps the exporter alive; flushes pending spans when dropped or shut down.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes and stops span export.
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry shutdown: {e}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Filter for the OpenTelemetry layer: the exporter's own transport must never be exported, or
/// every export would produce spans that are exported again.
const OTEL_FILTER: &str = "info,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,opentelemetry=off,opentelemetry_sdk=off";

/// Installs the global subscriber: logs, plus OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set. Calling it again (as tests do) keeps the first subscriber.
pub fn init(service_name: &str, settings: &LogSettings) -> TelemetryGuard {
    init_with_endpoint(service_name, settings, otlp_endpoint())
}

/// Like [`init`], exporting to `endpoint` (an OTLP/gRPC URL) when given, whatever the
/// environment says.
pub fn init_with_endpoint(
    service_name: &str,
    settings: &LogSettings,
    endpoint: Option<String>,
) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|e| {
        eprintln!(
            "invalid log filter {:?}: {e}; using \"info\"",
            settings.filter
        );
        EnvFilter::new("info")
    });
    let fmt = match settings.format {
        LogFormat::Json => json::JsonLayer::new(std::io::stderr).boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    };

    // The OpenTelemetry layer is there only when spans are exported: it gives every span a
    // trace id and keeps the trace context that crosses HTTP, gRPC and NATS, at a cost on
    // every span of every request. Without it, logs carry no trace ids and no context is
    // passed on.
    let provider = endpoint.and_then(|endpoint| match build_provider(service_name, &endpoint) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("OTLP export to {endpoint} disabled: {e}");
            None
        }
    });
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("lyceum"))
            .with_filter(EnvFilter::new(OTEL_FILTER))
    });
    let registry = tracing_subscriber::registry()
        .with(otel)
        .with(fmt.with_filter(filter));
    if registry.try_init().is_ok()
        && let Some(provider) = &provider
    {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    TelemetryGuard { provider }
}

/// Builds a tracer provider that exports to `endpoint` over OTLP/gRPC.
pub fn build_provider(service_name: &str, endpoint: &str) -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| e.to_string())?;
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service_name.into());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
}

fn otlp_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}
