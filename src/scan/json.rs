//! `scan`'s JSON format: one versioned document with everything the report holds.
//!
//! ```json
//! { "apiVersion": "kube-guardian.dev/v1alpha1", "kind": "ScanReport", "scannedAt": "…",
//!   "clusters": [ { "context", "scanned", "connection": { "state", …its fields, "since",
//!                   "lastSynced"?, "nextRetry"? }, "staleSeconds"?, "hiddenKinds",
//!                   "operator": { "leader": { "holder", "health", "renewAgeSeconds",
//!                   "leaseDurationSeconds", "transitions", "acquired"? } | null,
//!                   "policies": [ { "name", "sync", "generation", "observedGeneration",
//!                   "conditions", "lastTransition" } ] }, "rejected", "policyReports"?,
//!                   "warningEvents"?, "objects", "failingObjects", "violations",
//!                   "bySeverity", "skipped", "score" } ],
//!   "total": { …the same counts and score across clusters },
//!   "byPolicy": [ { "name", …counts, "score" } ], "byNamespace": [ … ],
//!   "bySeverity": [ { "severity", "violations", "failingObjects" } ],
//!   "findings": [ { "cluster", …every field of a `check` finding } ],
//!   "drift": { "compared": [contexts], "drifts": [ { "kind", "name", "presentIn", "missingIn",
//!              "fields": [ { "path", "values": [ { "context", "value" } ] } ] } ] } }
//! ```
//! Fields are only ever added under this apiVersion.

use std::io::{self, Write};

use guardian_cluster::aggregate::{Group, Scored, SeverityGroup};
use guardian_cluster::drift::DriftReport;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::report::{ClusterFinding, ClusterReport, ScanReport};

pub const KIND: &str = "ScanReport";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    api_version: &'static str,
    kind: &'static str,
    scanned_at: Timestamp,
    clusters: &'a [ClusterReport],
    total: &'a Scored,
    by_policy: &'a [Group],
    by_namespace: &'a [Group],
    by_severity: &'a [SeverityGroup],
    findings: &'a [ClusterFinding<'a>],
    drift: &'a DriftReport,
}

pub fn render(report: &ScanReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    let aggregate = &report.aggregate;
    let document = Document {
        api_version: crate::output::API_VERSION,
        kind: KIND,
        scanned_at: report.scanned_at,
        clusters: &report.clusters,
        total: &aggregate.total,
        by_policy: &aggregate.policies,
        by_namespace: &aggregate.namespaces,
        by_severity: &aggregate.severities,
        findings: &report.findings,
        drift: &report.drift,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}
