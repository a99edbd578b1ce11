//! The chart's RBAC proven, not assumed: its ServiceAccount, ClusterRole, Role and bindings are
//! applied to the real API server, a token is minted for the ServiceAccount (TokenRequest), and
//! the real `kube-guardian operator` runs with that identity alone (there is no kubelet to run
//! the pod). It must reconcile, write status, reports, events and its Lease, serve admission and
//! run its finalizer without a single Forbidden; access reviews show what it cannot do, and real
//! writes with its token that the chart's Lease admission policy refuses the Leases not its own.

use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::{OperatorProcess, free_addr};
use guardian_testenv::{Ca, ControlPlane, pods, unique_name};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, PostParams};

use crate::rbac_access::access_reviews_show_what_it_cannot_do;
use crate::rbac_identity::{assert_not_refused, install_identity, wait_for};
use crate::rbac_leases::lease_writes_are_narrowed;
use crate::rbac_objects::{create_policy, delete_owner, legacy_report, seed_owned};
use crate::support::render;

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
        .create(&PostParams::default(), &pods::privileged("privileged"))
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
    let token = cp
        .service_account_token(&release_ns, &account)
        .await
        .expect("a token");
    cp.write_kubeconfig_with_token(&token, &kubeconfig)
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
        let holder = guardian_testenv::lease::holder(&leases, LEASE).await?;
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
    let ns_pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    wait_for("a privileged Pod to be denied", &op, async || {
        let created = ns_pods.create(&dry_run, &pods::privileged("denied")).await;
        match created {
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

    access_reviews_show_what_it_cannot_do(&admin, &user, LEASE, &release_ns, &ns).await;

    // Writes: RBAC lets it create, patch and delete Leases in the release namespace (a candidate
    // record is named after its pod), and the chart's admission policy narrows that to its own.
    // An access review cannot see the policy: these are real writes with its token.
    let operator = cp
        .client_for_existing_service_account(&release_ns, &account)
        .await
        .expect("a client as the operator's ServiceAccount");
    lease_writes_are_narrowed(&admin, &operator, LEASE, &release_ns, &ns, &candidate).await;
}
