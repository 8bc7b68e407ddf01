//! `X-Experience-API-Consistent-Through`: the instant up to which every statement the LRS
//! accepted is visible to queries. Writes register their `stored` instant here until they
//! commit, so the answer is "now" when nothing is being written (it never goes stale while
//! the LRS is idle) and just before the oldest write in flight otherwise.
//!
//! The tracking is per process. With several replicas on one PostgreSQL database a write in
//! flight on another replica is not seen here; such a write holds the writers' advisory lock
//! for the length of one transaction, so the answer can be early by at most that long.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Writes in flight, by ticket.
#[derive(Clone, Default)]
pub(crate) struct Consistency {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    in_flight: BTreeMap<u64, OffsetDateTime>,
    last_stored: Option<OffsetDateTime>,
}

/// A write in flight; dropping it (after commit or rollback) ends it.
pub(crate) struct WriteGuard {
    owner: Consistency,
    ticket: u64,
    /// The `stored` instant of the statements of this write.
    pub stored: OffsetDateTime,
}

impl Consistency {
    /// Registers a write and gives it its `stored` instant (never earlier than an earlier
    /// write's, to the millisecond, so `stored` order follows arrival order).
    pub fn begin_write(&self) -> WriteGuard {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = truncate_millis(OffsetDateTime::now_utc());
        let stored = match inner.last_stored {
            Some(last) if last > now => last,
            _ => now,
        };
        inner.last_stored = Some(stored);
        let ticket = inner.next;
        inner.next += 1;
        inner.in_flight.insert(ticket, stored);
        WriteGuard {
            owner: self.clone(),
            ticket,
            stored,
        }
    }

    /// Every statement stored up to this instant is visible.
    pub fn through(&self) -> OffsetDateTime {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = OffsetDateTime::now_utc();
        match inner.in_flight.values().min() {
            Some(oldest) => (*oldest - Duration::milliseconds(1)).min(now),
            None => now,
        }
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        let mut inner = self.owner.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.in_flight.remove(&self.ticket);
    }
}

fn truncate_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_means_now_and_writes_hold_it_back() {
        let c = Consistency::default();
        let before = OffsetDateTime::now_utc();
        assert!(c.through() >= before);
        let w = c.begin_write();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(c.through() < w.stored);
        let w2 = c.begin_write();
        assert!(w2.stored >= w.stored);
        drop(w);
        assert!(c.through() < w2.stored);
        drop(w2);
        assert!(c.through() >= before);
    }
}
