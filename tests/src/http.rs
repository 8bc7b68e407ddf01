//! A small HTTP/1.1 client for talking to the gateway like a web app would.

use anyhow::Context;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// An HTTP client rooted at a base URL.
#[derive(Clone)]
pub struct Http {
    base: String,
    client: Client<HttpConnector, Body>,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails unless the status is `expected`, showing the body.
    pub fn expect(self, expected: u16) -> anyhow::Result<Reply> {
        if self.status.as_u16() != expected {
            anyhow::bail!(
                "expected {expected}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        Ok(self)
    }
}

impl Http {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request with optional JSON body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Reply> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty))?;
        let resp = self
            .client
            .request(req)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// GET with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Reply> {
        self.send(
            Method::GET,
            path,
            &[("authorization", format!("Bearer {token}"))],
            None,
        )
        .await
    }

    /// POST JSON with a bearer token (empty token: none).
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Reply> {
        let headers: Vec<(&str, String)> = if token.is_empty() {
            vec![]
        } else {
            vec![("authorization", format!("Bearer {token}"))]
        };
        self.send(
            Method::POST,
            path,
            &headers,
            Some(serde_json::to_vec(body)?),
        )
        .await
    }

    /// `POST /api/v1/auth/token`, returning the access token.
    pub async fn token(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let r = self
            .post(
                "/api/v1/auth/token",
                "",
                &serde_json::json!({"email": email, "password": password}),
            )
            .await?
            .expect(200)?;
        r.json()["access_token"]
            .as_str()
            .map(str::to_string)
            .context("no access_token")
    }
}
