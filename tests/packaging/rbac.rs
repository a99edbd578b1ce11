//! The chart's RBAC proven, not assumed: its ServiceAccount, ClusterRole, Role and bindings are
//! applied to the real API server, a token is minted for the ServiceAccount (TokenRequest), and
//! the real `kube-guardian operator` runs with that identity alone (there is no kubelet to run
//! the pod). It must reconcile, write status, reports, events and its Lease, serve admission and
//! run its finalizer without a single Forbidden; access reviews show what it cannot do, and real
//! writes with its token that the chart's Lease admission policy refuses the Leases not its own.

use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::{self, OperatorProcess, free_addr};
use guardian_testenv::{Ca, ControlPlane, unique_name};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde_json::{Value, json};

use crate::support::{apply, find, render};

const POLL: Duration = Duration::from_millis(200);
/// The longest lease name the operator accepts: its candidate records' label is a hash and the
/// pod's part of their names is shortened, both of which the chart's Lease policy must admit.
const LEASE: &str = concat!(
    "kube-guardian-operator.of-a-release-with-a-long-name-and-longer-and-longer-and-l",
    "onger-and-longer-and-longer-and-longer-and-longer-and-longer-and-longer-and-long",
    "er-and-longer-and-longer-and-longer-and-longer-and-longer-and-longer-and-l",
);
/// A long pod name (as long as a Deployment's pods get), past what a record's name can hold
/// after `<LEASE>-candidate-`.
const POD: &str = "kg-rbac-kube-guardian-of-a-long-release-name-7d9f8c6b5-x2x4z";

/// Waits for `check`, failing at once (with the log) when the operator was refused anything.
pub(crate) async fn wait_for<T>(
    what: &str,
    op: &OperatorProcess,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    operator_process::wait_for(what, POLL, &[op], async || {
        assert_not_refused(op);
        check().await
    })
    .await
}

/// A verb the code needs and the chart lacks shows as a 403 in the operator's log.
pub(crate) fn assert_not_refused(op: &OperatorProcess) {
    let logs = op.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator was refused something with the chart's RBAC:\n{logs}"
    );
}

/// Applies the chart's identity (ServiceAccount, roles, bindings, and the admission policy that
/// narrows its Lease writes) for real and returns the
/// ServiceAccount's name.
pub(crate) async fn install_identity(client: &kube::Client, docs: &[Value]) -> String {
    let kinds = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ];
    for doc in docs
        .iter()
        .filter(|d| kinds.iter().any(|k| d["kind"] == *k))
    {
        apply(client, doc, false).await.expect("RBAC applied");
    }
    find(docs, "ServiceAccount", None)["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned()
}

pub(crate) async fn token(client: &kube::Client, namespace: &str, account: &str) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .and_then(|s| s.token)
        .expect("a token")
}

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

async fn create_policy(client: &kube::Client, name: &str, ns: &str, enforcement: &str) {
    let policy: GuardianPolicy = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": name},
        "spec": {"enforcement": enforcement, "match": {"namespaces": [ns]},
                 "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("policy");
    Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy created");
}

fn privileged_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
                                 "securityContext": {"privileged": true}}]}
    }))
    .expect("pod")
}

/// A privileged Pod template.
fn template(restart: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": "owned"}},
        "spec": {"restartPolicy": restart,
                 "containers": [{"name": "c", "image": "registry.example.com/c:1",
                                 "securityContext": {"privileged": true}}]}
    })
}

