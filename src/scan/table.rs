//! `scan`'s human format, at most 80 columns: the clusters with their state and operator, the
//! tallies by policy, namespace and severity, the violations per cluster, the drift, and a
//! summary line. Styling, wrapping and the findings list are `check`'s (src/output).

use std::io::{self, Write};

use anstyle::Effects;
use guardian_cluster::aggregate::Group;
use guardian_cluster::drift::{Drift, DriftReport};
use guardian_cluster::operator_state::{LeaseHealth, OperatorState, PolicySync};
use guardian_cluster::{ClusterState, KindState};
use guardian_core::model::{Finding, Severity};
use serde_json::Value;

use super::report::{ClusterReport, ScanReport};
use crate::output::{
    Style, WIDTH, count, error_style, escape_control, severity_label, severity_style, wrap,
    write_findings, write_lines,
};

/// The cluster name column is at most this wide; longer names push the text to the next line.
const NAME_WIDTH: usize = 32;
const TALLY_COLUMNS: [&str; 5] = ["OBJECTS", "FAILING", "VIOLATIONS", "SKIPPED", "SCORE"];
const TALLY_COLUMN_WIDTH: usize = 11;
/// The name column of the tallies: what the number columns leave of 80, with the indent.
const TALLY_NAME_WIDTH: usize = WIDTH - TALLY_COLUMNS.len() * TALLY_COLUMN_WIDTH;

pub fn render(report: &ScanReport<'_>, out: &mut dyn Write, style: Style) -> io::Result<()> {
    let bold = |text: &str| style.paint(Effects::BOLD.into(), text);
    writeln!(out, "{}", bold("Clusters"))?;
    let width = report
        .clusters
        .iter()
        .map(|c| c.context.chars().count())
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH);
    for cluster in &report.clusters {
        write_cluster(out, cluster, width, style)?;
    }
    for (title, groups) in [
        ("By policy", &report.aggregate.policies),
        ("By namespace", &report.aggregate.namespaces),
    ] {
        writeln!(out)?;
        write_tallies(out, &bold(title), title.len(), groups)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}{:>12}{:>10}",
        bold("By severity"),
        "VIOLATIONS",
        "OBJECTS"
    )?;
    for row in &report.aggregate.severities {
        let label = severity_label(row.severity);
        let padding = " ".repeat(11 - label.len());
        writeln!(
            out,
            "  {}{padding}{:>10}{:>10}",
            style.paint(severity_style(row.severity), label),
            row.violations,
            row.failing_objects
        )?;
    }
    write_violations(out, report, style)?;
    write_drift(out, &report.drift, style)?;
    writeln!(out)?;
    write_lines(out, &wrap(&summary_line(report), "", "  ", WIDTH))
}

