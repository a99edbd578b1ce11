//! Engine behaviour: matching, overrides, CEL, exceptions and their expiry.

use super::*;
use crate::crd::GuardianPolicySpec;

fn yaml(s: &str) -> Value {
    serde_yaml_ng::from_str(s).expect("test YAML parses")
}

fn policy(s: &str) -> GuardianPolicy {
    serde_yaml_ng::from_str(s).expect("test policy parses")
}

fn exception(s: &str) -> GuardianException {
    serde_yaml_ng::from_str(s).expect("test exception parses")
}

const PRIVILEGED_DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {team: shop}}
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.27
        securityContext: {privileged: true}
      - name: sidecar
        image: envoy:1.30
        securityContext: {privileged: true}
"#;

const PRIVILEGED_POLICY: &str = r#"
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {name: no-privileged}
spec:
  enforcement: Deny
  rules:
  - id: pss-privileged
"#;

fn evaluate(set: &PolicySet, obj: &str) -> Vec<Finding> {
    match set.evaluate(&yaml(obj), &EvalContext::offline()) {
        Evaluation::Evaluated { findings, .. } => findings,
        Evaluation::Skipped(why) => panic!("unexpectedly skipped: {why}"),
    }
}

#[test]
fn builtin_rule_findings_carry_policy_rule_resource_and_path() {
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[]).expect("compiles");
    let findings = evaluate(&set, PRIVILEGED_DEPLOY);
    assert_eq!(findings.len(), 2);
    let f = &findings[0];
    assert_eq!(&*f.policy, "no-privileged");
    assert_eq!(&*f.rule, "pss-privileged");
    assert_eq!(f.resource.to_string(), "Deployment/shop/web");
    assert_eq!(
        f.path,
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    assert_eq!(f.container.as_deref(), Some("app"));
    assert_eq!(f.outcome, Outcome::Fail);
}

#[test]
fn match_kinds_namespaces_and_selectors_filter_objects() {
    let cases = [
        ("kinds: [Pod]", false),
        ("kinds: [Deployment]", true),
        ("namespaces: [other]", false),
        ("excludeNamespaces: [shop]", false),
        ("objectSelector: {matchLabels: {team: shop}}", true),
        ("objectSelector: {matchLabels: {team: other}}", false),
        (
            "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}",
            true,
        ),
        ("namespaceSelector: {matchLabels: {env: prod}}", false),
    ];
    for (matcher, expected) in cases {
        let p = policy(PRIVILEGED_POLICY);
        let p = GuardianPolicy {
            spec: GuardianPolicySpec {
                match_: serde_yaml_ng::from_str(&format!("{{{matcher}}}")).expect("match parses"),
                ..p.spec
            },
            ..p
        };
        let set = PolicySet::compile(&[p], &[]).expect("compiles");
        let found = !evaluate(&set, PRIVILEGED_DEPLOY).is_empty();
        assert_eq!(found, expected, "match {{{matcher}}}");
    }
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
        .filter(|f| &*f.rule == "pss-privileged")
        .collect();
    assert_eq!(
        privileged.len(),
        2,
        "once per container, not once per profile"
    );
    assert!(privileged.iter().all(|f| f.severity == Severity::Low));
}

#[test]
fn every_compile_error_is_reported_at_once_with_policy_and_rule() {
    let bad = policy(
        r#"
metadata: {name: broken}
spec:
  rules:
  - id: no-such-rule
  - cel: {name: bad-cel, expression: "object.spec.(", message: m}
  - {id: min-replicas, parameters: {min: "two"}}
"#,
    );
    let err = PolicySet::compile(&[bad], &[])
        .expect_err("must not compile")
        .to_string();
    assert!(err.contains("3 error(s)"), "{err}");
    assert!(
        err.contains("\"no-such-rule\": unknown built-in rule id"),
        "{err}"
    );
    assert!(
        err.contains("\"bad-cel\": CEL expression does not compile at 1:"),
        "{err}"
    );
    assert!(
        err.contains("\"min-replicas\": invalid parameters"),
        "{err}"
    );
}

