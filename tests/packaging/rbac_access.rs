//! What the chart's ServiceAccount cannot do, asked of the API server's authorizer
//! (SubjectAccessReview), with positive controls that prove the reviews name the right subject.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

/// Whether `user` may `verb` `resource` (in `namespace`, or cluster-wide).
async fn allowed(
    client: &kube::Client,
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    allowed_named(client, user, (verb, group, resource), namespace, None).await
}

/// Whether `user` may `verb` the object `name` of `resource` (any object when `None`).
async fn allowed_named(
    client: &kube::Client,
    user: &str,
    (verb, group, resource): (&str, &str, &str),
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(vec!["system:serviceaccounts".to_owned()]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

/// `user` (the chart's ServiceAccount) may do what the operator needs and nothing of the rest:
/// no Secrets, no writes to workloads, policies, RBAC or webhooks, no token, and Leases only its
/// own (`lease`, in `release_ns`).
pub(crate) async fn access_reviews_show_what_it_cannot_do(
    admin: &kube::Client,
    user: &str,
    lease: &str,
    release_ns: &str,
    ns: &str,
) {
    // The positive controls prove the reviews ask about the right subject.
    for (verb, group, resource, namespace) in [
        ("list", "", "pods", None),
        (
            "patch",
            "guardian.kube-guardian.dev",
            "guardianpolicies/status",
            None,
        ),
        ("create", "wgpolicyk8s.io", "policyreports", Some(ns)),
        // The restore watch: without it a report deleted by hand stays deleted.
        ("watch", "wgpolicyk8s.io", "policyreports", None),
        ("get", "wgpolicyk8s.io", "policyreports", Some(ns)),
    ] {
        assert!(
            allowed(admin, user, verb, group, resource, namespace).await,
            "{verb} {resource}"
        );
    }
    for (verb, group, resource, namespace) in [
        ("get", "", "secrets", Some(release_ns)),
        ("list", "", "secrets", None),
        ("watch", "", "secrets", Some(ns)),
        ("get", "", "configmaps", Some(ns)),
        ("create", "", "pods", Some(ns)),
        ("delete", "", "pods", Some(ns)),
        ("update", "apps", "deployments", Some(ns)),
        ("patch", "apps", "deployments", Some(ns)),
        ("delete", "apps", "daemonsets", None),
        ("patch", "batch", "jobs", Some(ns)),
        ("patch", "", "namespaces", None),
        (
            "create",
            "guardian.kube-guardian.dev",
            "guardianpolicies",
            None,
        ),
        (
            "delete",
            "guardian.kube-guardian.dev",
            "guardianpolicies",
            None,
        ),
        (
            "patch",
            "guardian.kube-guardian.dev",
            "guardianexceptions",
            None,
        ),
        (
            "create",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
        ),
        (
            "create",
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            None,
        ),
        ("create", "", "serviceaccounts/token", Some(release_ns)),
        // The Lease: only its own, by name, in the release namespace.
        ("create", "coordination.k8s.io", "leases", Some(ns)),
    ] {
        assert!(
            !allowed(admin, user, verb, group, resource, namespace).await,
            "the chart lets the operator {verb} {resource} in {namespace:?}"
        );
    }
    // Reads its Lease by name only: its own, not another in the same namespace.
    let get = ("get", "coordination.k8s.io", "leases");
    let own = allowed_named(admin, user, get, Some(release_ns), Some(lease)).await;
    let other = allowed_named(admin, user, get, Some(release_ns), Some("other")).await;
    assert!(own && !other, "get own Lease: {own}, another: {other}");
}
