//! Latency samples and what a run reports about them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every request's latency, in microseconds (a sorted vector: exact percentiles, and a run
/// is bounded, so it stays small).
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn record(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }

    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Latency summary in milliseconds.
    pub fn summary(mut self) -> Latency {
        self.0.sort_unstable();
        let at = |q: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest sample with at least q of the samples at or below it.
            let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
            self.0[rank - 1] as f64 / 1000.0
        };
        let mean = if self.0.is_empty() {
            0.0
        } else {
            self.0.iter().sum::<u64>() as f64 / self.0.len() as f64 / 1000.0
        };
        Latency {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: self.0.last().map_or(0.0, |&m| m as f64 / 1000.0),
            mean_ms: mean,
        }
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// What one scenario run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// Scenario name, e.g. `ingest-batch`.
    pub scenario: String,
    /// `postgres` or `sqlite`.
    pub backend: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Statements per request (ingest) or page size (queries).
    pub per_request: usize,
    pub requests: usize,
    /// Requests answered with an error status or not at all.
    pub errors: usize,
    /// Statements stored (ingest) or returned (queries).
    pub statements: usize,
    pub seconds: f64,
    pub requests_per_s: f64,
    pub statements_per_s: f64,
    pub latency: Latency,
    /// Free text: what else the run saw.
    #[serde(default)]
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in 1..=100u64 {
            s.record(Duration::from_millis(ms));
        }
        let l = s.summary();
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(l.mean_ms, 50.5);
        assert_eq!(Samples::default().summary(), Latency::default());
    }
}
