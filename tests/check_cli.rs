//! `kube-guardian check` end to end: the real binary on the examples, as a CI pipeline runs it.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

#[path = "check_cli/report_writes.rs"]
mod report_writes;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with `stdin` written on its own thread while its output is drained (no pipe
/// deadlock on large inputs or reports), killed after a generous deadline instead of hanging.
fn kube_guardian(args: &[&str], stdin: Option<&str>) -> Output {
    guardian_testenv::output_within(
        Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
            .args(args)
            .current_dir(root())
            .env("NO_COLOR", "1"),
        &format!("kube-guardian {}", args.join(" ")),
        Some(stdin.unwrap_or("").as_bytes()),
        Duration::from_secs(120),
    )
    .expect("the binary finishes")
}

fn json_report(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = kube_guardian(&all, None);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings is a list")
}

fn failed<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    findings(report)
        .iter()
        .filter(|f| f["rule"] == rule && f["result"] == "fail")
        .collect()
}

#[test]
fn compliant_examples_pass_with_exit_0() {
    let (code, report) = json_report(&[
        "check",
        "examples/manifests/compliant",
        "--policy",
        "examples/policies",
        "--policy",
        "examples/exceptions",
    ]);
    let failing: Vec<_> = findings(&report)
        .iter()
        .filter(|f| f["result"] != "skip")
        .collect();
    assert!(failing.is_empty(), "unexpected findings: {failing:#?}");
    assert_eq!(code, 0);
}

#[test]
fn violating_examples_fail_with_exit_1_and_file_lines() {
    let (code, report) = json_report(&[
        "check",
        "examples/manifests/violating",
        "--policy",
        "examples/policies",
    ]);
    assert_eq!(code, 1);
    let privileged = failed(&report, "pss-privileged");
    assert_eq!(privileged.len(), 1, "{privileged:#?}");
    let f = privileged[0];
    assert_eq!(f["policy"], "restricted-security");
    assert_eq!(
        f["path"],
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    let location = &f["location"];
    assert!(
        location["file"]
            .as_str()
            .is_some_and(|p| p.ends_with("legacy.yaml")),
        "{location}"
    );
    // `privileged: true` is on line 22 of examples/manifests/violating/legacy.yaml.
    let text = std::fs::read_to_string(root().join("examples/manifests/violating/legacy.yaml"))
        .expect("example exists");
    let line = location["line"].as_u64().expect("line is a number") as usize;
    assert_eq!(
        text.lines().nth(line - 1).map(str::trim),
        Some("privileged: true")
    );
}

#[test]
fn exceptions_turn_failures_into_skips_with_the_exception_name() {
    let base = [
        "check",
        "examples/manifests/violating",
        "--policy",
        "examples/policies",
    ];
    let (_, without) = json_report(&base);
    assert!(!failed(&without, "pss-host-ports").is_empty());
    let mut with_exceptions = base.to_vec();
    with_exceptions.extend(["--policy", "examples/exceptions"]);
    let (_, with) = json_report(&with_exceptions);
    assert!(failed(&with, "pss-host-ports").is_empty());
    let skipped: Vec<_> = findings(&with)
        .iter()
        .filter(|f| f["rule"] == "pss-host-ports")
        .collect();
    assert!(!skipped.is_empty());
    assert!(
        skipped
            .iter()
            .all(|f| f["result"] == "skip" && f["exception"] == "monitoring/legacy-node-agent")
    );
}

#[test]
fn fail_on_threshold_sets_the_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("low.yaml");
    // Only low/info-level problems: no automount opt-out.
    std::fs::write(
        &file,
        std::fs::read_to_string(root().join("examples/manifests/compliant/shop.yaml"))
            .expect("example exists")
            .replacen(
                "automountServiceAccountToken: false",
                "automountServiceAccountToken: true",
                1,
            ),
    )
    .expect("write");
    let path = file.to_string_lossy();
    let (code, report) = json_report(&["check", &path, "--profile", "best-practices"]);
    let severities: Vec<_> = findings(&report)
        .iter()
        .map(|f| f["severity"].clone())
        .collect();
    assert!(!severities.is_empty());
    assert_eq!(code, 1, "{severities:?}");
    let (code, _) = json_report(&[
        "check",
        &path,
        "--profile",
        "best-practices",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn invalid_yaml_is_reported_with_file_and_line_and_other_files_are_still_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a-broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n",
    )
    .expect("write");
    std::fs::copy(
        root().join("examples/manifests/violating/legacy.yaml"),
        dir.path().join("b-legacy.yaml"),
    )
    .expect("copy");
    let (code, report) = json_report(&["check", &dir.path().to_string_lossy()]);
    assert_eq!(code, 2, "input errors exit with 2");
    let errors = report["inputErrors"].as_array().expect("inputErrors");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("a-broken.yaml"))
    );
    assert!(
        errors[0]["line"].as_u64().is_some_and(|l| l >= 4),
        "{}",
        errors[0]
    );
    assert!(
        !findings(&report).is_empty(),
        "the valid file is still checked"
    );
}

