//! Engine cost per rule family and per rule: the engine bench's corpus (1,000 mixed manifests,
//! parsed once) evaluated under a policy of one profile, then of one rule, one core. The
//! `fixed` entry only matches (object view and policy selection): the cost every object pays
//! before any rule runs. Together they are the engine's profile, function by function.

mod common;
mod corpus;
mod policy;

// The allocator the kube-guardian binary ships with, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use common::count_findings;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guardian_core::crd::{GuardianPolicy, GuardianPolicySpec, Profile, RuleSpec};
use guardian_core::engine::{EvalContext, PolicySet};
use serde_json::Value;

const COUNT: usize = 1_000;

fn compile(name: &str, spec: GuardianPolicySpec) -> PolicySet {
    PolicySet::compile(&[GuardianPolicy::new(name, spec)], &[]).expect("the policy compiles")
}

fn bench(c: &mut Criterion) {
    let objects: Vec<Value> = corpus::corpus(COUNT)
        .iter()
        .map(|d| guardian_core::load::parse(d, 1).expect("corpus parses"))
        .collect();
    let ctx = EvalContext::offline();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(COUNT as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));

    let all = policy::all_rules();
    group.bench_function("fixed (view + match)", |b| {
        b.iter(|| {
            objects
                .iter()
                .map(|o| all.matching_policies(o, &ctx).len())
                .sum::<usize>()
        })
    });
    for profile in Profile::ALL {
        let set = compile(
            "profile",
            GuardianPolicySpec {
                profiles: vec![profile],
                ..GuardianPolicySpec::default()
            },
        );
        group.bench_function(format!("profile {profile:?}"), |b| {
            b.iter(|| black_box(count_findings(&set, &objects, &ctx)))
        });
    }
    for rule in guardian_core::governance::library() {
        let set = compile(
            "one",
            GuardianPolicySpec {
                rules: vec![RuleSpec {
                    id: Some(rule.meta.id.to_owned()),
                    ..RuleSpec::default()
                }],
                ..GuardianPolicySpec::default()
            },
        );
        group.bench_function(format!("rule {}", rule.meta.id), |b| {
            b.iter(|| black_box(count_findings(&set, &objects, &ctx)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
