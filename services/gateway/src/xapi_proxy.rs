//! `/xapi/*` passed through to the LRS untouched: method, path, query, headers (but
//! hop-by-hop ones), body (streamed, multipart included), status and response headers.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::HeaderName;
use http::header::{self, HeaderMap};

use crate::Gateway;
use crate::error::GatewayError;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| name.trim().parse().ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

pub(crate) async fn forward(State(gw): State<Gateway>, req: Request) -> Response {
    match proxy(&gw, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn proxy(gw: &Gateway, req: Request) -> Result<Response, GatewayError> {
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/xapi");
    let uri: http::Uri = format!("{}{}", gw.upstream.lrs_base, path_and_query)
        .parse()
        .map_err(|e| GatewayError::Unreachable(format!("bad LRS URL: {e}")))?;
    let client_host = parts.headers.get(header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::HOST);
    if let Some(host) = client_host {
        parts.headers.insert("x-forwarded-host", host);
    }
    lyceum_telemetry::inject_current_http(&mut parts.headers);
    parts.uri = uri;
    let upstream = http::Request::from_parts(parts, body);
    let resp = gw
        .upstream
        .http
        .request(upstream)
        .await
        .map_err(|e| GatewayError::Unreachable(format!("LRS: {e}")))?;
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, Body::new(body)))
}