#[test]
fn cel_rules_fail_pass_and_error() {
    let p = policy(
        r#"
metadata: {name: cel}
spec:
  rules:
  - cel:
      name: needs-team-label
      expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
      message: every workload needs an owner label
      severity: high
  - cel: {name: broken-at-runtime, expression: "object.spec.nope.size() > 0", message: m}
"#,
    );
    let set = PolicySet::compile(&[p], &[]).expect("compiles");
    let findings = evaluate(&set, PRIVILEGED_DEPLOY);
    assert_eq!(findings.len(), 2);
    assert_eq!(&*findings[0].rule, "needs-team-label");
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(findings[0].outcome, Outcome::Fail);
    assert_eq!(findings[1].outcome, Outcome::Error);
    assert!(
        findings[1].message.contains("could not be evaluated"),
        "{}",
        findings[1].message
    );
}

fn exception_yaml(expires: &str, extra: &str) -> String {
    format!(
        r#"
metadata: {{name: legacy, namespace: shop}}
spec:
  policy: no-privileged
  rules: [pss-privileged]
  resources: {{names: [web]{extra}}}
  owner: team-shop
  justification: migrating off privileged mode
  expiresAt: "{expires}"
"#
    )
}

#[test]
fn exceptions_skip_findings_with_their_name_and_only_where_they_apply() {
    let ex = exception(&exception_yaml(
        "2999-01-01T00:00:00Z",
        ", container: sidecar",
    ));
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[ex]).expect("compiles");
    let findings = evaluate(&set, PRIVILEGED_DEPLOY);
    assert_eq!(
        findings[0].outcome,
        Outcome::Fail,
        "container app is not excepted"
    );
    assert_eq!(
        findings[1].outcome,
        Outcome::Skip {
            exception: "shop/legacy".into(),
            justification: "migrating off privileged mode".into()
        }
    );
    // Another namespace is never covered.
    let other_ns = PRIVILEGED_DEPLOY.replace("namespace: shop", "namespace: other");
    assert!(
        evaluate(&set, &other_ns)
            .iter()
            .all(|f| f.outcome == Outcome::Fail)
    );
}

#[test]
fn expired_exceptions_stop_applying() {
    let ex = exception(&exception_yaml("2020-01-01T00:00:00Z", ""));
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[ex]).expect("compiles");
    assert!(
        evaluate(&set, PRIVILEGED_DEPLOY)
            .iter()
            .all(|f| f.outcome == Outcome::Fail)
    );
}

#[test]
fn non_workloads_and_non_manifests_are_skipped_with_a_reason() {
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY)], &[]).expect("compiles");
    let ctx = EvalContext::offline();
    match set.evaluate(
        &yaml("apiVersion: v1\nkind: Service\nmetadata: {name: s}"),
        &ctx,
    ) {
        Evaluation::Skipped(why) => assert!(why.contains("not a workload"), "{why}"),
        other => panic!("{other:?}"),
    }
    match set.evaluate(&yaml("metadata: {name: s}"), &ctx) {
        Evaluation::Skipped(why) => assert!(why.contains("apiVersion is missing"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn policy_set_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
}

#[test]
fn partial_compilation_keeps_valid_policies_and_names_the_rejected_ones() {
    let bad = policy("metadata: {name: broken}\nspec:\n  rules:\n  - id: no-such-rule\n");
    let (set, rejected) = PolicySet::compile_partial(&[bad, policy(PRIVILEGED_POLICY)], &[]);
    assert_eq!(
        set.policies().map(|p| p.name).collect::<Vec<_>>(),
        vec!["no-privileged"]
    );
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].name, "broken");
    assert!(rejected[0].errors[0].to_string().contains("no-such-rule"));
    assert_eq!(evaluate(&set, PRIVILEGED_DEPLOY).len(), 2);
}

#[test]
fn evaluation_can_be_limited_to_named_policies() {
    let other = policy(&PRIVILEGED_POLICY.replace("no-privileged", "other"));
    let set = PolicySet::compile(&[policy(PRIVILEGED_POLICY), other], &[]).expect("compiles");
    match set.evaluate_policies(&yaml(PRIVILEGED_DEPLOY), &EvalContext::offline(), |p| {
        p == "other"
    }) {
        Evaluation::Evaluated {
            findings,
            matched_policies,
            ..
        } => {
            let indices: Vec<usize> = matched_policies.iter().map(|m| m.index).collect();
            assert_eq!(indices, vec![1]);
            assert_eq!(&*matched_policies[0].name, "other");
            assert_eq!(matched_policies[0].findings(&findings), &findings[..]);
            assert!(findings.iter().all(|f| &*f.policy == "other"));
            assert_eq!(findings.len(), 2);
        }
        Evaluation::Skipped(why) => panic!("{why}"),
    }
}

