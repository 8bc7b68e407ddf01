//! The in-process bus of the embedded default: JetStream semantics (a retained log, durable
//! consumers with their own cursor, at-least-once delivery with redelivery of unacknowledged
//! events, de-duplication by event id) inside one process.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lyceum_proto::events::v1::Envelope;
use lyceum_telemetry::HeaderCarrier;
use prost::Message;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{Acker, BusError, ConsumerSpec, Delivery, OutgoingEvent, subject};

/// How long an event id is remembered for de-duplication (JetStream's default window).
const DEDUPE_WINDOW: Duration = Duration::from_secs(120);
/// Events every consumer has acknowledged are kept this long, for consumers that bind late.
const RETAIN_ACKED: Duration = Duration::from_secs(60);
/// Hard cap on retained events; the oldest go first beyond it.
const MAX_RETAINED: usize = 200_000;

/// The in-process bus. Clones share one log.
#[derive(Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
    log: VecDeque<Entry>,
    /// Sequence of `log[0]`; sequences start at 1.
    first_seq: u64,
    next_seq: u64,
    seen: HashMap<Uuid, Instant>,
    seen_order: VecDeque<(Instant, Uuid)>,
    consumers: HashMap<String, ConsumerState>,
}

struct Entry {
    seq: u64,
    at: Instant,
    subject: String,
    envelope: Envelope,
    headers: HeaderCarrier,
}

struct ConsumerState {
    filter: String,
    /// Next sequence to look at for new events.
    cursor: u64,
    /// Delivered, not yet acknowledged.
    in_flight: BTreeSet<u64>,
    /// Negatively acknowledged (or dropped), to deliver again first.
    redeliver: VecDeque<u64>,
    attempts: HashMap<u64, u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn publish(&self, events: &[OutgoingEvent]) {
        let now = Instant::now();
        let mut st = self.shared.lock();
        if st.next_seq == 0 {
            st.next_seq = 1;
            st.first_seq = 1;
        }
        while let Some((at, id)) = st.seen_order.front().copied() {
            if now.duration_since(at) < DEDUPE_WINDOW {
                break;
            }
            st.seen_order.pop_front();
            st.seen.remove(&id);
        }
        for event in events {
            if st.seen.contains_key(&event.id) {
                continue;
            }
            let Ok(envelope) = Envelope::decode(event.envelope.clone()) else {
                tracing::error!(event_id = %event.id, "dropping an event whose envelope does not decode");
                continue;
            };
            st.seen.insert(event.id, now);
            st.seen_order.push_back((now, event.id));
            let seq = st.next_seq;
            st.next_seq += 1;
            st.log.push_back(Entry {
                seq,
                at: now,
                subject: event.subject.clone(),
                envelope,
                headers: event.headers.clone(),
            });
        }
        st.trim(now);
        drop(st);
        self.shared.changed.notify_waiters();
    }

    pub(crate) fn subscribe(&self, spec: &ConsumerSpec) -> MemorySubscription {
        let mut st = self.shared.lock();
        let first = st.first_seq.max(1);
        let consumer = st
            .consumers
            .entry(spec.durable.clone())
            .or_insert_with(|| ConsumerState {
                filter: spec.filter.clone(),
                cursor: first,
                in_flight: BTreeSet::new(),
                redeliver: VecDeque::new(),
                attempts: HashMap::new(),
            });
        consumer.filter = spec.filter.clone();
        MemorySubscription {
            bus: self.clone(),
            durable: spec.durable.clone(),
        }
    }

    /// Events not yet acknowledged, summed over every consumer (for shutdown and tests).
    pub fn backlog(&self) -> usize {
        let st = self.shared.lock();
        st.consumers.values().map(|c| st.lag(c)).sum()
    }

    /// Events one consumer has not yet acknowledged.
    pub(crate) fn consumer_lag(&self, durable: &str) -> Option<u64> {
        let st = self.shared.lock();
        st.consumers.get(durable).map(|c| st.lag(c) as u64)
    }
}

impl State {
    fn lag(&self, c: &ConsumerState) -> usize {
        let unread = self
            .log
            .iter()
            .rev()
            .take_while(|e| e.seq >= c.cursor)
            .filter(|e| subject::matches(&c.filter, &e.subject))
            .count();
        c.in_flight.len() + c.redeliver.len() + unread
    }

