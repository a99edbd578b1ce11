//! The text a client sees: the denial message (shown by `kubectl apply` after "denied the
//! request:") and the one-line warnings (shown as `Warning: …`).

use std::fmt::Write;

use guardian_core::model::{Finding, Outcome};

/// Kubernetes recommends at most 120 characters per warning; longer ones get truncated or
/// wrapped badly by clients.
pub const WARNING_MAX_CHARS: usize = 120;
/// More warnings than this are summarised in one last line: a wall of warnings hides the point.
pub const MAX_WARNINGS: usize = 20;
/// Violations listed in one denial; the rest are counted. Keeps the Status message (which the
/// API server logs and returns) bounded whatever the policy set.
pub const MAX_DENIAL_LINES: usize = 30;

/// `Pod shop/web`, `Deployment shop/(generateName web-)`, `Pod web` (cluster view).
pub fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    let name = if name.is_empty() { "(unnamed)" } else { name };
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

/// The denial: one line per violation with policy, rule, field path, message and remediation.
pub fn denial(resource: &str, blocking: &[&Finding]) -> String {
    let mut out = format!(
        "kube-guardian: {resource} violates {} Deny polic{} ({} violation{}):",
        count_policies(blocking),
        if count_policies(blocking) == 1 {
            "y"
        } else {
            "ies"
        },
        blocking.len(),
        if blocking.len() == 1 { "" } else { "s" },
    );
    for f in blocking.iter().take(MAX_DENIAL_LINES) {
        let _ = write!(out, "\n- [{}/{}]", f.policy(), f.rule_id());
        if !f.path.is_empty() {
            let _ = write!(out, " {}:", f.path);
        }
        let _ = write!(out, " {}", f.message);
        if matches!(f.outcome, Outcome::Error) {
            // Fail-closed: say so, or the author of the rule cannot tell it from a violation.
            out.push_str(" (a Deny policy fails closed when a rule cannot be evaluated)");
        } else if !f.remediation().is_empty() {
            let _ = write!(out, ". Fix: {}", f.remediation());
        }
    }
    if blocking.len() > MAX_DENIAL_LINES {
        let _ = write!(out, "\n- …and {} more", blocking.len() - MAX_DENIAL_LINES);
    }
    out
}

fn count_policies(findings: &[&Finding]) -> usize {
    let mut names: Vec<&str> = findings.iter().map(|f| f.policy()).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// One short warning line for a finding.
pub fn warning(f: &Finding, note: &str) -> String {
    let mut line = format!("[{}/{}] {note}{}", f.policy(), f.rule_id(), f.message);
    truncate(&mut line, WARNING_MAX_CHARS);
    line
}

/// Caps the list at [`MAX_WARNINGS`] lines, the last one counting what was left out.
pub fn cap_warnings(warnings: &mut Vec<String>) {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "…and {more} more violations (see the PolicyReports)"
        ));
    }
}

/// Shortens `s` to at most `max` characters on a character boundary, marking the cut with `…`.
pub fn truncate(s: &mut String, max: usize) {
    if s.chars().count() <= max {
        return;
    }
    let cut = s
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(s.len(), |(i, _)| i);
    s.truncate(cut);
    s.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries_and_the_limit() {
        let mut s = "é".repeat(200);
        truncate(&mut s, 120);
        assert_eq!(s.chars().count(), 120);
        assert!(s.ends_with('…'));
        let mut short = "short".to_owned();
        truncate(&mut short, 120);
        assert_eq!(short, "short");
    }

    #[test]
    fn cap_keeps_the_total_at_the_maximum() {
        let mut w: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        cap_warnings(&mut w);
        assert_eq!(w.len(), MAX_WARNINGS);
        assert!(w[MAX_WARNINGS - 1].contains("31 more"));
    }
}
