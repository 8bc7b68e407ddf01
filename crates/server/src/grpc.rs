//! gRPC plumbing: services served next to HTTP routes on one listener, and client channels
//! whose requests carry the caller's token and the trace context.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// Turns tonic services into an axum router, so gRPC and HTTP share one port.
pub fn grpc_router(routes: tonic::service::Routes) -> axum::Router {
    routes.prepare().into_axum_router()
}

/// A lazily connecting channel to `url` (`http://host:port`); it reconnects by itself.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// A request carrying `authorization: Bearer <token>` and the current trace context.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut headers = http::HeaderMap::new();
    lyceum_telemetry::inject_current_http(&mut headers);
    if let Ok(v) = format!("Bearer {token}").parse() {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    let mut req = tonic::Request::new(message);
    *req.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
    req
}
