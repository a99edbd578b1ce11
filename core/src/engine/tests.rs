//! Engine behaviour, by concern; the helpers the concerns share are here.

mod cel;
mod compile;
mod exceptions;
mod findings;
mod matching;

use super::*;
use crate::model::Severity;

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
