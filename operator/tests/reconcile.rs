//! The controller against the real control plane: status, change propagation, invalid policies,
//! PolicyReports and the finalizer.

// `pub`: this binary uses a few of the shared helpers only.
pub mod common;

use std::time::{Duration, Instant};

use common::report_refusal::{lift_refusal, refuse_reports};
use common::*;
use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn summary(p: &GuardianPolicy) -> Option<(u64, u64, u64)> {
    let s = p.status.as_ref()?.summary.as_ref()?;
    Some((s.resources_evaluated, s.violations, s.by_severity.critical))
}

fn condition(p: &GuardianPolicy, type_: &str) -> Option<(String, String, String)> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// A namespace with one compliant and one privileged Deployment and a host-network Pod.
async fn seed_three_workloads(cp: &ControlPlane, prefix: &str) -> (Client, String) {
    let client = cp.client().expect("client");
    let ns = cp.create_namespace(prefix).await.expect("namespace");
    create(&client, Some(&ns), &deployment("good", false)).await;
    create(&client, Some(&ns), &deployment("bad", true)).await;
    create(&client, Some(&ns), &pod("host-net", true)).await;
    (client, ns)
}

/// Creates an Audit policy on the seeded namespace and waits for its status to count the three
/// workloads, two of them violating.
async fn audit_policy_counts_the_seed(client: &Client, ns: &str) -> (String, GuardianPolicy) {
    let name = format!("{ns}-status");
    two_rule_policy(&name, ns, "Audit").created(client).await;
    let p = eventually("status with 3 resources and 2 violations", || async {
        policy(client, &name)
            .await
            .filter(|p| summary(p) == Some((3, 2, 2)))
    })
    .await;
    (name, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_follow_workload_changes_without_waiting_for_the_resync() {
    let cp = cluster().await;
    let (client, ns) = seed_three_workloads(cp, "status").await;
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    let (name, p) = audit_policy_counts_the_seed(&client, &ns).await;
    assert_eq!(condition(&p, "Ready").map(|c| c.0), Some("True".to_owned()));
    assert_eq!(
        condition(&p, "Degraded").map(|c| c.0),
        Some("False".to_owned())
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.observed_generation),
        p.metadata.generation
    );

    // A workload change shows in the status through the watch: within `eventually`'s deadline
    // (60 s), long before the 300 s resync could have noticed it. (No time is asserted: a loaded
    // machine may take seconds, and the time is printed for the curious.)
    let deployments: Api<kube::api::DynamicObject> = dynamic_api(
        &client,
        Some(&ns),
        &serde_yaml_ng::from_str(&deployment("good", true)).expect("yaml"),
    )
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "securityContext": {"privileged": true}}]}}}});
    let changed = Instant::now();
    deployments
        .patch("good", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("patch");
    eventually("the change to reach the status", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((3, 3, 3)))
    })
    .await;
    const { assert!(DEADLINE.as_secs() < 300) };
    eprintln!("the change reached the status in {:?}", changed.elapsed());
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paged_initial_lists_fill_the_caches_like_streaming_ones() {
    // `auto` streams on this 1.37 control plane; paged lists are what older clusters get.
    let cp = cluster().await;
    let (client, ns) = seed_three_workloads(cp, "paged").await;
    let op = Operator::start_with(
        client.clone(),
        Duration::from_secs(300),
        InitialListFlag::Paged,
    )
    .await;
    audit_policy_counts_the_seed(&client, &ns).await;
    op.stop().await;
}

