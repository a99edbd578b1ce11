//! `kube-guardian scan` end to end: the real binary against TWO real control planes, seeded with
//! the same manifests (examples/manifests) and different policies, the way a user runs it:
//! `kube-guardian scan --kubeconfig FILE --contexts scan-a,scan-b`.
//!
//! The clusters and their seeds are in `support/scan_clusters.rs`; a cluster that never syncs,
//! in `scan_timeout.rs`.

#[path = "support/sarif_schema.rs"]
mod sarif_schema;

#[path = "support/scan_clusters.rs"]
mod scan_clusters;

use guardian_testenv::operator_process::{self, OperatorProcess};
use scan_clusters::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn aggregated_numbers_equal_what_check_reports_on_the_same_manifests() {
    let clusters = clusters().await;
    let output = scan(clusters, &format!("{A},{B}"), &["--output", "json"]);
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "violations fail the scan: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut objects = 0;
    for context in [A, B] {
        let policies = clusters.policies(context);
        let checked = json(&kube_guardian(&[
            "check",
            "examples/manifests",
            "--policy",
            policies.to_str().expect("UTF-8 path"),
            "--output",
            "json",
        ]));
        let summary = &checked["summary"];
        let scanned = cluster(&report, context);
        assert_eq!(scanned["connection"]["state"], "Synced", "{scanned:#}");
        assert_eq!(
            scanned["objects"], summary["resourcesEvaluated"],
            "{context}"
        );
        assert_eq!(
            scanned["failingObjects"], summary["resourcesFailing"],
            "{context}"
        );
        assert_eq!(
            scanned["violations"], summary["byOutcome"]["fail"],
            "{context}"
        );
        assert_eq!(
            scanned["bySeverity"], summary["failuresBySeverity"],
            "{context}"
        );
        assert_eq!(
            scanned["skipped"], summary["byOutcome"]["skip"],
            "{context}"
        );
        assert!(
            scanned["violations"].as_u64().is_some_and(|n| n > 0),
            "{context} has violations to compare: {scanned:#}"
        );
        objects += summary["resourcesEvaluated"].as_u64().expect("a count");
        eprintln!(
            "{context}: {} objects, {} violations, {} skipped, score {}",
            scanned["objects"], scanned["violations"], scanned["skipped"], scanned["score"]
        );
    }
    assert_eq!(report["total"]["objects"], objects);
    // The clusters differ by policy, so they do not score the same: the numbers are per cluster.
    assert_ne!(
        cluster(&report, A)["violations"],
        cluster(&report, B)["violations"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_between_the_clusters_is_reported_exactly() {
    let clusters = clusters().await;
    let report = json(&scan(clusters, &format!("{A},{B}"), &["--output", "json"]));
    assert_eq!(
        report["drift"],
        serde_json::json!({
            "compared": [A, B],
            "drifts": [
                {
                    "kind": "GuardianPolicy", "name": "restricted-security",
                    "presentIn": [A, B], "missingIn": [],
                    "fields": [{"path": "spec.enforcement", "values": [
                        {"context": A, "value": "Deny"}, {"context": B, "value": "Warn"}]}]
                },
                {
                    "kind": "GuardianPolicy", "name": "team-ownership",
                    "presentIn": [A], "missingIn": [B], "fields": []
                },
                {
                    "kind": "GuardianException", "name": "monitoring/legacy-node-agent",
                    "presentIn": [A], "missingIn": [B], "fields": []
                }
            ]
        })
    );
    // The table says the same for people.
    let table = scan(clusters, &format!("{A},{B}"), &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("Drift across {A}, {B}\n"))
            && text.contains("  GuardianPolicy restricted-security: differs in 1 field\n")
            && text.contains(&format!(
                "    spec.enforcement: {A} \"Deny\", {B} \"Warn\"\n"
            ))
            && text.contains(&format!(
                "  GuardianPolicy team-ownership: missing in {B}\n"
            )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_context_is_a_usage_error_listing_the_available_ones() {
    let clusters = clusters().await;
    let output = scan(clusters, &format!("{A},nope"), &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"nope\"") && stderr.contains(&format!("{A}, {B}, {DOWN}")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no report on a usage error");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_that_cannot_be_reached_exits_2_and_the_other_is_still_reported() {
    let clusters = clusters().await;
    let output = scan(
        clusters,
        &format!("{A},{DOWN}"),
        &[
            "--output",
            "json",
            "--timeout",
            "20s",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    let up = cluster(&report, A);
    assert_eq!(up["connection"]["state"], "Synced");
    assert_eq!(up["scanned"], true);
    assert!(up["objects"].as_u64().is_some_and(|n| n > 0), "{up:#}");
    let down = cluster(&report, DOWN);
    assert_eq!(down["scanned"], false);
    assert_eq!(down["connection"]["state"], "Unreachable", "{down:#}");
    assert_eq!(down["connection"]["reason"], "refused", "{down:#}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(DOWN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_is_one_valid_run_whose_results_name_their_cluster() {
    let clusters = clusters().await;
    let output = scan(
        clusters,
        &format!("{A},{B},{DOWN}"),
        &["--output", "sarif", "--timeout", "20s"],
    );
    assert_eq!(output.status.code(), Some(2), "scan-down is not scanned");
    let log = json(&output);
    let problems = sarif_schema::errors(&sarif_schema::validator(), &log);
    assert!(
        problems.is_empty(),
        "invalid SARIF:\n{}",
        problems.join("\n")
    );
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let results = runs[0]["results"].as_array().expect("results");
    for context in [A, B] {
        let theirs: Vec<&Value> = results
            .iter()
            .filter(|r| r["properties"]["cluster"] == context)
            .collect();
        assert!(!theirs.is_empty(), "no result of {context}");
        let name = theirs[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .expect("a logical location");
        assert!(name.starts_with(&format!("{context}/")), "{name}");
    }
    let notes = &runs[0]["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notes[0]["properties"]["cluster"], DOWN, "{notes:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operators_lease_and_policy_status_are_read_where_one_runs() {
    let clusters = clusters().await;
    let logs = tempfile::tempdir().expect("a log dir");
    let operator = OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        clusters.a.kubeconfig_path(),
        A,
    )
    .name("scan-a-operator")
    .leader_election(
        "scan-cli-lease",
        "default",
        std::time::Duration::from_secs(15),
        std::time::Duration::from_secs(10),
    )
    .start(logs.path())
    .expect("the operator starts");
    let report = operator_process::wait_for(
        "scan to see a healthy leader and every policy reconciled",
        std::time::Duration::from_millis(500),
        &[&operator],
        async || {
            let report = json(&scan(
                clusters,
                &format!("{A},{B}"),
                &["--output", "json", "--lease-name", "scan-cli-lease"],
            ));
            let state = &cluster(&report, A)["operator"];
            let policies = state["policies"].as_array()?;
            let ready = state["leader"]["health"] == "healthy"
                && state["candidates"].as_array().is_some_and(|c| c.len() == 1)
                && !policies.is_empty()
                && policies.iter().all(|p| p["sync"] == "reconciled");
            ready.then_some(report)
        },
    )
    .await;
    let leader = &cluster(&report, A)["operator"]["leader"];
    assert!(
        leader["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with("scan-a-operator")),
        "{leader:#}"
    );
    assert_eq!(leader["leaseDurationSeconds"], 15);
    // Its one replica's candidate record: the holder, no standby.
    let candidate = &cluster(&report, A)["operator"]["candidates"][0];
    assert_eq!(candidate["identity"], leader["holder"], "{candidate:#}");
    assert_eq!(candidate["role"], "holder");
    assert_eq!(candidate["health"], "healthy");
    assert!(
        leader["renewAgeSeconds"]
            .as_u64()
            .is_some_and(|age| age <= 15)
    );
    let policies = cluster(&report, A)["operator"]["policies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = policies.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names,
        ["best-practices", "restricted-security", "team-ownership"]
    );
    for policy in &policies {
        assert_eq!(
            policy["observedGeneration"], policy["generation"],
            "{policy:#}"
        );
        assert!(
            policy["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready")),
            "{policy:#}"
        );
    }
    // No operator runs in scan-b: no leader, and the table does not call its policies pending.
    assert!(cluster(&report, B)["operator"]["leader"].is_null());
    // Under the default Lease name there is no leader to find, but the statuses are read.
    let default_name = json(&scan(clusters, A, &["--output", "json"]));
    assert!(cluster(&default_name, A)["operator"]["leader"].is_null());
    let table = scan(
        clusters,
        &format!("{A},{B}"),
        &["--lease-name", "scan-cli-lease"],
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("policies: 3 reconciled\n")
            && text.contains("operator: scan-a-operator")
            && text.contains("operator: no leader Lease (none runs"),
        "{text}"
    );
}