/// The three kinds the operator judges through their owner, each with a privileged owner:
/// a ReplicaSet's Pod, a Deployment's ReplicaSet and a CronJob's Job. Returns (owner kind,
/// owner name, child name) for each; the owners are what the audit counts.
async fn seed_owned(client: &kube::Client, ns: &str) -> Vec<(&'static str, String, String)> {
    let selector = json!({"matchLabels": {"app": "owned"}});
    let pairs = [
        (
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
            json!({"apiVersion": "v1", "kind": "Pod", "spec": template("Always")["spec"]}),
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                   "spec": {"schedule": "0 0 1 1 *",
                            "jobTemplate": {"spec": {"template": template("Never")}}}}),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "spec": {"template": template("Never")}}),
        ),
    ];
    let mut seeded = Vec::new();
    for (mut owner, mut child) in pairs {
        let kind = ["ReplicaSet", "Deployment", "CronJob"]
            .into_iter()
            .find(|k| owner["kind"] == *k)
            .expect("an owner kind");
        let owner_name = format!("{}-owner", kind.to_lowercase());
        let child_name = format!(
            "{}-orphan",
            child["kind"].as_str().expect("kind").to_lowercase()
        );
        owner["metadata"] =
            json!({"name": owner_name, "namespace": ns, "labels": {"app": "owned"}});
        let created = apply(client, &owner, false).await.expect("owner created");
        child["metadata"] = json!({
            "name": child_name, "namespace": ns, "labels": {"app": "owned"},
            "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": kind,
                                 "name": owner_name, "uid": created["metadata"]["uid"],
                                 "controller": true}]
        });
        apply(client, &child, false)
            .await
            .expect("owned child created");
        seeded.push((kind, owner_name, child_name));
    }
    seeded
}

/// Deletes an owner (nothing garbage-collects its child here).
async fn delete_owner(client: &kube::Client, ns: &str, kind: &str, name: &str) {
    let params = DeleteParams::default();
    let result = match kind {
        "ReplicaSet" => Api::<ReplicaSet>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
        "Deployment" => Api::<Deployment>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
        _ => Api::<CronJob>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
    };
    result.expect("owner deleted");
}

