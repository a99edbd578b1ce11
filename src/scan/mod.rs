//! `kube-guardian scan`: every selected cluster at once, its violations evaluated with its own
//! policies, the operator's state and the policy drift, as one report for scripts and cron jobs.

mod json;
mod live;
mod report;
mod sarif;
mod table;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod golden;

use std::io::{self, Write};
use std::time::Duration;

pub use live::run;
pub use report::ScanReport;

use guardian_core::model::Severity;

use crate::output::Style;

/// How `scan` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// Clusters, tallies, violations and drift, for people (colour on a terminal).
    Table,
    /// A versioned JSON document (apiVersion kube-guardian.dev/v1alpha1, kind ScanReport).
    Json,
    /// SARIF 2.1.0, one run; each result names its cluster.
    Sarif,
}

pub fn render(
    report: &ScanReport<'_>,
    format: ScanFormat,
    out: &mut dyn Write,
    style: Style,
) -> io::Result<()> {
    match format {
        ScanFormat::Table => table::render(report, out, style),
        ScanFormat::Json => json::render(report, out),
        ScanFormat::Sarif => sarif::render(report, out),
    }
}

/// The exit code, as `check`'s: 2 when a cluster could not be scanned (the others are still
/// reported), else 1 when a violation at or above `fail_on` was found, else 0.
pub fn exit_code(report: &ScanReport<'_>, fail_on: Severity) -> u8 {
    if report.not_scanned().next().is_some() {
        crate::EXIT_USAGE_OR_INPUT
    } else if report.failures_at_or_above(fail_on) > 0 {
        crate::EXIT_FINDINGS
    } else {
        0
    }
}

/// `30s`, `500ms`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write it like 30s, 500ms, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is not a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_cluster_exits_2_and_violations_at_the_threshold_exit_1() {
        let all = fixture::snapshots();
        let code = |contexts: &[&str], fail_on: Severity| {
            let chosen: Vec<_> = all
                .iter()
                .filter(|s| contexts.contains(&s.context.as_str()))
                .cloned()
                .collect();
            exit_code(&ScanReport::build(&chosen, fixture::now()), fail_on)
        };
        // dr is unreachable: 2 whatever the findings.
        assert_eq!(code(&["prod", "dr"], Severity::Critical), 2);
        // prod has critical and high violations, staging only a medium one.
        assert_eq!(code(&["prod", "staging"], Severity::Critical), 1);
        assert_eq!(code(&["staging"], Severity::Medium), 1);
        assert_eq!(code(&["staging"], Severity::High), 0);
        assert_eq!(code(&[], Severity::Info), 0);
    }

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "s", "0s", "-1s", "10 parsecs", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
