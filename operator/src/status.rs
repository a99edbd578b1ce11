//! The GuardianPolicy status the reconcile loop wants, and whether it differs from what is stored.
//!
//! lastTransitionTime changes only when a condition's status changes, and nothing else in the
//! status carries time, so an unchanged evaluation produces an identical status and no write.

use guardian_core::crd::{GuardianPolicyStatus, PolicySummary};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const DEGRADED: &str = "Degraded";

/// What one reconcile found for one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// Compiled and evaluated.
    Evaluated(PolicySummary),
    /// The current generation does not compile; the last good one was evaluated (and is what
    /// admission enforces) instead.
    Fallback {
        errors: Vec<String>,
        enforced: Option<i64>,
        summary: PolicySummary,
    },
    /// The policy does not compile and no earlier generation did: nothing is enforced.
    Invalid(Vec<String>),
}

impl Assessment {
    /// The evaluation's counts, when something was evaluated.
    pub fn summary(&self) -> Option<&PolicySummary> {
        match self {
            Assessment::Evaluated(summary) | Assessment::Fallback { summary, .. } => Some(summary),
            Assessment::Invalid(_) => None,
        }
    }
}

fn generation_text(generation: Option<i64>) -> String {
    generation.map_or_else(
        || "the current generation".to_owned(),
        |g| format!("generation {g}"),
    )
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// The status to write, keeping lastTransitionTime from `previous` where a condition's status did
/// not change.
pub fn desired(
    assessment: &Assessment,
    generation: Option<i64>,
    previous: Option<&GuardianPolicyStatus>,
    now: Timestamp,
) -> GuardianPolicyStatus {
    let now = Time(now);
    let (conditions, summary) = match assessment {
        Assessment::Evaluated(summary) => (
            vec![
                condition(
                    READY,
                    true,
                    "Evaluated",
                    format!(
                        "{} resources evaluated, {} violations",
                        summary.resources_evaluated, summary.violations
                    ),
                    generation,
                    &now,
                ),
                condition(
                    DEGRADED,
                    false,
                    "Compiled",
                    "the policy compiles".to_owned(),
                    generation,
                    &now,
                ),
            ],
            Some(summary.clone()),
        ),
        Assessment::Fallback {
            errors,
            enforced,
            summary,
        } => {
            let enforced = generation_text(*enforced);
            (
                vec![
                    condition(
                        READY,
                        false,
                        "LastGoodGenerationEnforced",
                        format!(
                            "{enforced} is enforced instead: {} resources evaluated, {} violations",
                            summary.resources_evaluated, summary.violations
                        ),
                        generation,
                        &now,
                    ),
                    condition(
                        DEGRADED,
                        true,
                        "InvalidPolicy",
                        format!(
                            "{} does not compile: {}; {enforced} is still enforced",
                            generation_text(generation),
                            errors.join("; ")
                        ),
                        generation,
                        &now,
                    ),
                ],
                Some(summary.clone()),
            )
        }
        Assessment::Invalid(errors) => (
            vec![
                condition(
                    READY,
                    false,
                    "InvalidPolicy",
                    "the policy does not compile and nothing of it is enforced".to_owned(),
                    generation,
                    &now,
                ),
                condition(
                    DEGRADED,
                    true,
                    "InvalidPolicy",
                    format!(
                        "{} does not compile: {}; no earlier generation of this policy is \
                         known to compile, so nothing of it is enforced",
                        generation_text(generation),
                        errors.join("; ")
                    ),
                    generation,
                    &now,
                ),
            ],
            previous.and_then(|p| p.summary.clone()),
        ),
    };
    let conditions = conditions
        .into_iter()
        .map(|mut c| {
            if let Some(old) = previous
                .into_iter()
                .flat_map(|p| &p.conditions)
                .find(|o| o.type_ == c.type_ && o.status == c.status)
            {
                c.last_transition_time = old.last_transition_time.clone();
            }
            c
        })
        .collect();
    GuardianPolicyStatus {
        observed_generation: generation,
        conditions,
        summary,
    }
}

/// The value of a condition in a status, if present.
pub fn condition_status<'a>(
    status: Option<&'a GuardianPolicyStatus>,
    type_: &str,
) -> Option<&'a str> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluated(violations: u64) -> Assessment {
        Assessment::Evaluated(PolicySummary {
            rules: 3,
            resources_evaluated: 10,
            violations,
            ..PolicySummary::default()
        })
    }

    #[test]
    fn unchanged_evaluation_gives_an_identical_status() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let t1: Timestamp = "2026-01-02T00:00:00Z".parse().expect("time");
        let first = desired(&evaluated(2), Some(1), None, t0);
        let second = desired(&evaluated(2), Some(1), Some(&first), t1);
        assert_eq!(first, second, "no write when nothing changed");
    }

    #[test]
    fn transitions_move_last_transition_time_only_for_changed_conditions() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let t1: Timestamp = "2026-01-02T00:00:00Z".parse().expect("time");
        let ok = desired(&evaluated(0), Some(1), None, t0);
        let bad = desired(
            &Assessment::Invalid(vec!["rule x: bad".into()]),
            Some(2),
            Some(&ok),
            t1,
        );
        assert_eq!(condition_status(Some(&bad), DEGRADED), Some("True"));
        assert_eq!(condition_status(Some(&bad), READY), Some("False"));
        assert!(
            bad.conditions
                .iter()
                .all(|c| c.last_transition_time.0 == t1)
        );
        assert_eq!(bad.summary, ok.summary, "the last good summary is kept");
        assert!(bad.conditions[1].message.contains("rule x: bad"));
        assert!(
            bad.conditions[1]
                .message
                .contains("generation 2 does not compile")
                && bad.conditions[1]
                    .message
                    .contains("nothing of it is enforced"),
            "{}",
            bad.conditions[1].message
        );
    }

    #[test]
    fn a_fallback_names_the_generation_still_enforced() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let fallback = desired(
            &Assessment::Fallback {
                errors: vec!["rule x: syntax error".into()],
                enforced: Some(2),
                summary: PolicySummary {
                    violations: 4,
                    ..PolicySummary::default()
                },
            },
            Some(3),
            None,
            t0,
        );
        assert_eq!(condition_status(Some(&fallback), DEGRADED), Some("True"));
        let degraded = &fallback.conditions[1];
        assert_eq!(
            degraded.message,
            "generation 3 does not compile: rule x: syntax error; generation 2 is still enforced"
        );
        assert_eq!(fallback.summary.map(|s| s.violations), Some(4));
        assert_eq!(fallback.observed_generation, Some(3));
    }
}
