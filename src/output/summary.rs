//! The counts every format's summary is made of, computed once from the report.

use std::collections::HashSet;

use guardian_core::crd::SeverityCounts;
use guardian_core::model::Outcome;
use serde::Serialize;

use crate::check::report::CheckReport;

/// Findings per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ByOutcome {
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
}

/// The numbers a summary shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub resources_evaluated: usize,
    /// Resources with at least one failure or error (excepted findings do not count).
    pub resources_failing: usize,
    pub findings: usize,
    pub by_outcome: ByOutcome,
    /// Failures (outcome `fail`, not excepted) per severity, counted as everywhere else.
    pub failures_by_severity: SeverityCounts,
    pub skipped_documents: usize,
    pub input_errors: usize,
}

impl Summary {
    pub fn of(report: &CheckReport) -> Summary {
        let mut by_outcome = ByOutcome::default();
        let mut failures_by_severity = SeverityCounts::default();
        let mut failing = HashSet::new();
        for finding in &report.findings {
            match finding.outcome {
                Outcome::Fail => {
                    by_outcome.fail += 1;
                    failures_by_severity.add(finding.severity());
                }
                Outcome::Skip { .. } => by_outcome.skip += 1,
                Outcome::Error => by_outcome.error += 1,
            }
            if finding.is_failure() {
                failing.insert(&finding.resource);
            }
        }
        Summary {
            resources_evaluated: report.resources_evaluated,
            resources_failing: failing.len(),
            findings: report.findings.len(),
            by_outcome,
            failures_by_severity,
            skipped_documents: report.skipped_documents.len(),
            input_errors: report.input_errors.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::output::test_support::sample_report;

    #[test]
    fn counts_outcomes_and_severities() {
        let summary = Summary::of(&sample_report());
        assert_eq!(summary.resources_evaluated, 3);
        assert_eq!(summary.by_outcome.fail, 3);
        assert_eq!(summary.by_outcome.skip, 1);
        assert_eq!(summary.by_outcome.error, 1);
        assert_eq!(summary.failures_by_severity.critical, 1);
        assert_eq!(summary.failures_by_severity.get(Severity::High), 1);
        assert_eq!(summary.failures_by_severity.medium, 1);
        assert_eq!(summary.resources_failing, 2);
        assert_eq!(summary.findings, 5);
    }
}
