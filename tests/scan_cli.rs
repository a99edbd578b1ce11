//! `kube-guardian scan` end to end: the real binary against TWO real control planes, seeded with
//! the same manifests (examples/manifests) and different policies, the way a user runs it:
//! `kube-guardian scan --kubeconfig FILE --contexts scan-a,scan-b`.
//!
//! scan-a gets every example policy and the exception; scan-b lacks `team-ownership` and the
//! exception, and its `restricted-security` warns instead of denying.

#[path = "support/sarif_schema.rs"]
mod sarif_schema;
#[path = "support/stuck_apiserver.rs"]
mod stuck_apiserver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{
    Applier, Document, NamespacePlan, load_dir, merge_kubeconfigs, write_kubeconfig,
};
use guardian_testenv::operator_process::{self, OperatorProcess};
use serde_json::Value;
use tokio::sync::OnceCell;

const A: &str = "scan-a";
const B: &str = "scan-b";
/// A context whose API server address has nothing listening.
const DOWN: &str = "scan-down";
/// A context whose API server answers `/version` and never answers a list: it connects and never
/// syncs (`stuck_apiserver`).
const HANG: &str = "scan-hang";

/// The two control planes, seeded once for every test of this binary, and the files they use.
struct Clusters {
    a: ControlPlane,
    _b: ControlPlane,
    dir: tempfile::TempDir,
}

impl Clusters {
    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The policy files each cluster got, for `check` with the same policies.
    fn policies(&self, context: &str) -> PathBuf {
        self.dir.path().join(context)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn clusters() -> &'static Clusters {
    static CLUSTERS: OnceCell<Clusters> = OnceCell::const_new();
    CLUSTERS.get_or_init(start).await
}

async fn start() -> Clusters {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (a, b) = tokio::join!(
        ControlPlane::builder().context_name(A).start(),
        ControlPlane::builder().context_name(B).start()
    );
    let (a, b) = (a.expect("scan-a starts"), b.expect("scan-b starts"));

    let examples = root().join("examples");
    let manifests = load_dir(&examples.join("manifests")).expect("the example manifests load");
    let mut policies_a = load_dir(&examples.join("policies")).expect("the example policies load");
    policies_a.extend(load_dir(&examples.join("exceptions")).expect("the exception loads"));
    let mut policies_b: Vec<Document> = policies_a
        .iter()
        .filter(|d| d.kind() == "GuardianPolicy" && d.name() != "team-ownership")
        .cloned()
        .collect();
    for policy in &mut policies_b {
        if policy.name() == "restricted-security" {
            policy.object.data["spec"]["enforcement"] = Value::from("Warn");
        }
    }
    for (context, policies) in [(A, &policies_a), (B, &policies_b)] {
        write_documents(&dir.path().join(context), policies);
    }
    tokio::try_join!(
        seed(&a, &policies_a, &manifests),
        seed(&b, &policies_b, &manifests)
    )
    .expect("both clusters are seeded");

    // One kubeconfig with both contexts, one pointing at a closed port and one at a server
    // that never answers a list.
    let mut merged = merge_kubeconfigs(&[a.kubeconfig(), b.kubeconfig()]);
    let down = format!("https://127.0.0.1:{}", closed_port());
    let hang = format!("http://{}", stuck_apiserver::start());
    for (name, server) in [(DOWN, down), (HANG, hang)] {
        let mut cluster = merged.clusters[0].clone();
        cluster.name = name.into();
        if let Some(cluster) = cluster.cluster.as_mut() {
            cluster.server = Some(server);
        }
        let mut context = merged.contexts[0].clone();
        context.name = name.into();
        if let Some(context) = context.context.as_mut() {
            context.cluster = name.into();
        }
        merged.clusters.push(cluster);
        merged.contexts.push(context);
    }
    write_kubeconfig(&merged, &dir.path().join("kubeconfig")).expect("kubeconfig written");
    Clusters { a, _b: b, dir }
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

async fn seed(
    cp: &ControlPlane,
    policies: &[Document],
    manifests: &[Document],
) -> guardian_testenv::demo::Result<()> {
    cp.install_crds().await?;
    let mut applier = Applier::new(cp.client()?);
    let namespaces: std::collections::BTreeSet<&str> = manifests
        .iter()
        .chain(policies)
        .filter_map(|d| d.object.metadata.namespace.as_deref())
        .filter(|ns| *ns != "default")
        .collect();
    for name in namespaces {
        let plan = NamespacePlan {
            name: name.to_owned(),
            labels: Default::default(),
        };
        applier.apply_namespace(&plan).await?;
    }
    for document in policies.iter().chain(manifests) {
        applier.apply(document).await?;
    }
    Ok(())
}

fn write_documents(dir: &Path, documents: &[Document]) {
    std::fs::create_dir_all(dir).expect("policy dir");
    for (index, document) in documents.iter().enumerate() {
        let text = serde_yaml_ng::to_string(&document.object).expect("a document serialises");
        std::fs::write(dir.join(format!("{index:02}.yaml")), text).expect("policy file");
    }
}

fn kube_guardian(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .expect("the binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn scan(clusters: &Clusters, contexts: &str, extra: &[&str]) -> Output {
    let kubeconfig = clusters.kubeconfig();
    let mut args = vec![
        "scan",
        "--kubeconfig",
        kubeconfig.to_str().expect("UTF-8 path"),
        "--contexts",
        contexts,
    ];
    args.extend(extra);
    kube_guardian(&args)
}

fn cluster<'a>(report: &'a Value, context: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["context"] == context))
        .unwrap_or_else(|| panic!("no cluster {context} in {report:#}"))
}

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
        stderr.contains("\"nope\"") && stderr.contains(&format!("{A}, {B}, {DOWN}, {HANG}")),
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

/// The scan waits for no cluster longer than `--timeout`: generous, so that scan-a syncs within
/// it however loaded the machine; scan-hang never would.
const TIMEOUT: &str = "60s";

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_that_never_answers_is_reported_at_the_timeout_without_delaying_the_other() {
    let clusters = clusters().await;
    let contexts = format!("{A},{HANG}");
    // Both outputs at once: each scan takes the whole timeout.
    let ((output, elapsed), table) = std::thread::scope(|s| {
        let table = s.spawn(|| scan(clusters, &contexts, &["--timeout", TIMEOUT]));
        let start = std::time::Instant::now();
        let output = scan(
            clusters,
            &contexts,
            &["--output", "json", "--timeout", TIMEOUT],
        );
        (
            (output, start.elapsed()),
            table.join().expect("the table scan"),
        )
    });
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    assert_eq!(cluster(&report, A)["connection"]["state"], "Synced");
    let hung = cluster(&report, HANG);
    assert_eq!(hung["scanned"], false);
    // Still Connecting when reported, and not before the timeout: the timeout ended the wait.
    assert_eq!(hung["connection"]["state"], "Connecting", "{hung:#}");
    assert!(
        elapsed >= std::time::Duration::from_secs(60),
        "took {elapsed:?}"
    );
    assert_eq!(table.status.code(), Some(2));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Connecting, not scanned: the initial sync did not finish within"),
        "{text}"
    );
}
