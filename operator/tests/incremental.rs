//! Reconciles in O(changes) against the real control plane: with many Pods cached and a policy
//! reconciled, one Pod's change re-evaluates that Pod only (the objects-evaluated counter), and
//! the status and the PolicyReport follow it; an owner going away re-evaluates its Pod only. In a
//! test binary of its own: other tests' namespaces and exceptions rightly re-evaluate everything.

pub mod common;

use std::time::Duration;

use common::*;
use guardian_core::crd::GuardianPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const PODS: usize = 60;

/// One test at a time: a namespace another test creates rightly re-evaluates every policy.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn summary(p: &GuardianPolicy) -> Option<(u64, u64)> {
    let s = p.status.as_ref()?.summary.as_ref()?;
    Some((s.resources_evaluated, s.violations))
}

/// The objects-evaluated counter of one path (`full` or `change`).
fn evaluated(op: &Operator, path: &str) -> f64 {
    op.metric(&format!(
        "kube_guardian_objects_evaluated_total{{path=\"{path}\"}}"
    ))
}

/// Timed decisions on watch changes: all of them, or those of one outcome (`evaluate`: a policy
/// must be evaluated in full).
fn decisions(op: &Operator, outcome: Option<&str>) -> f64 {
    let name = "kube_guardian_reconcile_decision_seconds_count";
    match outcome {
        None => op.metric(name),
        Some(outcome) => op.metric(&format!("{name}{{decision=\"{outcome}\"}}")),
    }
}

/// The counters (full, change) now. Read once the status and the report show a change: the
/// reconcile that wrote them has counted what it evaluated by then.
fn counters(op: &Operator) -> (f64, f64) {
    (evaluated(op, "full"), evaluated(op, "change"))
}

/// Waits until `count` timed decisions were made in all.
async fn decided(op: &Operator, count: f64) {
    eventually(&format!("{count} timed decisions"), || async {
        (decisions(op, None) >= count).then_some(())
    })
    .await;
}

fn tag_policy(name: &str, ns: &str) -> TestPolicy {
    TestPolicy::new(name)
        .namespaces([ns])
        .rules(["image-tag-pinned"])
}

/// The names of the resources in the namespace's report (none without a report).
async fn reported(client: &Client, ns: &str) -> Vec<String> {
    let Some(report) = policy_report_api(client, ns)
        .get_opt("kube-guardian")
        .await
        .expect("get report")
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = report.data["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["resources"][0]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn set_image(client: &Client, ns: &str, pod: &str, image: &str) {
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), ns)
        .patch(
            pod,
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [{"name": "app", "image": image}]}})),
        )
        .await
        .expect("patch the Pod's image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_change_re_evaluates_that_pod_only_and_the_report_follows_it() {
    let _serial = SERIAL.lock().await;
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("incr").await.expect("namespace");
    for i in 0..PODS {
        create(&client, Some(&ns), &pod(&format!("p{i}"), false)).await;
    }
    create(&client, Some(&ns), &deployment("app", false)).await;
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    op.converged().await;
    let name = format!("{ns}-tags");
    tag_policy(&name, &ns).created(&client).await;
    // The Pods and the Deployment.
    let counted = PODS as u64 + 1;
    eventually("every Pod counted, none violating", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((counted, 0)))
    })
    .await;
    let (full, change) = counters(&op);
    assert!(
        full >= counted as f64,
        "the policy was evaluated in full once"
    );
    let (timed, evaluations) = (decisions(&op, None), decisions(&op, Some("evaluate")));

    // Broken: it enters the status and the report, re-evaluated alone.
    set_image(&client, &ns, "p7", "registry.example.com/app:latest").await;
    eventually("the broken Pod in the status", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((counted, 1)))
    })
    .await;
    eventually("the broken Pod in the report", || async {
        (reported(&client, &ns).await == ["p7"]).then_some(())
    })
    .await;
    // The Pod's one watch event, decided.
    decided(&op, timed + 1.0).await;
    let (full_after, change_after) = counters(&op);
    assert_eq!(full_after, full, "no policy was evaluated in full");
    assert_eq!(
        decisions(&op, Some("evaluate")),
        evaluations,
        "the change asked for no full evaluation"
    );
    let delta = change_after - change;
    assert!(
        (1.0..=3.0).contains(&delta),
        "{delta} objects evaluated for one Pod's change"
    );

    // Fixed: it leaves them, again alone.
    set_image(&client, &ns, "p7", "registry.example.com/app:1.1").await;
    eventually("the fixed Pod out of the status", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((counted, 0)))
    })
    .await;
    eventually("the fixed Pod out of the report", || async {
        reported(&client, &ns).await.is_empty().then_some(())
    })
    .await;
    decided(&op, timed + 2.0).await;
    let (full_fixed, change_fixed) = counters(&op);
    assert_eq!(full_fixed, full, "no policy was evaluated in full");
    assert_eq!(decisions(&op, Some("evaluate")), evaluations);
    assert!(change_fixed - change_after <= 3.0);
    op.stop().await;
}

