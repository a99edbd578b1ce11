//! Enforcement survives a broken edit: `kube-guardian operator` as a user runs it, with the real
//! API server calling its webhook. A Deny policy whose new generation does not compile keeps
//! denying through its last good generation, and its status says so.

// `pub`: this binary uses a few of the shared helpers only.
#[path = "support/operator_webhook.rs"]
pub mod operator_webhook;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::free_addr;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::{Api, Patch, PatchParams, PostParams};
use operator_webhook::*;
use serde_json::json;

/// The Degraded condition's status and message, once the status observed `generation`.
async fn degraded(
    policies: &Api<GuardianPolicy>,
    name: &str,
    generation: i64,
) -> Option<(String, String)> {
    let status = policies.get_opt(name).await.ok()??.status?;
    if status.observed_generation != Some(generation) {
        return None;
    }
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .map(|c| (c.status.clone(), c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_edit_keeps_the_last_good_generation_denying() {
    let DenySetup {
        cp,
        client,
        ns,
        name,
        policies,
        pods,
    } = deny_setup("enforce").await;
    // A policy that never compiled: nothing of it can be enforced, and its status says so.
    let never = format!("{ns}-never");
    deny_policy(&never, &ns)
        .cel("broken", "object.metadata.(", "m")
        .created(&client)
        .await;

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = webhook_certs(dir.path());
    let webhook = free_addr().expect("a free port");
    let mut op = start_operator(cp, dir.path(), dir.path(), webhook);
    wait_for("generation 1 to be evaluated", &op, async || {
        degraded(&policies, &name, 1)
            .await
            .filter(|(status, _)| status == "False")
    })
    .await;

    let vwc_name = register_webhook(&client, webhook, &ca, &ns).await;
    let dry = dry_run();
    wait_for("the webhook to deny a privileged Pod", &op, async || {
        denied_by_us(&pods.create(&dry, &privileged_pod("probe", None)).await).then_some(())
    })
    .await;

    // Admission evaluates every object it is asked about, owned or not.
    let owned = privileged_pod(
        "owned",
        Some(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm",
            "uid": "00000000-0000-0000-0000-000000000001", "controller": true}),
        ),
    );
    let result = pods.create(&PostParams::default(), &owned).await;
    assert!(denied_by_us(&result), "{result:?}");

    // The broken edit: a CEL syntax error the CRD schema accepts.
    let broken = json!({"spec": {"rules": [
        {"id": "pss-privileged"},
        {"cel": {"name": "broken", "expression": "object.metadata.(", "message": "m"}}
    ]}});
    policies
        .patch(&name, &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .expect("the API server accepts the broken edit");
    wait_for("generation 2 to be found broken", &op, async || {
        degraded(&policies, &name, 2)
            .await
            .filter(|(status, _)| status == "True")
    })
    .await;

    // Still enforced: a violating Pod is denied, through generation 1.
    let result = pods
        .create(&PostParams::default(), &privileged_pod("after-edit", None))
        .await;
    assert!(
        denied_by_us(&result),
        "a broken edit turned enforcement off: {:?}\n--- operator:\n{}",
        result.map(|p| p.metadata.name),
        op.logs()
    );
    let (_, message) = degraded(&policies, &name, 2).await.expect("status");
    assert!(
        message.starts_with("generation 2 does not compile: ")
            && message.ends_with("; generation 1 is still enforced"),
        "{message}"
    );
    assert!(
        message.contains("broken"),
        "names the broken rule: {message}"
    );

    // A restart (or a standby started after the edit) never saw generation 1 compile; it
    // enforces it all the same.
    let _ = op.child_mut().kill();
    let _ = op.child_mut().wait();
    let webhook = free_addr().expect("a free port");
    let restarted_dir = tempfile::tempdir().expect("temp dir");
    op = start_operator(cp, restarted_dir.path(), dir.path(), webhook);
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(
            &vwc_name,
            &PatchParams::default(),
            &Patch::Merge(&json!({
                "webhooks": webhook_configuration(&vwc_name, webhook, &ca, &ns).webhooks
            })),
        )
        .await
        .expect("point the webhook at the restarted operator");
    wait_for("the restarted operator to deny", &op, async || {
        denied_by_us(&pods.create(&dry, &privileged_pod("restarted", None)).await).then_some(())
    })
    .await;
    let (_, message) = wait_for("the restarted operator's status", &op, async || {
        degraded(&policies, &name, 2)
            .await
            .filter(|(_, m)| m.ends_with("generation 1 is still enforced"))
    })
    .await;
    assert!(
        message.starts_with("generation 2 does not compile: "),
        "{message}"
    );

    let (_, message) = wait_for("the never-compiled policy's status", &op, async || {
        degraded(&policies, &never, 1).await
    })
    .await;
    assert!(
        message.contains("generation 1 does not compile")
            && message.contains("nothing of it is enforced"),
        "{message}"
    );
}
