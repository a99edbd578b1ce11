//! CEL rules: fail, pass and error.

use super::*;

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
    assert_eq!(findings[0].rule_id(), "needs-team-label");
    assert_eq!(findings[0].severity(), Severity::High);
    assert_eq!(findings[0].outcome, Outcome::Fail);
    assert_eq!(findings[1].outcome, Outcome::Error);
    assert!(
        findings[1].message.contains("could not be evaluated"),
        "{}",
        findings[1].message
    );
}
