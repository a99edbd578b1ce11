//! The report's writes: a large report arrives whole through a pipe in every format (`check`
//! ends without freeing it), and a failed write — a full disk, a reader gone — exits 2 instead
//! of being lost in the buffer's drop.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{findings, kube_guardian, root};

/// Copies of the violating examples: megabytes of report, many times a pipe's buffer.
const COPIES: usize = 150;

/// The violating examples `copies` times, plus as many one-document files (the Deployment alone),
/// which take `check`'s one-document path.
fn corpus(copies: usize) -> tempfile::TempDir {
    let examples = root().join("examples/manifests/violating");
    let dir = tempfile::tempdir().expect("a temporary directory");
    for entry in std::fs::read_dir(&examples).expect("the examples") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name");
        let text = std::fs::read_to_string(&path).expect("an example");
        let first = text.split("\n---").next().expect("a first document");
        for copy in 0..copies {
            std::fs::write(dir.path().join(format!("{copy:04}-{name}")), &text).expect("written");
            std::fs::write(dir.path().join(format!("{copy:04}-one-{name}")), first)
                .expect("written");
        }
    }
    dir
}

/// `check DIR -o FORMAT` read through a pipe; findings exit 1.
fn report(dir: &Path, format: &str) -> Vec<u8> {
    let dir = dir.to_str().expect("a UTF-8 path");
    let out = kube_guardian(&["check", dir, "-o", format], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings exit 1; stderr: {stderr}"
    );
    out.stdout
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("the whole report, valid JSON")
}

/// The table's last paragraph (its summary), words joined: it may wrap.
fn summary(table: &[u8]) -> String {
    let table = String::from_utf8(table.to_vec()).expect("UTF-8");
    let last = table.trim_end().rsplit("\n\n").next().unwrap_or_default();
    last.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_large_report_arrives_whole_through_a_pipe_in_every_format() {
    let one = corpus(1);
    let many = corpus(COPIES);
    let per_copy = findings(&json(&report(one.path(), "json"))).len();
    assert!(per_copy > 0, "the violating examples have findings");

    let big = report(many.path(), "json");
    assert!(big.len() > 1 << 20, "{} bytes", big.len());
    assert_eq!(findings(&json(&big)).len(), per_copy * COPIES);

    let sarif = json(&report(many.path(), "sarif"));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), per_copy * COPIES);

    let failures = |dir: &Path| {
        let junit = String::from_utf8(report(dir, "junit")).expect("UTF-8");
        assert!(junit.trim_end().ends_with("</testsuites>"), "cut short");
        junit.matches("<failure ").count()
    };
    assert_eq!(failures(many.path()), failures(one.path()) * COPIES);

    // The summary comes last, after every finding: every count in it is COPIES times one copy's.
    let scaled = summary(&report(one.path(), "table"))
        .split(' ')
        .map(|word| {
            let digits = word.trim_end_matches(|c: char| !c.is_ascii_digit());
            match digits.parse::<usize>() {
                Ok(n) => format!("{}{}", n * COPIES, &word[digits.len()..]),
                Err(_) => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    assert!(scaled.contains(" failures "), "a summary: {scaled}");
    assert_eq!(summary(&report(many.path(), "table")), scaled);
}

/// Waits for `child` up to a generous deadline, killing it instead of hanging the suite.
fn wait_within(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kube-guardian check did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `check` on `dir` as JSON with stdout on `stdout`; the exit status and stderr once done.
fn check_into(dir: &Path, stdout: Stdio, close_early: bool) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(["check", dir.to_str().expect("a UTF-8 path"), "-o", "json"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if close_early {
        // The reader takes the first bytes and goes away, as `| head -c 1` does.
        let mut pipe = child.stdout.take().expect("stdout piped");
        let mut first = [0u8; 1];
        pipe.read_exact(&mut first).expect("the report starts");
    }
    let mut stderr = child.stderr.take().expect("stderr piped");
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_within(&mut child);
    (status, drain.join().expect("stderr read"))
}

#[test]
fn a_report_that_cannot_be_written_exits_2() {
    // A small report (under the 64 KiB buffer) reaches the disk only in the final flush.
    let full = File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let examples = root().join("examples/manifests/violating");
    let (status, stderr) = check_into(&examples, full.into(), false);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("writing the report"), "stderr: {stderr}");

    // The reader closes its end early: the next write fails (Rust ignores SIGPIPE) and says so.
    let many = corpus(COPIES);
    let (status, stderr) = check_into(many.path(), Stdio::piped(), true);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("writing the report"), "stderr: {stderr}");
}
