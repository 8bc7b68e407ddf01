//! Helpers for tests that use real parts: a `nats-server` of their own on a free port, a fresh
//! PostgreSQL database on the shared server, a SQLite file in a temp dir.
//!
//! When `CI` is set, a missing PostgreSQL or NATS fails the test; elsewhere it is skipped with a
//! message, so a laptop without them can still run the rest.

mod nats;
mod pg;

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
