use guardian_core::audit::PolicyAudit;
use guardian_core::crd::GuardianPolicy;
use guardian_core::engine::{EvalContext, PolicySet, UnknownNamespaces};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

fn set() -> PolicySet {
    let policy: GuardianPolicy = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": "base" },
        "spec": { "profiles": ["pss-baseline", "best-practices"] }
    }))
    .expect("policy");
    PolicySet::compile(&[policy], &[]).expect("compiles")
}

fn pod(namespace: &str, name: &str, privileged: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace },
        "spec": { "hostPID": privileged, "containers": [{
            "name": "app", "image": "nginx",
            "securityContext": { "privileged": privileged }
        }]}
    })
}

/// What the reconcile computed before results were kept: core's audit and the report rows of
/// every finding of `policy`, over every object.
pub(crate) fn reference_of(
    set: &PolicySet,
    policy: &str,
    objects: &[Value],
) -> (PolicySummary, NamespaceRows) {
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &UnknownNamespaces,
    };
    let rules = set
        .policies()
        .find(|p| p.name == policy)
        .map_or(0, |p| p.rules);
    let mut audit = PolicyAudit::new(policy, rules);
    let mut rows: BTreeMap<String, PolicyRows> = BTreeMap::new();
    for object in objects {
        let evaluation = set.evaluate_policies(object, &ctx, |p| p == policy);
        let Some((matched, findings)) = audit.add(&evaluation) else {
            continue;
        };
        for f in findings {
            if let Some(ns) = f.resource.namespace.as_ref() {
                rows.entry(ns.clone())
                    .or_default()
                    .push_finding(f, matched.enforcement);
            }
        }
    }
    rows.retain(|_, r| r.total() > 0);
    let rows = rows.into_iter().map(|(ns, r)| (ns, Arc::new(r))).collect();
    (audit.summary(), rows)
}

fn reference(set: &PolicySet, objects: &[Value]) -> (PolicySummary, NamespaceRows) {
    reference_of(set, "base", objects)
}

fn kept(set: &PolicySet, objects: &[Value]) -> PolicyFindings {
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &UnknownNamespaces,
    };
    let rules = set.policies().map(|p| p.rules).sum();
    let mut findings = PolicyFindings::new(rules);
    let mut strings = Strings::default();
    for object in objects {
        let (namespace, id) = object_id(object).expect("id");
        let result = ObjectResult::of(&set.evaluate(object, &ctx), "base", &mut strings);
        findings.set(&namespace, &id, result);
    }
    findings
}

#[test]
fn kept_results_give_the_summary_and_rows_of_core_s_audit() {
    let set = set();
    let objects: Vec<Value> = (0..30)
        .map(|i| pod(["a", "b", "c"][i % 3], &format!("p{i}"), i % 4 == 0))
        .collect();
    let mut findings = kept(&set, &objects);
    let (summary, rows) = reference(&set, &objects);
    assert!(summary.violations > 0 && summary.resources_evaluated == 30);
    assert_eq!(findings.summary(), summary);
    assert_eq!(*findings.rows(), rows);
}

#[test]
fn replacing_and_removing_objects_updates_counts_and_only_the_namespaces_touched() {
    let set = set();
    let mut objects = vec![pod("a", "web", true), pod("b", "db", true)];
    let mut findings = kept(&set, &objects);
    findings.rows();
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &UnknownNamespaces,
    };
    let mut strings = Strings::default();
    let fixed = pod("a", "web", false);
    let (namespace, id) = object_id(&fixed).expect("id");
    let result = ObjectResult::of(&set.evaluate(&fixed, &ctx), "base", &mut strings);
    assert!(findings.set(&namespace, &id, result.clone()), "changed");
    assert!(!findings.set(&namespace, &id, result), "the same again");
    assert_eq!(findings.dirty.iter().collect::<Vec<_>>(), ["a"]);
    objects[0] = fixed;
    assert_eq!(
        (findings.summary(), (*findings.rows()).clone()),
        reference(&set, &objects)
    );
    // Removed: no longer counted, and its namespace leaves the rows once nothing fails there.
    let (namespace, id) = object_id(&objects[1]).expect("id");
    assert!(findings.set(&namespace, &id, None));
    assert!(!findings.set(&namespace, &id, None), "already gone");
    objects.pop();
    assert_eq!(
        (findings.summary(), (*findings.rows()).clone()),
        reference(&set, &objects)
    );
    assert!(!findings.rows().contains_key("b"));
}

#[test]
fn the_kept_rows_share_their_texts() {
    let set = set();
    let objects: Vec<Value> = (0..3).map(|i| pod("a", &format!("p{i}"), true)).collect();
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &UnknownNamespaces,
    };
    let mut strings = Strings::default();
    let results: Vec<ObjectResult> = objects
        .iter()
        .filter_map(|o| ObjectResult::of(&set.evaluate(o, &ctx), "base", &mut strings))
        .collect();
    // The same template: every row of the second object not naming it is a row of the first.
    let unnamed: Vec<_> = results[1]
        .rows
        .iter()
        .filter(|t| !t.message.contains("p1"))
        .collect();
    assert!(unnamed.len() > 3, "{unnamed:?}");
    for text in unnamed {
        assert!(
            results[0].rows.iter().any(|t| Arc::ptr_eq(t, text)),
            "{text:?}"
        );
    }
}

#[test]
fn the_rows_are_handed_out_shared_and_only_a_changed_namespace_is_new() {
    let set = set();
    let mut objects = vec![pod("a", "web", true), pod("b", "db", true)];
    let mut findings = kept(&set, &objects);
    let before = findings.rows();
    assert!(
        Arc::ptr_eq(&before, &findings.rows()),
        "no change: the same rows"
    );
    let original = reference(&set, &objects).1;
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces: &UnknownNamespaces,
    };
    let fixed = pod("a", "web", false);
    let (namespace, id) = object_id(&fixed).expect("id");
    let result = ObjectResult::of(&set.evaluate(&fixed, &ctx), "base", &mut Strings::default());
    assert!(findings.set(&namespace, &id, result));
    let after = findings.rows();
    objects[0] = fixed;
    assert_eq!(*after, reference(&set, &objects).1);
    // A reader's snapshot stays as it was; the namespace not changed is the same allocation.
    assert_eq!(*before, original);
    assert!(Arc::ptr_eq(&before["b"], &after["b"]));
    assert!(!after.contains_key("a") || !Arc::ptr_eq(&before["a"], &after["a"]));
}
