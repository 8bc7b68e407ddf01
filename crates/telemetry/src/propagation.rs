//! W3C trace context in and out of header maps of every transport.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Trace headers as plain pairs, the form NATS headers and outbox rows carry.
pub type HeaderCarrier = Vec<(String, String)>;

struct PairsInjector<'a>(&'a mut HeaderCarrier);

impl Injector for PairsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

struct PairsExtractor<'a>(&'a [(String, String)]);

impl Extractor for PairsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

struct HttpInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HttpInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HttpExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The current span's trace context as header pairs (empty when no trace is being recorded).
pub fn inject_current() -> HeaderCarrier {
    let cx = tracing::Span::current().context();
    let mut out = Vec::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut PairsInjector(&mut out))
    });
    out
}

/// Writes the current span's trace context into HTTP headers or gRPC metadata
/// (`tonic::metadata::MetadataMap::as_mut` is not needed: use `into_headers`/`from_headers`).
pub fn inject_current_http(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HttpInjector(headers))
    });
}

/// The trace context carried by header pairs.
pub fn extract(headers: &[(String, String)]) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&PairsExtractor(headers)))
}

/// Makes `span` a child of the remote span named in header pairs, when there is one.
pub fn set_parent_from(span: &tracing::Span, headers: &[(String, String)]) {
    let cx = extract(headers);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Makes `span` a child of the remote span named in HTTP headers, when there is one.
pub fn set_parent_from_http(span: &tracing::Span, headers: &http::HeaderMap) {
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HttpExtractor(headers)));
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The current trace id in hex, when a trace is being recorded.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
