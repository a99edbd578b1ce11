//! The table's findings: grouped by resource, each finding's lines wrapped at [`WIDTH`] and
//! gathered in one reused buffer (see the layout in `table.rs`).

use std::collections::HashMap;
use std::io::{self, Write};

use anstyle::Effects;
use guardian_core::model::{Finding, Outcome, ResourceRef};

use super::Style;
use super::escape::escape_control;
use super::table::{LABEL_INDENT, TEXT_INDENT, WIDTH, label, uri_path};
use super::wrap::wrap_each;

/// Findings grouped by resource, a blank line between groups (also `scan`'s findings list).
pub(crate) fn write_findings<'a>(
    out: &mut dyn Write,
    findings: impl IntoIterator<Item = &'a Finding>,
    show_policy: bool,
    style: Style,
) -> io::Result<()> {
    // Lines are assembled in one reused buffer and written in large pieces: a `writeln!` and a
    // `String` per line were most of the table's cost (~17,500 findings on the bench corpus).
    let mut text = Text::default();
    for (index, group) in group_by_resource(findings).iter().enumerate() {
        if index > 0 {
            text.out.push('\n');
        }
        write_group(&mut text, group, show_policy, style);
        if text.out.len() >= FLUSH_AT {
            out.write_all(text.out.as_bytes())?;
            text.out.clear();
        }
    }
    out.write_all(text.out.as_bytes())
}

/// Bytes of table text gathered before they are written out.
const FLUSH_AT: usize = 1 << 16;

/// The text being written and the scratch buffers its lines are built in.
#[derive(Debug, Default)]
struct Text {
    out: String,
    line: String,
    scratch: String,
    /// Each rule's fix lines, escaped and wrapped once (by the address of its shared text):
    /// every finding of a rule repeats them. An address names one text only while the findings
    /// are borrowed, so a `Text` lives for one `write_findings` call.
    fixes: HashMap<usize, String>,
}

/// Findings of one resource in one file, in report order.
#[derive(Debug)]
struct Group<'a> {
    resource: &'a ResourceRef,
    file: Option<&'a str>,
    findings: Vec<&'a Finding>,
}

/// Groups by (resource, file) in order of first appearance, so the caller's sort order holds
/// even when another resource's findings are interleaved.
fn group_by_resource<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<(&ResourceRef, Option<&str>), usize> = HashMap::new();
    for finding in findings {
        let file = finding.location.as_ref().map(|l| &*l.file);
        // A resource's findings usually arrive together: the last group is checked before the
        // hash (each key has one group, so the answer is the same).
        if let Some(last) = groups.last_mut()
            && last.file == file
            && *last.resource == *finding.resource
        {
            last.findings.push(finding);
            continue;
        }
        let key = (&*finding.resource, file);
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                resource: &finding.resource,
                file,
                findings: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].findings.push(finding);
    }
    groups
}

fn write_group(text: &mut Text, group: &Group<'_>, show_policy: bool, style: Style) {
    let resource = group.resource;
    let name = match &resource.namespace {
        Some(ns) => format!("{} {ns}/{}", resource.kind, resource.name),
        None => format!("{} {}", resource.kind, resource.name),
    };
    let first_line = group
        .findings
        .iter()
        .filter_map(|f| f.location.as_ref().map(|l| l.line))
        .min();
    let header = match (group.file, first_line) {
        (Some(file), Some(line)) => format!("{name}  ({}:{line})", uri_path(file)),
        _ => name,
    };
    let out = &mut text.out;
    // Headers are printed untrimmed.
    wrap_each(
        &escape_control(&header),
        "",
        "    ",
        WIDTH,
        &mut text.line,
        |line| {
            style.paint_into(Effects::BOLD.into(), line, out);
            out.push('\n');
        },
    );
    for finding in &group.findings {
        write_finding(text, finding, show_policy, style);
    }
}

/// A finding's text after its label, its label padded to the text column, and the fix prefixes.
const FIX_FIRST: &str = "           fix: ";
const FIX_REST: &str = "                ";

