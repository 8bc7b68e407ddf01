//! Background tasks of a service, stopped in dependency order at shutdown: consumers first
//! (after the bus has drained), then outbox relays (which flush what consumers wrote).

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A service's background tasks.
pub struct Workers {
    consumers: (CancellationToken, JoinSet<()>),
    relays: (CancellationToken, JoinSet<()>),
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            consumers: (CancellationToken::new(), JoinSet::new()),
            relays: (CancellationToken::new(), JoinSet::new()),
        }
    }
}

impl Workers {
    /// No tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a bus consumer; it gets a token cancelled at shutdown.
    pub fn consumer<F, Fut>(&mut self, start: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let token = self.consumers.0.clone();
        self.consumers.1.spawn(start(token));
    }

    /// Starts an outbox relay; it gets a token cancelled after the consumers stopped.
    pub fn relay<F, Fut>(&mut self, start: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let token = self.relays.0.clone();
        self.relays.1.spawn(start(token));
    }

    /// Stops consumers, then relays, waiting for each (at most `timeout` each).
    pub async fn stop(mut self, timeout: Duration) {
        for (token, set) in [&mut self.consumers, &mut self.relays] {
            token.cancel();
            let join_all = async { while set.join_next().await.is_some() {} };
            if tokio::time::timeout(timeout, join_all).await.is_err() {
                tracing::warn!("background tasks did not stop in time; aborting them");
                set.abort_all();
            }
        }
    }
}
