//! Lyceum's event bus: how one service's state changes reach the others.
//!
//! - [`EventBus`]: NATS JetStream in production, in-process in the embedded default; both pass
//!   the same contract tests (`tests/contract.rs`).
//! - [`Outbox`]: events are written in the same transaction as the state change they announce;
//!   a relay publishes them and deletes them once the bus has acknowledged them.
//! - [`Inbox`]: a durable consumer that applies each event exactly once, by recording its id in
//!   the same transaction as its effect.

mod event;
mod inbox;
mod memory;
mod nats;
mod outbox;
pub mod subject;

use std::time::Duration;

use lyceum_proto::events::v1::Envelope;
use lyceum_store::MigrationSet;
use lyceum_telemetry::HeaderCarrier;

pub use event::{NewEvent, OutgoingEvent, subjects};
pub use inbox::{EventHandler, HandlerError, Inbox, InboxSettings};
pub use memory::MemoryBus;
pub use nats::{NatsBus, NatsSettings};
pub use outbox::{Outbox, RelaySettings};

/// Tables of the outbox and the inbox; every service with a database applies them.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    postgres: sqlx::migrate!("./migrations/postgres"),
    sqlite: sqlx::migrate!("./migrations/sqlite"),
};

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Connecting to NATS failed.
    #[error("cannot connect to the event bus: {0}")]
    Connect(String),
    /// The bus did not accept (or acknowledge) a publish.
    #[error("publish failed: {0}")]
    Publish(String),
    /// Creating or binding the stream or a consumer failed.
    #[error("subscription failed: {0}")]
    Subscribe(String),
    /// The subscription ended.
    #[error("subscription closed")]
    Closed,
}

/// A durable consumer: a name the bus remembers progress under, and the subjects it wants.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, unique per consuming service and purpose (e.g. `lxp-catalog`).
    pub durable: String,
    /// Subject filter with NATS wildcards (`*` one token, `>` the rest).
    pub filter: String,
    /// How long a delivered event may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
    /// How many deliveries before the bus gives up on an event (-1: never).
    pub max_deliver: i64,
}

impl ConsumerSpec {
    /// A consumer with a 30 s ack wait and unlimited redelivery.
    pub fn new(durable: impl Into<String>, filter: impl Into<String>) -> Self {
        Self {
            durable: durable.into(),
            filter: filter.into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: -1,
        }
    }
}

/// The event bus: NATS JetStream or in-process. Cheap to clone.
// A handful exist per process; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum EventBus {
    /// NATS JetStream (production, many processes).
    Nats(NatsBus),
    /// In-process (embedded default, one process).
    Memory(MemoryBus),
}

impl EventBus {
    /// Publishes events and waits until the bus has stored every one. Publishing an event id
    /// the bus has seen recently is a no-op (de-duplication), so retrying a batch is safe.
    pub async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BusError> {
        match self {
            EventBus::Nats(b) => b.publish(events).await,
            EventBus::Memory(b) => {
                b.publish(events);
                Ok(())
            }
        }
    }

    /// Binds (creating if needed) a durable consumer. Delivery starts where the consumer left
    /// off, or at the oldest retained event for a new one.
    pub async fn subscribe(&self, spec: &ConsumerSpec) -> Result<Subscription, BusError> {
        Ok(match self {
            EventBus::Nats(b) => Subscription::Nats(b.subscribe(spec).await?),
            EventBus::Memory(b) => Subscription::Memory(b.subscribe(spec)),
        })
    }

    /// Whether the bus is reachable now.
    pub async fn is_ready(&self) -> bool {
        match self {
            EventBus::Nats(b) => b.is_ready().await,
            EventBus::Memory(_) => true,
        }
    }

    /// Waits until in-process events are consumed (no backlog for a few checks in a row), at
    /// most `deadline`. Used at shutdown of the embedded platform, where unconsumed events would
    /// be lost with the process; NATS keeps them, so there it returns at once.
    pub async fn quiesce(&self, deadline: Duration) {
        let EventBus::Memory(bus) = self else { return };
        let until = tokio::time::Instant::now() + deadline;
        let mut quiet = 0;
        while quiet < 3 && tokio::time::Instant::now() < until {
            quiet = if bus.backlog() == 0 { quiet + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Events a durable consumer has not yet acknowledged (pending plus in flight); `None` when
    /// the bus cannot tell now (NATS unreachable, consumer not bound yet).
    pub async fn consumer_lag(&self, durable: &str) -> Option<u64> {
        match self {
            EventBus::Nats(b) => b.consumer_lag(durable).await,
            EventBus::Memory(b) => b.consumer_lag(durable),
        }
    }

    /// `nats` or `memory`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBus::Nats(_) => "nats",
            EventBus::Memory(_) => "memory",
        }
    }
}

/// A bound durable consumer.
// One per consumer task; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Subscription {
    /// On NATS.
    Nats(nats::NatsSubscription),
    /// In-process.
    Memory(memory::MemorySubscription),
}

impl Subscription {
    /// Waits for at least one event, then returns up to `max` that are ready.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        match self {
            Subscription::Nats(s) => s.next_batch(max).await,
            Subscription::Memory(s) => s.next_batch(max).await,
        }
    }
}

/// One delivered event. Acknowledge it once its effect is committed; an event dropped without
/// acknowledgement is delivered again (at once in-process, after the ack wait on NATS).
#[derive(Debug)]
pub struct Delivery {
    /// The subject it was published on.
    pub subject: String,
    /// The event.
    pub envelope: Envelope,
    /// Trace headers it carried.
    pub headers: HeaderCarrier,
    /// 1 for the first delivery, more for redeliveries.
    pub attempt: u64,
    acker: Acker,
}

#[derive(Debug)]
enum Acker {
    Nats(Box<async_nats::jetstream::Message>),
    Memory(memory::MemoryAck),
}

impl Delivery {
    /// Confirms the event is processed; it will not be delivered again.
    pub async fn ack(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Nats(m) => m
                .ack()
                .await
                .map_err(|e| BusError::Publish(format!("ack: {e}"))),
            Acker::Memory(a) => {
                a.ack();
                Ok(())
            }
        }
    }

    /// Asks for redelivery after `delay`.
    pub async fn nak(self, delay: Duration) -> Result<(), BusError> {
        match self.acker {
            Acker::Nats(m) => m
                .ack_with(async_nats::jetstream::AckKind::Nak(Some(delay)))
                .await
                .map_err(|e| BusError::Publish(format!("nak: {e}"))),
            Acker::Memory(a) => {
                a.nak(delay);
                Ok(())
            }
        }
    }

    /// Gives up on the event for good (it can never be processed).
    pub async fn term(self) -> Result<(), BusError> {
        match self.acker {
            Acker::Nats(m) => m
                .ack_with(async_nats::jetstream::AckKind::Term)
                .await
                .map_err(|e| BusError::Publish(format!("term: {e}"))),
            Acker::Memory(a) => {
                a.ack();
                Ok(())
            }
        }
    }
}
