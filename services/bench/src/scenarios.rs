//! The load scenarios: ingest (batches or single statements from concurrent clients), loading
//! a store of N statements, and filtered statement queries. Every run is bounded by a count
//! and a duration, whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::{Lrs, Reply, encode};
use crate::generate::{Generator, Rng};
use crate::stats::{Outcome, Samples};

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub duration: Duration,
    /// Most statements (ingest) or requests (queries).
    pub max: u64,
}

/// One ingest run's shape.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub scenario: String,
    pub backend: String,
    /// Statements per POST; 1 posts single statement objects.
    pub batch: u64,
    pub clients: usize,
    /// Print progress this often (loading).
    pub progress: Option<Duration>,
}

/// Posts generated statements until the bounds are reached.
/// `next` is the index of the next statement to send, shared with later runs (a warm-up
/// and the measured run send different statements).
pub async fn ingest(
    lrs: &Lrs,
    generator: &Arc<Generator>,
    shape: &Ingest,
    next: &Arc<AtomicU64>,
    bounds: Bounds,
) -> anyhow::Result<Outcome> {
    let start_index = next.load(Ordering::Relaxed);
    let stored = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let end = start_index.saturating_add(bounds.max);
    let start = Instant::now();
    let deadline = start + bounds.duration;
    let mut tasks = Vec::new();
    for _ in 0..shape.clients {
        let (lrs, generator, next, stored, errors) = (
            lrs.clone(),
            generator.clone(),
            next.clone(),
            stored.clone(),
            errors.clone(),
        );
        let batch = shape.batch;
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= end {
                    break;
                }
                let count = batch.min(end - first);
                let body = if batch == 1 {
                    generator.single_body(first)
                } else {
                    generator.batch_body(first, count)
                };
                let sent = Instant::now();
                let reply = lrs.post_statements(Bytes::from(body)).await;
                samples.record(sent.elapsed());
                match &reply {
                    Ok(r) if r.status.is_success() => {
                        stored.fetch_add(count as usize, Ordering::Relaxed);
                    }
                    _ => count_error(&errors, "POST", &reply),
                }
            }
            samples
        }));
    }
    let progress = shape.progress.map(|every| {
        let stored = stored.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = stored.load(Ordering::Relaxed);
                let s = start.elapsed().as_secs_f64();
                eprintln!("  {n} statements in {s:.0} s ({:.0}/s)", n as f64 / s);
            }
        })
    });
    let mut samples = Samples::default();
    for t in tasks {
        samples.merge(t.await.context("client task")?);
    }
    if let Some(p) = progress {
        p.abort();
    }
    let seconds = start.elapsed().as_secs_f64();
    let statements = stored.load(Ordering::Relaxed);
    let requests = samples.len();
    Ok(Outcome {
        scenario: shape.scenario.clone(),
        backend: shape.backend.clone(),
        clients: shape.clients,
        per_request: shape.batch as usize,
        requests,
        errors: errors.load(Ordering::Relaxed),
        statements,
        seconds,
        requests_per_s: requests as f64 / seconds,
        statements_per_s: statements as f64 / seconds,
        latency: samples.summary(),
        note: String::new(),
    })
}

/// The statement filters measured on a loaded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryKind {
    /// `agent` (the actor of a generated statement).
    Agent,
    /// `verb` + `since` (a point in the store's stored range).
    VerbSince,
    /// `activity` with `related_activities=true` (a resource or a course presentation).
    ActivityRelated,
    /// `registration`.
    Registration,
}

impl QueryKind {
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Agent => "query-agent",
            QueryKind::VerbSince => "query-verb-since",
            QueryKind::ActivityRelated => "query-activity-related",
            QueryKind::Registration => "query-registration",
        }
    }
}

#[derive(Deserialize)]
struct Page {
    statements: Vec<StoredOnly>,
}

#[derive(Deserialize)]
struct StoredOnly {
    #[serde(default)]
    stored: Option<String>,
}

#[derive(Deserialize)]
struct CountOnly {
    statements: Vec<IgnoredAny>,
}

/// The `stored` range of the store: (oldest, newest).
async fn stored_range(lrs: &Lrs) -> anyhow::Result<(OffsetDateTime, OffsetDateTime)> {
    let mut ends = Vec::new();
    for q in ["limit=1&ascending=true", "limit=1"] {
        let r = lrs.get_statements(q).await?;
        if !r.status.is_success() {
            bail!("GET /xapi/statements?{q} answered {}", r.status);
        }
        let page: Page = serde_json::from_slice(&r.body)?;
        let stored = page
            .statements
            .first()
            .and_then(|s| s.stored.as_deref())
            .context("the store is empty")?;
        ends.push(OffsetDateTime::parse(stored, &Rfc3339)?);
    }
    Ok((ends[0], ends[1]))
}

