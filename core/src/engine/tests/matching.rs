//! Which objects and policies are evaluated: match kinds, namespaces and selectors, named
//! policies, rules per kind, and what is skipped.

use super::*;
use crate::crd::GuardianPolicySpec;

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
            assert!(findings.iter().all(|f| f.policy() == "other"));
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
            .map(|(_, r)| &*r.reference.id)
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
    let every: Vec<&str> = policy.rules.iter().map(|r| &*r.reference.id).collect();
    assert_eq!(ids(WorkloadKind::Deployment), every);
}

#[test]
fn kinds_index_their_rule_lists_in_declaration_order() {
    for (i, kind) in WorkloadKind::ALL.into_iter().enumerate() {
        assert_eq!(kind as usize, i, "{kind:?}");
    }
}
