//! The pass path allocates only what the result holds: a compliant object evaluated against
//! every built-in rule costs the resource reference and the list of matched policies, nothing
//! for the view, the rules or the findings it does not have.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::*;
use crate::crd::{GuardianPolicySpec, Profile};

/// The system allocator, counting the allocations of each thread (tests run in parallel).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only a const-initialised
// thread local, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

const CONTAINER: &str = r#"{
    "image": "registry.example.com/team/app:1.4.2",
    "ports": [{"containerPort": 8080, "name": "http"}],
    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "FEATURE_FLAG_APP", "value": "1"}],
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
    "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
    "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]
}"#;

/// A Deployment that passes every built-in rule, with `containers` regular containers.
fn compliant(containers: usize) -> Value {
    let container = |name: String| {
        let mut c: Value = serde_json::from_str(CONTAINER).expect("the container parses");
        c["name"] = Value::String(name);
        c
    };
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"replicas": 3, "template": {"spec": {
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [container("migrate".to_owned())],
            "containers": (0..containers).map(|i| container(format!("app-{i}"))).collect::<Vec<_>>(),
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}}]
        }}}
    })
}

#[test]
fn a_compliant_object_allocates_only_its_result() {
    let all = GuardianPolicy::new(
        "all",
        GuardianPolicySpec {
            profiles: Profile::ALL.to_vec(),
            ..GuardianPolicySpec::default()
        },
    );
    let set = PolicySet::compile(&[all], &[]).expect("the built-in profiles compile");
    let ctx = EvalContext::offline();
    // Init, two regular containers: the view keeps them inline.
    let object = compliant(2);
    // Once first, so one-time statics are not counted.
    let _ = set.evaluate(&object, &ctx);
    let (evaluation, allocations) = allocations_during(|| set.evaluate(&object, &ctx));
    let Evaluation::Evaluated {
        matched_policies,
        findings,
        ..
    } = evaluation
    else {
        panic!("a Deployment is evaluated");
    };
    assert_eq!(findings, [], "the object is compliant");
    assert_eq!(matched_policies.len(), 1);
    // The result's own blocks: the resource reference's Arc and its four strings (apiVersion,
    // kind, namespace, name), and the matched-policy list.
    assert_eq!(
        allocations, 6,
        "allocations while evaluating a compliant object"
    );
}

#[test]
fn many_containers_still_evaluate_every_one() {
    let set = PolicySet::compile(
        &[GuardianPolicy::new(
            "one",
            GuardianPolicySpec {
                profiles: vec![Profile::BestPractices],
                ..GuardianPolicySpec::default()
            },
        )],
        &[],
    )
    .expect("the profile compiles");
    let mut object = compliant(9);
    object["spec"]["template"]["spec"]["containers"][8]["securityContext"]["readOnlyRootFilesystem"] =
        Value::Bool(false);
    let Evaluation::Evaluated { findings, .. } = set.evaluate(&object, &EvalContext::offline())
    else {
        panic!("a Deployment is evaluated");
    };
    let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.template.spec.containers[8].securityContext.readOnlyRootFilesystem"]
    );
}
