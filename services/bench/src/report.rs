//! The results section of `docs/benchmarks.md`: built from a results directory (one JSON
//! outcome per run, `meta.env`, captured query plans, criterion estimates) and written between
//! two marker comments, so hand-written text around it stays.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::stats::Outcome;

pub const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edits inside are replaced) -->";
pub const END: &str = "<!-- bench:end -->";

/// Scenario order in the table, with the target each must meet.
const SCENARIOS: &[(&str, &str, Target)] = &[
    (
        "ingest-batch",
        "POST batches of 100",
        Target::Throughput(20_000.0),
    ),
    (
        "ingest-single",
        "POST single statements",
        Target::ThroughputAndP99(3_000.0, 20.0),
    ),
    (
        "load",
        "loading the 1M store (batches of 100)",
        Target::None,
    ),
    ("query-agent", "GET ?agent=", Target::P99(20.0)),
    ("query-verb-since", "GET ?verb=&since=", Target::P99(20.0)),
    (
        "query-activity-related",
        "GET ?activity=&related_activities=true",
        Target::P99(20.0),
    ),
    (
        "query-registration",
        "GET ?registration=",
        Target::P99(20.0),
    ),
];

#[derive(Debug, Clone, Copy)]
enum Target {
    None,
    Throughput(f64),
    P99(f64),
    ThroughputAndP99(f64, f64),
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::None => "—".into(),
            Target::Throughput(t) => format!("≥ {} st/s", thousands(t)),
            Target::P99(ms) => format!("p99 < {ms} ms"),
            Target::ThroughputAndP99(t, ms) => format!("≥ {} st/s, p99 < {ms} ms", thousands(t)),
        }
    }

    fn met(self, o: &Outcome) -> Option<bool> {
        let ok = o.errors == 0 && o.requests > 0;
        match self {
            Target::None => None,
            Target::Throughput(t) => Some(ok && o.statements_per_s >= t),
            Target::P99(ms) => Some(ok && o.latency.p99_ms < ms),
            Target::ThroughputAndP99(t, ms) => {
                Some(ok && o.statements_per_s >= t && o.latency.p99_ms < ms)
            }
        }
    }

    /// Whether runs are ranked by latency (queries) rather than throughput.
    fn by_latency(self) -> bool {
        matches!(self, Target::P99(_))
    }
}

/// `12345.6` as `12,346`.
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