fn write_cluster(
    out: &mut dyn Write,
    cluster: &ClusterReport,
    width: usize,
    style: Style,
) -> io::Result<()> {
    let state = &cluster.connection.state;
    let context = escape_control(&cluster.context);
    // A context too long for the column gets a line of its own; the text goes under it.
    let (name, indent) = if context.chars().count() > NAME_WIDTH {
        write_lines(out, &wrap(&context, "  ", "    ", WIDTH))?;
        ("    ".to_owned(), "    ".to_owned())
    } else {
        (format!("  {context:<width$}  "), " ".repeat(width + 4))
    };
    let painted = if cluster.scanned {
        style.paint(Effects::BOLD.into(), state.name())
    } else {
        style.paint(error_style(), state.name())
    };
    let head = if cluster.scanned {
        let t = &cluster.tally;
        format!(
            "{}, score {}, {}, {} failing, {}, {} skipped",
            state.name(),
            cluster.score,
            count(to_usize(t.objects), "object"),
            t.failing_objects,
            count(to_usize(t.violations), "violation"),
            t.skipped
        )
    } else {
        format!("{}, not scanned: {}", state.name(), state_reason(state))
    };
    let mut lines = wrap(&escape_control(&head), &name, &indent, WIDTH);
    if let Some(first) = lines.first_mut() {
        // Colour only the state name (right after the context), after wrapping as plain text.
        let at = name.len();
        if first.get(at..at + state.name().len()) == Some(state.name()) {
            first.replace_range(at..at + state.name().len(), &painted);
        }
    }
    write_lines(out, &lines)?;
    let mut details = Vec::new();
    if let Some(age) = cluster.stale_seconds {
        details.push(format!("data stale for {}", duration(age)));
    }
    if let Some(retry) = cluster.connection.next_retry {
        details.push(format!("next retry at {retry}"));
    }
    // The hidden kinds below name what a Forbidden or Degraded state lacks; the state's own
    // list only when the kinds do not say it.
    if cluster.scanned
        && cluster.hidden_kinds.is_empty()
        && let Some(reason) = state_detail(state)
    {
        details.push(reason);
    }
    if !cluster.hidden_kinds.is_empty() {
        let kinds: Vec<String> = cluster
            .hidden_kinds
            .iter()
            .map(|k| format!("{} ({})", k.resource, kind_state(&k.state)))
            .collect();
        details.push(format!("hidden: {}", kinds.join(", ")));
    }
    for rejected in &cluster.rejected {
        details.push(format!(
            "rejected {} {}: {}",
            rejected.kind,
            rejected.name,
            rejected.errors.join("; ")
        ));
    }
    details.extend(operator_lines(&cluster.operator));
    for detail in details {
        write_lines(
            out,
            &wrap(&escape_control(&detail), &indent, &indent, WIDTH),
        )?;
    }
    Ok(())
}

/// Why a cluster could not be scanned.
fn state_reason(state: &ClusterState) -> String {
    match state {
        ClusterState::Connecting => "the initial sync did not finish within --timeout".into(),
        ClusterState::Unreachable { reason, detail } => {
            format!("{} ({detail})", serde_name(reason))
        }
        ClusterState::Unauthorized { detail } => format!("credentials rejected ({detail})"),
        ClusterState::NoCrds => "the GuardianPolicy CRD is not installed".into(),
        ClusterState::Synced | ClusterState::Degraded { .. } | ClusterState::Forbidden { .. } => {
            String::new()
        }
    }
}

