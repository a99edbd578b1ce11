//! Rule dispatch: every built-in rule finds, inside the policy of all profiles, exactly what it
//! finds alone, on the engine bench's corpus. A rule skipped, run twice, run on a kind it was
//! not selected for, or given another rule's violations by the shared buffer would differ.
//! A rule the corpus never triggers compares nothing with nothing; the count below keeps those
//! a minority (a dispatch that drops every odd rule index fails here at once).

#[path = "../benches/corpus/mod.rs"]
mod corpus;

use guardian_core::crd::{GuardianPolicy, GuardianPolicySpec, Profile, RuleSpec};
use guardian_core::engine::{EvalContext, Evaluation, PolicySet};
use guardian_core::model::Finding;
use serde_json::Value;

/// Enough manifests for every kind (the corpus cycles through seven) and both halves.
const COUNT: usize = 70;

fn compile(spec: GuardianPolicySpec) -> PolicySet {
    PolicySet::compile(&[GuardianPolicy::new("p", spec)], &[]).expect("the policy compiles")
}

fn findings(set: &PolicySet, object: &Value, ctx: &EvalContext<'_>) -> Vec<Finding> {
    match set.evaluate(object, ctx) {
        Evaluation::Evaluated { findings, .. } => findings,
        Evaluation::Skipped(why) => panic!("corpus object skipped: {why}"),
    }
}

#[test]
fn each_rule_finds_in_the_full_policy_what_it_finds_alone() {
    let objects: Vec<Value> = corpus::corpus(COUNT)
        .iter()
        .map(|d| guardian_core::load::parse(d, 1).expect("corpus parses"))
        .collect();
    let ctx = EvalContext::offline();
    let all = compile(GuardianPolicySpec {
        profiles: Profile::ALL.to_vec(),
        ..GuardianPolicySpec::default()
    });
    let everything: Vec<Vec<Finding>> = objects.iter().map(|o| findings(&all, o, &ctx)).collect();
    let mut rules_finding = 0;
    for rule in all.rules() {
        let alone = compile(GuardianPolicySpec {
            rules: vec![RuleSpec {
                id: Some(rule.id.clone()),
                ..RuleSpec::default()
            }],
            ..GuardianPolicySpec::default()
        });
        let mut found = 0;
        for (object, full) in objects.iter().zip(&everything) {
            let own: Vec<&Finding> = full.iter().filter(|f| f.rule_id() == rule.id).collect();
            let by_itself = findings(&alone, object, &ctx);
            assert_eq!(
                own,
                by_itself.iter().collect::<Vec<_>>(),
                "rule {} on {:?}",
                rule.id,
                object.pointer("/metadata/name")
            );
            found += own.len();
        }
        rules_finding += usize::from(found > 0);
    }
    // The comparison means something only if most rules find something in the corpus.
    assert!(
        rules_finding >= all.rules().len() / 2,
        "only {rules_finding} of {} rules find anything in the corpus",
        all.rules().len()
    );
    // And every finding of the full policy belongs to one of its rules.
    let total: usize = everything.iter().map(Vec::len).sum();
    let attributed: usize = everything
        .iter()
        .flatten()
        .filter(|f| all.rules().iter().any(|r| r.id == f.rule_id()))
        .count();
    assert_eq!(total, attributed);
}
