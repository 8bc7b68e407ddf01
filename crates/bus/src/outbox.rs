//! The transactional outbox: events are rows written with the state change they announce, and
//! a relay moves them to the bus. If the bus is down they wait; nothing is lost.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lyceum_store::{Store, StoreError, Tx};
use lyceum_telemetry::HeaderCarrier;
use prost::Message;
use sqlx::types::Json;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{BusError, EventBus, NewEvent, OutgoingEvent};

/// Relay tuning.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Events per publish round.
    pub batch: usize,
    /// How often to look for events when nobody wakes the relay (other replicas' rows, rows
    /// left by a crash).
    pub poll_interval: Duration,
    /// Longest wait between retries while the bus is down.
    pub max_backoff: Duration,
    /// How long the final flush at shutdown may take.
    pub flush_timeout: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch: 500,
            poll_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// A relay error: the database or the bus.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or deleting rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Publishing failed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl From<sqlx::Error> for RelayError {
    fn from(e: sqlx::Error) -> Self {
        RelayError::Store(e.into())
    }
}

/// A service's outbox: enqueue inside transactions, relay to the bus. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: Store,
    bus: EventBus,
    wake: Arc<Notify>,
    settings: RelaySettings,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: Uuid,
    subject: String,
    envelope: Vec<u8>,
    headers: Json<HeaderCarrier>,
}

/// One statement for any number of events on PostgreSQL (one array per column).
const INSERT_PG: &str = "INSERT INTO outbox (id, subject, envelope, headers, created_at) \
                         SELECT e.id, e.subject, e.envelope, $4, $5 \
                         FROM UNNEST($1::uuid[], $2::text[], $3::bytea[]) AS e (id, subject, envelope)";

/// Events per multi-row statement on SQLite (3 parameters each, far below its limit).
const SQLITE_CHUNK: usize = 1000;

impl Outbox {
    /// An outbox over a service's store, relaying to `bus`.
    pub fn new(store: Store, bus: EventBus, settings: RelaySettings) -> Self {
        Self {
            store,
            bus,
            wake: Arc::new(Notify::new()),
            settings,
        }
    }

    /// Writes events in the caller's transaction, with the current trace context. Call
    /// [`Outbox::notify`] after the commit so the relay publishes them at once.
    pub async fn enqueue(tx: &mut Tx, events: &[NewEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let headers = Json(lyceum_telemetry::inject_current());
        let now = OffsetDateTime::now_utc();
        match tx {
            Tx::Postgres(t) => {
                let ids: Vec<Uuid> = events.iter().map(NewEvent::id).collect();
                let subjects: Vec<&str> =
                    events.iter().map(|e| e.envelope.r#type.as_str()).collect();
                let envelopes: Vec<Vec<u8>> =
                    events.iter().map(|e| e.envelope.encode_to_vec()).collect();
                sqlx::query(INSERT_PG)
                    .bind(ids)
                    .bind(subjects)
                    .bind(envelopes)
                    .bind(&headers)
                    .bind(now)
                    .execute(&mut **t)
                    .await?;
            }
            Tx::Sqlite(t) => {
                for chunk in events.chunks(SQLITE_CHUNK) {
                    // The shared values are $1 and $2; each event adds three.
                    let mut sql = String::from(
                        "INSERT INTO outbox (id, subject, envelope, headers, created_at) VALUES ",
                    );
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        let n = 3 + 3 * i;
                        sql.push_str(&format!("(${n}, ${}, ${}, $1, $2)", n + 1, n + 2));
                    }
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&headers)
                        .bind(now);
                    for event in chunk {
                        q = q
                            .bind(event.id())
                            .bind(event.envelope.r#type.as_str())
                            .bind(event.envelope.encode_to_vec());
                    }
                    q.execute(&mut **t).await?;
                }
            }
        }
        Ok(())
    }

    /// Wakes the relay.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Commits `tx` and wakes the relay.
    pub async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        tx.commit().await?;
        self.notify();
        Ok(())
    }

