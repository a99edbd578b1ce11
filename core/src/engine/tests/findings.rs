//! What a finding carries: policy, rule, severity (overrides), resource, path and outcome, per rule
//! and across objects on one thread.

use super::*;

#[test]
fn builtin_rule_findings_carry_policy_rule_resource_and_path() {
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[]).expect("compiles");
    let findings = evaluate(&set, PRIVILEGED_DEPLOY);
    assert_eq!(findings.len(), 2);
    let f = &findings[0];
    assert_eq!(f.policy(), "no-privileged");
    assert_eq!(f.rule_id(), "pss-privileged");
    assert_eq!(f.resource.to_string(), "Deployment/shop/web");
    assert_eq!(
        f.path,
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    assert_eq!(f.container.as_deref(), Some("app"));
    assert_eq!(f.outcome, Outcome::Fail);
}

/// A rule's identity is built once, when the set compiles: its findings share it (two `Arc`s a
/// finding, its rule and its resource, whatever the number of findings).
#[test]
fn findings_of_one_rule_share_its_identity() {
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[]).expect("compiles");
    let first = evaluate(&set, PRIVILEGED_DEPLOY);
    let again = evaluate(&set, PRIVILEGED_DEPLOY);
    assert_eq!(first.len(), 2, "one finding per container");
    assert!(Arc::ptr_eq(&first[0].rule, &first[1].rule));
    assert!(
        Arc::ptr_eq(&first[0].rule, &again[0].rule),
        "across objects too"
    );
    assert!(Arc::ptr_eq(&first[0].resource, &first[1].resource));
}

#[test]
fn severity_override_and_profile_dedup() {
    let p = policy(
        r#"
metadata: {name: p}
spec:
  profiles: [pss-baseline, pss-restricted]
  rules:
  - {id: pss-privileged, severity: low}
"#,
    );
    let set = PolicySet::compile(&[p], &[]).expect("compiles");
    let privileged: Vec<_> = evaluate(&set, PRIVILEGED_DEPLOY)
        .into_iter()
        .filter(|f| f.rule_id() == "pss-privileged")
        .collect();
    assert_eq!(
        privileged.len(),
        2,
        "once per container, not once per profile"
    );
    assert!(privileged.iter().all(|f| f.severity() == Severity::Low));
}

#[test]
fn each_finding_keeps_its_own_rule_severity_and_outcome_across_objects() {
    // A fails (excepted in `shop`), B passes, C errors, D fails: the per-thread buffer must
    // hand each rule exactly its own violations, for one object and the next on this thread.
    let p = policy(
        r#"
metadata: {name: no-privileged}
spec:
  rules:
  - {id: pss-privileged, severity: low}
  - {id: pss-host-namespaces}
  - cel: {name: broken-at-runtime, expression: "object.spec.nope.size() > 0", message: m, severity: high}
  - {id: memory-limits, severity: medium}
"#,
    );
    let ex = exception(&exception_yaml("2999-01-01T00:00:00Z", ""));
    let set = PolicySet::compile(&[p], &[ex]).expect("compiles");
    let skip = Outcome::Skip {
        exception: "shop/legacy".into(),
        justification: "migrating off privileged mode".into(),
    };
    let other_ns = PRIVILEGED_DEPLOY.replace("namespace: shop", "namespace: other");
    for (object, privileged_outcome) in [(PRIVILEGED_DEPLOY, &skip), (&*other_ns, &Outcome::Fail)] {
        let got: Vec<_> = evaluate(&set, object)
            .into_iter()
            .map(|f| {
                (
                    f.rule_id().to_string(),
                    f.severity(),
                    f.outcome,
                    f.container,
                )
            })
            .collect();
        let want = |rule: &str, severity, outcome: &Outcome, container: Option<&str>| {
            (
                rule.to_string(),
                severity,
                outcome.clone(),
                container.map(Into::into),
            )
        };
        assert_eq!(
            got,
            [
                want(
                    "pss-privileged",
                    Severity::Low,
                    privileged_outcome,
                    Some("app")
                ),
                want(
                    "pss-privileged",
                    Severity::Low,
                    privileged_outcome,
                    Some("sidecar")
                ),
                want("broken-at-runtime", Severity::High, &Outcome::Error, None),
                want(
                    "memory-limits",
                    Severity::Medium,
                    &Outcome::Fail,
                    Some("app")
                ),
                want(
                    "memory-limits",
                    Severity::Medium,
                    &Outcome::Fail,
                    Some("sidecar")
                ),
            ]
        );
    }
}

#[test]
fn a_huge_objects_buffer_is_not_kept_by_the_thread() {
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[]).expect("compiles");
    let container = "\n      - {name: c, image: nginx:1.27, securityContext: {privileged: true}}";
    let huge = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: big, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:{}",
        container.repeat(3 * scratch::KEPT)
    );
    assert_eq!(evaluate(&set, &huge).len(), 3 * scratch::KEPT);
    let kept = scratch::take();
    assert!(
        kept.violations.capacity() <= scratch::KEPT,
        "kept {} violations' room",
        kept.violations.capacity()
    );
    // An ordinary object's room is kept for the next one.
    scratch::put_back(kept);
    evaluate(&set, PRIVILEGED_DEPLOY);
    let kept = scratch::take();
    assert!(kept.violations.capacity() >= 2);
}

#[test]
fn secret_env_vars_reads_odd_env_shapes_in_every_container_list() {
    // More containers than the view keeps inline, in all three lists; env lists that are null,
    // a map, or hold junk; secret-looking names set from a Secret, empty, or literal at varied
    // positions. Only the literal ones are reported, at their own index, and no value is echoed.
    let p = policy("metadata: {name: p}\nspec:\n  rules:\n  - id: secret-env-vars\n");
    let set = PolicySet::compile(&[p], &[]).expect("compiles");
    let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: odd, namespace: shop}
spec:
  initContainers:
  - {name: i0, env: null}
  containers:
  - {name: c0, env: {}}
  - name: c1
    env: [junk, 7, null, {name: 7, value: x}, {value: y}, {name: DB_PASSWORD, value: s3cret-1}]
  - name: c2
    env:
    - {name: API_TOKEN, valueFrom: {secretKeyRef: {name: a, key: b}}}
    - {name: MODE, value: prod}
    - {name: API_KEY, value: s3cret-2}
  - name: c3
    env:
    - {name: GITHUB_TOKEN, value: s3cret-3}
    - {name: OTHER_TOKEN, valueFrom: {secretKeyRef: {name: a, key: b}}}
    - {name: EMPTY_TOKEN, value: ''}
  ephemeralContainers:
  - name: e0
    env: [{name: x}, {name: SSH_PRIVATE_KEY, value: null}, {name: SSH_PRIVATE_KEY, value: s3cret-4}]
"#;
    let findings = evaluate(&set, pod);
    let got: Vec<(&str, Option<&str>)> = findings
        .iter()
        .map(|f| (f.path.as_str(), f.container.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("spec.containers[1].env[5].value", Some("c1")),
            ("spec.containers[2].env[2].value", Some("c2")),
            ("spec.containers[3].env[0].value", Some("c3")),
            ("spec.ephemeralContainers[0].env[2].value", Some("e0")),
        ]
    );
    assert!(findings.iter().all(|f| f.outcome == Outcome::Fail));
    let text = format!("{findings:?}");
    assert!(!text.contains("s3cret"), "a value was echoed: {text}");
    assert!(findings[0].message.contains("DB_PASSWORD"));
}
