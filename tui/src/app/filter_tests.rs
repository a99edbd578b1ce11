//! The `/` filter over Violations rows against the way it once matched: one lower-cased copy of
//! the row's shown texts joined with spaces (rebuilt here, independent of [`Shown::matches`]).

use std::sync::Arc;

use guardian_core::crd::Enforcement;
use guardian_core::model::Severity;

use super::filter::Filter;
use super::rows::{Deriver, Shown};
use crate::testing::{at, deployment, finding, policy, synced, waived};

/// The row's texts as the table and the detail pane show them, lower-cased as one string.
fn haystack(shown: &Shown<'_>, enforcement: &str) -> String {
    let (o, f) = (shown.object, shown.finding);
    let enforcement = if shown.waived_by().is_some() {
        "waived"
    } else {
        enforcement
    };
    format!(
        "{} {}/{} {} {} {} {enforcement} {} {}",
        o.namespace.as_deref().unwrap_or_default(),
        o.kind,
        o.name,
        f.policy(),
        f.rule_id(),
        f.severity(),
        f.message,
        shown.waived_by().unwrap_or_default(),
    )
    .to_lowercase()
}

/// Every word (lower-cased) in the haystack, no `!word` in it; `@cluster` words are not texts.
fn oracle(text: &str, haystack: &str) -> bool {
    text.split_whitespace().all(|word| {
        let word = word.to_lowercase();
        if word.starts_with('@') {
            return true;
        }
        match word.strip_prefix('!') {
            Some("") => true,
            Some(not) => !haystack.contains(not),
            None => haystack.contains(word.as_str()),
        }
    })
}

#[test]
fn the_filter_keeps_the_rows_whose_shown_texts_held_every_word_as_one_lower_cased_string() {
    // ASCII, German (ß has no one-letter capital), Greek with a final Σ, the Kelvin sign (its
    // lower case is an ASCII k), a dotted capital İ (two characters lower-cased), no namespace.
    let objects = [
        (Some("Payments"), "Deployment", "API-Gateway"),
        (Some("Straße"), "Job", "ÄRZTE-Größe"),
        (Some("ΟΔΟΣ"), "ΟΔΟΣ", "ΣΑΣ"),
        (Some("\u{212A}ube"), "\u{212A}ind", "İstanbul"),
        (None, "ClusterRole", "Admin"),
        (Some(""), "Job", "web"),
    ];
    let messages = [
        "Container runs as ROOT",
        "Zugriff für ÄRZTE verweigert",
        "ΟΔΟΣ ΣΑΣ",
        "İSTANBUL \u{212A}",
    ];
    let mut snapshot = synced("demo-a");
    snapshot.evaluations = objects
        .iter()
        .enumerate()
        .map(|(i, &(namespace, kind, name))| {
            let findings = (0..2)
                .map(|j| {
                    let n = i + j;
                    let policy = ["restricted", "labels", "gone"][n % 3];
                    let mut f = finding(policy, "run-as-non-root", Severity::ALL[n % 4]);
                    f.message = messages[n % messages.len()].to_owned();
                    if n % 3 == 1 {
                        waived(f, "shop/Legacy-ΣΑΣ")
                    } else {
                        f
                    }
                })
                .collect();
            let mut e = (*deployment(namespace.unwrap_or_default(), name, &[], findings)).clone();
            let mut resource = (*e.resource).clone();
            resource.kind = kind.to_owned();
            resource.namespace = namespace.map(str::to_owned);
            let resource = Arc::new(resource);
            for f in &mut e.findings {
                f.resource = Arc::clone(&resource);
            }
            e.resource = resource;
            Arc::new(e)
        })
        .collect();
    snapshot.policies = vec![
        policy("restricted", Enforcement::Deny, None),
        policy("labels", Enforcement::Warn, None),
    ];
    let enforcement = |policy: &str| match policy {
        "restricted" => "deny",
        "labels" => "warn",
        _ => "-",
    };
    let rows = Deriver::default().derive(Arc::new(snapshot), at(0));
    let words = [
        "payments",
        "PAYMENTS",
        "gateway",
        "deployment/api",
        "ment/API-g",
        "/api",
        "t/a",
        "/",
        "job/",
        "job/w",
        "job//",
        "t/a/",
        "yment/api-gatewayx",
        "xdeployment/api",
        "straße",
        "STRASSE",
        "größe",
        "ärzte",
        "FÜR",
        "οδος",
        "οδοσ",
        "ΟΔΟΣ",
        "σας",
        "ς/σ",
        "ος/σ",
        "σασ",
        "\u{212A}",
        "k",
        "kube",
        "kind/i",
        "İ",
        "i",
        "İstanbul",
        "istanbul",
        "clusterrole/admin",
        "waived",
        "deny",
        "warn",
        "-",
        "legacy",
        "shop/legacy-σας",
        "high",
        "root",
        "!root",
        "!waived",
        "!/",
        "!ΟΔΟΣ",
        "!",
        "@demo",
    ];
    let mut kept = 0;
    let mut checked = 0;
    for a in words {
        for b in std::iter::once("").chain(words) {
            let text = format!("{a} {b}");
            let filter = Filter::parse(&text);
            for row in 0..rows.violations.len() {
                let shown = rows.shown(row).expect("the rows' own finding");
                let expected = oracle(
                    &text,
                    &haystack(&shown, enforcement(shown.finding.policy())),
                );
                assert_eq!(shown.matches(&filter), expected, "{text:?} on row {row}");
                kept += usize::from(expected);
                checked += 1;
            }
        }
    }
    // Both answers are common: the words hit some rows and miss others.
    assert!(
        kept > checked / 20 && kept < checked * 19 / 20,
        "{kept} of {checked}"
    );
}

#[test]
fn a_waived_row_is_found_by_waived_and_by_its_exception_not_by_its_policy_s_enforcement() {
    let mut snapshot = synced("demo-a");
    let f = || finding("restricted", "run-as-non-root", Severity::High);
    snapshot.evaluations = vec![
        deployment("shop", "web", &[], vec![f()]),
        deployment(
            "shop",
            "legacy-app",
            &[],
            vec![waived(f(), "shop/Old-Payroll")],
        ),
    ];
    snapshot.policies = vec![policy("restricted", Enforcement::Deny, None)];
    let rows = Deriver::default().derive(Arc::new(snapshot), at(0));
    let kept = |text: &str| -> Vec<String> {
        let filter = Filter::parse(text);
        (0..rows.violations.len())
            .filter_map(|i| rows.shown(i))
            .filter(|s| s.matches(&filter))
            .map(|s| s.object.name.clone())
            .collect()
    };
    assert_eq!(kept("WAIVED"), ["legacy-app"]);
    assert_eq!(kept("old-payroll"), ["legacy-app"]);
    assert_eq!(kept("shop/old"), ["legacy-app"]);
    assert_eq!(
        kept("deny"),
        ["web"],
        "the waived row shows `waived`, not Deny"
    );
    assert_eq!(kept("!waived"), ["web"]);
}
