//! The admission decision: enforcement order, exceptions, and UPDATE semantics.

use std::cell::Cell;
use std::sync::Arc;

use super::*;
use crate::engine::{EvalContext, Evaluation, PolicySet};
use crate::model::{Category, ResourceRef, RuleRef, Severity};

fn finding(policy: &str, container: Option<&str>, path: &str, message: &str) -> Finding {
    Finding {
        rule: RuleRef::shared(
            policy,
            "pss-capabilities",
            Severity::High,
            Category::Security,
            "drop it",
        ),
        resource: Arc::new(ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        }),
        container: container.map(str::to_owned),
        message: message.into(),
        path: path.into(),
        outcome: Outcome::Fail,
        location: None,
    }
}

fn with(mut f: Finding, outcome: Outcome) -> Finding {
    f.outcome = outcome;
    f
}

/// An evaluation by hand: each policy with its enforcement and findings.
fn evaluation(
    policies: Vec<(&str, Enforcement, Vec<Finding>)>,
) -> (Vec<MatchedPolicy>, Vec<Finding>) {
    let mut matched = Vec::new();
    let mut findings = Vec::new();
    for (index, (name, enforcement, found)) in policies.into_iter().enumerate() {
        let first = findings.len();
        findings.extend(found);
        matched.push(MatchedPolicy {
            index,
            name: name.into(),
            enforcement,
            findings: first..findings.len(),
        });
    }
    (matched, findings)
}

fn no_old() -> Option<Vec<Finding>> {
    None
}

const ADDED_NET_ADMIN: &str = "capability NET_ADMIN is added";

#[test]
fn deny_beats_warn_beats_audit_on_a_real_evaluation() {
    let policy = |name: &str, enforcement: &str| -> crate::crd::GuardianPolicy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {"name": name},
            "spec": {"enforcement": enforcement, "rules": [{"id": "pss-privileged"}]}
        }))
        .expect("policy")
    };
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                 "securityContext": {"privileged": true}}]}
    });
    let verdict_of = |policies: &[crate::crd::GuardianPolicy]| {
        let set = PolicySet::compile(policies, &[]).expect("compiles");
        let Evaluation::Evaluated {
            matched_policies,
            findings,
            ..
        } = set.evaluate(&pod, &EvalContext::offline())
        else {
            panic!("not evaluated");
        };
        let verdict = decide(&matched_policies, &findings, no_old);
        let warned: Vec<String> = verdict
            .warned
            .iter()
            .map(|w| w.finding.policy().to_string())
            .collect();
        let denied: Vec<String> = verdict
            .denied
            .iter()
            .map(|f| f.policy().to_string())
            .collect();
        (verdict.decision(), verdict.enforcement, warned, denied)
    };
    let audit = policy("audit", "Audit");
    let warn = policy("warn", "Warn");
    let deny = policy("deny", "Deny");
    assert_eq!(
        verdict_of(std::slice::from_ref(&audit)),
        (Decision::Allowed, Some(Enforcement::Audit), vec![], vec![])
    );
    assert_eq!(
        verdict_of(&[audit.clone(), warn.clone()]),
        (
            Decision::Warned,
            Some(Enforcement::Warn),
            vec!["warn".into()],
            vec![]
        )
    );
    assert_eq!(
        verdict_of(&[deny, audit, warn]),
        (
            Decision::Denied,
            Some(Enforcement::Deny),
            vec!["warn".into()],
            vec!["deny".into()]
        )
    );
    assert_eq!(verdict_of(&[]), (Decision::Allowed, None, vec![], vec![]));
}

#[test]
fn excepted_findings_neither_deny_nor_warn_and_errors_deny_fail_closed() {
    let skip = Outcome::Skip {
        exception: "shop/legacy".into(),
        justification: "migrating".into(),
    };
    let (matched, findings) = evaluation(vec![
        (
            "deny",
            Enforcement::Deny,
            vec![with(finding("deny", None, "spec", "x"), skip.clone())],
        ),
        (
            "warn",
            Enforcement::Warn,
            vec![with(finding("warn", None, "spec", "x"), skip)],
        ),
    ]);
    assert_eq!(
        decide(&matched, &findings, no_old).decision(),
        Decision::Allowed
    );

    let (matched, findings) = evaluation(vec![(
        "deny",
        Enforcement::Deny,
        vec![with(
            finding("deny", None, "", "CEL rule x could not be evaluated"),
            Outcome::Error,
        )],
    )]);
    let verdict = decide(&matched, &findings, no_old);
    assert_eq!(
        (verdict.decision(), verdict.rule_errors),
        (Decision::Denied, 1)
    );
}

