use std::collections::BTreeMap;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::engine::UnknownNamespaces;
use serde_json::{Value, json};

use super::*;
use crate::findings::tests::reference_of;

fn policy(name: &str, spec: Value) -> GuardianPolicy {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": name },
        "spec": spec
    }))
    .expect("policy")
}

fn exception(expires: &str) -> GuardianException {
    serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianException",
        "metadata": { "name": "legacy", "namespace": "a" },
        "spec": {
            "policy": "base", "rules": ["pss-privileged"],
            "resources": { "names": ["p1", "p2"] },
            "owner": "team-a", "justification": "migrating", "expiresAt": expires
        }
    }))
    .expect("exception")
}

fn set(expires: &str) -> PolicySet {
    let policies = [
        policy("base", json!({ "profiles": ["pss-baseline"] })),
        policy(
            "cel",
            json!({ "enforcement": "Warn", "rules": [{ "cel": {
                "name": "team-label", "message": "needs a team label",
                "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels"
            }}]}),
        ),
        policy(
            "ns-a",
            json!({ "match": { "namespaces": ["a"] },
                    "rules": [{ "id": "image-tag-pinned" }, { "id": "pss-privileged" }] }),
        ),
    ];
    PolicySet::compile(&policies, &[exception(expires)]).expect("compiles")
}

const POLICIES: [&str; 3] = ["base", "cel", "ns-a"];

/// A small deterministic generator (xorshift), so a failing sequence replays from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn pod(namespace: &str, name: &str, rng: &mut Rng) -> Value {
    let mut labels = serde_json::Map::new();
    if rng.below(2) == 0 {
        labels.insert("team".into(), "a".into());
    }
    let image = ["nginx", "nginx:1.27", "nginx:latest"][rng.below(3) as usize];
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace, "labels": labels },
        "spec": {
            "hostNetwork": rng.below(4) == 0,
            "containers": [{
                "name": "app", "image": image,
                "securityContext": { "privileged": rng.below(3) == 0 }
            }]
        }
    })
}

fn cached(value: &Value) -> Arc<CachedObject> {
    Arc::new(CachedObject::for_tests(value))
}

fn labels() -> Arc<dyn NamespaceLabels> {
    Arc::new(UnknownNamespaces)
}

/// Every policy's results depending on `version`.
fn inputs(version: u64) -> HashMap<String, u64> {
    POLICIES.iter().map(|p| (p.to_string(), version)).collect()
}

fn freshness(version: u64) -> Freshness<'static> {
    Freshness {
        version,
        now: Timestamp::now(),
        resync: Duration::from_secs(3600),
        expiries: &[],
    }
}

/// Every policy evaluated over every object from scratch.
fn full(set: &PolicySet, cache: &BTreeMap<String, Arc<CachedObject>>) -> Vec<Results> {
    let fresh = KeptFindings::default();
    POLICIES
        .iter()
        .map(|p| {
            let objects: Vec<_> = cache.values().cloned().collect();
            fresh.rebuild(p, set, 1, || objects, labels).0
        })
        .collect()
}

/// Kept results equal a full evaluation, and what the reconcile computed before results were
/// kept (core's audit and the rows of every finding). Returns how many rows they hold.
fn assert_same(
    kept: &KeptFindings,
    set: &PolicySet,
    cache: &BTreeMap<String, Arc<CachedObject>>,
) -> usize {
    let objects: Vec<Value> = cache.values().filter_map(|o| o.value()).collect();
    let mut rows = 0;
    for (policy, expected) in POLICIES.iter().zip(full(set, cache)) {
        let got = kept.trusted(policy, &freshness(1)).expect("trusted");
        assert_eq!(got.summary, expected.summary, "{policy}");
        assert_eq!(got.rows, expected.rows, "{policy}");
        let (summary, reference) = reference_of(set, policy, &objects);
        assert_eq!(got.summary, summary, "{policy}");
        assert_eq!(*got.rows, reference, "{policy}");
        rows += got.rows.len();
    }
    rows
}

#[test]
fn kept_results_equal_a_full_evaluation_after_random_changes() {
    let set = set("2999-01-01T00:00:00Z");
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut cache: BTreeMap<String, Arc<CachedObject>> = BTreeMap::new();
        let kept = KeptFindings::default();
        for p in POLICIES {
            kept.rebuild(p, &set, 1, Vec::new, labels);
        }
        let (mut writes, mut rows) = (0, 0);
        for step in 0..120 {
            let namespace = ["a", "b"][rng.below(2) as usize];
            let name = format!("p{}", rng.below(8));
            let key = format!("{namespace}/{name}");
            let old = cache.get(&key).cloned();
            let new = if rng.below(5) == 0 {
                cache.remove(&key);
                None
            } else {
                let object = cached(&pod(namespace, &name, &mut rng));
                cache.insert(key, object.clone());
                Some(object)
            };
            let decision = kept.apply(&(old, new), &set, &inputs(1), &UnknownNamespaces);
            assert!(decision.evaluated <= 1, "one object evaluated per change");
            assert!(decision.evaluate.is_empty(), "{decision:?}");
            writes += decision.write.len();
            if step % 10 == 9 {
                rows += assert_same(&kept, &set, &cache);
            }
        }
        rows += assert_same(&kept, &set, &cache);
        assert!(writes > 0, "seed {seed}: the sequence changed nothing");
        assert!(rows > 0, "seed {seed}: the sequence reported nothing");
    }
}

