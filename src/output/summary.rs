//! The counts every format's summary is made of, computed once from the report.

use std::collections::HashSet;

use guardian_core::model::{Outcome, Severity};
use serde::Serialize;

use crate::check::report::CheckReport;

/// Failures (outcome `fail`, not excepted) per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl BySeverity {
    pub fn get(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    fn bump(&mut self, severity: Severity) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot += 1;
    }
}

/// Findings per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ByOutcome {
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
}

/// The numbers a summary shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub resources_evaluated: usize,
    /// Resources with at least one failure or error (excepted findings do not count).
    pub resources_failing: usize,
    pub findings: usize,
    pub by_outcome: ByOutcome,
    pub failures_by_severity: BySeverity,
    pub skipped_documents: usize,
    pub input_errors: usize,
}

impl Summary {
    pub fn of(report: &CheckReport) -> Summary {
        let mut by_outcome = ByOutcome::default();
        let mut failures_by_severity = BySeverity::default();
        let mut failing = HashSet::new();
        for finding in &report.findings {
            match finding.outcome {
                Outcome::Fail => {
                    by_outcome.fail += 1;
                    failures_by_severity.bump(finding.severity);
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
