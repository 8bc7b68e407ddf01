//! Helpers for tests that use real parts: a `nats-server` of their own on a free port, a fresh
//! PostgreSQL database on the shared server, a SQLite file in a temp dir; seeded random input.
//!
//! When `CI` is set, a missing PostgreSQL or NATS fails the test; elsewhere it is skipped with a
//! message, so a laptop without them can still run the rest.

mod nats;
mod pg;
pub mod random;

pub use nats::NatsServer;
pub use pg::{PgServer, TestDatabase};

/// Whether tests run in CI, where a missing service is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Reports a missing service: panics in CI, prints a skip notice elsewhere.
pub fn missing(what: &str) {
    if in_ci() {
        panic!("{what} is required when CI is set");
    }
    eprintln!("SKIPPED: {what} is not available");
}

/// A database of each backend for store tests: SQLite always, PostgreSQL when reachable (and
/// always in CI). Each is fresh and dropped with its guard.
pub async fn databases() -> Vec<TestDatabase> {
    let mut out = vec![TestDatabase::sqlite()];
    if let Some(pg) = TestDatabase::postgres().await {
        out.push(pg);
    }
    out
}

/// A minimal HTTP/1.1 GET (status and body), for probing health endpoints in tests.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
