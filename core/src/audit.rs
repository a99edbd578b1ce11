//! Audit tallies and the compliance score: counted once here, shown identically by every face
//! (GuardianPolicy status, metrics, `scan`, the console).
//!
//! The compliance score is 0–100: every evaluated object starts compliant and loses the weight
//! of its worst violation (critical 1, high 0.7, medium 0.4, low 0.1, info 0); the score is the
//! compliant share, rounded down, so a single violation below 100% never shows as 100. No
//! evaluated object scores 100. Findings covered by an exception cost nothing.

use serde::Serialize;

use crate::crd::{PolicySummary, SeverityCounts};
use crate::engine::{Evaluation, MatchedPolicy};
use crate::model::{Finding, Outcome, Severity};

/// The weight of an object whose worst violation has this severity, in thousandths.
const fn weight(severity: Severity) -> u64 {
    match severity {
        Severity::Critical => 1000,
        Severity::High => 700,
        Severity::Medium => 400,
        Severity::Low => 100,
        Severity::Info => 0,
    }
}

impl SeverityCounts {
    /// Counts one violation of this severity.
    pub fn add(&mut self, severity: Severity) {
        *self.get_mut(severity) += 1;
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    fn get_mut(&mut self, severity: Severity) -> &mut u64 {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }

    /// Severity and count pairs, most severe first (metrics, tables).
    pub fn pairs(&self) -> [(Severity, u64); 5] {
        Severity::ALL.map(|s| (s, self.get(s)))
    }

    /// Adds another set of counts.
    pub fn merge(&mut self, other: &SeverityCounts) {
        for (severity, count) in other.pairs() {
            *self.get_mut(severity) += count;
        }
    }
}

/// Counts over a set of evaluated objects: violations by severity, exceptions applied, and the
/// weight the compliance score is computed from. Tallies add up (per namespace, per cluster,
/// across clusters) with [`Tally::merge`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Objects evaluated.
    pub objects: u64,
    /// Objects with at least one violation.
    pub failing_objects: u64,
    /// Violations not covered by an exception (`fail` and `error` findings).
    pub violations: u64,
    pub by_severity: SeverityCounts,
    /// Findings covered by an exception.
    pub skipped: u64,
    /// The sum of every object's worst-violation weight, in thousandths.
    #[serde(skip)]
    penalty: u64,
}

/// Whether a finding counts against its object.
pub fn is_violation(finding: &Finding) -> bool {
    matches!(finding.outcome, Outcome::Fail | Outcome::Error)
}

impl Tally {
    /// Counts one evaluated object with the findings it had (possibly none).
    pub fn add_object<'a>(&mut self, findings: impl IntoIterator<Item = &'a Finding>) {
        self.objects += 1;
        let mut worst: Option<Severity> = None;
        for finding in findings {
            if is_violation(finding) {
                self.violations += 1;
                self.by_severity.add(finding.severity());
                worst = worst.max(Some(finding.severity()));
            } else {
                self.skipped += 1;
            }
        }
        if let Some(worst) = worst {
            self.failing_objects += 1;
            self.penalty += weight(worst);
        }
    }

    /// Adds another tally (over disjoint objects).
    pub fn merge(&mut self, other: &Tally) {
        self.objects += other.objects;
        self.failing_objects += other.failing_objects;
        self.violations += other.violations;
        self.by_severity.merge(&other.by_severity);
        self.skipped += other.skipped;
        self.penalty += other.penalty;
    }

    /// The compliance score, 0–100 (see the module documentation).
    pub fn score(&self) -> u8 {
        if self.objects == 0 {
            return 100;
        }
        let full = u128::from(self.objects) * 1000;
        let kept = full.saturating_sub(u128::from(self.penalty));
        // kept <= full, so the quotient is at most 100.
        u8::try_from(kept * 100 / full).unwrap_or(100)
    }
}

/// One policy's audit over a set of objects: fed each object's evaluation, it counts the objects
/// the policy selected and their findings into the summary a GuardianPolicy's status shows.
#[derive(Debug, Clone)]
pub struct PolicyAudit<'p> {
    policy: &'p str,
    rules: u32,
    tally: Tally,
}

impl<'p> PolicyAudit<'p> {
    /// The audit of `policy`, a policy of `rules` compiled rules.
    pub fn new(policy: &'p str, rules: usize) -> Self {
        PolicyAudit {
            policy,
            rules: u32::try_from(rules).unwrap_or(u32::MAX),
            tally: Tally::default(),
        }
    }