    /// Publishes up to one batch of pending events and deletes them once the bus has stored
    /// them. Returns how many were published.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let limit = self.settings.batch as i64;
        match &self.store {
            // Replicas share the table: each takes rows no other relay holds.
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT seq, id, subject, envelope, headers FROM outbox \
                     ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                )
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                self.publish(&rows).await?;
                let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
                sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
                    .bind(&seqs)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.len())
            }
            // One process owns a SQLite file, and its writers commit in sequence order, so
            // the published rows are exactly the range read.
            Store::Sqlite(pool) => {
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT seq, id, subject, envelope, headers FROM outbox ORDER BY seq LIMIT $1",
                )
                .bind(limit)
                .fetch_all(pool)
                .await?;
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(0);
                };
                self.publish(&rows).await?;
                sqlx::query("DELETE FROM outbox WHERE seq >= $1 AND seq <= $2")
                    .bind(first.seq)
                    .bind(last.seq)
                    .execute(pool)
                    .await?;
                Ok(rows.len())
            }
        }
    }

    async fn publish(&self, rows: &[Row]) -> Result<(), BusError> {
        // One span per event, child of the request that wrote it, open until the bus has
        // acknowledged the batch; the event carries it on as the consumer's parent.
        let spans: Vec<tracing::Span> = rows
            .iter()
            .map(|r| {
                let span =
                    tracing::info_span!("outbox.publish", subject = %r.subject, event_id = %r.id);
                lyceum_telemetry::set_parent_from(&span, &r.headers.0);
                span
            })
            .collect();
        let events: Vec<OutgoingEvent> = rows
            .iter()
            .zip(&spans)
            .map(|(r, span)| OutgoingEvent {
                id: r.id,
                subject: r.subject.clone(),
                envelope: Bytes::from(r.envelope.clone()),
                headers: headers_under(span, &r.headers.0),
            })
            .collect();
        let result = self.bus.publish(&events).await;
        drop(spans);
        result
    }

    /// Number of pending events and the age of the oldest, for metrics and readiness.
    pub async fn lag(&self) -> Result<(i64, Duration), StoreError> {
        let (count, oldest): (i64, Option<OffsetDateTime>) = lyceum_store::on_pool!(
            &self.store,
            |pool| sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox")
                .fetch_one(pool)
                .await
        )?;
        let age = oldest
            .map(|t| (OffsetDateTime::now_utc() - t).unsigned_abs())
            .unwrap_or_default();
        Ok((count, age))
    }

    /// Runs the relay until `shutdown`, then flushes what is pending (bounded by
    /// `flush_timeout`); whatever cannot be published stays in the table for the next start.
    pub async fn run_relay(self, shutdown: CancellationToken) {
        let mut backoff = Duration::ZERO;
        let mut failing = false;
        loop {
            let wait = match self.relay_once().await {
                Ok(n) if n >= self.settings.batch => continue,
                Ok(_) => {
                    if failing {
                        tracing::info!("outbox relay: bus reachable again");
                        failing = false;
                    }
                    backoff = Duration::ZERO;
                    self.settings.poll_interval
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "outbox relay: publish failed; events wait in the outbox");
                        failing = true;
                    }
                    backoff = (backoff * 2)
                        .max(Duration::from_millis(100))
                        .min(self.settings.max_backoff);
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified(), if backoff.is_zero() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let flush = async {
            loop {
                match self.relay_once().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay: final flush failed; events stay in the outbox");
                        break;
                    }
                }
            }
        };
        if tokio::time::timeout(self.settings.flush_timeout, flush)
            .await
            .is_err()
        {
            tracing::warn!("outbox relay: final flush timed out; events stay in the outbox");
        }
    }
}

/// The trace headers an event is published with: the relay span as parent when tracing is on,
/// else the headers it was written with.
fn headers_under(span: &tracing::Span, written: &HeaderCarrier) -> HeaderCarrier {
    let _enter = span.enter();
    let current = lyceum_telemetry::inject_current();
    if current.is_empty() {
        written.clone()
    } else {
        current
    }
}