#[test]
fn the_old_object_is_read_only_when_something_would_be_denied() {
    let called = Cell::new(false);
    let old = || {
        called.set(true);
        None
    };
    let (matched, findings) = evaluation(vec![(
        "warn",
        Enforcement::Warn,
        vec![finding("warn", None, "spec", "x")],
    )]);
    assert_eq!(
        decide(&matched, &findings, old).decision(),
        Decision::Warned
    );
    assert!(!called.get());
}

#[test]
fn an_update_allows_a_violation_the_old_object_had_with_a_warning() {
    let path = "spec.containers[1].securityContext.capabilities.add[0]";
    let (matched, findings) = evaluation(vec![(
        "deny",
        Enforcement::Deny,
        vec![finding("deny", Some("app"), path, ADDED_NET_ADMIN)],
    )]);
    // The container moved from index 0 to 1: the same violation, keyed by container name.
    let old = vec![finding(
        "deny",
        Some("app"),
        "spec.containers[0].securityContext.capabilities.add[0]",
        ADDED_NET_ADMIN,
    )];
    let verdict = decide(&matched, &findings, || Some(old));
    assert_eq!(verdict.decision(), Decision::Warned);
    assert!(verdict.denied.is_empty());
    assert_eq!(verdict.pre_existing().count(), 1);
    // On CREATE the same finding denies.
    assert_eq!(
        decide(&matched, &findings, no_old).decision(),
        Decision::Denied
    );
}

#[test]
fn an_update_denies_a_new_offending_value_or_another_list_entry() {
    let old = || {
        Some(vec![finding(
            "deny",
            Some("app"),
            "spec.containers[0].securityContext.capabilities.add[0]",
            ADDED_NET_ADMIN,
        )])
    };
    // Another value at the same field: the message names it, so it is new.
    let (matched, findings) = evaluation(vec![(
        "deny",
        Enforcement::Deny,
        vec![finding(
            "deny",
            Some("app"),
            "spec.containers[0].securityContext.capabilities.add[0]",
            "capability SYS_ADMIN is added",
        )],
    )]);
    assert_eq!(
        decide(&matched, &findings, old).decision(),
        Decision::Denied
    );
    // The same value at another index of a non-container list is new too.
    let (matched, findings) = evaluation(vec![(
        "deny",
        Enforcement::Deny,
        vec![finding(
            "deny",
            Some("app"),
            "spec.containers[0].securityContext.capabilities.add[1]",
            ADDED_NET_ADMIN,
        )],
    )]);
    assert_eq!(
        decide(&matched, &findings, old).decision(),
        Decision::Denied
    );
}

#[test]
fn an_error_on_the_old_object_vouches_for_nothing_nor_does_an_error_on_the_new() {
    let fail = finding("deny", None, "spec", "x");
    let (matched, findings) = evaluation(vec![("deny", Enforcement::Deny, vec![fail.clone()])]);
    let old_error = || Some(vec![with(fail.clone(), Outcome::Error)]);
    assert_eq!(
        decide(&matched, &findings, old_error).decision(),
        Decision::Denied
    );

    let (matched, findings) = evaluation(vec![(
        "deny",
        Enforcement::Deny,
        vec![with(fail.clone(), Outcome::Error)],
    )]);
    let old_fail = || Some(vec![fail.clone()]);
    let verdict = decide(&matched, &findings, old_fail);
    assert_eq!(verdict.decision(), Decision::Denied);
    assert_eq!(verdict.pre_existing().count(), 0);
}

#[test]
fn an_excepted_violation_of_the_old_object_still_counts_as_had() {
    let fail = finding("deny", None, "spec", "x");
    let (matched, findings) = evaluation(vec![("deny", Enforcement::Deny, vec![fail.clone()])]);
    let skip = Outcome::Skip {
        exception: "shop/e".into(),
        justification: "expired since".into(),
    };
    let verdict = decide(&matched, &findings, || Some(vec![with(fail.clone(), skip)]));
    assert_eq!(verdict.decision(), Decision::Warned);
}

#[test]
fn only_the_container_index_is_stripped() {
    assert_eq!(
        strip_container_index("spec.template.spec.containers[12].securityContext"),
        "spec.template.spec.containers[].securityContext"
    );
    assert_eq!(
        strip_container_index("spec.initContainers[3].ports[1].hostPort"),
        "spec.initContainers[].ports[1].hostPort"
    );
    assert_eq!(
        strip_container_index("spec.ephemeralContainers[0].securityContext.capabilities.add[2]"),
        "spec.ephemeralContainers[].securityContext.capabilities.add[2]"
    );
    assert_eq!(
        strip_container_index("spec.sidecarcontainers[4].x"),
        "spec.sidecarcontainers[4].x"
    );
    assert_eq!(strip_container_index("metadata.labels"), "metadata.labels");
}
