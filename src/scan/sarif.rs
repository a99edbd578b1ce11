//! `scan`'s SARIF: `check`'s SARIF log (one run, the rules of every cluster's policies), each
//! result carrying its cluster: `properties.cluster`, and a logical location whose fully
//! qualified name starts with the context (`prod/Deployment/shop/web`).

use std::io::{self, Write};

use serde_json::{Value, json};

use super::report::ScanReport;
use crate::check::report::CheckReport;

pub fn render(report: &ScanReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(report)?)?;
    writeln!(out)
}

pub fn log(report: &ScanReport<'_>) -> io::Result<Value> {
    let check = CheckReport {
        findings: report.findings.iter().map(|f| f.finding.clone()).collect(),
        rules: report.rules.clone(),
        ..CheckReport::default()
    };
    // Through the rendered text: `check`'s SARIF is whatever its module builds it with.
    let mut text = Vec::new();
    crate::output::render_sarif(&check, &mut text)?;
    let mut log: Value = serde_json::from_slice(&text)?;
    if let Some(results) = log["runs"][0]["results"].as_array_mut() {
        // `check`'s log has one result per finding, in the same order.
        for (result, finding) in results.iter_mut().zip(&report.findings) {
            result["properties"]["cluster"] = json!(finding.cluster);
            if let Some(location) = result["locations"][0]["logicalLocations"].get_mut(0) {
                location["fullyQualifiedName"] =
                    json!(format!("{}/{}", finding.cluster, finding.finding.resource));
            }
        }
    }
    // A cluster that could not be scanned is a failed part of the run, named with its reason.
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
