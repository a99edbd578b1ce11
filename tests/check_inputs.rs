//! `kube-guardian check` on hostile inputs, as a CI pipeline would meet them: symlink loops,
//! FIFOs and sockets, huge files, alias bombs, terminal escapes in names, and a crash.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";

/// Runs the binary with a deadline (a blocked read must fail the test, not hang it); its output
/// drains while it runs, so a large report cannot block it into a false timeout.
fn kube_guardian(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kube-guardian"));
    command
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1");
    guardian_testenv::output_within(
        &mut command,
        &format!("kube-guardian {args:?}"),
        None,
        DEADLINE,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn a_symlink_loop_is_visited_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).expect("write");
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("pod.yaml"), dir.path().join("same.yaml"))
        .expect("symlink");
    let out = kube_guardian(
        &[
            "check",
            path(dir.path()),
            "--profile",
            "pss-baseline",
            "-o",
            "json",
        ],
        &[],
    );
    let report = json(&out);
    assert_eq!(report["summary"]["resourcesEvaluated"], 1, "{report:#}");
    assert_eq!(report["inputErrors"], serde_json::json!([]), "{report:#}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fifos_and_sockets_in_a_directory_are_skipped_with_a_notice() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).expect("write");
    let fifo = dir.path().join("pipe.yaml");
    let status = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let _socket =
        std::os::unix::net::UnixListener::bind(dir.path().join("socket.yaml")).expect("bind");
    let out = kube_guardian(
        &[
            "check",
            path(dir.path()),
            "--profile",
            "pss-baseline",
            "-o",
            "json",
        ],
        &[],
    );
    let report = json(&out);
    assert_eq!(report["summary"]["resourcesEvaluated"], 1, "{report:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pipe.yaml: a FIFO"), "{stderr}");
    assert!(stderr.contains("socket.yaml: a socket"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_over_the_size_limit_is_an_input_error_and_the_rest_is_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a-pod.yaml"), PRIVILEGED_POD).expect("write");
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, format!("# {}\n{PRIVILEGED_POD}", "x".repeat(2048))).expect("write");
    let out = kube_guardian(
        &[
            "check",
            path(dir.path()),
            "--profile",
            "pss-baseline",
            "--max-file-size",
            "1KiB",
            "-o",
            "json",
        ],
        &[],
    );
    let report = json(&out);
    let errors = report["inputErrors"].as_array().expect("inputErrors");
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["file"], path(&big));
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1 KiB limit")),
        "{report:#}"
    );
    assert_eq!(
        report["summary"]["resourcesEvaluated"], 1,
        "the other file is still checked"
    );
    assert_eq!(out.status.code(), Some(2));

    // The default limit is 64 MiB: a sparse 65 MiB file is refused without being read.
    let huge = dir.path().join("huge.yaml");
    std::fs::File::create(&huge)
        .expect("create")
        .set_len(65 << 20)
        .expect("sparse file");
    let out = kube_guardian(&["check", path(&huge), "-o", "json"], &[]);
    let report = json(&out);
    assert!(
        report["inputErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("64 MiB limit")),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_alias_bomb_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bomb = String::from(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\n  annotations:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("    a{i}: &a{i} [{refs}]\n"));
    }
    assert!(bomb.len() < 4096, "a few KB");
    let file = dir.path().join("bomb.yaml");
    std::fs::write(&file, &bomb).expect("write");
    let out = kube_guardian(&["check", path(&file), "-o", "json"], &[]);
    let report = json(&out);
    assert_eq!(report["inputErrors"][0]["file"], path(&file), "{report:#}");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn terminal_escapes_in_names_and_messages_are_made_visible() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("evil.yaml");
    let evil = PRIVILEGED_POD.replace("name: web", "name: \"web\\e[2J\\e]0;owned\\a\\rok\"");
    std::fs::write(&file, evil).expect("write");
    let out = kube_guardian(&["check", path(&file), "--profile", "pss-baseline"], &[]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !table.contains(['\u{1b}', '\u{7}', '\r']),
        "raw control characters: {table:?}"
    );
    assert!(table.contains("web\\u{1b}[2J"), "{table}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_panic_exits_2_with_a_message_not_101() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pod.yaml");
    std::fs::write(&file, PRIVILEGED_POD).expect("write");
    let out = kube_guardian(
        &["check", path(&file), "-o", "json"],
        &[("KUBE_GUARDIAN_TEST_PANIC_ON", path(&file))],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("internal error"), "{stderr}");
}

#[test]
fn a_policy_file_that_does_not_load_names_every_bad_document_with_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policies = dir.path().join("policies.yaml");
    std::fs::write(
        &policies,
        "apiVersion: guardian.kube-guardian.dev/v1alpha1\nkind: GuardianPolicy\n\
         metadata: {name: p}\nspec:\n  rules: [{id: pss-privileged}]\n---\nkind: ConfigMap\n\
         ---\nkind: GuardianPolicy\nspec: [unclosed\n",
    )
    .expect("write");
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, PRIVILEGED_POD).expect("write");
    let out = kube_guardian(&["check", "--policy", path(&policies), path(&pod)], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let file = path(&policies);
    assert!(stderr.contains("cannot load the policies"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:7: kind ConfigMap is not a policy; expected GuardianPolicy or GuardianException"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:10: invalid YAML: ")),
        "{stderr}"
    );
}