#[test]
fn a_change_that_alters_no_result_writes_nothing() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    let before = json!({ "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "web", "namespace": "b", "labels": { "team": "a" } },
        "spec": { "containers": [{ "name": "app", "image": "nginx:1.27" }] } });
    let mut after = before.clone();
    after["metadata"]["annotations"] = json!({ "note": "unrelated" });
    let (before, after) = (cached(&before), cached(&after));
    for p in POLICIES {
        let objects = vec![before.clone()];
        kept.rebuild(p, &set, 1, || objects, labels);
    }
    let decision = kept.apply(
        &(Some(before), Some(after.clone())),
        &set,
        &inputs(1),
        &UnknownNamespaces,
    );
    assert_eq!(decision.write, Vec::<String>::new());
    assert_eq!(decision.evaluated, 1);
    // Gone: every policy that selected it changes.
    let decision = kept.apply(&(Some(after), None), &set, &inputs(1), &UnknownNamespaces);
    assert_eq!(decision.write, vec!["base".to_owned(), "cel".to_owned()]);
    assert_eq!(decision.evaluated, 0);
}

#[test]
fn a_change_during_a_full_evaluation_is_replayed_on_its_result() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    let mut rng = Rng(7);
    let first = cached(&pod("a", "web", &mut rng));
    let fixed = cached(&json!({ "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "web", "namespace": "a", "labels": { "team": "a" } },
        "spec": { "containers": [{ "name": "app", "image": "nginx:1.27" }] } }));
    let (results, _) = kept.rebuild(
        "ns-a",
        &set,
        1,
        || {
            let snapshot = vec![first.clone()];
            // The watch delivers a change after the snapshot was taken, before the result is kept.
            let decision = kept.apply(
                &(Some(first.clone()), Some(fixed.clone())),
                &set,
                &inputs(1),
                &UnknownNamespaces,
            );
            assert!(
                decision.write.is_empty(),
                "queued, not decided: {decision:?}"
            );
            snapshot
        },
        labels,
    );
    let cache = BTreeMap::from([("a/web".to_owned(), fixed)]);
    let expected = full(&set, &cache).remove(2);
    assert_eq!(results.summary, expected.summary);
    assert_eq!(results.rows, expected.rows);
    assert_eq!(results.summary.violations, 0);
}

#[test]
fn kept_results_are_distrusted_after_a_trigger_an_edit_an_expiry_or_the_resync() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    for p in POLICIES {
        kept.rebuild(p, &set, 1, Vec::new, labels);
    }
    assert!(kept.trusted("base", &freshness(1)).is_some());
    // The compiled set changed (a policy's or an exception's spec).
    assert!(kept.trusted("base", &freshness(2)).is_none());
    let change = (None, Some(cached(&pod("a", "web", &mut Rng(3)))));
    let decision = kept.apply(&change, &set, &inputs(2), &UnknownNamespaces);
    assert_eq!(decision.evaluate, POLICIES.map(str::to_owned));
    // An exception expired since the full evaluation.
    let expired = [Timestamp::now()];
    let expiring = Freshness {
        expiries: &expired,
        now: Timestamp::now() + Duration::from_secs(1),
        ..freshness(1)
    };
    assert!(kept.trusted("base", &expiring).is_none());
    // The resync is due.
    let resync = Freshness {
        resync: Duration::ZERO,
        ..freshness(1)
    };
    assert!(kept.trusted("base", &resync).is_none());
    // A namespace's labels, a relist, a new leadership term.
    kept.invalidate_all();
    assert!(kept.trusted("base", &freshness(1)).is_none());
    let decision = kept.apply(&change, &set, &inputs(1), &UnknownNamespaces);
    assert_eq!(decision.evaluate, POLICIES.map(str::to_owned));
    assert!(decision.write.is_empty());
}

#[test]
fn a_policy_gone_from_the_cache_keeps_nothing() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    for p in POLICIES {
        kept.rebuild(p, &set, 1, Vec::new, labels);
    }
    let mut gone = inputs(1);
    gone.remove("cel");
    let change = (None, Some(cached(&pod("b", "web", &mut Rng(5)))));
    let decision = kept.apply(&change, &set, &gone, &UnknownNamespaces);
    assert!(!decision.write.contains(&"cel".to_owned()), "{decision:?}");
    assert!(kept.trusted("cel", &freshness(1)).is_none());
    assert!(kept.trusted("base", &freshness(1)).is_some());
}

