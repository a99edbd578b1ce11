//! A prepared object's evaluation is its object's: for every manifest of the engine bench's
//! corpus (every workload kind, compliant and not) and of `examples/`, under every built-in
//! rule, a CEL rule and an exception, the matched policies and findings of
//! `evaluate_prepared` equal those of `evaluate`, evaluated several times over.

#[path = "../benches/corpus/mod.rs"]
mod corpus;

use guardian_core::crd::{GuardianException, GuardianPolicy, GuardianPolicySpec, Profile};
use guardian_core::engine::{EvalContext, Evaluation, PolicySet, Prepared};
use guardian_core::model::Outcome;
use serde_json::Value;

fn policies() -> PolicySet {
    let all = GuardianPolicy::new(
        "all",
        GuardianPolicySpec {
            profiles: Profile::ALL.to_vec(),
            ..GuardianPolicySpec::default()
        },
    );
    let cel: GuardianPolicy = serde_yaml_ng::from_str(
        r#"
metadata: {name: labels}
spec:
  rules:
  - cel: {name: needs-team, expression: "has(object.metadata.labels) && 'team' in object.metadata.labels", message: no team, severity: low}
"#,
    )
    .expect("the CEL policy parses");
    let exception: GuardianException = serde_yaml_ng::from_str(
        r#"
metadata: {name: legacy, namespace: team-3}
spec:
  policy: all
  rules: [secret-env-vars, read-only-root-filesystem]
  resources: {names: ["*"]}
  owner: team-3
  justification: migrating
  expiresAt: "2999-01-01T00:00:00Z"
"#,
    )
    .expect("the exception parses");
    PolicySet::compile(&[all, cel], &[exception]).expect("the policies compile")
}

/// Every object the test compares: the corpus, then the example manifests.
fn objects() -> Vec<Value> {
    let mut objects: Vec<Value> = corpus::corpus(300)
        .iter()
        .map(|d| guardian_core::load::parse(d, 1).expect("the corpus parses"))
        .collect();
    let mut dirs =
        vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/manifests")];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples/manifests is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty(), "no example manifests found");
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("an example is readable");
        for doc in text.split("\n---") {
            if let Ok(v) = guardian_core::load::parse(doc, 1) {
                objects.push(v);
            }
        }
    }
    // Documents no rule applies to.
    objects.push(
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    );
    objects.push(serde_json::json!(["not", "a", "manifest"]));
    objects
}

#[test]
fn a_prepared_object_has_the_findings_of_its_object() {
    let set = policies();
    let ctx = EvalContext::offline();
    let objects = objects();
    let (mut evaluated, mut findings, mut skipped) = (0, 0, 0);
    for object in &objects {
        let from_value = set.evaluate(object, &ctx);
        let prepared = match Prepared::new(object) {
            Ok(p) => p,
            Err(why) => {
                let Evaluation::Skipped(expected) = from_value else {
                    panic!("prepare refused an object the engine evaluates: {why}");
                };
                assert_eq!(why, expected);
                skipped += 1;
                continue;
            }
        };
        let Evaluation::Evaluated {
            resource,
            matched_policies,
            findings: want,
        } = from_value
        else {
            panic!("the engine skipped an object that prepared: {object}");
        };
        assert_eq!(**prepared.resource(), *resource);
        assert!(std::ptr::eq(prepared.object(), object));
        // Twice: a prepared object is evaluated again and again.
        for _ in 0..2 {
            let Evaluation::Evaluated {
                resource: got_resource,
                matched_policies: got_policies,
                findings: got,
            } = set.evaluate_prepared(&prepared, &ctx)
            else {
                panic!("a prepared object was skipped");
            };
            assert_eq!(got_resource, resource);
            assert_eq!(got_policies, matched_policies);
            assert_eq!(got, want, "{resource}");
        }
        evaluated += 1;
        findings += want.len();
    }
    // The comparison covered what it is meant to: many objects, findings (secrets in env among
    // them, the rule that reads env vars ahead), excepted ones, and a skipped document.
    assert!(evaluated >= 300, "{evaluated} objects evaluated");
    assert!(findings > 3_000, "{findings} findings");
    let all: Vec<_> = objects
        .iter()
        .filter_map(|o| match set.evaluate(o, &ctx) {
            Evaluation::Evaluated { findings, .. } => Some(findings),
            Evaluation::Skipped(_) => None,
        })
        .flatten()
        .collect();
    assert!(all.iter().any(|f| &*f.rule == "secret-env-vars"));
    assert!(
        all.iter()
            .any(|f| matches!(f.outcome, Outcome::Skip { .. }))
    );
    assert!(skipped >= 2, "no document was skipped");
}
