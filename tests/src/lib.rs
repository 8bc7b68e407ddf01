//! End-to-end checks of the whole platform, usable against any running deployment:
//! [`journey::run`] walks the learning journey through the gateway's public API; [`platforms`]
//! starts the platform in-process in either mode for the tests.

pub mod http;
pub mod journey;
pub mod platforms;

use std::future::Future;
use std::time::Duration;

/// Retries `check` until it returns `Some`, at most `within`; the last failure is reported.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut last;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => last = "not yet".into(),
            Err(e) => last = format!("{e:#}"),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{what}: not reached within {within:?} ({last})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
