//! A keep-alive HTTP/1.1 client for the LRS's xAPI API (hyper's pooled client), loopback only.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Longest a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An xAPI client of one LRS.
#[derive(Clone)]
pub struct Lrs {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: HeaderValue,
}

/// A whole response.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Lrs {
    /// A client of the LRS at `base` (`http://127.0.0.1:PORT`), with Basic credentials
    /// `key:secret`. Refuses anything but a loopback address.
    pub fn new(base: &str, credentials: &str) -> anyhow::Result<Lrs> {
        let uri: Uri = base.parse().context("LRS URL")?;
        let host = uri.host().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if uri.scheme_str() != Some("http") || !loopback {
            bail!("the load generator only talks to http:// on loopback, not {base}");
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        let auth = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
            .context("credentials")?;
        Ok(Lrs {
            client,
            base: base.trim_end_matches('/').to_string(),
            auth,
        })
    }

    async fn send(&self, method: Method, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, self.auth.clone())
            .header("x-experience-api-version", "1.0.3");
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body))?;
        let call = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok(Reply { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, call)
            .await
            .context("request timed out")?
    }

    /// `POST /xapi/statements` with a statement or an array of them.
    pub async fn post_statements(&self, body: Bytes) -> anyhow::Result<Reply> {
        self.send(Method::POST, "/xapi/statements", body).await
    }

    /// `GET /xapi/statements?{query}`.
    pub async fn get_statements(&self, query: &str) -> anyhow::Result<Reply> {
        self.send(
            Method::GET,
            &format!("/xapi/statements?{query}"),
            Bytes::new(),
        )
        .await
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        assert!(Lrs::new("http://127.0.0.1:1", "k:s").is_ok());
        assert!(Lrs::new("http://localhost:1", "k:s").is_ok());
        assert!(Lrs::new("http://[::1]:1", "k:s").is_ok());
        assert!(Lrs::new("http://10.0.0.1:1", "k:s").is_err());
        assert!(Lrs::new("http://example.com", "k:s").is_err());
        assert!(Lrs::new("https://127.0.0.1:1", "k:s").is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("{\"mbox\":\"mailto:a@b.c\"}"),
            "%7B%22mbox%22%3A%22mailto%3Aa%40b.c%22%7D"
        );
        assert_eq!(
            encode("2024-01-01T00:00:00.000+01:00"),
            "2024-01-01T00%3A00%3A00.000%2B01%3A00"
        );
    }
}
