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

    let parsed: Vec<Statement> = values
        .iter()
        .map(|v| Statement::parse(v.clone()).expect("valid statement"))
        .collect();

    // The checks alone, on parsed JSON.
    group.bench_function("validate", |b| {
        b.iter(|| {
            for v in &values {
                black_box(lyceum_xapi::validate::statement(black_box(v)).is_ok());
            }
        })
    });

    // The canonical (comparable) form alone, on checked statements.
    group.bench_function("canonicalise", |b| {
        b.iter(|| {
            for s in &parsed {
                black_box(black_box(s).comparable());
            }
        })
    });

    // The target: checks and canonical form of each statement.
    group.bench_function("validate+canonicalise", |b| {
        b.iter(|| {
            for (v, s) in values.iter().zip(&parsed) {
                black_box(lyceum_xapi::validate::statement(black_box(v)).is_ok());
                black_box(black_box(s).comparable());
            }
        })
    });

    // As a request body arrives: JSON text to a checked statement.
    group.bench_function("json+validate", |b| {
        b.iter(|| {
            for t in &texts {
                let v: Value = serde_json::from_str(black_box(t)).expect("statement JSON");
                black_box(Statement::parse(v).expect("valid statement"));
            }
        })
    });

    // Everything the LRS does with a statement before the database: JSON text to checked
    // statement, its comparable form, the agents and activities it indexes, the stored text.
    group.bench_function("per-statement-total", |b| {
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
