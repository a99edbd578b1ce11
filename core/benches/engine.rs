//! Engine throughput on 1,000 mixed workload manifests, one core, with and without parsing.
//!
//! Two settings for the evaluation alone. Every caller in the product evaluates an object it has
//! just built: `check` parses a document and evaluates it, the webhook parses a review, the
//! operator and the console unpack a cached object and evaluate it. That object is in the CPU's
//! caches, so `evaluate (each object just unpacked)` times only `evaluate`, in this thread's CPU
//! time, on objects parsed from compact JSON (as the cluster cache unpacks) in batches of
//! [`cpu_time::BATCH`] right before, untimed. `evaluate (1,000 held objects)` walks 1,000 objects
//! parsed up front, about 78 MB that no cache holds: what the items of one huge `kind: List`
//! cost, the slowest case (wall time).
//!
//! Also writes the corpus to `target/bench-corpus/` (one file per manifest) so the `check`
//! binary can be timed on the same input: `taskset -c 0 kube-guardian check target/bench-corpus`.

mod common;
mod corpus;
mod cpu_time;
mod policy;

// The allocator the kube-guardian binary ships with, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use common::count_findings;
use cpu_time::batched;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guardian_core::engine::EvalContext;
use policy::all_rules;
use serde_json::Value;

const COUNT: usize = 1_000;

fn write_corpus(docs: &[String]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-corpus");
    if std::fs::create_dir_all(&dir).is_ok() {
        for (i, doc) in docs.iter().enumerate() {
            let _ = std::fs::write(dir.join(format!("{i:04}.yaml")), doc);
        }
    }
}

fn bench(c: &mut Criterion) {
    let docs = corpus::corpus(COUNT);
    write_corpus(&docs);
    let bytes: usize = docs.iter().map(String::len).sum();
    let objects: Vec<Value> = docs
        .iter()
        .map(|d| guardian_core::load::parse(d, 1).expect("corpus parses"))
        .collect();
    let set = all_rules();
    let ctx = EvalContext::offline();
    eprintln!(
        "corpus: {COUNT} manifests, {:.1} MB, {} findings, {} rules",
        bytes as f64 / 1e6,
        count_findings(&set, &objects, &ctx),
        set.rules().len()
    );

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(COUNT as u64));
    group.sample_size(20);
    let compact: Vec<String> = objects
        .iter()
        .map(|o| serde_json::to_string(o).expect("a parsed object serialises"))
        .collect();
    group.bench_function("evaluate (each object just unpacked)", |b| {
        b.iter_custom(|iterations| {
            batched(
                iterations,
                &compact,
                |json| serde_json::from_str::<Value>(json).expect("compact JSON parses"),
                |objects| {
                    black_box(count_findings(&set, objects, &ctx));
                },
            )
        })
    });
    group.bench_function("evaluate (1,000 held objects)", |b| {
        b.iter(|| black_box(count_findings(&set, &objects, &ctx)))
    });
    group.bench_function("parse YAML + evaluate", |b| {
        b.iter(|| {
            let parsed: Vec<Value> = docs
                .iter()
                .map(|d| guardian_core::load::parse(d, 1).expect("corpus parses"))
                .collect();
            black_box(count_findings(&set, &parsed, &ctx))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
