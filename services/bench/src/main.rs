//! `lyceum-bench`: a load generator for the LRS's xAPI API on loopback, and the report of
//! `make bench` (`deploy/scripts/bench.sh` drives it; results go to `docs/benchmarks.md`).
//!
//! Every run is bounded in count and time and only talks to loopback addresses.

mod client;
mod generate;
mod oulad;
mod report;
mod scenarios;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use client::Lrs;
use generate::Generator;
use scenarios::{Bounds, Ingest, QueryKind};
use stats::Outcome;

/// Load generator and report for the Lyceum LRS.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Target {
    /// The LRS (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:50053")]
    url: String,
    /// xAPI client `key:secret`.
    #[arg(
        long,
        env = "LYCEUM_BENCH_CREDENTIALS",
        default_value = "bench:bench-secret-0123456789"
    )]
    credentials: String,
    /// Backend name for the report (`postgres`, `sqlite`).
    #[arg(long, default_value = "postgres")]
    backend: String,
    /// Seed of the generated statements (the same seed makes the same statements).
    #[arg(long, default_value_t = 2017)]
    seed: u64,
    /// `account.homePage` of platform people (the LRS's LYCEUM_PUBLIC_URL).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    home_page: String,
    /// Write the outcome (JSON) here as well as to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// POST generated statements from concurrent clients for a while.
    Ingest {
        #[command(flatten)]
        target: Target,
        /// Scenario name in the report.
        #[arg(long, default_value = "ingest-batch")]
        scenario: String,
        /// Statements per POST (1: single statement objects).
        #[arg(long, default_value_t = 100)]
        batch: u64,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Most statements to send.
        #[arg(long, default_value_t = 2_000_000)]
        max: u64,
        /// Unmeasured seconds first.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Index of the first statement (runs on one store use disjoint ranges).
        #[arg(long, default_value_t = 1_000_000_000)]
        first: u64,
    },
    /// Load statements 0..count in batches (to build a query store).
    Load {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        #[arg(long, default_value_t = 100)]
        batch: u64,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3600)]
        max_seconds: u64,
    },
    /// GET filtered pages from a store loaded by `load`.
    Query {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum)]
        kind: QueryKind,
        /// Statements `load` stored (queries are drawn from them).
        #[arg(long, default_value_t = 1_000_000)]
        loaded: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Most requests.
        #[arg(long, default_value_t = 200_000)]
        max: u64,
        #[arg(long, default_value_t = 2)]
        warmup: u64,
    },
    /// Print generated statements (JSON lines).
    Sample {
        #[arg(long, default_value_t = 2017)]
        seed: u64,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        home_page: String,
        #[arg(long, default_value_t = 0)]
        first: u64,
        #[arg(long, default_value_t = 3)]
        count: u64,
    },
    /// Write the results section of docs/benchmarks.md from a results directory.
    Report {
        #[arg(long)]
        results: PathBuf,
        #[arg(long, default_value = "docs/benchmarks.md")]
        doc: PathBuf,
        /// Criterion's output directory (target/criterion) for the validation benchmark.
        #[arg(long)]
        criterion: Option<PathBuf>,
    },
}

fn emit(outcome: &Outcome, out: &Option<PathBuf>) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(outcome)?;
    println!("{json}");
    if let Some(path) = out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    let l = &outcome.latency;
    eprintln!(
        "{} on {}: {} st/s, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {} errors {}",
        outcome.scenario,
        outcome.backend,
        report::thousands(outcome.statements_per_s),
        outcome.requests_per_s,
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        outcome.errors,
        outcome.note
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ingest {
            target,
            scenario,
            batch,
            clients,
            seconds,
            max,
            warmup,
            first,
        } => {
            let lrs = Lrs::new(&target.url, &target.credentials)?;
            let generator = Arc::new(Generator::new(target.seed, &target.home_page));
            let shape = Ingest {
                scenario,
                backend: target.backend.clone(),
                batch: batch.max(1),
                clients: clients.max(1),
                progress: None,
            };
            let next = Arc::new(AtomicU64::new(first));
            let run = async |secs: u64| {
                let bounds = Bounds {
                    duration: Duration::from_secs(secs),
                    max,
                };
                scenarios::ingest(&lrs, &generator, &shape, &next, bounds).await
            };
            if warmup > 0 {
                run(warmup).await?;
            }
            let outcome = run(seconds).await?;
            emit(&outcome, &target.out)
        }
        Command::Load {
            target,
            count,
            batch,
            clients,
            max_seconds,
        } => {
            let lrs = Lrs::new(&target.url, &target.credentials)?;
            let generator = Arc::new(Generator::new(target.seed, &target.home_page));
            let shape = Ingest {
                scenario: "load".into(),
                backend: target.backend.clone(),
                batch: batch.max(1),
                clients: clients.max(1),
                progress: Some(Duration::from_secs(15)),
            };
            let next = Arc::new(AtomicU64::new(0));
            let bounds = Bounds {
                duration: Duration::from_secs(max_seconds),
                max: count,
            };
            let outcome = scenarios::ingest(&lrs, &generator, &shape, &next, bounds).await?;
            emit(&outcome, &target.out)?;
            anyhow::ensure!(
                outcome.errors == 0 && outcome.statements as u64 == count,
                "loaded {} of {count} statements ({} errors)",
                outcome.statements,
                outcome.errors
            );
            Ok(())
        }
        Command::Query {
            target,
            kind,
            loaded,
            limit,
            clients,
            seconds,
            max,
            warmup,
        } => {
            let lrs = Lrs::new(&target.url, &target.credentials)?;
            let generator = Generator::new(target.seed, &target.home_page);
            let queries = Arc::new(
                scenarios::query_strings(&lrs, &generator, kind, loaded, limit, 5_000).await?,
            );
            let clients = clients.max(1);
            let next = Arc::new(AtomicU64::new(0));
            let run = async |secs: u64| {
                let bounds = Bounds {
                    duration: Duration::from_secs(secs),
                    max,
                };
                scenarios::query(
                    &lrs,
                    queries.clone(),
                    &next,
                    kind.name(),
                    &target.backend,
                    clients,
                    limit,
                    bounds,
                )
                .await
            };
            if warmup > 0 {
                run(warmup).await?;
            }
            let outcome = run(seconds).await?;
            emit(&outcome, &target.out)
        }
        Command::Sample {
            seed,
            home_page,
            first,
            count,
        } => {
            let generator = Generator::new(seed, &home_page);
            for i in first..first + count.min(10_000) {
                println!("{}", generator.statement(i));
            }
            Ok(())
        }
        Command::Report {
            results,
            doc,
            criterion,
        } => {
            let section = report::section(&results, criterion.as_deref())?;
            let old = std::fs::read_to_string(&doc).unwrap_or_default();
            std::fs::write(&doc, report::splice(&old, &section))
                .with_context(|| format!("writing {}", doc.display()))?;
            eprintln!("wrote {}", doc.display());
            Ok(())
        }
    }
}
