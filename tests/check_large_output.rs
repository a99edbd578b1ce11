//! `kube-guardian check` ends without freeing its report (see `check` in src/main.rs): a large
//! report read through a pipe, as a CI pipeline reads it, must still arrive whole in every
//! format, with the exit code for findings.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

/// Copies of the violating examples: megabytes of report, many times a pipe's buffer.
const COPIES: usize = 150;

fn kube_guardian(dir: &Path, format: &str) -> Output {
    let args = ["check", dir.to_str().expect("a UTF-8 path"), "-o", format];
    let out = guardian_testenv::output_within(
        Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
            .args(args)
            .env("NO_COLOR", "1"),
        &format!("kube-guardian {}", args.join(" ")),
        None,
        Duration::from_secs(180),
    )
    .expect("the binary finishes");
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings exit 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The violating examples, `copies` times each, in a new directory.
fn corpus(copies: usize) -> tempfile::TempDir {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/manifests/violating");
    let dir = tempfile::tempdir().expect("a temporary directory");
    for entry in std::fs::read_dir(&examples).expect("the examples") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
        let text = std::fs::read_to_string(&path).expect("an example");
        for copy in 0..copies {
            std::fs::write(dir.path().join(format!("{copy:04}-{name}")), &text).expect("written");
        }
    }
    dir
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("the whole report, valid JSON")
}

#[test]
fn a_large_report_arrives_whole_through_a_pipe_in_every_format() {
    let one = corpus(1);
    let many = corpus(COPIES);
    let findings = |v: &Value| v["findings"].as_array().expect("findings").len();
    let per_copy = findings(&json(&kube_guardian(one.path(), "json")));
    assert!(per_copy > 0, "the violating examples have findings");

    let report = kube_guardian(many.path(), "json");
    assert!(
        report.stdout.len() > 1 << 20,
        "{} bytes",
        report.stdout.len()
    );
    assert_eq!(findings(&json(&report)), per_copy * COPIES);

    let sarif = json(&kube_guardian(many.path(), "sarif"));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), per_copy * COPIES);

    let failures = |dir: &Path| {
        let junit = String::from_utf8(kube_guardian(dir, "junit").stdout).expect("UTF-8");
        assert!(junit.trim_end().ends_with("</testsuites>"), "cut short");
        junit.matches("<failure ").count()
    };
    assert_eq!(failures(many.path()), failures(one.path()) * COPIES);

    // The table's summary comes last, after every finding (words joined: it may wrap).
    let table = String::from_utf8(kube_guardian(many.path(), "table").stdout).expect("UTF-8");
    let words = table.split_whitespace().collect::<Vec<_>>().join(" ");
    let total = format!(" {} failures ", per_copy * COPIES);
    assert!(words.contains(&total), "no {total:?} in the summary");
    assert!(words.ends_with("skipped by exceptions"), "cut short");
}