#[test]
fn a_policy_is_reconciled_again_when_an_exception_expires_before_the_resync() {
    let results = Results {
        summary: PolicySummary::default(),
        rows: Arc::default(),
        full_at: Instant::now(),
    };
    let hour = Duration::from_secs(3600);
    let soon = Timestamp::now() + Duration::from_secs(600);
    let past = Timestamp::now() - Duration::from_secs(600);
    let requeue = next_requeue(&results, &[past, soon], hour);
    assert!(
        requeue <= Duration::from_secs(600) && requeue > Duration::from_secs(590),
        "{requeue:?}"
    );
    assert!(next_requeue(&results, &[past], hour) > Duration::from_secs(3590));
}

#[test]
fn a_change_replayed_after_a_namespace_was_relabelled_sees_the_new_labels() {
    let selecting = policy(
        "prod",
        json!({ "match": { "namespaceSelector": { "matchLabels": { "env": "prod" } } },
                "rules": [{ "id": "image-tag-pinned" }] }),
    );
    let set = PolicySet::compile(&[selecting], &[]).expect("compiles");
    let prod = |labelled: bool| -> Arc<dyn NamespaceLabels> {
        let env = if labelled { "prod" } else { "dev" };
        let map = HashMap::from([(
            "shop".to_owned(),
            BTreeMap::from([("env".to_owned(), env.to_owned())]),
        )]);
        Arc::new(guardian_core::engine::NamespaceMap(map))
    };
    let web = cached(&json!({ "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "web", "namespace": "shop" },
        "spec": { "containers": [{ "name": "app", "image": "nginx" }] } }));
    let kept = KeptFindings::default();
    let batches = std::sync::atomic::AtomicUsize::new(0);
    let (results, _) = kept.rebuild(
        "prod",
        &set,
        1,
        || {
            // `shop` gets the label while the snapshot is evaluated: its objects are requeued.
            let inputs = HashMap::from([("prod".to_owned(), 1)]);
            let requeued = (Some(web.clone()), Some(web.clone()));
            kept.apply(&requeued, &set, &inputs, &*prod(true));
            vec![web.clone()]
        },
        // The snapshot's batch runs with the old labels, the replay with the new ones.
        || prod(batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0),
    );
    assert_eq!(results.summary.violations, 1, "{:?}", results.summary);
    assert!(results.rows.contains_key("shop"));
}

#[test]
fn a_panicking_full_evaluation_leaves_the_policy_to_be_evaluated_again() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    for p in POLICIES {
        kept.rebuild(p, &set, 1, Vec::new, labels);
    }
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        kept.rebuild("base", &set, 1, || panic!("evaluation failed"), labels)
    }));
    assert!(panicked.is_err());
    assert!(kept.trusted("base", &freshness(1)).is_none());
    let change = (None, Some(cached(&pod("b", "web", &mut Rng(11)))));
    let decision = kept.apply(&change, &set, &inputs(1), &UnknownNamespaces);
    assert!(
        decision.evaluate.contains(&"base".to_owned()),
        "{decision:?}"
    );
}

#[test]
fn a_replica_standing_by_keeps_no_results_and_distrusts_running_evaluations() {
    let set = set("2999-01-01T00:00:00Z");
    let kept = KeptFindings::default();
    for p in ["base", "cel"] {
        kept.rebuild(p, &set, 1, Vec::new, labels);
    }
    // A full evaluation started while leader, finishing after the replica stood by.
    let (_, _) = kept.rebuild(
        "ns-a",
        &set,
        1,
        || {
            kept.stand_by();
            Vec::new()
        },
        labels,
    );
    assert!(kept.trusted("base", &freshness(1)).is_none());
    assert!(kept.trusted("ns-a", &freshness(1)).is_none());
    let change = (None, Some(cached(&pod("a", "web", &mut Rng(13)))));
    let decision = kept.apply(&change, &set, &inputs(1), &UnknownNamespaces);
    assert!(decision.write.is_empty(), "{decision:?}");
}

#[test]
fn a_decision_asking_for_a_full_evaluation_is_labelled_evaluate() {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let decision = |write: &[&str], evaluate: &[&str]| Decision {
        write: names(write),
        evaluate: names(evaluate),
        evaluated: 1,
    };
    assert_eq!(decision(&[], &[]).outcome(), "none");
    assert_eq!(decision(&["base"], &[]).outcome(), "write");
    assert_eq!(decision(&[], &["cel"]).outcome(), "evaluate");
    assert_eq!(decision(&["base"], &["cel"]).outcome(), "evaluate");
}