/// Query strings for `kind`, drawn from the statements of a store loaded with `loaded`
/// statements of this generator: queries hit what is there, weighted by activity.
pub async fn query_strings(
    lrs: &Lrs,
    generator: &Generator,
    kind: QueryKind,
    loaded: u64,
    limit: u32,
    how_many: usize,
) -> anyhow::Result<Vec<String>> {
    let mut rng = Rng::new(0x5eed ^ kind as u64);
    let range = match kind {
        QueryKind::VerbSince => Some(stored_range(lrs).await?),
        _ => None,
    };
    let mut out = Vec::with_capacity(how_many);
    for _ in 0..how_many {
        let f = generator.facts(rng.below(loaded.max(1)));
        let q = match kind {
            QueryKind::Agent => format!("agent={}", encode(&f.agent.to_string())),
            QueryKind::VerbSince => {
                let (oldest, newest) = range.expect("range read above");
                let span = (newest - oldest).whole_milliseconds() as f64;
                let since = oldest + time::Duration::milliseconds((span * 0.9 * rng.unit()) as i64);
                let since = since.format(&Rfc3339)?;
                format!("verb={}&since={}", encode(&f.verb), encode(&since))
            }
            QueryKind::ActivityRelated => {
                let activity = if rng.unit() < 0.5 {
                    &f.object
                } else {
                    &f.parent
                };
                format!("activity={}&related_activities=true", encode(activity))
            }
            QueryKind::Registration => format!("registration={}", f.registration),
        };
        out.push(format!("{q}&limit={limit}"));
    }
    Ok(out)
}

/// Runs the queries round-robin from `clients` clients until the bounds are reached.
/// `next` counts requests across runs, so a warm-up and the measured run use different
/// queries of the list.
#[allow(clippy::too_many_arguments)]
pub async fn query(
    lrs: &Lrs,
    queries: Arc<Vec<String>>,
    next: &Arc<AtomicU64>,
    scenario: &str,
    backend: &str,
    clients: usize,
    limit: u32,
    bounds: Bounds,
) -> anyhow::Result<Outcome> {
    let end = next.load(Ordering::Relaxed).saturating_add(bounds.max);
    let errors = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicUsize::new(0));
    let full_pages = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + bounds.duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (lrs, queries, next, errors, returned, full_pages) = (
            lrs.clone(),
            queries.clone(),
            next.clone(),
            errors.clone(),
            returned.clone(),
            full_pages.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end || Instant::now() >= deadline {
                    break;
                }
                let q = &queries[n as usize % queries.len()];
                let sent = Instant::now();
                let reply = lrs.get_statements(q).await;
                samples.record(sent.elapsed());
                match &reply {
                    Ok(r) if r.status.is_success() => {
                        let got = serde_json::from_slice::<CountOnly>(&r.body)
                            .map_or(0, |p| p.statements.len());
                        returned.fetch_add(got, Ordering::Relaxed);
                        if got >= limit as usize {
                            full_pages.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => count_error(&errors, &format!("GET ?{q}"), &reply),
                }
            }
            samples
        }));
    }
    let mut samples = Samples::default();
    for t in tasks {
        samples.merge(t.await.context("client task")?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let requests = samples.len();
    let statements = returned.load(Ordering::Relaxed);
    let full = full_pages.load(Ordering::Relaxed);
    Ok(Outcome {
        scenario: scenario.to_string(),
        backend: backend.to_string(),
        clients,
        per_request: limit as usize,
        requests,
        errors: errors.load(Ordering::Relaxed),
        statements,
        seconds,
        requests_per_s: requests as f64 / seconds,
        statements_per_s: statements as f64 / seconds,
        latency: samples.summary(),
        note: format!(
            "{:.0} statements a page on average, {:.0}% full pages",
            statements as f64 / requests.max(1) as f64,
            100.0 * full as f64 / requests.max(1) as f64
        ),
    })
}

/// Counts a request that failed (`what` it was) and shows the first few.
fn count_error(errors: &AtomicUsize, what: &str, reply: &anyhow::Result<Reply>) {
    if errors.fetch_add(1, Ordering::Relaxed) >= 3 {
        return;
    }
    match reply {
        Ok(r) => eprintln!(
            "{what} answered {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(400)])
        ),
        Err(e) => eprintln!("{what} failed: {e:#}"),
    }
}
