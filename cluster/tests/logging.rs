//! Logging to the outputs the caller chose. Each case runs in a child process (this test binary
//! again): the global subscriber can be set once per process, and stdout must be the child's own.

use std::path::Path;
use std::process::Command;

use guardian_cluster::logging::{self, LogFormat, LogSettings};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Set in the child: the log directory, and whether it also logs to stdout.
const CHILD_DIR: &str = "GUARDIAN_LOGGING_TEST_DIR";
const CHILD_STDOUT: &str = "GUARDIAN_LOGGING_TEST_STDOUT";
/// Set in the child: log to this one file instead of the directory.
const CHILD_FILE: &str = "GUARDIAN_LOGGING_TEST_FILE";
const MARKER: &str = "logging-test-marker-line";

/// The child's part: log one line with the settings the parent asked for, then flush.
fn child(dir: &str) -> TestResult {
    let file = std::env::var_os(CHILD_FILE).filter(|f| !f.is_empty());
    let settings = LogSettings {
        filter: Some("info".into()),
        format: LogFormat::Text,
        stdout: std::env::var(CHILD_STDOUT).is_ok_and(|v| v == "1"),
        dir: file.is_none().then(|| dir.into()),
        file: file.map(Into::into),
    };
    let guard = logging::init(&settings)?;
    tracing::info!("{MARKER}");
    drop(guard);
    Ok(())
}

/// Runs this test in a child with `stdout` on or off; returns its stdout and the log files' text.
fn run_child(
    test: &str,
    dir: &Path,
    stdout: bool,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    run_child_with(test, dir, stdout, None)
}

fn run_child_with(
    test: &str,
    dir: &Path,
    stdout: bool,
    file: Option<&Path>,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let output = Command::new(std::env::current_exe()?)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_FILE, file.map(Path::as_os_str).unwrap_or_default())
        .env(CHILD_STDOUT, if stdout { "1" } else { "0" })
        .env_remove("RUST_LOG")
        .output()?;
    assert!(
        output.status.success(),
        "the child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut files = String::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            files.push_str(&std::fs::read_to_string(path)?);
        }
    }
    Ok((String::from_utf8(output.stdout)?, files))
}

#[test]
fn file_only_logging_writes_the_file_and_nothing_to_stdout() -> TestResult {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return child(&dir);
    }
    let test = "file_only_logging_writes_the_file_and_nothing_to_stdout";

    let file_only = tempfile::tempdir()?;
    let (stdout, files) = run_child(test, file_only.path(), false)?;
    assert!(
        files.contains(MARKER),
        "the line is in the log file: {files:?}"
    );
    assert!(
        !stdout.contains(MARKER),
        "nothing is logged to stdout: {stdout}"
    );

    // The same child with stdout on does print it: the check above can see a line on stdout.
    let both = tempfile::tempdir()?;
    let (stdout, files) = run_child(test, both.path(), true)?;
    assert!(files.contains(MARKER), "{files:?}");
    assert!(stdout.contains(MARKER), "the line is on stdout: {stdout}");
    Ok(())
}

#[test]
fn one_named_file_gets_the_lines_and_its_directory_is_created() -> TestResult {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return child(&dir);
    }
    let test = "one_named_file_gets_the_lines_and_its_directory_is_created";
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("state").join("tui.log");
    let (stdout, _) = run_child_with(test, dir.path(), false, Some(&file))?;
    let text = std::fs::read_to_string(&file)?;
    assert!(
        text.contains(MARKER),
        "the line is in {}: {text:?}",
        file.display()
    );
    assert!(!stdout.contains(MARKER), "nothing on stdout: {stdout}");
    Ok(())
}
