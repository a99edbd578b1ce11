//! `kube-guardian operator`, run as the README tells a user, against the real local control
//! plane: its Events are accepted for the longest pod name Kubernetes allows. A binary of its own:
//! no other operator publishes Events about policies on its control plane.

use std::path::Path;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};

#[path = "support/operator_run.rs"]
mod operator_run;
#[path = "support/operator_seeded.rs"]
mod operator_seeded;
use operator_run::{logs_dir, operator, wait_for};
use operator_seeded::seeded;

/// Whether an Event about `policy` from kube-guardian was stored.
async fn event_about(client: &kube::Client, policy: &str) -> Option<Event> {
    let events = Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .ok()?;
    events.items.into_iter().find(|e| {
        e.reporting_controller.as_deref() == Some("kube-guardian")
            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(policy)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_accepted_for_a_pod_name_of_253_characters() {
    let cp = ControlPlane::shared().await.expect("control plane");
    // The longest pod name Kubernetes allows, as the downward API hands it over.
    let pod_name = format!("kube-guardian-{}", "x".repeat(239));
    assert_eq!(pod_name.len(), 253);
    cp.install_crds().await.expect("CRDs");
    let dir = logs_dir();
    let op = start_named(cp, dir.path(), &pod_name);
    wait_for("the operator ready", &[&op], async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let (client, _ns, policy) = seeded(cp, "long-pod").await;
    let event = wait_for("the ViolationsFound event", &[&op], async || {
        event_about(&client, &policy).await
    })
    .await;
    assert_eq!(event.reason.as_deref(), Some("ViolationsFound"));
    let instance = event.reporting_instance.unwrap_or_default();
    assert!(
        instance.len() <= 128 && instance.starts_with("kube-guardian-xxx"),
        "{instance}"
    );
    assert!(
        !op.logs().contains("failed to publish an event"),
        "{}",
        op.logs()
    );
}

/// The operator with `POD_NAME` set to `pod_name` (too long to name its log file after).
fn start_named(cp: &ControlPlane, dir: &Path, pod_name: &str) -> OperatorProcess {
    operator(cp, "op-long-pod")
        .env("POD_NAME", pod_name)
        .start(dir)
        .expect("the operator starts")
}
