//! `scan`'s SARIF: `check`'s SARIF log (one run, the rules of every cluster's policies), each
//! result carrying its cluster: `properties.cluster`, and a logical location whose fully
//! qualified name starts with the context (`prod/Deployment/shop/web`).
//!
//! Results are built through `check`'s renderer a chunk of findings at a time and streamed out:
//! large clusters have hundreds of thousands of findings, and the whole log as one JSON value
//! would take gigabytes.

use std::io::{self, Write};

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::report::{ClusterFinding, ScanReport};
use crate::check::report::CheckReport;

/// Findings per call of `check`'s renderer: large enough that its rule list is a small
/// overhead, small enough to stay a few MB.
const CHUNK: usize = 1024;

pub fn render(report: &ScanReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    render_in_chunks(report, out, CHUNK)
}

fn render_in_chunks(report: &ScanReport<'_>, out: &mut dyn Write, chunk: usize) -> io::Result<()> {
    let frame = frame(report)?;
    let log = Log {
        frame: &frame,
        results: Results { report, chunk },
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

/// `check`'s SARIF text for `findings`, as JSON (through the text: `check`'s SARIF is whatever
/// its module builds it with).
fn check_log(report: &ScanReport<'_>, findings: &[ClusterFinding<'_>]) -> io::Result<Value> {
    let check = CheckReport {
        findings: findings.iter().map(|f| f.finding.clone()).collect(),
        rules: report.rules.clone(),
        ..CheckReport::default()
    };
    let mut text = Vec::new();
    crate::output::render_sarif(&check, &mut text)?;
    Ok(serde_json::from_slice(&text)?)
}

/// The log without results: the tool and its rules, and a failed invocation naming each cluster
/// that could not be scanned.
fn frame(report: &ScanReport<'_>) -> io::Result<Value> {
    let mut log = check_log(report, &[])?;
    let notifications: Vec<Value> = report
        .not_scanned()
        .map(|c| {
            json!({
                "level": "error",
                "message": { "text": format!("cluster {} not scanned: {}", c.context,
                    c.connection.state.name()) },
                "properties": { "cluster": c.context, "connection": c.connection },
            })
        })
        .collect();
    let invocation = &mut log["runs"][0]["invocations"][0];
    invocation["executionSuccessful"] = json!(notifications.is_empty());
    invocation["toolExecutionNotifications"] = Value::Array(notifications);
    Ok(log)
}

/// `check`'s results for a chunk of findings, each naming its cluster.
fn results(report: &ScanReport<'_>, chunk: &[ClusterFinding<'_>]) -> io::Result<Vec<Value>> {
    let mut log = check_log(report, chunk)?;
    let mut results = match log["runs"][0]["results"].take() {
        Value::Array(results) => results,
        _ => Vec::new(),
    };
    if results.len() != chunk.len() {
        return Err(io::Error::other(format!(
            "check's SARIF has {} results for {} findings",
            results.len(),
            chunk.len()
        )));
    }
    // One result per finding, in the same order.
    for (result, finding) in results.iter_mut().zip(chunk) {
        result["properties"]["cluster"] = json!(finding.cluster);
        if let Some(location) = result["locations"][0]["logicalLocations"].get_mut(0) {
            location["fullyQualifiedName"] =
                json!(format!("{}/{}", finding.cluster, finding.finding.resource));
        }
    }
    Ok(results)
}

/// The frame with the results streamed into its one run.
struct Log<'a> {
    frame: &'a Value,
    results: Results<'a>,
}

struct Results<'a> {
    report: &'a ScanReport<'a>,
    chunk: usize,
}

struct Run<'a> {
    frame: &'a Value,
    results: &'a Results<'a>,
}

impl Serialize for Log<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(top) = self.frame else {
            return Err(S::Error::custom("check's SARIF is not an object"));
        };
        let mut map = serializer.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            if key == "runs" {
                let run = Run {
                    frame: &value[0],
                    results: &self.results,
                };
                map.serialize_entry(key, &[run])?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl Serialize for Run<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(run) = self.frame else {
            return Err(S::Error::custom("check's SARIF run is not an object"));
        };
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in run {
            if key != "results" {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("results", self.results)?;
        map.end()
    }
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let findings = &self.report.findings;
        let mut seq = serializer.serialize_seq(Some(findings.len()))?;
        for chunk in findings.chunks(self.chunk.max(1)) {
            for result in results(self.report, chunk).map_err(S::Error::custom)? {
                seq.serialize_element(&result)?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::fixture::{now, snapshots};

    #[test]
    fn streaming_in_chunks_writes_the_same_log_as_one_chunk() {
        let snapshots = snapshots();
        let report = ScanReport::build(&snapshots, now());
        let log = |chunk: usize| {
            let mut out = Vec::new();
            render_in_chunks(&report, &mut out, chunk).expect("render to a Vec");
            String::from_utf8(out).expect("UTF-8")
        };
        let whole = log(CHUNK);
        assert!(report.findings.len() > 2 && report.findings.len() < CHUNK);
        assert_eq!(log(2), whole);
        assert_eq!(log(1), whole);
        let value: Value = serde_json::from_str(&whole).expect("JSON");
        assert_eq!(
            value["runs"][0]["results"].as_array().map(Vec::len),
            Some(report.findings.len())
        );
    }
}