/// Waits until `op` reconciled `policy` `more` times from now.
async fn resynced(op: &Operator, policy: &str, more: u64) {
    let after = reconciles::reconciles_of(op.id, policy) + more;
    eventually("the valid policy's resync reconciles", || async {
        (reconciles::reconciles_of(op.id, policy) >= after).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_cel_sets_degraded_without_hot_looping() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("invalid").await.expect("namespace");
    let name = format!("{ns}-invalid");
    // A valid policy beside it, which the 1 s resync requeues every second: its reconciles
    // mark how many resync periods passed.
    let valid = format!("{ns}-valid");
    reconciles::count_reconciles();
    let op = Operator::start(client.clone(), Duration::from_secs(1)).await;
    TestPolicy::new(&name)
        .namespaces([&ns])
        .cel("broken", "object.spec.(", "never")
        .created(&client)
        .await;
    TestPolicy::new(&valid)
        .namespaces([&ns])
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    let p = eventually("the Degraded condition", || async {
        policy(&client, &name)
            .await
            .filter(|p| condition(p, "Degraded").is_some_and(|c| c.0 == "True"))
    })
    .await;
    let (_, reason, message) = condition(&p, "Degraded").expect("Degraded");
    assert_eq!(reason, "InvalidPolicy");
    assert!(
        message.contains("rule \"broken\": CEL expression does not compile at 1:"),
        "{message}"
    );
    assert_eq!(
        condition(&p, "Ready").map(|c| c.0),
        Some("False".to_owned())
    );

    // The transition is told as a Kubernetes Event on the policy.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::all(client.clone());
    let event = eventually("a PolicyDegraded event", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items.into_iter().find(|e| {
            e.reason.as_deref() == Some("PolicyDegraded")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
        })
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(
        event.note.as_deref().is_some_and(|n| n.contains("broken")),
        "{event:?}"
    );

    // No hot loop: the resync requeues the valid policy, not the invalid one, and the invalid
    // one's status is not rewritten (a rewrite would trigger the next reconcile). Counted from
    // one resync of the valid policy after Degraded was seen (anything the policy's creation
    // started is done by then) over three more.
    resynced(&op, &valid, 1).await;
    // The count takes failing reconciles too (a span each), so a failing loop with backoff shows
    // as well; the reconcile metric does not: it has no policy label, and this operator also
    // reconciles the other tests' policies on the shared control plane, some of them failing.
    let (settled, version) = (
        reconciles::reconciles_of(op.id, &name),
        policy(&client, &name)
            .await
            .expect("policy")
            .metadata
            .resource_version,
    );
    // Since creation: the reconcile that adds the finalizer, the one its write triggers (which
    // writes the Degraded status), and at most one the status write's event may still start.
    // A loop of any period past three resyncs shows here, one within them below.
    assert!(
        (1..=3).contains(&settled),
        "the invalid policy was reconciled {settled} times since its creation"
    );
    resynced(&op, &valid, 3).await;
    assert_eq!(
        reconciles::reconciles_of(op.id, &name),
        settled,
        "the invalid policy was reconciled again over three resync periods"
    );
    let p = policy(&client, &name).await.expect("policy");
    assert_eq!(p.metadata.resource_version, version, "no status rewrite");
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_selectors_follow_namespace_labels() {
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("nssel").await.expect("namespace");
    create(&client, Some(&ns), &deployment("bad", true)).await;
    let name = format!("{ns}-nssel");
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    TestPolicy::new(&name)
        .namespace_label("guardian-test", &name)
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    eventually("no resource matched before the label", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((0, 0, 0)))
    })
    .await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"guardian-test": name}}})),
        )
        .await
        .expect("label the namespace");
    eventually("the labelled namespace's workload to count", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((1, 1, 1)))
    })
    .await;
    op.stop().await;
}

/// The policy's report write is refused: its status lands all the same (the report is written
/// beside it, not before it), and once the refusal is lifted the report writer's own retry
/// writes the report, with no policy change, workload change or resync (an hour) in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_whose_report_write_is_refused_gets_its_status_and_its_report_once_allowed() {
    let cp = cluster().await;
    let (client, ns) = seed_three_workloads(cp, "noreport").await;
    let refusal = format!("{ns}-refuse-reports");
    refuse_reports(&client, &refusal, &ns).await;
    let op = Operator::start(client.clone(), Duration::from_secs(3600)).await;
    // After the pass (which writes every report at its end): the policy's own reconcile writes.
    op.converged().await;
    // The status lands although the report write is refused.
    audit_policy_counts_the_seed(&client, &ns).await;
    eventually("the refused report write counted as an error", || async {
        (op.metric("kube_guardian_errors_total{kind=\"report_write\"}") >= 1.0).then_some(())
    })
    .await;
    assert_eq!(
        op.metric("kube_guardian_errors_total{kind=\"kube\"}"),
        0.0,
        "no reconcile failed on the refused report"
    );
    let report = policy_report_api(&client, &ns)
        .get_opt("kube-guardian")
        .await
        .expect("get the report");
    assert!(report.is_none(), "the report was refused: {report:?}");
    // Reports allowed again: the writer's retry writes it, no reconcile needed.
    lift_refusal(&client, &refusal, &ns).await;
    let report = eventually("the report written once allowed", || async {
        policy_report_api(&client, &ns)
            .get_opt("kube-guardian")
            .await
            .ok()
            .flatten()
    })
    .await;
    assert_eq!(report.data["summary"]["fail"], 2, "{report:?}");
    op.stop().await;
}
