//! Exceptions: what they skip, their expiry, and their order.

use super::*;

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
