//! Golden tests of `scan`'s table and JSON output: fixed snapshots (fixture.rs), a fixed clock,
//! compared byte for byte with tests/fixtures/scan/. After an intended change, regenerate them
//! with `KUBE_GUARDIAN_BLESS=1 cargo test --bin kube-guardian scan::golden` and review the diff.

use std::path::PathBuf;

use serde_json::Value;

use super::fixture::{now, snapshots};
use super::{ScanFormat, ScanReport, render};
use crate::output::Style;

fn rendered(format: ScanFormat, style: Style) -> String {
    let snapshots = snapshots();
    let report = ScanReport::build(&snapshots, now());
    let mut out = Vec::new();
    render(&report, format, &mut out, style).expect("render to a Vec");
    String::from_utf8(out).expect("UTF-8")
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scan")
        .join(name);
    if std::env::var_os("KUBE_GUARDIAN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the directory");
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with KUBE_GUARDIAN_BLESS=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output; if intended, rerun with KUBE_GUARDIAN_BLESS=1.\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn the_table_matches_its_golden_file() {
    let text = rendered(ScanFormat::Table, Style::PLAIN);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
    }
    golden("report.txt", &text);
}

#[test]
fn the_json_matches_its_golden_file() {
    golden("report.json", &rendered(ScanFormat::Json, Style::COLOR));
}

#[test]
fn colour_changes_only_the_escapes() {
    let coloured = rendered(ScanFormat::Table, Style::COLOR);
    assert!(coloured.contains("\u{1b}["));
    let mut plain = String::new();
    let mut chars = coloured.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    assert_eq!(plain, rendered(ScanFormat::Table, Style::PLAIN));
}

#[test]
fn sarif_results_name_their_cluster_and_lost_clusters_are_notifications() {
    let log: Value =
        serde_json::from_str(&rendered(ScanFormat::Sarif, Style::PLAIN)).expect("JSON");
    assert_eq!(log["runs"].as_array().map(Vec::len), Some(1));
    let run = &log["runs"][0];
    let results = run["results"].as_array().expect("results");
    // Every finding, excepted ones as suppressed results: 3 in prod, 1 in staging.
    assert_eq!(results.len(), 5);
    let clusters: Vec<&str> = results
        .iter()
        .filter_map(|r| r["properties"]["cluster"].as_str())
        .collect();
    assert_eq!(clusters, ["prod", "prod", "prod", "prod", "staging"]);
    let names: Vec<&str> = results
        .iter()
        .filter_map(|r| r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].as_str())
        .collect();
    assert_eq!(names[0], "prod/Deployment/shop/web");
    assert_eq!(names[3], "prod/Pod/default/debug");
    assert_eq!(names[4], "staging/Deployment/shop/web");
    // The rules come from the clusters' policies, so results point at them.
    assert!(
        results.iter().all(|r| r["ruleIndex"].is_u64()),
        "{results:#?}"
    );
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["properties"]["cluster"], "dr");
    assert_eq!(notes[0]["properties"]["connection"]["reason"], "refused");
}
