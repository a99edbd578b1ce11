//! The human format: findings grouped by resource, readable at 80 columns.
//!
//! ```text
//! Deployment shop/web  (examples/bad.yaml:20)
//!   CRITICAL privileged  Container "app" is privileged
//!            at spec.template.spec.containers[0].securityContext.privileged
//!            (line 22)
//!            fix: Set securityContext.privileged to false.
//!   SKIP     resource-limits  Container "app" has no memory limit
//!            at spec.template.spec.containers[0].resources.limits.memory (line 24)
//!            excepted by shop/legacy-web: Sized by the vendor
//! ```
//! The rule id carries its policy (`privileged [baseline]`) when the report has several.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects};
use guardian_core::model::{Finding, Outcome, Severity};

use super::Style;
use super::escape::escape_control;
use super::summary::Summary;
pub(crate) use super::table_findings::write_findings;
use super::wrap::wrap;
use crate::check::report::CheckReport;

/// Lines never exceed this many columns.
pub(crate) const WIDTH: usize = 80;
/// Where a finding's label starts.
pub(super) const LABEL_INDENT: &str = "  ";
/// Where a finding's text starts: after the indent and the widest label (`CRITICAL`) and a space.
pub(super) const TEXT_INDENT: &str = "           ";
/// The label column's width, which the table's padded labels spell out (their test checks them).
#[cfg(test)]
pub(super) const LABEL_WIDTH: usize = TEXT_INDENT.len() - LABEL_INDENT.len() - 1;

pub fn render(report: &CheckReport, out: &mut dyn Write, style: Style) -> io::Result<()> {
    // Several policies when any finding's differs from the first's.
    let show_policy = report
        .findings
        .split_first()
        .is_some_and(|(first, rest)| rest.iter().any(|f| f.policy() != first.policy()));
    write_findings(out, &report.findings, show_policy, style)?;
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
    }
    if !report.skipped_documents.is_empty() {
        writeln!(out)?;
        let title = format!("Skipped documents ({})", report.skipped_documents.len());
        writeln!(out, "{}", style.paint(Effects::BOLD.into(), &title))?;
        for doc in &report.skipped_documents {
            let text = format!("{}:{}  {}", uri_path(&doc.file), doc.line, doc.reason);
            write_lines(out, &wrap(&escape_control(&text), "  ", "      ", WIDTH))?;
        }
    }
    if !report.input_errors.is_empty() {
        writeln!(out)?;
        let title = format!("Input errors ({})", report.input_errors.len());
        writeln!(out, "{}", style.paint(error_style(), &title))?;
        for error in &report.input_errors {
            let place = match error.line {
                Some(line) => format!("{}:{line}", uri_path(&error.file)),
                None => uri_path(&error.file),
            };
            let text = format!("{place}  {}", error.message);
            write_lines(out, &wrap(&escape_control(&text), "  ", "      ", WIDTH))?;
        }
    }
    writeln!(out)?;
    write_lines(
        out,
        &wrap(&summary_line(&Summary::of(report)), "", "  ", WIDTH),
    )
}

pub(super) fn label(finding: &Finding) -> (&'static str, anstyle::Style) {
    match finding.outcome {
        Outcome::Skip { .. } => ("SKIP", anstyle::Style::new().dimmed()),
        Outcome::Error => ("ERROR", error_style()),
        Outcome::Fail => (
            severity_label(finding.severity()),
            severity_style(finding.severity()),
        ),
    }
}

pub(crate) fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
        Severity::Info => "INFO",
    }
}

pub(crate) fn severity_style(severity: Severity) -> anstyle::Style {
    match severity {
        Severity::Critical => AnsiColor::Red.on_default().bold(),
        Severity::High => AnsiColor::Red.on_default(),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => AnsiColor::Blue.on_default(),
    }
}

pub(crate) fn error_style() -> anstyle::Style {
    AnsiColor::Magenta.on_default().bold()
}