const REPLICA_SET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_going_away_re_evaluates_its_pod_only() {
    let _serial = SERIAL.lock().await;
    let cp = cluster().await;
    if cp.is_existing_cluster() {
        // A real cluster's garbage collector deletes the Pod with its owner: nothing to audit.
        eprintln!("skipped on an existing cluster: its garbage collector deletes the Pod");
        return;
    }
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("incr-owner").await.expect("namespace");
    for i in 0..PODS {
        create(&client, Some(&ns), &pod(&format!("p{i}"), false)).await;
    }
    let rs = create(&client, Some(&ns), REPLICA_SET).await;
    // A Pod of the ReplicaSet whose own image is unpinned: judged through the template (pinned).
    let mut child: k8s_openapi::api::core::v1::Pod =
        serde_yaml_ng::from_str(&pod("web-x", false)).expect("pod");
    child.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
    child.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: rs.metadata.uid.clone().expect("uid"),
            controller: Some(true),
            ..Default::default()
        },
    ]);
    if let Some(spec) = child.spec.as_mut() {
        spec.containers[0].image = Some("registry.example.com/app:latest".into());
    }
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &child)
        .await
        .expect("the ReplicaSet's Pod is created");
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    op.converged().await;
    let name = format!("{ns}-tags");
    tag_policy(&name, &ns).created(&client).await;
    // The Pods and the ReplicaSet (for its Pod too).
    let counted = PODS as u64 + 1;
    eventually(
        "the Pods and the ReplicaSet counted, none violating",
        || async {
            policy(&client, &name)
                .await
                .filter(|p| summary(p) == Some((counted, 0)))
        },
    )
    .await;
    let (full, change) = counters(&op);

    // Without a garbage collector here, the Pod stays: it is audited itself.
    dynamic_api(
        &client,
        Some(&ns),
        &serde_yaml_ng::from_str(REPLICA_SET).expect("yaml"),
    )
    .await
    .delete("web", &DeleteParams::background())
    .await
    .expect("delete the ReplicaSet");
    eventually("the orphaned Pod audited itself", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((counted, 1)))
    })
    .await;
    eventually("the orphaned Pod in the report", || async {
        (reported(&client, &ns).await == ["web-x"]).then_some(())
    })
    .await;
    let (full_after, change_after) = counters(&op);
    assert_eq!(full_after, full, "no policy was evaluated in full");
    assert!(
        change_after - change <= 3.0,
        "{} objects evaluated",
        change_after - change
    );
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_s_labels_re_evaluate_that_namespace_s_objects_only() {
    let _serial = SERIAL.lock().await;
    let cp = cluster().await;
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("incr-labels").await.expect("namespace");
    const IN_NAMESPACE: usize = 20;
    for i in 0..IN_NAMESPACE {
        create(&client, Some(&ns), &pod(&format!("p{i}"), false)).await;
    }
    set_image(&client, &ns, "p3", "registry.example.com/app:latest").await;
    // Objects elsewhere, not to be re-evaluated.
    let elsewhere = cp.create_namespace("incr-other").await.expect("namespace");
    for i in 0..10 {
        create(&client, Some(&elsewhere), &pod(&format!("q{i}"), false)).await;
    }
    let op = Operator::start(client.clone(), Duration::from_secs(300)).await;
    op.converged().await;
    let name = format!("{ns}-selected");
    TestPolicy::new(&name)
        .namespace_label("selected-by", &name)
        .rules(["image-tag-pinned"])
        .created(&client)
        .await;
    eventually("nothing selected yet", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((0, 0)))
    })
    .await;
    let (full, change) = counters(&op);

    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .patch(
            &ns,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"selected-by": name}}})),
        )
        .await
        .expect("label the namespace");
    let selected = IN_NAMESPACE as u64;
    eventually("the namespace's objects selected", || async {
        policy(&client, &name)
            .await
            .filter(|p| summary(p) == Some((selected, 1)))
    })
    .await;
    eventually("the broken Pod in the report", || async {
        (reported(&client, &ns).await == ["p3"]).then_some(())
    })
    .await;
    let (full_after, change_after) = counters(&op);
    assert_eq!(full_after, full, "no policy was evaluated in full");
    let delta = change_after - change;
    assert!(
        (selected as f64..=selected as f64 + 3.0).contains(&delta),
        "{delta} objects evaluated for a namespace of {selected}"
    );
    op.stop().await;
}
