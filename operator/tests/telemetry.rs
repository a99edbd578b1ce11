//! Logging to a directory. Its own test binary: the global subscriber can be set once per process.

use guardian_operator::telemetry::{self, LogConfig, LogFormat};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn json_lines_reach_the_log_dir_once_the_guard_is_dropped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        level: Some("info".into()),
        format: LogFormat::Json,
        dir: Some(dir.path().join("logs")),
    };
    let guard = telemetry::init(&config)?;
    tracing::info!(answer = 42, "telemetry test line");
    tracing::debug!("below the level, never written");
    // A second subscriber cannot be installed; the error says so instead of panicking.
    assert!(telemetry::init(&config).is_err());
    drop(guard);

    let files: Vec<_> = std::fs::read_dir(dir.path().join("logs"))?.collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 1, "one file per day: {files:?}");
    let name = files[0].file_name().to_string_lossy().into_owned();
    assert!(
        name.starts_with("kube-guardian.") && name.ends_with(".log"),
        "{name}"
    );

    let text = std::fs::read_to_string(files[0].path())?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let line = lines
        .iter()
        .find(|l| l["message"] == "telemetry test line")
        .ok_or_else(|| format!("the line is missing from {text}"))?;
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["answer"], 42);
    assert!(line["timestamp"].is_string(), "{line}");
    assert!(!text.contains("below the level"), "{text}");
    Ok(())
}
