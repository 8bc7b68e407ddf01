//! Idempotent durable consumers: each event's id is recorded in the same transaction as its
//! effect, so a redelivered event (at-least-once delivery) changes nothing the second time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lyceum_proto::events::v1::Envelope;
use lyceum_store::{Store, StoreError, Tx, on_tx};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{ConsumerSpec, Delivery, EventBus, Subscription};

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event can never be applied (malformed payload, unknown type): it is recorded as
    /// processed, logged, and skipped.
    #[error("cannot apply event: {0}")]
    Permanent(String),
    /// Try again later (database down, lock timeout).
    #[error("event not applied yet: {0}")]
    Transient(String),
}

impl From<StoreError> for HandlerError {
    fn from(e: StoreError) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Transient(e.to_string())
    }
}

/// Applies events of one consumer. Called inside the transaction that records the event as
/// processed; on error nothing it wrote is kept.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event.
    fn handle(
        &self,
        tx: &mut Tx,
        event: &Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Consumer tuning.
#[derive(Debug, Clone)]
pub struct InboxSettings {
    /// Events applied per transaction.
    pub batch: usize,
    /// Longest wait before retrying after a failure.
    pub max_backoff: Duration,
}

impl Default for InboxSettings {
    fn default() -> Self {
        Self {
            batch: 200,
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A durable, idempotent consumer. Cheap to clone.
pub struct Inbox<H> {
    store: Store,
    bus: EventBus,
    spec: ConsumerSpec,
    handler: Arc<H>,
    settings: InboxSettings,
    /// The service's outbox, woken after each commit when handlers write events.
    outbox: Option<crate::Outbox>,
}

impl<H> Clone for Inbox<H> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            bus: self.bus.clone(),
            spec: self.spec.clone(),
            handler: self.handler.clone(),
            settings: self.settings.clone(),
            outbox: self.outbox.clone(),
        }
    }
}

const CLAIM: &str = "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (consumer, event_id) DO NOTHING";

impl<H: EventHandler> Inbox<H> {
    /// A consumer named by `spec.durable`, applying events with `handler`.
    pub fn new(store: Store, bus: EventBus, spec: ConsumerSpec, handler: H) -> Self {
        Self {
            store,
            bus,
            spec,
            handler: Arc::new(handler),
            settings: InboxSettings::default(),
            outbox: None,
        }
    }

    /// Wakes `outbox`'s relay after every commit: for handlers that write events, so those
    /// go out at once instead of at the relay's next poll.
    pub fn waking(mut self, outbox: crate::Outbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// The durable consumer's name.
    pub fn durable(&self) -> &str {
        &self.spec.durable
    }

    /// Replaces the tuning.
    pub fn with_settings(mut self, settings: InboxSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Applies deliveries in one transaction without acknowledging them. Events already
    /// recorded as processed are skipped.
    pub async fn apply(&self, deliveries: &[Delivery]) -> Result<(), HandlerError> {
        let mut tx = self.store.begin().await?;
        for d in deliveries {
            let span = tracing::info_span!(
                "consume",
                consumer = %self.spec.durable,
                subject = %d.subject,
                event_id = %d.envelope.id,
                attempt = d.attempt,
            );
            lyceum_telemetry::set_parent_from(&span, &d.headers);
            async {
                if self.claim(&mut tx, &d.envelope).await? {
                    self.handler.handle(&mut tx, &d.envelope).await
                } else {
                    tracing::debug!("already processed");
                    Ok(())
                }
            }
            .instrument(span)
            .await?;
        }
        tx.commit().await?;
        if let Some(outbox) = &self.outbox {
            outbox.notify();
        }
        Ok(())
    }

    async fn claim(&self, tx: &mut Tx, envelope: &Envelope) -> Result<bool, HandlerError> {
        let id: Uuid = envelope.id.parse().map_err(|_| {
            HandlerError::Permanent(format!("event id {:?} is not a UUID", envelope.id))
        })?;
        let inserted = on_tx!(tx, |conn| sqlx::query(CLAIM)
            .bind(&self.spec.durable)
            .bind(id)
            .bind(OffsetDateTime::now_utc())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// Records an event that can never be applied as processed, so it is not retried forever.
    async fn skip(&self, envelope: &Envelope) -> Result<(), HandlerError> {
        let mut tx = self.store.begin().await?;
        if let Err(HandlerError::Permanent(_)) = self.claim(&mut tx, envelope).await {
            return Ok(());
        }
        tx.commit().await?;
        Ok(())
    }

    /// Consumes until `shutdown`: binds the durable consumer (retrying while the bus is down),
    /// applies batches, acknowledges them after commit.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            let sub = tokio::select! {
                _ = shutdown.cancelled() => break,
                s = self.bus.subscribe(&self.spec) => s,
            };
            match sub {
                Ok(sub) => {
                    backoff = Duration::from_millis(200);
                    self.consume(sub, &shutdown).await;
                }
                Err(e) => {
                    tracing::warn!(consumer = %self.spec.durable, error = %e, "cannot bind consumer; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    async fn consume(&self, mut sub: Subscription, shutdown: &CancellationToken) {
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => return,
                b = sub.next_batch(self.settings.batch) => b,
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(consumer = %self.spec.durable, error = %e, "subscription ended; rebinding");
                    return;
                }
            };
            match self.apply(&batch).await {
                Ok(()) => ack_all(batch).await,
                Err(e) if batch.len() == 1 => self.settle_failed(batch, e).await,
                Err(_) => {
                    // Isolate the event that fails so the others go through.
                    for d in batch {
                        match self.apply(std::slice::from_ref(&d)).await {
                            Ok(()) => ack_all(vec![d]).await,
                            Err(e) => self.settle_failed(vec![d], e).await,
                        }
                    }
                }
            }
        }
    }

    async fn settle_failed(&self, mut one: Vec<Delivery>, error: HandlerError) {
        let Some(d) = one.pop() else { return };
        match error {
            HandlerError::Permanent(reason) => {
                tracing::error!(consumer = %self.spec.durable, subject = %d.subject,
                    event_id = %d.envelope.id, %reason, "skipping an event that cannot be applied");
                match self.skip(&d.envelope).await {
                    Ok(()) => {
                        let _ = d.term().await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot record skipped event; will retry");
                        let _ = d.nak(self.settings.max_backoff).await;
                    }
                }
            }
            HandlerError::Transient(reason) => {
                let delay = Duration::from_millis(100 * (1 << d.attempt.min(7)))
                    .min(self.settings.max_backoff);
                tracing::warn!(consumer = %self.spec.durable, subject = %d.subject,
                    event_id = %d.envelope.id, attempt = d.attempt, %reason, "event failed; retrying");
                let _ = d.nak(delay).await;
            }
        }
    }

    /// Deletes inbox records older than `age` (longer than the stream keeps events).
    pub async fn prune(&self, age: Duration) -> Result<u64, StoreError> {
        let cutoff = OffsetDateTime::now_utc() - age;
        Ok(lyceum_store::on_pool!(&self.store, |pool| sqlx::query(
            "DELETE FROM inbox WHERE consumer = $1 AND processed_at < $2"
        )
        .bind(&self.spec.durable)
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

async fn ack_all(batch: Vec<Delivery>) {
    for d in batch {
        // A lost ack means one redelivery, which the inbox absorbs.
        if let Err(e) = d.ack().await {
            tracing::debug!(error = %e, "ack failed");
        }
    }
}
