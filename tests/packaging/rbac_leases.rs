//! The chart's Lease admission policy, proven by real writes with the operator's token: RBAC
//! cannot name what a create may be called, the policy narrows it to the operator's own Leases.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

const POLL: Duration = Duration::from_millis(200);

pub(crate) fn lease_doc(name: &str, label: Option<&str>) -> Lease {
    let labels = label.map(|value| json!({ guardian_cluster::lease::CANDIDATE_FOR: value }));
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"holderIdentity": "someone-else"},
    }))
    .expect("a lease")
}

pub(crate) fn refused(result: &Result<impl std::fmt::Debug, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

/// As `operator`: another Lease of the release namespace (a stand-in for kube-system's
/// scheduler Lease) cannot be patched nor deleted, nor a Lease created under a candidate's name
/// without the election's label; a labelled candidate record can; nothing in another namespace.
pub(crate) async fn lease_writes_are_narrowed(
    admin: &kube::Client,
    operator: &kube::Client,
    lease: &str,
    release_ns: &str,
    ns: &str,
    candidate: &str,
) {
    let post = PostParams::default();
    Api::<Lease>::namespaced(admin.clone(), release_ns)
        .create(&post, &lease_doc("other", None))
        .await
        .expect("another Lease");
    let leases: Api<Lease> = Api::namespaced(operator.clone(), release_ns);
    let patch = kube::api::Patch::Merge(json!({"spec": {"holderIdentity": "kube-guardian"}}));
    let params = kube::api::PatchParams::default();
    // The policy was applied before the operator started; still, the API server loads it
    // asynchronously: wait (generously) for the first refusal.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let patched = leases.patch("other", &params, &patch).await;
        if refused(&patched) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the operator may patch another Lease of its namespace: {patched:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    let deleted = leases.delete("other", &DeleteParams::default()).await;
    assert!(refused(&deleted), "deleting another Lease: {deleted:?}");
    let unlabelled = format!("{lease}-candidate-nolabel");
    let created = leases.create(&post, &lease_doc(&unlabelled, None)).await;
    assert!(
        refused(&created),
        "an unlabelled candidate name: {created:?}"
    );
    let labelled = format!("{lease}-candidate-labelled");
    let label = guardian_cluster::lease::candidate_label(lease);
    leases
        .create(&post, &lease_doc(&labelled, Some(&label)))
        .await
        .expect("a labelled candidate record is allowed");
    leases
        .delete(&labelled, &DeleteParams::default())
        .await
        .expect("and may be deleted");
    // Its own record stays writable (the operator renews it throughout).
    leases
        .patch(candidate, &params, &kube::api::Patch::Merge(json!({})))
        .await
        .expect("its own candidate record");
    let elsewhere = Api::<Lease>::namespaced(operator.clone(), ns)
        .create(&post, &lease_doc(&labelled, Some(&label)))
        .await;
    assert!(
        refused(&elsewhere),
        "a Lease in another namespace: {elsewhere:?}"
    );
}