/// A PolicyReport named like the operator's, without its label, with only its results.
fn legacy_report(namespace: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "kube-guardian", "namespace": namespace},
        "results": [{"source": "kube-guardian", "policy": "gone", "rule": "pss-privileged",
                     "result": "fail"}]
    }))
    .expect("report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_does_its_whole_job_with_only_the_charts_rbac() {
    let cp = ControlPlane::shared().await.expect("control plane");
    assert!(
        !cp.is_existing_cluster(),
        "this test calls a webhook on this machine's loopback: run it on the local control plane"
    );
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("CRDs");
    let admin = cp.client().expect("client");
    let release_ns = cp.create_namespace("kg-release").await.expect("namespace");
    let ns = cp.create_namespace("kg-work").await.expect("namespace");
    let release = unique_name("kg");
    let lease_name = format!("leaderElection.leaseName={LEASE}");
    let docs = render(&release, &release_ns, &["--set", &lease_name]);
    let account = install_identity(&admin, &docs).await;
    let user = format!("system:serviceaccount:{release_ns}:{account}");

    // A violation to find, before the webhook exists.
    Api::<Pod>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &privileged_pod("privileged"))
        .await
        .expect("pod");
    let audit = format!("{ns}-audit");
    create_policy(&admin, &audit, &ns, "Audit").await;
    // Children judged through their owner until it goes away (no garbage collector runs
    // here): then the operator GETs each child to judge it itself.
    let owned = seed_owned(&admin, &ns).await;
    // A report from before reports were labelled: the operator GETs it to tell whether it is
    // its own, then deletes it (no policy has results there).
    let legacy = cp.create_namespace("kg-legacy").await.expect("namespace");
    guardian_testenv::policy_reports(&admin, &legacy)
        .create(&PostParams::default(), &legacy_report(&legacy))
        .await
        .expect("legacy report");

    // The operator as the chart runs it, with the ServiceAccount's token as its only credential.
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    cp.write_kubeconfig_with_token(&token(&admin, &release_ns, &account).await, &kubeconfig)
        .expect("kubeconfig");
    let ca = Ca::new("chart rbac test CA").expect("CA");
    let pair = ca
        .server_cert("kube-guardian-webhook", &[])
        .expect("serving certificate");
    std::fs::write(dir.path().join("tls.crt"), &pair.cert_pem).expect("tls.crt");
    std::fs::write(dir.path().join("tls.key"), &pair.key_pem).expect("tls.key");
    let op = OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        &kubeconfig,
        cp.context_name(),
    )
    .name(POD)
    .webhook(dir.path(), free_addr().expect("port"))
    .leader_election(
        LEASE,
        &release_ns,
        Duration::from_secs(15),
        Duration::from_secs(10),
    )
    .log_level("info,guardian_operator=debug,kube_runtime=debug")
    // Paged initial lists (clusters before 1.34, or WatchList off) need `list` on top of the
    // `watch` that streaming lists need: this exercises both verbs.
    .arg("--initial-list=paged")
    .start(dir.path())
    .expect("the operator starts");

    // Reads: caches synced (workloads, namespaces, policies, exceptions). Lease: it leads.
    wait_for("readiness", &op, async || {
        (op.readyz()? == 200).then_some(())
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &release_ns);
    wait_for("the Lease to name it", &op, async || {
        let holder = leases.get_opt(LEASE).await.ok()??.spec?.holder_identity?;
        holder.starts_with("kg-rbac").then_some(())
    })
    .await;
    // Its candidate record: created and renewed by server-side apply (create, patch).
    let selector = guardian_cluster::lease::candidate_selector(LEASE);
    let candidate = wait_for("its candidate record", &op, async || {
        let records = leases
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
            .ok()?;
        let record = records.items.into_iter().next()?;
        let holder = record.spec.as_ref()?.holder_identity.clone()?;
        holder
            .starts_with("kg-rbac")
            .then_some(record.metadata.name?)
    })
    .await;
    assert_eq!(
        candidate,
        guardian_cluster::lease::candidate_name(LEASE, POD)
    );
    assert_ne!(candidate, format!("{LEASE}-candidate-{POD}"), "shortened");
    // Status (and the finalizer, and the last-good annotation: patches on the policy).
    let policies: Api<GuardianPolicy> = Api::all(admin.clone());
    wait_for("the policy's status", &op, async || {
        let policy = policies.get_opt(&audit).await.ok()??;
        let status = policy.status?;
        // The bare Pod and the three owners (their children are judged through them).
        (status.summary?.violations == 4).then_some(())
    })
    .await;
    // A PolicyReport (server-side apply creates it) and an Event about the policy.
    wait_for("the PolicyReport", &op, async || {
        guardian_testenv::policy_reports(&admin, &ns)
            .get_opt("kube-guardian")
            .await
            .ok()?
    })
    .await;
    let events: Api<Event> = Api::namespaced(admin.clone(), "default");
    wait_for("an Event about the policy", &op, async || {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(audit.as_str()))
    })
    .await;

    wait_for("the unlabelled report to be deleted", &op, async || {
        let report = guardian_testenv::policy_reports(&admin, &legacy)
            .get_opt("kube-guardian")
            .await
            .ok()?;
        report.is_none().then_some(())
    })
    .await;
    for (kind, owner, _) in &owned {
        delete_owner(&admin, &ns, kind, owner).await;
    }
    wait_for("the orphaned children in the report", &op, async || {
        let report = guardian_testenv::policy_reports(&admin, &ns)
            .get_opt("kube-guardian")
            .await
            .ok()??;
        let text = report.data.to_string();
        owned
            .iter()
            .all(|(_, _, child)| text.contains(&format!("\"{child}\"")))
            .then_some(())
    })
    .await;

    // Admission, through the API server, decided with what this identity could read.
    let hook = unique_name("kg-rbac");
    let url = format!("https://{}/validate", op.webhook_addr().expect("webhook"));
    let config = guardian_testenv::webhook_configuration(&hook, &url, &ca.pem(), &ns);
    let hooks: Api<ValidatingWebhookConfiguration> = Api::all(admin.clone());
    hooks
        .create(&PostParams::default(), &config)
        .await
        .expect("webhook");
    create_policy(&admin, &format!("{ns}-deny"), &ns, "Deny").await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    wait_for("a privileged Pod to be denied", &op, async || {
        match pods.create(&dry_run, &privileged_pod("denied")).await {
            Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("kube-guardian:") => {
                Some(())
            }
            _ => None,
        }
    })
    .await;
    let _ = hooks.delete(&hook, &DeleteParams::default()).await;

    // The finalizer: deleted policies' rows leave the report (deleted once empty), then the
    // policies go.
    let deny = format!("{ns}-deny");
    for name in [&deny, &audit] {
        policies
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete policy");
    }
    wait_for("the policies to be finalized", &op, async || {
        let gone = policies.get_opt(&audit).await.ok()?.is_none()
            && policies.get_opt(&deny).await.ok()?.is_none();
        gone.then_some(())
    })
    .await;
    wait_for("the empty PolicyReport to be deleted", &op, async || {
        let report = guardian_testenv::policy_reports(&admin, &ns)
            .get_opt("kube-guardian")
            .await
            .ok()?;
        report.is_none().then_some(())
    })
    .await;

    // Not one request was refused, start to finish.
    assert_not_refused(&op);
    assert!(
        op.metric("kube_guardian_reconciles_total").unwrap_or(0.0) >= 1.0,
        "{}",
        op.logs()
    );

    // What it cannot do. The positive controls prove the reviews ask about the right subject.
    for (verb, group, resource, namespace) in [
        ("list", "", "pods", None),
        (
            "patch",
            "guardian.kube-guardian.dev",
            "guardianpolicies/status",
            None,
        ),
        (
            "create",
            "wgpolicyk8s.io",
            "policyreports",
            Some(ns.as_str()),
        ),
        // The restore watch: without it a report deleted by hand stays deleted.
        ("watch", "wgpolicyk8s.io", "policyreports", None),
        ("get", "wgpolicyk8s.io", "policyreports", Some(ns.as_str())),
    ] {
        assert!(
            allowed(&admin, &user, verb, group, resource, namespace).await,
            "{verb} {resource}"
        );
    }
    for (verb, group, resource, namespace) in [
        ("get", "", "secrets", Some(release_ns.as_str())),
        ("list", "", "secrets", None),
        ("watch", "", "secrets", Some(ns.as_str())),
        ("get", "", "configmaps", Some(ns.as_str())),
        ("create", "", "pods", Some(ns.as_str())),
        ("delete", "", "pods", Some(ns.as_str())),
        ("update", "apps", "deployments", Some(ns.as_str())),
        ("patch", "apps", "deployments", Some(ns.as_str())),
        ("delete", "apps", "daemonsets", None),
        ("patch", "batch", "jobs", Some(ns.as_str())),
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
        (
            "create",
            "",
            "serviceaccounts/token",
            Some(release_ns.as_str()),
        ),
        // The Lease: only its own, by name, in the release namespace.
        ("create", "coordination.k8s.io", "leases", Some(ns.as_str())),
    ] {
        assert!(
            !allowed(&admin, &user, verb, group, resource, namespace).await,
            "the chart lets the operator {verb} {resource} in {namespace:?}"
        );
    }
    // Reads its Lease by name only: its own, not another in the same namespace.
    let get = ("get", "coordination.k8s.io", "leases");
    let own = allowed_named(&admin, &user, get, Some(&release_ns), Some(LEASE)).await;
    let other = allowed_named(&admin, &user, get, Some(&release_ns), Some("other")).await;
    assert!(own && !other, "get own Lease: {own}, another: {other}");

    // Writes: RBAC lets it create, patch and delete Leases in the release namespace (a candidate
    // record is named after its pod), and the chart's admission policy narrows that to its own.
    // An access review cannot see the policy: these are real writes with its token.
    let operator = sa_client(cp, &kubeconfig).await;
    lease_writes_are_narrowed(&admin, &operator, &release_ns, &ns, &candidate).await;
}

/// A client with the kubeconfig `path` (the ServiceAccount's token).
pub(crate) async fn sa_client(cp: &ControlPlane, path: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some(cp.context_name().to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

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
async fn lease_writes_are_narrowed(
    admin: &kube::Client,
    operator: &kube::Client,
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
    let unlabelled = format!("{LEASE}-candidate-nolabel");
    let created = leases.create(&post, &lease_doc(&unlabelled, None)).await;
    assert!(
        refused(&created),
        "an unlabelled candidate name: {created:?}"
    );
    let labelled = format!("{LEASE}-candidate-labelled");
    let label = guardian_cluster::lease::candidate_label(LEASE);
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