/// What a partly scanned cluster lacks.
fn state_detail(state: &ClusterState) -> Option<String> {
    match state {
        ClusterState::Degraded { failing } => Some(format!(
            "failing watches: {}",
            failing
                .iter()
                .map(|f| format!("{} ({})", f.resource, f.error))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        ClusterState::Forbidden { missing } => Some(format!(
            "forbidden: {}",
            missing
                .iter()
                .map(|a| format!("{} {}", a.verb, a.resource))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

fn kind_state(state: &KindState) -> String {
    match state {
        KindState::Listing => "listing".into(),
        KindState::Synced => "synced".into(),
        KindState::Forbidden { verb } => format!("forbidden: {verb}"),
        KindState::NotInstalled => "not installed".into(),
        KindState::Failing { error } => format!("failing: {error}"),
    }
}

fn operator_lines(operator: &OperatorState) -> Vec<String> {
    let mut lines = Vec::new();
    match &operator.leader {
        None => lines.push(
            "operator: no leader Lease (none runs, or it runs without --leader-elect)".to_owned(),
        ),
        Some(leader) => {
            let holder = leader.holder.as_deref().unwrap_or("(released)");
            let renewed = match (leader.renew_age_seconds, leader.lease_duration_seconds) {
                (Some(age), Some(lease)) => {
                    format!("renewed {} ago, lease {}", duration(age), duration(lease))
                }
                (Some(age), None) => format!("renewed {} ago", duration(age)),
                (None, _) => "never renewed".to_owned(),
            };
            lines.push(format!(
                "operator: {holder} {} ({renewed}, {})",
                health(leader.health),
                count(to_usize(u64::from(leader.transitions)), "transition")
            ));
        }
    }
    // Where no operator ever wrote a status nothing reconciles; "pending" would only alarm there
    // (JSON still lists them).
    let operated = operator.leader.is_some()
        || operator
            .policies
            .iter()
            .any(|p| p.observed_generation.is_some());
    if operated && !operator.policies.is_empty() {
        let pending: Vec<&str> = operator
            .policies
            .iter()
            .filter(|p| p.sync == PolicySync::Pending)
            .map(|p| p.name.as_str())
            .collect();
        let reconciled = operator.policies.len() - pending.len();
        let mut line = format!("policies: {reconciled} reconciled");
        if !pending.is_empty() {
            line.push_str(&format!(
                ", {} pending ({})",
                pending.len(),
                pending.join(", ")
            ));
        }
        lines.push(line);
    }
    lines
}

fn health(health: LeaseHealth) -> &'static str {
    health.as_str()
}

fn write_tallies(
    out: &mut dyn Write,
    title: &str,
    title_width: usize,
    groups: &[Group],
) -> io::Result<()> {
    let first = groups
        .iter()
        .map(|g| g.name.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .clamp(title_width, TALLY_NAME_WIDTH);
    let mut header = format!("{title}{}", " ".repeat(first - title_width));
    for column in TALLY_COLUMNS {
        header.push_str(&format!("{column:>TALLY_COLUMN_WIDTH$}"));
    }
    writeln!(out, "{}", header.trim_end_matches(' '))?;
    for group in groups {
        let name = if group.name.is_empty() {
            "(cluster-scoped)".to_owned()
        } else {
            escape_control(&group.name).into_owned()
        };
        let t = &group.tally;
        let numbers = [
            t.objects,
            t.failing_objects,
            t.violations,
            t.skipped,
            u64::from(group.score),
        ]
        .map(|n| format!("{n:>TALLY_COLUMN_WIDTH$}"))
        .concat();
        if name.chars().count() + 2 > first {
            writeln!(out, "  {name}")?;
            writeln!(out, "{}{numbers}", " ".repeat(first))?;
        } else {
            writeln!(out, "  {name:<w$}{numbers}", w = first - 2)?;
        }
    }
    Ok(())
}

/// The violations (not the excepted findings), per cluster, grouped by resource.
fn write_violations(out: &mut dyn Write, report: &ScanReport<'_>, style: Style) -> io::Result<()> {
    for cluster in &report.clusters {
        let violations: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.cluster == cluster.context && f.finding.is_failure())
            .map(|f| f.finding)
            .collect();
        if violations.is_empty() {
            continue;
        }
        writeln!(out)?;
        let title = format!(
            "Violations in {} ({})",
            escape_control(&cluster.context),
            violations.len()
        );
        writeln!(out, "{}", style.paint(Effects::BOLD.into(), &title))?;
        write_findings(out, violations, true, style)?;
    }
    Ok(())
}

fn write_drift(out: &mut dyn Write, drift: &DriftReport, style: Style) -> io::Result<()> {
    if drift.compared.len() < 2 {
        return Ok(());
    }
    writeln!(out)?;
    let title = format!("Drift across {}", drift.compared.join(", "));
    writeln!(
        out,
        "{}",
        style.paint(Effects::BOLD.into(), &escape_control(&title))
    )?;
    if drift.drifts.is_empty() {
        return writeln!(out, "  none: the same policies and exceptions everywhere");
    }
    for item in &drift.drifts {
        write_lines(
            out,
            &wrap(&escape_control(&drift_line(item)), "  ", "      ", WIDTH),
        )?;
        for field in &item.fields {
            let values: Vec<String> = field
                .values
                .iter()
                .map(|v| format!("{} {}", v.context, value(v.value.as_ref())))
                .collect();
            let text = format!("{}: {}", field.path, values.join(", "));
            write_lines(out, &wrap(&escape_control(&text), "    ", "      ", WIDTH))?;
        }
    }
    Ok(())
}

fn drift_line(item: &Drift) -> String {
    let mut line = format!("{} {}", item.kind.as_str(), item.name);
    if !item.missing_in.is_empty() {
        line.push_str(&format!(": missing in {}", item.missing_in.join(", ")));
    }
    if !item.fields.is_empty() {
        let sep = if item.missing_in.is_empty() { ":" } else { ";" };
        line.push_str(&format!(
            "{sep} differs in {}",
            count(item.fields.len(), "field")
        ));
    }
    line
}

fn value(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// `3 clusters (1 not scanned: dr), 5 objects, 3 failing, 6 violations (critical 1, ...), 1
/// skipped by exceptions, score 58`.
fn summary_line(report: &ScanReport<'_>) -> String {
    let total = &report.aggregate.total;
    let t = &total.tally;
    let not_scanned: Vec<&str> = report.not_scanned().map(|c| c.context.as_str()).collect();
    let clusters = if not_scanned.is_empty() {
        count(report.clusters.len(), "cluster")
    } else {
        format!(
            "{} ({} not scanned: {})",
            count(report.clusters.len(), "cluster"),
            not_scanned.len(),
            not_scanned.join(", ")
        )
    };
    let by_severity = Severity::ALL
        .iter()
        .map(|s| format!("{s} {}", t.by_severity.get(*s)))
        .collect::<Vec<_>>()
        .join(", ");
    escape_control(&format!(
        "{clusters}, {}, {} failing, {} ({by_severity}), {} skipped by exceptions, score {}",
        count(to_usize(t.objects), "object"),
        t.failing_objects,
        count(to_usize(t.violations), "violation"),
        t.skipped,
        total.score
    ))
    .into_owned()
}

/// `45s`, `2m 3s`, `1h 5m`.
fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
    }
}

fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use guardian_core::audit::Tally;

    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(3_900), "1h 5m");
    }

    #[test]
    fn a_name_too_long_for_the_column_gets_a_line_of_its_own() {
        let group = |name: &str| Group {
            name: name.to_owned(),
            tally: Tally::default(),
            score: 100,
        };
        let long = "a-namespace-name-far-longer-than-the-column-allows";
        let mut out = Vec::new();
        write_tallies(&mut out, "By namespace", 12, &[group("shop"), group(long)])
            .expect("write to a Vec");
        let text = String::from_utf8(out).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].starts_with("  shop ") && lines[1].ends_with(" 100"),
            "{text}"
        );
        assert_eq!(lines[2], format!("  {long}"));
        assert!(lines[3].trim_start().starts_with('0') && lines[3].ends_with(" 100"));
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
    }

    #[test]
    fn a_partly_scanned_cluster_names_what_it_lacks_once() {
        let snapshots = super::super::fixture::snapshots();
        let report = ScanReport::build(&snapshots, super::super::fixture::now());
        let render = |cluster: &ClusterReport| {
            let mut out = Vec::new();
            write_cluster(&mut out, cluster, 8, Style::PLAIN).expect("write to a Vec");
            String::from_utf8(out).expect("UTF-8")
        };
        // staging is Forbidden to list CronJobs and its kinds say so: once, as a hidden kind.
        let staging = render(&report.clusters[1]);
        assert_eq!(staging.matches("cronjobs.batch").count(), 1, "{staging}");
        // Without kind statuses the state's own list says it.
        let mut degraded = report.clusters[1].clone();
        degraded.hidden_kinds.clear();
        degraded.connection.state = ClusterState::Degraded {
            failing: vec![guardian_cluster::WatchFailure {
                resource: "jobs.batch".into(),
                error: "watch stream ended".into(),
            }],
        };
        let text = render(&degraded);
        assert!(
            text.contains("failing watches: jobs.batch (watch stream ended)"),
            "{text}"
        );
    }

    #[test]
    fn a_context_too_long_for_the_column_gets_a_line_of_its_own() {
        let snapshots = super::super::fixture::snapshots();
        let report = ScanReport::build(&snapshots, super::super::fixture::now());
        let mut cluster = report.clusters[0].clone();
        cluster.context = format!(
            "arn:aws:eks:eu-west-1:123456789012:cluster/{}",
            "x".repeat(40)
        );
        let mut out = Vec::new();
        write_cluster(&mut out, &cluster, NAME_WIDTH, Style::PLAIN).expect("write to a Vec");
        let text = String::from_utf8(out).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("  arn:aws:eks:"), "{text}");
        assert!(
            lines.iter().any(|l| l.starts_with("    Synced, score 43")),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
    }
}
