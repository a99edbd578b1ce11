//! What the console and the operator pay per object: a cached object unpacked and evaluated.
//!
//! The cluster cache keeps each object as compressed JSON ([`CachedObject`]); every evaluation
//! (a snapshot's changed objects, an edit's impact preview, a reconcile) unpacks it into a
//! `Value` first. The same 1,000 manifests as the engine bench, packed by kind as a watch packs
//! them, one core, mimalloc as the shipped binary uses, in this thread's CPU time. `evaluate (each
//! object just unpacked)` is what a caller's evaluation costs (the engine and the snapshot's
//! exact-size copy of the findings), the objects unpacked in batches right before, untimed.

#[path = "../../core/benches/corpus/mod.rs"]
mod corpus;
#[path = "../../core/benches/cpu_time/mod.rs"]
mod cpu_time;
#[path = "../../core/benches/policy/mod.rs"]
mod policy;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::hint::black_box;

use cpu_time::{batched, thread_cpu_time};
use criterion::{Bencher, Criterion, Throughput, criterion_group, criterion_main};
use guardian_cluster::cache::{CachedObject, Packer};
use guardian_cluster::evaluate::Evaluator;
use guardian_core::engine::UnknownNamespaces;
use k8s_openapi::jiff::Timestamp;
use policy::all_rules;

const COUNT: usize = 1_000;

/// The corpus packed with one packer per kind, as each kind's watch packs its objects.
fn packed() -> Vec<CachedObject> {
    let mut packers: HashMap<String, Packer> = HashMap::new();
    corpus::corpus(COUNT)
        .iter()
        .map(|doc| {
            let value = guardian_core::load::parse(doc, 1).expect("corpus parses");
            let kind = value["kind"].as_str().unwrap_or_default().to_owned();
            let json = serde_json::to_vec(&value).expect("a parsed object serialises");
            packers.entry(kind).or_default().pack(&json)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let objects = packed();
    let set = all_rules();
    let evaluator = Evaluator::new(&set, &UnknownNamespaces, Timestamp::now());
    let mut group = c.benchmark_group("cached");
    group.throughput(Throughput::Elements(COUNT as u64));
    group.sample_size(20);
    group.bench_function("unpack", |b| {
        cpu_time_of(b, || {
            for object in &objects {
                black_box(object.value());
            }
        })
    });
    group.bench_function("unpack + evaluate", |b| {
        cpu_time_of(b, || {
            for object in &objects {
                let value = object.value().expect("a cached object unpacks");
                black_box(evaluator.object(&value));
            }
        })
    });
    group.bench_function("evaluate (each object just unpacked)", |b| {
        b.iter_custom(|iterations| {
            batched(
                iterations,
                &objects,
                |o| o.value().expect("a cached object unpacks"),
                |values| {
                    for value in values {
                        black_box(evaluator.object(value));
                    }
                },
            )
        })
    });
    group.finish();
}

/// `routine`'s CPU time per iteration.
fn cpu_time_of(b: &mut Bencher<'_>, mut routine: impl FnMut()) {
    b.iter_custom(|iterations| {
        let start = thread_cpu_time();
        for _ in 0..iterations {
            routine();
        }
        thread_cpu_time().saturating_sub(start)
    })
}

criterion_group!(benches, bench);
criterion_main!(benches);