    fn trim(&mut self, now: Instant) {
        let watermark = self
            .consumers
            .values()
            .map(|c| {
                let mut low = c.cursor;
                if let Some(&s) = c.in_flight.first() {
                    low = low.min(s);
                }
                if let Some(&s) = c.redeliver.iter().min() {
                    low = low.min(s);
                }
                low
            })
            .min()
            .unwrap_or(0);
        while let Some(front) = self.log.front() {
            let passed = front.seq < watermark && now.duration_since(front.at) > RETAIN_ACKED;
            if !(passed || self.log.len() > MAX_RETAINED) {
                break;
            }
            self.log.pop_front();
            self.first_seq += 1;
        }
    }
}

/// A bound in-process consumer.
pub struct MemorySubscription {
    bus: MemoryBus,
    durable: String,
}

impl std::fmt::Debug for MemorySubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySubscription")
            .field("durable", &self.durable)
            .finish()
    }
}

impl MemorySubscription {
    pub(crate) async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let max = max.max(1);
        loop {
            let notified = self.bus.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = self.take(max);
            if !batch.is_empty() {
                return Ok(batch);
            }
            notified.await;
        }
    }

    fn take(&self, max: usize) -> Vec<Delivery> {
        let mut st = self.bus.shared.lock();
        let st = &mut *st;
        let Some(c) = st.consumers.get_mut(&self.durable) else {
            return Vec::new();
        };
        let mut seqs = Vec::new();
        while seqs.len() < max {
            let Some(seq) = c.redeliver.pop_front() else {
                break;
            };
            seqs.push(seq);
        }
        let last = st.next_seq;
        c.cursor = c.cursor.max(st.first_seq);
        while seqs.len() < max && c.cursor < last {
            let seq = c.cursor;
            c.cursor += 1;
            let matches = seq
                .checked_sub(st.first_seq)
                .and_then(|i| st.log.get(i as usize))
                .is_some_and(|e| subject::matches(&c.filter, &e.subject));
            if matches {
                seqs.push(seq);
            }
        }
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let Some(entry) = seq
                .checked_sub(st.first_seq)
                .and_then(|i| st.log.get(i as usize))
            else {
                continue;
            };
            c.in_flight.insert(seq);
            let attempt = c.attempts.entry(seq).or_insert(0);
            *attempt += 1;
            out.push(Delivery {
                subject: entry.subject.clone(),
                envelope: entry.envelope.clone(),
                headers: entry.headers.clone(),
                attempt: *attempt,
                acker: Acker::Memory(MemoryAck {
                    bus: self.bus.clone(),
                    durable: self.durable.clone(),
                    seq,
                    settled: false,
                }),
            });
        }
        out
    }
}

/// Acknowledgement handle of an in-process delivery; dropping it unsettled asks for redelivery.
pub(crate) struct MemoryAck {
    bus: MemoryBus,
    durable: String,
    seq: u64,
    settled: bool,
}

impl std::fmt::Debug for MemoryAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAck").field("seq", &self.seq).finish()
    }
}

impl MemoryAck {
    pub(crate) fn ack(mut self) {
        self.settled = true;
        let mut st = self.bus.shared.lock();
        if let Some(c) = st.consumers.get_mut(&self.durable) {
            c.in_flight.remove(&self.seq);
            c.attempts.remove(&self.seq);
        }
        st.trim(Instant::now());
    }

    pub(crate) fn nak(mut self, delay: Duration) {
        self.settled = true;
        let (bus, durable, seq) = (self.bus.clone(), self.durable.clone(), self.seq);
        if delay.is_zero() {
            requeue(&bus, &durable, seq);
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                requeue(&bus, &durable, seq);
            });
        }
    }
}

impl Drop for MemoryAck {
    fn drop(&mut self) {
        if !self.settled {
            requeue(&self.bus, &self.durable, self.seq);
        }
    }
}

fn requeue(bus: &MemoryBus, durable: &str, seq: u64) {
    let mut st = bus.shared.lock();
    if let Some(c) = st.consumers.get_mut(durable)
        && c.in_flight.remove(&seq)
    {
        c.redeliver.push_back(seq);
    }
    drop(st);
    bus.shared.changed.notify_waiters();
}