fn write_finding(text: &mut Text, finding: &Finding, show_policy: bool, style: Style) {
    let Text {
        out,
        line,
        scratch,
        fixes,
    } = text;
    let (label, label_style) = label(finding);
    scratch.clear();
    scratch.push_str(finding.rule_id());
    if show_policy {
        scratch.push_str(" [");
        scratch.push_str(finding.policy());
        scratch.push(']');
    }
    scratch.push_str("  ");
    scratch.push_str(&finding.message);
    // Wrap as plain text with a placeholder label, then colour only the label itself.
    let plain_label = padded_label(label);
    let mut first = true;
    wrap_each(
        &escape_control(scratch),
        plain_label,
        TEXT_INDENT,
        WIDTH,
        line,
        |line| {
            if std::mem::take(&mut first) && style != Style::PLAIN {
                // The label painted where its plain copy stood; its padding and the text follow.
                out.push_str(LABEL_INDENT);
                style.paint_into(label_style, label, out);
                push_line(
                    out,
                    line.get(LABEL_INDENT.len() + label.len()..).unwrap_or(""),
                );
            } else {
                push_line(out, line);
            }
        },
    );

    // `escape_control` maps character by character, so the path is escaped alone and the line
    // number appended (a no-break space keeps `(line N)` in one piece).
    scratch.clear();
    scratch.push_str("at ");
    scratch.push_str(&escape_control(&finding.path));
    if let Some(location) = &finding.location {
        use std::fmt::Write as _;
        let _ = write!(scratch, " (line\u{a0}{})", location.line);
    }
    wrap_each(scratch, TEXT_INDENT, TEXT_INDENT, WIDTH, line, |line| {
        if line.contains('\u{a0}') {
            push_line(out, &line.replace('\u{a0}', " "));
        } else {
            push_line(out, line);
        }
    });
    match &finding.outcome {
        Outcome::Fail => {
            let remediation = finding.remediation();
            let fix = fixes
                .entry(remediation.as_ptr() as usize)
                .or_insert_with(|| {
                    let mut lines = String::new();
                    wrap_each(
                        &escape_control(remediation),
                        FIX_FIRST,
                        FIX_REST,
                        WIDTH,
                        line,
                        |l| push_line(&mut lines, l),
                    );
                    lines
                });
            out.push_str(fix);
        }
        Outcome::Skip {
            exception,
            justification,
        } => {
            let text = format!("excepted by {exception}: {justification}");
            wrap_each(
                &escape_control(&text),
                TEXT_INDENT,
                TEXT_INDENT,
                WIDTH,
                line,
                |l| push_line(out, l),
            )
        }
        Outcome::Error => {}
    }
}

/// A line as `table::write_lines` prints it: trailing whitespace dropped.
fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// `label` left-aligned in the label column, as `format!("{LABEL_INDENT}{label:<LABEL_WIDTH$} ")`
/// (without a `String` a finding).
fn padded_label(label: &'static str) -> &'static str {
    match label {
        "CRITICAL" => "  CRITICAL ",
        "HIGH" => "  HIGH     ",
        "MEDIUM" => "  MEDIUM   ",
        "LOW" => "  LOW      ",
        "INFO" => "  INFO     ",
        "SKIP" => "  SKIP     ",
        "ERROR" => "  ERROR    ",
        _ => unreachable!("every label is listed"),
    }
}

#[cfg(test)]
mod tests {
    use guardian_core::model::{RuleRef, Severity};

    use super::*;
    use crate::output::table::{LABEL_WIDTH, severity_label};
    use crate::output::test_support::sample_report;

    #[test]
    fn padded_labels_fill_the_label_column() {
        let labels = Severity::ALL.iter().map(|s| severity_label(*s));
        for label in labels.chain(["SKIP", "ERROR"]) {
            assert_eq!(
                padded_label(label),
                format!("{LABEL_INDENT}{label:<LABEL_WIDTH$} "),
                "{label}"
            );
        }
    }

    /// A rule's fix lines are wrapped once and repeated: every finding of the rule shows its
    /// whole fix, and a finding of another rule shows its own.
    #[test]
    fn each_finding_shows_its_own_rules_fix() {
        let report = sample_report();
        let long: std::sync::Arc<str> = "Set resources.limits.cpu on every container (e.g. 500m), \
             or spec.resources.limits.cpu for the whole pod, so one workload cannot starve its \
             neighbours."
            .into();
        let mut findings: Vec<Finding> = report
            .findings
            .iter()
            .filter(|f| f.outcome == Outcome::Fail)
            .take(3)
            .cloned()
            .collect();
        assert_eq!(findings.len(), 3, "the sample has three failures");
        for i in [0, 2] {
            let f = &mut findings[i];
            f.rule = std::sync::Arc::new(RuleRef {
                remediation: std::sync::Arc::clone(&long),
                ..(*f.rule).clone()
            });
        }
        let mut out = Vec::new();
        write_findings(&mut out, &findings, false, Style::PLAIN).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        let mut lines = String::new();
        wrap_each(&long, FIX_FIRST, FIX_REST, WIDTH, &mut String::new(), |l| {
            push_line(&mut lines, l)
        });
        assert!(lines.lines().count() > 1, "the fix wraps:\n{lines}");
        assert_eq!(text.matches(&lines).count(), 2, "{text}");
        let own = format!("fix: {}", findings[1].remediation());
        assert_eq!(text.matches(&own).count(), 1, "{text}");
    }

    /// A resource whose findings are interleaved with another's still gets one group, at its
    /// first appearance.
    #[test]
    fn interleaved_findings_group_by_first_appearance() {
        let report = sample_report();
        let web: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.resource.name == "web")
            .collect();
        let other = report
            .findings
            .iter()
            .find(|f| f.resource.name != "web")
            .expect("another resource");
        let order = [web[0], other, web[1]];
        let groups = group_by_resource(order);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].findings.len(), 2);
        assert_eq!(groups[0].resource.name, "web");
        assert_eq!(groups[1].findings.len(), 1);
    }
}
