//! YAML reading speed on the engine bench's corpus (1,000 mixed workload manifests, one core):
//! guardian_core::load (YAML 1.1 as the API server reads it: the fast reader for block-style
//! documents, the full reader for the rest), the full reader alone, and serde_yaml_ng (YAML 1.2),
//! which `check` used before.

mod corpus;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

const COUNT: usize = 1_000;

fn bench(c: &mut Criterion) {
    let docs = corpus::corpus(COUNT);
    let bytes: usize = docs.iter().map(String::len).sum();
    // Both readers agree on the corpus (it has no YAML 1.1-only scalars), so they do equal work.
    for doc in &docs {
        let ours = guardian_core::load::parse(doc, 1).expect("corpus loads");
        let full = guardian_core::load::parse_full(doc, 1).expect("corpus loads");
        let theirs: Value = serde_yaml_ng::from_str(doc).expect("corpus parses");
        assert_eq!(ours, theirs, "the readers disagree on the corpus");
        assert_eq!(ours, full, "the readers disagree on the corpus");
    }
    let mut group = c.benchmark_group("load");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("guardian_core::load", |b| {
        b.iter(|| {
            for doc in &docs {
                black_box(guardian_core::load::parse(doc, 1).expect("corpus loads"));
            }
        })
    });
    group.bench_function("guardian_core::load full reader", |b| {
        b.iter(|| {
            for doc in &docs {
                black_box(guardian_core::load::parse_full(doc, 1).expect("corpus loads"));
            }
        })
    });
    group.bench_function("serde_yaml_ng", |b| {
        b.iter(|| {
            for doc in &docs {
                black_box(serde_yaml_ng::from_str::<Value>(doc).expect("corpus parses"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