/// `3 resources, 4 failures (critical 1, high 2, medium 1, low 0, info 0), 1 skipped by
/// exceptions`, plus rule and input errors when there are any.
fn summary_line(summary: &Summary) -> String {
    let by_severity = Severity::ALL
        .iter()
        .map(|s| format!("{s} {}", summary.failures_by_severity.get(*s)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut line = format!(
        "{}, {} ({by_severity}), {} skipped by exceptions",
        count(summary.resources_evaluated, "resource"),
        count(summary.by_outcome.fail, "failure"),
        summary.by_outcome.skip
    );
    for (n, what) in [
        (summary.by_outcome.error, "rule error"),
        (summary.input_errors, "input error"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {}", count(n, what)));
        }
    }
    if summary.skipped_documents > 0 {
        let documents = count(summary.skipped_documents, "document");
        line.push_str(&format!(", {documents} skipped"));
    }
    line
}

pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// File paths as given, with forward slashes (the same spelling as the other formats).
pub(super) fn uri_path(file: &str) -> String {
    file.replace('\\', "/")
}

pub(crate) fn write_lines(out: &mut dyn Write, lines: &[String]) -> io::Result<()> {
    for line in lines {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_support::sample_report;
    use unicode_width::UnicodeWidthStr;

    fn rendered(style: Style) -> String {
        let mut out = Vec::new();
        render(&sample_report(), &mut out, style).expect("render to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn fits_80_columns_with_a_long_message() {
        let text = rendered(Style::PLAIN);
        assert!(text.contains("docker.sock"), "{text}");
        for line in text.lines() {
            assert!(line.width() <= WIDTH, "{} columns: {line:?}", line.width());
        }
        // The long message wrapped onto continuation lines under the text column.
        let continuation = text
            .lines()
            .find(|l| l.contains("runtime"))
            .expect("wrapped message line");
        assert!(continuation.starts_with(TEXT_INDENT), "{continuation:?}");
    }

    #[test]
    fn groups_by_resource_with_a_header_each() {
        let text = rendered(Style::PLAIN);
        let web = text
            .find("Deployment shop/web  (examples/bad.yaml:20)")
            .expect("web header");
        let debug = text
            .find("Pod default/debug  (examples/pods.yaml:4)")
            .expect("debug header");
        assert!(web < debug);
        assert_eq!(text.matches("Deployment shop/web").count(), 1);
        let web_block = &text[web..debug];
        for rule in ["run-as-non-root", "privileged", "resource-limits"] {
            assert!(web_block.contains(rule), "{rule} under web:\n{web_block}");
        }
        assert!(text[debug..].contains("host-path"));
    }

    #[test]
    fn shows_labels_paths_fixes_exceptions_and_errors() {
        let text = rendered(Style::PLAIN);
        assert!(
            text.contains("\n  CRITICAL privileged [baseline]  Container \"app\" is privileged\n")
        );
        assert!(text.contains(
            "\n           at spec.template.spec.containers[0].securityContext.privileged\n           (line 22)\n"
        ));
        assert!(text.contains("\n           fix: Fix privileged by following the docs.\n"));
        assert!(text.contains("\n  SKIP     resource-limits [baseline]"));
        assert!(text.contains("excepted by shop/legacy-web: Sized by the vendor; ticket OPS-12"));
        assert!(text.contains("\n  ERROR    custom-team-label [custom]"));
        assert!(text.contains("Skipped documents (1)\n  examples/bad.yaml:40  kind ConfigMap"));
        assert!(text.contains("Input errors (1)\n  examples/broken.yaml:3  did not find"));
    }

    #[test]
    fn ends_with_the_summary() {
        let text = rendered(Style::PLAIN);
        let summary: String = text
            .rsplit("\n\n")
            .next()
            .expect("summary paragraph")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            summary,
            "3 resources, 3 failures (critical 1, high 1, medium 1, low 0, info 0), \
             1 skipped by exceptions, 1 rule error, 1 input error, 1 document skipped"
        );
    }

    #[test]
    fn plain_style_has_no_escape_codes_and_colour_has_them() {
        assert!(!rendered(Style::PLAIN).contains('\u{1b}'));
        let coloured = rendered(Style::COLOR);
        assert!(coloured.contains("\u{1b}["));
        // Colour changes nothing but the escapes.
        let stripped = strip_ansi(&coloured);
        assert_eq!(stripped, rendered(Style::PLAIN));
    }

    #[test]
    fn empty_report_says_so() {
        let mut out = Vec::new();
        render(&CheckReport::default(), &mut out, Style::PLAIN).expect("render");
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.starts_with("No findings.\n"), "{text}");
        assert!(text.contains("0 resources, 0 failures"));
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
