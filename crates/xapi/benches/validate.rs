//! Statement validation and canonicalisation alone, on 64 realistic statements (learners of
//! OULAD course presentations, as `lyceum-bench sample --count 64` makes them): what the LRS
//! spends per statement before it touches the database. `cargo bench -p lyceum-xapi`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lyceum_xapi::Statement;
use serde_json::Value;

const STATEMENTS: &str = include_str!("statements.jsonl");

fn texts() -> Vec<&'static str> {
    STATEMENTS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn bench(c: &mut Criterion) {
    let texts = texts();
    assert!(
        !texts.is_empty(),
        "benches/statements.jsonl has no statements"
    );
    let values: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("statement JSON"))
        .collect();
    let mut group = c.benchmark_group("statements");
    group.throughput(Throughput::Elements(texts.len() as u64));

    // The checks alone, on parsed JSON.
    group.bench_function("validate", |b| {
        b.iter(|| {
            for v in &values {
                black_box(lyceum_xapi::validate::statement(black_box(v)).is_ok());
            }
        })
    });

    // As a request body arrives: JSON text to a checked statement.
    group.bench_function("parse+validate", |b| {
        b.iter(|| {
            for t in &texts {
                let v: Value = serde_json::from_str(black_box(t)).expect("statement JSON");
                black_box(Statement::parse(v).expect("valid statement"));
            }
        })
    });

    // Everything the LRS derives from a statement: the checks, the comparable (canonical)
    // form it digests, the agents and activities it indexes, and the stored JSON text.
    group.bench_function("parse+validate+canonicalise", |b| {
        b.iter(|| {
            for t in &texts {
                let v: Value = serde_json::from_str(black_box(t)).expect("statement JSON");
                let s = Statement::parse(v).expect("valid statement");
                black_box(s.comparable());
                black_box(s.agents());
                black_box(s.activities());
                black_box(s.to_json());
            }
        })
    });

    // The canonical form alone, on checked statements.
    let parsed: Vec<Statement> = values
        .iter()
        .map(|v| Statement::parse(v.clone()).expect("valid statement"))
        .collect();
    group.bench_function("canonicalise", |b| {
        b.iter(|| {
            for s in &parsed {
                black_box(s.comparable());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