/// Reads `key=value` lines.
fn read_meta(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct BenchmarkId {
    full_id: String,
    throughput: Option<Throughput>,
}

#[derive(Deserialize)]
enum Throughput {
    Elements(u64),
    #[allow(dead_code)]
    Bytes(u64),
    #[serde(other)]
    Other,
}

/// Criterion results under `dir` (`<group>/<bench>/new/`): (id, elements/s, low, high).
fn criterion_results(dir: &Path) -> Vec<(String, f64, f64, f64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "estimates.json")
                && p.parent().is_some_and(|d| d.ends_with("new"))
            {
                let bench = p.with_file_name("benchmark.json");
                let (Ok(est), Ok(id)) = (std::fs::read(&p), std::fs::read(&bench)) else {
                    continue;
                };
                let (Ok(est), Ok(id)) = (
                    serde_json::from_slice::<Estimates>(&est),
                    serde_json::from_slice::<BenchmarkId>(&id),
                ) else {
                    continue;
                };
                if let Some(Throughput::Elements(n)) = id.throughput {
                    let per_s = |ns: f64| n as f64 / (ns * 1e-9);
                    out.push((
                        id.full_id,
                        per_s(est.mean.point_estimate),
                        per_s(est.mean.confidence_interval.upper_bound),
                        per_s(est.mean.confidence_interval.lower_bound),
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The sequential scans a plan shows, each with its table, and whether it read an empty
/// table (no rows and no filter: the planner prefers a scan of zero pages to an index).
pub fn seq_scans(plan: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = plan.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let at = l.find("Seq Scan on ")?;
            let rest = &l[at + "Seq Scan on ".len()..];
            let table = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let filtered = lines
                .get(i + 1)
                .is_some_and(|n| n.trim_start().starts_with("Filter:"));
            let empty = l.contains(" rows=0 loops=") && !filtered;
            Some((table, empty))
        })
        .collect()
}

/// Builds the generated section from a results directory.
pub fn section(results: &Path, criterion: Option<&Path>) -> anyhow::Result<String> {
    let meta = read_meta(&results.join("meta.env"));
    let get = |k: &str| meta.get(k).cloned().unwrap_or_else(|| "?".into());
    let mut runs: BTreeMap<(String, String), Vec<Outcome>> = BTreeMap::new();
    for e in std::fs::read_dir(results)
        .with_context(|| format!("reading {}", results.display()))?
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let o: Outcome = serde_json::from_slice(&std::fs::read(&p)?)
                .with_context(|| format!("reading {}", p.display()))?;
            runs.entry((o.scenario.clone(), o.backend.clone()))
                .or_default()
                .push(o);
        }
    }

    let mut s = String::new();
    writeln!(s, "{BEGIN}")?;
    writeln!(s)?;
    writeln!(
        s,
        "Command: `{}` · date: {} · commit: `{}`",
        get("command"),
        get("date"),
        get("commit")
    )?;
    writeln!(s)?;
    writeln!(
        s,
        "Machine: {} CPUs ({}), {} RAM, {}; load average before / after: {} / {}",
        get("nproc"),
        get("cpu"),
        get("memory"),
        get("kernel"),
        get("load_before"),
        get("load_after")
    )?;
    writeln!(s)?;
    writeln!(
        s,
        "Versions: {}; PostgreSQL {}; SQLite {}; nats-server {}",
        get("rustc"),
        get("postgres"),
        get("sqlite"),
        get("nats")
    )?;
    writeln!(s)?;
    writeln!(s, "Setup: {}", get("setup"))?;
    writeln!(s)?;
    writeln!(
        s,
        "Each figure is the median of {} runs (the range of all runs in the last column); latencies are per request, client side, in ms; for queries, statements/s counts the statements returned.",
        get("repeats")
    )?;
    writeln!(s)?;
    writeln!(
        s,
        "| scenario | backend | clients × statements | statements/s | p50 | p99 | max | target | met | runs |"
    )?;
    writeln!(s, "|---|---|---|---:|---:|---:|---:|---|---|---|")?;
    for backend in ["postgres", "sqlite"] {
        for (name, what, target) in SCENARIOS {
            let Some(list) = runs.get(&(name.to_string(), backend.to_string())) else {
                continue;
            };
            let mut list = list.clone();
            if target.by_latency() {
                list.sort_by(|a, b| a.latency.p99_ms.total_cmp(&b.latency.p99_ms));
            } else {
                list.sort_by(|a, b| a.statements_per_s.total_cmp(&b.statements_per_s));
            }
            let median = &list[list.len() / 2];
            let range = if target.by_latency() {
                list.iter()
                    .map(|o| format!("p99 {}", ms(o.latency.p99_ms)))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                list.iter()
                    .map(|o| thousands(o.statements_per_s))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let target_text = if backend == "sqlite" {
                "— (beside PostgreSQL)".to_string()
            } else {
                target.text()
            };
            let met = if backend == "sqlite" {
                "—".to_string()
            } else {
                match target.met(median) {
                    Some(true) => "**met**".into(),
                    Some(false) => "not met".into(),
                    None => "—".into(),
                }
            };
            let errors = if median.errors > 0 {
                format!(" ({} errors)", median.errors)
            } else {
                String::new()
            };
            writeln!(
                s,
                "| {what} | {backend} | {} × {} | {}{errors} | {} | {} | {} | {target_text} | {met} | {range} |",
                median.clients,
                median.per_request,
                thousands(median.statements_per_s),
                ms(median.latency.p50_ms),
                ms(median.latency.p99_ms),
                ms(median.latency.max_ms),
            )?;
        }
    }
    if let Some(dir) = criterion {
        for (id, per_s, low, high) in criterion_results(dir) {
            // The target is on validation and canonicalisation together; the parts say where
            // the time goes.
            let whole = id.ends_with("/validate+canonicalise");
            let met = match (whole, per_s >= 200_000.0) {
                (true, true) => "**met**",
                (true, false) => "not met",
                _ => "—",
            };
            let target = if whole {
                "≥ 200,000 st/s per core"
            } else {
                "(part)"
            };
            writeln!(
                s,
                "| `{id}` (criterion, one core) | — | 1 × 1 | {} | — | — | — | {target} | {met} | {}–{} (95% CI) |",
                thousands(per_s),
                thousands(low),
                thousands(high)
            )?;
        }
    }
    writeln!(s)?;
    let notes: Vec<String> = runs
        .values()
        .flatten()
        .filter(|o| !o.note.is_empty() && o.scenario.starts_with("query"))
        .map(|o| (o.scenario.clone(), o.note.clone()))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .map(|(k, v)| format!("`{k}`: {v}"))
        .collect();
    if !notes.is_empty() {
        writeln!(s, "Pages returned: {}.", notes.join("; "))?;
        writeln!(s)?;
    }
    if let Some(t) = meta.get("timings") {
        writeln!(s, "Time taken: {t}.")?;
        writeln!(s)?;
    }

    let explain_dir = results.join("explain");
    let has_plans = SCENARIOS
        .iter()
        .any(|(n, _, _)| explain_dir.join(format!("{n}.txt")).is_file());
    if has_plans {
        writeln!(
            s,
            "### Query plans on the 1M store (PostgreSQL, `EXPLAIN (ANALYZE, BUFFERS)` of the queries the LRS ran)"
        )?;
        writeln!(s)?;
        writeln!(s, "{}", get("explain_how"))?;
        writeln!(s)?;
        for (name, _, _) in SCENARIOS.iter().filter(|(n, _, _)| n.starts_with("query")) {
            let Ok(plan) = std::fs::read_to_string(explain_dir.join(format!("{name}.txt"))) else {
                continue;
            };
            let scans = seq_scans(&plan);
            let flag = if scans.is_empty() {
                "no sequential scan".to_string()
            } else {
                let names: Vec<String> = scans
                    .iter()
                    .map(|(t, empty)| {
                        if *empty {
                            format!("{t} (an empty table: nothing to find)")
                        } else {
                            t.clone()
                        }
                    })
                    .collect();
                format!("**sequential scan on {}**", names.join(", "))
            };
            writeln!(s, "`{name}`: {flag}")?;
            writeln!(s)?;
            writeln!(s, "```")?;
            writeln!(s, "{}", plan.trim_end())?;
            writeln!(s, "```")?;
            writeln!(s)?;
        }
    }
    write!(s, "{END}")?;
    Ok(s)
}

/// `doc` with the generated section replaced by `section` (appended when it has none).
pub fn splice(doc: &str, section: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{section}{}", &doc[..b], &doc[e + END.len()..]),
        _ => {
            let mut out = doc.trim_end().to_string();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(section);
            out.push('\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splicing_keeps_the_text_around() {
        let doc = format!("# T\n\nintro\n\n{BEGIN}\nold\n{END}\n\nanalysis\n");
        let out = splice(&doc, &format!("{BEGIN}\nnew\n{END}"));
        assert_eq!(
            out,
            format!("# T\n\nintro\n\n{BEGIN}\nnew\n{END}\n\nanalysis\n")
        );
        let appended = splice("# T\n", &format!("{BEGIN}\nx\n{END}"));
        assert_eq!(appended, format!("# T\n\n{BEGIN}\nx\n{END}\n"));
    }

    #[test]
    fn numbers_and_scans() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(
            seq_scans(
                "Limit\n  ->  Seq Scan on statements s  (actual rows=7 loops=1)\n  Filter: x"
            ),
            vec![("statements".to_string(), false)]
        );
        assert_eq!(
            seq_scans(
                "->  Seq Scan on statement_targets t  (actual time=0.004..0.004 rows=0 loops=1)\n->  Index Scan"
            ),
            vec![("statement_targets".to_string(), true)]
        );
        assert!(seq_scans("Index Only Scan using x on statement_agents m").is_empty());
    }
}
