//! A hostile CEL rule on a large object stops within the runtime budget, and a deadline stops the
//! CEL rules still to run, through the engine's public API.
//!
//! The evaluating thread's CPU time is printed and bounded (wall time on a loaded 2-core machine
//! says more about the machine than the budget); the figure in the README comes from a release
//! build: `cargo test --release -p guardian-core --test cel_runtime_budget -- --nocapture`.

use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};

use guardian_core::crd::GuardianPolicy;
use guardian_core::engine::{Deadline, EvalContext, Evaluation, PolicySet};
use guardian_core::model::{Finding, Outcome};
use serde_json::{Value, json};

/// Both loops run over the same list of `args`: 700,000 x 700,000 iterations, yet under the
/// load-time estimate, which assumes lists of 1,000.
const HOSTILE: &str =
    "object.spec.containers[0].args.all(a, object.spec.containers[0].args.all(b, a == b))";

fn policy() -> GuardianPolicy {
    serde_yaml_ng::from_str(&format!(
        r#"
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {{name: hostile}}
spec:
  enforcement: Deny
  rules:
  - id: pss-privileged
  - cel: {{name: runaway, expression: "{HOSTILE}", message: m}}
  - cel: {{name: owner-label, expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels", message: no owner}}
"#
    ))
    .expect("the test policy parses")
}

/// A privileged Pod whose container has 700,000 arguments: its AdmissionReview is about 3 MiB,
/// the API server's limit on a request body.
fn large_pod() -> Value {
    let args: Vec<&str> = vec!["x"; 700_000];
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "big", "namespace": "team"},
        "spec": {"containers": [{
            "name": "app",
            "image": "nginx:1.27",
            "args": args,
            "securityContext": {"privileged": true},
        }]},
    })
}

fn review_size(pod: &Value) -> usize {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "1", "operation": "CREATE", "object": pod},
    });
    serde_json::to_vec(&review).map_or(0, |body| body.len())
}

/// CPU time this thread has used: the evaluation runs on the test's own thread.
fn thread_cpu() -> Duration {
    Duration::from(clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("the thread's CPU clock"))
}

fn findings(evaluation: Evaluation) -> Vec<Finding> {
    match evaluation {
        Evaluation::Evaluated { findings, .. } => findings,
        Evaluation::Skipped(why) => panic!("skipped: {why}"),
    }
}

fn finding<'f>(findings: &'f [Finding], rule: &str) -> &'f Finding {
    findings
        .iter()
        .find(|f| f.rule_id() == rule)
        .unwrap_or_else(|| panic!("no finding of {rule}: {findings:#?}"))
}

#[test]
fn a_nested_comprehension_over_a_3_mib_review_stops_within_the_budget() {
    let set = PolicySet::compile(&[policy()], &[])
        .expect("the hostile rule passes the load-time estimate");
    let pod = large_pod();
    let size = review_size(&pod);
    assert!(
        (2_800_000..=3 * 1024 * 1024).contains(&size),
        "the review is {size} bytes"
    );

    let started = thread_cpu();
    let found = findings(set.evaluate(&pod, &EvalContext::offline()));
    let elapsed = thread_cpu() - started;
    println!("hostile evaluation of a {size}-byte review: {elapsed:?} of CPU");

    let runaway = finding(&found, "runaway");
    assert_eq!(runaway.outcome, Outcome::Error, "{runaway:#?}");
    assert!(runaway.message.contains("budget"), "{}", runaway.message);
    // The other rules still run and report as usual.
    assert_eq!(finding(&found, "pss-privileged").outcome, Outcome::Fail);
    assert_eq!(finding(&found, "owner-label").outcome, Outcome::Fail);
    // Without the step budget this runs for hours; a debug build on a loaded machine needs a
    // few seconds.
    let limit = if cfg!(debug_assertions) { 60 } else { 2 };
    assert!(
        elapsed < Duration::from_secs(limit),
        "the hostile evaluation took {elapsed:?} of CPU"
    );
}

#[test]
fn past_the_deadline_cel_rules_are_errors_and_built_in_rules_still_run() {
    let set = PolicySet::compile(&[policy()], &[]).expect("compiles");
    let pod = large_pod();
    let started = thread_cpu();
    let found =
        findings(set.evaluate_until(&pod, &EvalContext::offline(), &Deadline::at(Instant::now())));
    let elapsed = thread_cpu() - started;

    for rule in ["runaway", "owner-label"] {
        let f = finding(&found, rule);
        assert_eq!(f.outcome, Outcome::Error, "{f:#?}");
        assert!(f.message.contains("deadline"), "{}", f.message);
    }
    assert_eq!(finding(&found, "pss-privileged").outcome, Outcome::Fail);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?} of CPU");

    // The deadline applied to that evaluation only.
    let found = findings(set.evaluate(&pod, &EvalContext::offline()));
    assert!(
        !finding(&found, "owner-label").message.contains("deadline"),
        "{found:#?}"
    );
}