/// Each document of a file is read and judged on its own: a broken one in the middle is an
/// error at its own line, and the documents around it are still checked at theirs.
#[test]
fn a_broken_document_between_two_good_ones_is_an_error_at_its_line() {
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n  \
             containers:\n  - name: c\n    image: nginx:1.27\n    securityContext: {{privileged: true}}\n"
        )
    };
    let text = format!(
        "{}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n---\n{}",
        pod("first"),
        pod("last")
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("many.yaml");
    std::fs::write(&file, text).expect("write");
    let (code, report) = json_report(&[
        "check",
        &file.to_string_lossy(),
        "--profile",
        "pss-baseline",
    ]);
    assert_eq!(code, 2, "an input error exits 2: {report:#}");
    let errors = report["inputErrors"].as_array().expect("inputErrors");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]["line"]
            .as_u64()
            .is_some_and(|l| (10..=13).contains(&l)),
        "the broken document spans lines 10-13: {}",
        errors[0]
    );
    let lines: Vec<(&str, u64)> = failed(&report, "pss-privileged")
        .iter()
        .map(|f| {
            (
                f["resource"]["name"].as_str().unwrap_or_default(),
                f["location"]["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(lines, [("first", 8), ("last", 22)], "{report:#}");
}

#[test]
fn stdin_lists_and_documents_without_kind() {
    let input = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: in-list, namespace: ns}
  spec:
    containers:
    - name: c
      image: nginx
      securityContext: {privileged: true}
---
metadata: {name: no-kind}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
"#;
    let out = kube_guardian(
        &["check", "-", "--profile", "pss-baseline", "-o", "json"],
        Some(input),
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(out.status.code(), Some(1));
    let f = &failed(&report, "pss-privileged")[0];
    assert_eq!(f["resource"]["name"], "in-list");
    assert_eq!(f["location"]["file"], "<stdin>");
    assert_eq!(
        f["location"]["line"], 12,
        "line of `securityContext: {{privileged: true}}`"
    );
    let skipped = report["skippedDocuments"]
        .as_array()
        .expect("skippedDocuments");
    assert!(skipped.iter().any(|s| {
        s["line"] == 14
            && s["reason"]
                .as_str()
                .is_some_and(|r| r.contains("apiVersion is missing"))
    }));
    assert!(skipped.iter().any(|s| {
        s["reason"]
            .as_str()
            .is_some_and(|r| r.contains("ConfigMap"))
    }));
}

#[test]
fn bad_policies_and_usage_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: guardian.kube-guardian.dev/v1alpha1\nkind: GuardianPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - cel: {name: broken, expression: \"object.(\", message: m}\n",
    )
    .expect("write");
    let out = kube_guardian(
        &[
            "check",
            "examples/manifests",
            "--policy",
            &policy.to_string_lossy(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy \"p\", rule \"broken\": CEL expression does not compile at 1:"),
        "{stderr}"
    );

    let out = kube_guardian(&["check", "examples", "--output", "yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = kube_guardian(&["check", "no/such/dir"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no such file"),
        "the table names the missing path"
    );
}

#[test]
fn output_is_deterministic_across_runs() {
    let args = ["check", "examples", "--output", "json"];
    let first = kube_guardian(&args, None).stdout;
    for _ in 0..3 {
        assert_eq!(kube_guardian(&args, None).stdout, first);
    }
}

fn readme_section<'a>(readme: &'a str, begin: &str, end: &str) -> &'a str {
    let start = readme
        .find(begin)
        .map(|i| i + begin.len())
        .expect("README has the begin marker");
    let stop = readme.find(end).expect("README has the end marker");
    readme[start..stop].trim()
}

#[test]
fn readme_rule_table_matches_the_library() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md exists");
    let table = readme_section(&readme, "<!-- rules:begin -->", "<!-- rules:end -->");
    let out = kube_guardian(&["rules", "--output", "markdown"], None);
    assert_eq!(
        table,
        String::from_utf8_lossy(&out.stdout).trim(),
        "README rule table is stale: regenerate it with `kube-guardian rules --output markdown`"
    );
}

#[test]
fn committed_crds_match_the_code() {
    let committed = std::fs::read_to_string(root().join("helm/kube-guardian/crds/crds.yaml"))
        .expect("helm/kube-guardian/crds/crds.yaml exists");
    let out = kube_guardian(&["crd"], None);
    assert!(out.status.success());
    assert_eq!(
        committed,
        String::from_utf8_lossy(&out.stdout),
        "committed CRDs drifted: run `cargo run -q -- crd > helm/kube-guardian/crds/crds.yaml`"
    );
}

#[test]
fn rules_explain_prints_examples_and_rejects_unknown_ids() {
    let out = kube_guardian(&["rules", "explain", "pss-privileged"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("fails:") && text.contains("privileged: true"),
        "{text}"
    );
    let out = kube_guardian(&["rules", "explain", "privileged"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean pss-privileged"));
}
