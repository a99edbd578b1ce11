//! Compiling a policy set: every error at once, partial compilation, sharing across threads.

use super::*;

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
fn policy_set_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
}