#[test]
fn matching_policies_and_known_namespace_labels() {
    let p = policy(PRIVILEGED_POLICY);
    let selecting = GuardianPolicy {
        spec: GuardianPolicySpec {
            match_: serde_yaml_ng::from_str("{namespaceSelector: {matchLabels: {env: prod}}}")
                .expect("match"),
            ..p.spec.clone()
        },
        ..policy(&PRIVILEGED_POLICY.replace("no-privileged", "prod-only"))
    };
    let set = PolicySet::compile(&[p, selecting], &[]).expect("compiles");
    let offline = EvalContext::offline();
    let names = set.matching_policies(&yaml(PRIVILEGED_DEPLOY), &offline);
    assert_eq!(
        names.iter().map(|n| &**n).collect::<Vec<_>>(),
        vec!["no-privileged"]
    );
    let mut map = NamespaceMap::default();
    map.0.insert(
        "shop".into(),
        [("env".to_owned(), "prod".to_owned())].into(),
    );
    let ctx = EvalContext {
        now: offline.now,
        namespaces: &map,
    };
    assert_eq!(
        set.matching_policies(&yaml(PRIVILEGED_DEPLOY), &ctx).len(),
        2
    );
}

#[test]
fn rules_are_chosen_per_kind_when_compiled() {
    let all = GuardianPolicy::new(
        "all",
        GuardianPolicySpec {
            profiles: crate::crd::Profile::ALL.to_vec(),
            ..GuardianPolicySpec::default()
        },
    );
    let set = PolicySet::compile(&[all], &[]).expect("compiles");
    let policy = &set.policies[0];
    let ids = |kind| {
        policy
            .rules_for(kind)
            .map(|(_, r)| &*r.id)
            .collect::<Vec<_>>()
    };
    for kind in WorkloadKind::ALL {
        assert_eq!(
            ids(kind).contains(&"min-replicas"),
            matches!(kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet),
            "{kind:?}"
        );
        assert_eq!(
            ids(kind).contains(&"liveness-probe"),
            !matches!(kind, WorkloadKind::Job | WorkloadKind::CronJob),
            "{kind:?}"
        );
    }
    // Every other rule applies to every kind, in policy order.
    let every: Vec<&str> = policy.rules.iter().map(|r| &*r.id).collect();
    assert_eq!(ids(WorkloadKind::Deployment), every);
}

#[test]
fn kinds_index_their_rule_lists_in_declaration_order() {
    for (i, kind) in WorkloadKind::ALL.into_iter().enumerate() {
        assert_eq!(kind as usize, i, "{kind:?}");
    }
}

#[test]
fn exceptions_of_the_objects_namespace_apply_in_the_order_given() {
    let expired = exception(&exception_yaml("2020-01-01T00:00:00Z", ""));
    let mut later: GuardianException = exception(&exception_yaml("2999-01-01T00:00:00Z", ""));
    later.metadata.name = Some("later".into());
    let mut last = later.clone();
    last.metadata.name = Some("last".into());
    let mut elsewhere = later.clone();
    elsewhere.metadata.namespace = None;
    elsewhere.metadata.name = Some("in-default".into());
    let set = PolicySet::compile(
        &[policy(PRIVILEGED_POLICY)],
        &[elsewhere, expired, later, last],
    )
    .expect("compiles");
    let skipped_by = |obj: &str| -> Vec<String> {
        evaluate(&set, obj)
            .into_iter()
            .map(|f| match f.outcome {
                Outcome::Skip { exception, .. } => exception,
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(skipped_by(PRIVILEGED_DEPLOY), ["shop/later", "shop/later"]);
    // No namespace is the default namespace, and its exceptions only.
    let unnamespaced = PRIVILEGED_DEPLOY.replace(", namespace: shop", "");
    assert_eq!(
        skipped_by(&unnamespaced),
        ["default/in-default", "default/in-default"]
    );
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
            .map(|f| (f.rule.to_string(), f.severity, f.outcome, f.container))
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
