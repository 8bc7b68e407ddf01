//! CORS for xAPI content running in browsers (e-learning packages served from another
//! origin): preflight answers and the headers every answer carries. Credentials travel in the
//! `Authorization` header, never in cookies, so any origin may call; the origin is echoed so
//! caches keep answers per origin.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Content-Length, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language, X-Requested-With";
const EXPOSE_HEADERS: &str = "ETag, Last-Modified, Content-Type, Content-Length, X-Experience-API-Version, X-Experience-API-Consistent-Through, WWW-Authenticate";

/// The answer to an `OPTIONS` preflight.
pub(crate) fn preflight(origin: Option<&HeaderValue>, request: &HeaderMap) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    decorate(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    // Allow what the browser asks for (custom headers of xAPI profiles), else the xAPI set.
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW_METHODS));
    resp
}

/// Adds the CORS headers of an ordinary answer.
pub(crate) fn decorate(headers: &mut HeaderMap, origin: Option<&HeaderValue>) {
    let allow = origin
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    if origin.is_some() {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