    /// Counts one object's evaluation. Returns the policy's match (with its enforcement) and
    /// its findings when the policy selected the object; `None` (nothing counted) otherwise.
    pub fn add<'e>(
        &mut self,
        evaluation: &'e Evaluation,
    ) -> Option<(&'e MatchedPolicy, &'e [Finding])> {
        let Evaluation::Evaluated {
            matched_policies,
            findings,
            ..
        } = evaluation
        else {
            return None;
        };
        let matched = matched_policies.iter().find(|m| &*m.name == self.policy)?;
        let own = matched.findings(findings);
        self.tally.add_object(own);
        Some((matched, own))
    }

    /// The counts so far, as the status shows them.
    pub fn summary(&self) -> PolicySummary {
        PolicySummary {
            rules: self.rules,
            resources_evaluated: self.tally.objects,
            violations: self.tally.violations,
            by_severity: self.tally.by_severity.clone(),
            skipped: self.tally.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Category, ResourceRef, RuleRef};

    fn finding(severity: Severity, outcome: Outcome) -> Finding {
        Finding {
            rule: RuleRef::shared("p", "r", severity, Category::Security, ""),
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("ns".into()),
                name: "pod".into(),
            }),
            container: None,
            message: String::new(),
            path: String::new(),
            outcome,
            location: None,
        }
    }

    #[test]
    fn the_worst_violation_of_an_object_sets_its_weight() {
        let mut tally = Tally::default();
        tally.add_object(&[
            finding(Severity::Low, Outcome::Fail),
            finding(Severity::Critical, Outcome::Fail),
        ]);
        tally.add_object(&[]);
        assert_eq!(tally.objects, 2);
        assert_eq!(tally.failing_objects, 1);
        assert_eq!(tally.violations, 2);
        assert_eq!(tally.by_severity.critical, 1);
        assert_eq!(tally.by_severity.low, 1);
        // One of two objects fully non-compliant.
        assert_eq!(tally.score(), 50);
    }

    #[test]
    fn excepted_findings_cost_nothing_and_are_counted_as_skipped() {
        let skip = Outcome::Skip {
            exception: "ns/e".into(),
            justification: "why".into(),
        };
        let mut tally = Tally::default();
        tally.add_object(&[finding(Severity::Critical, skip)]);
        assert_eq!(
            (tally.violations, tally.skipped, tally.score()),
            (0, 1, 100)
        );
    }

    #[test]
    fn one_small_violation_never_rounds_up_to_a_perfect_score() {
        let mut tally = Tally::default();
        for _ in 0..9_999 {
            tally.add_object(&[]);
        }
        tally.add_object(&[finding(Severity::Low, Outcome::Fail)]);
        assert_eq!(tally.score(), 99);
        assert_eq!(Tally::default().score(), 100);
    }

    #[test]
    fn a_policy_audit_counts_only_the_objects_and_findings_of_its_policy() {
        use crate::crd::GuardianPolicy;
        use crate::engine::{EvalContext, PolicySet};

        let policy = |name: &str, rule: &str| -> GuardianPolicy {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
                "kind": "GuardianPolicy",
                "metadata": {"name": name},
                "spec": {"enforcement": "Warn", "rules": [{"id": rule}],
                         "match": {"namespaces": ["shop"]}}
            }))
            .expect("policy")
        };
        let set = PolicySet::compile(
            &[
                policy("other", "pss-host-namespaces"),
                policy("privileged", "pss-privileged"),
            ],
            &[],
        )
        .expect("compiles");
        let pod = |ns: &str, privileged: bool| {
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"hostNetwork": true, "containers": [
                    {"name": "a", "image": "nginx:1.27", "securityContext": {"privileged": privileged}},
                    {"name": "b", "image": "nginx:1.27", "securityContext": {"privileged": privileged}}
                ]}
            })
        };
        let ctx = EvalContext::offline();
        let mut audit = PolicyAudit::new("privileged", 1);
        let mut own = Vec::new();
        for object in [
            pod("shop", true),
            pod("shop", false),
            pod("elsewhere", true),
        ] {
            let evaluation = set.evaluate(&object, &ctx);
            if let Some((matched, findings)) = audit.add(&evaluation) {
                assert_eq!(matched.enforcement, crate::crd::Enforcement::Warn);
                own.extend(findings.iter().map(|f| f.policy().to_string()));
            }
        }
        let not_a_workload = set.evaluate(&serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}), &ctx);
        assert!(audit.add(&not_a_workload).is_none());
        let summary = audit.summary();
        // Two objects in `shop`; two privileged containers in the first; `other`'s host
        // network findings are not this policy's.
        assert_eq!(
            (
                summary.rules,
                summary.resources_evaluated,
                summary.violations
            ),
            (1, 2, 2)
        );
        assert_eq!(summary.by_severity.get(Severity::Critical), 2);
        assert_eq!(own, ["privileged", "privileged"]);
    }

    #[test]
    fn merged_tallies_score_as_one() {
        let mut a = Tally::default();
        a.add_object(&[finding(Severity::High, Outcome::Error)]);
        let mut b = Tally::default();
        b.add_object(&[]);
        b.add_object(&[finding(Severity::Medium, Outcome::Fail)]);
        let mut all = a.clone();
        all.merge(&b);
        let mut direct = Tally::default();
        direct.add_object(&[finding(Severity::High, Outcome::Error)]);
        direct.add_object(&[]);
        direct.add_object(&[finding(Severity::Medium, Outcome::Fail)]);
        assert_eq!(all, direct);
        // (3000 - 700 - 400) / 3000 = 63.3%
        assert_eq!(all.score(), 63);
    }
}
