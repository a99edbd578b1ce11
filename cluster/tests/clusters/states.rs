//! Each cluster state, made to happen on a real API server: rights missing for one kind, no CRDs,
//! rejected credentials, and a dead cluster next to a live one.

use std::collections::BTreeMap;
use std::time::Duration;

use guardian_cluster::{Access, ClusterOptions, ClusterSet, ClusterState, KindState, Target};
use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::CustomResourceExt;
use kube::api::{ObjectMeta, PostParams};

use crate::support::{create_pod, evaluates, is, options, targets, wait_for};

async fn shared() -> &'static ControlPlane {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    cp
}

fn kind_state<'a>(kinds: &'a [guardian_cluster::KindStatus], resource: &str) -> &'a KindState {
    &kinds
        .iter()
        .find(|k| k.resource == resource)
        .unwrap_or_else(|| panic!("{resource} is watched: {kinds:?}"))
        .state
}

fn rule(group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: ["get", "list", "watch"].map(str::to_owned).to_vec(),
        ..PolicyRule::default()
    }
}

/// Gives `user` read rights on everything kube-guardian watches except CronJobs.
async fn grant_all_but_cronjobs(cp: &ControlPlane, user: &str) {
    let client = cp.client().expect("admin client");
    let name = guardian_testenv::unique_name("reader");
    let role = ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![
            rule("", &["pods", "namespaces", "events"]),
            rule(
                "apps",
                &["deployments", "statefulsets", "daemonsets", "replicasets"],
            ),
            rule("batch", &["jobs"]),
            rule("guardian.kube-guardian.dev", &["*"]),
            rule("coordination.k8s.io", &["leases"]),
            rule("wgpolicyk8s.io", &["policyreports"]),
        ]),
        ..ClusterRole::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .expect("ClusterRole");
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name,
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: user.to_owned(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(client)
        .create(&PostParams::default(), &binding)
        .await
        .expect("ClusterRoleBinding");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_the_user_cannot_list_is_forbidden_and_hidden_while_the_others_show() {
    let cp = shared().await;
    let ns = cp.create_namespace("forbidden").await.expect("namespace");
    create_pod(cp, &ns, "visible", false).await;
    let user = guardian_testenv::unique_name("viewer");
    grant_all_but_cronjobs(cp, &user).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("viewer");
    cp.write_kubeconfig_for_user(&user, &[], &kubeconfig)
        .expect("kubeconfig");

    let set = ClusterSet::start(targets(&[&kubeconfig]), options());
    let mut rx = set.subscribe().remove(0);
    let snapshot = wait_for(&mut rx, "Forbidden with the Pod shown", |s| {
        is("Forbidden")(s) && evaluates(s, "Pod", &ns, "visible")
    })
    .await;
    let ClusterState::Forbidden { missing } = &snapshot.connection.state else {
        unreachable!()
    };
    // The verb the API server denied: against Kubernetes 1.34+ the initial list streams, as a
    // watch request (the user has neither right).
    assert_eq!(
        missing,
        &[Access {
            verb: "watch".into(),
            resource: "cronjobs.batch".into()
        }],
        "{:?}",
        snapshot.kinds
    );
    assert_eq!(
        kind_state(&snapshot.kinds, "cronjobs.batch"),
        &KindState::Forbidden {
            verb: "watch".into()
        }
    );
    for shown in ["pods", "deployments.apps", "jobs.batch", "namespaces"] {
        assert_eq!(
            kind_state(&snapshot.kinds, shown),
            &KindState::Synced,
            "{shown}"
        );
    }
    assert!(snapshot.connection.state.is_live());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_the_crds_is_no_crds_then_degraded_then_synced_as_they_come() {
    let cp = ControlPlane::builder()
        .context_name("bare")
        .use_existing_cluster(false)
        .start()
        .await
        .expect("the control plane starts");
    let set = ClusterSet::start(targets(&[cp.kubeconfig_path()]), options());
    let mut rx = set.subscribe().remove(0);
    let snapshot = wait_for(&mut rx, "NoCRDs", is("NoCRDs")).await;
    assert_eq!(snapshot.connection.state, ClusterState::NoCrds);
    assert_eq!(
        kind_state(
            &snapshot.kinds,
            "guardianpolicies.guardian.kube-guardian.dev"
        ),
        &KindState::NotInstalled
    );
    assert_eq!(kind_state(&snapshot.kinds, "pods"), &KindState::Synced);

    // The GuardianPolicy CRD alone: the exceptions' watch still fails, and is named.
    let client = cp.client().expect("admin client");
    let crds = Api::<CustomResourceDefinition>::all(client);
    crds.create(&PostParams::default(), &GuardianPolicy::crd())
        .await
        .expect("the GuardianPolicy CRD");
    let degraded = wait_for(&mut rx, "Degraded", is("Degraded")).await;
    let ClusterState::Degraded { failing } = &degraded.connection.state else {
        unreachable!()
    };
    assert_eq!(
        failing
            .iter()
            .map(|f| f.resource.as_str())
            .collect::<Vec<_>>(),
        ["guardianexceptions.guardian.kube-guardian.dev"]
    );
    // And with every CRD the same task reaches Synced, nothing restarted.
    cp.install_crds().await.expect("CRDs");
    wait_for(&mut rx, "Synced", is("Synced")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_and_a_bad_token_are_unauthorized() {
    let cp = shared().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let expired = dir.path().join("expired");
    cp.write_kubeconfig_with_expired_certificate("admin", &["system:masters"], &expired)
        .expect("kubeconfig with an expired certificate");
    let bad_token = dir.path().join("bad-token");
    cp.write_kubeconfig_with_token("not-a-valid-token", &bad_token)
        .expect("kubeconfig with a bad token");

    let set = ClusterSet::start(targets(&[&expired]), options());
    let other = ClusterSet::start(targets(&[&bad_token]), options());
    for (what, mut rx) in [
        ("expired certificate", set.subscribe().remove(0)),
        ("bad token", other.subscribe().remove(0)),
    ] {
        let snapshot = wait_for(&mut rx, what, is("Unauthorized")).await;
        let ClusterState::Unauthorized { detail } = &snapshot.connection.state else {
            unreachable!()
        };
        assert!(detail.starts_with("401"), "{what}: {detail}");
        assert!(
            snapshot.connection.next_retry.is_some(),
            "{what}: {:?}",
            snapshot.connection
        );
        assert_eq!(
            snapshot.connection.last_synced, None,
            "{what}: never synced"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_never_answers_does_not_delay_a_live_one() {
    let cp = shared().await;
    // Accepts connections and never answers: the TLS handshake hangs until the connect timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let silent = Target::from_config(
        "silent",
        kube::Config::new(format!("https://127.0.0.1:{port}").parse().expect("URL")),
    );
    let mut live = targets(&[cp.kubeconfig_path()]);
    // Far longer than the live cluster needs to sync, even on a loaded machine.
    let timeout = Duration::from_secs(300);
    let options = ClusterOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        ..options()
    };
    live.insert(0, silent);
    let set = ClusterSet::start(live, options);
    let mut receivers = set.subscribe();
    let mut live_rx = receivers.remove(1);
    wait_for(&mut live_rx, "the live cluster synced", is("Synced")).await;
    assert_eq!(
        receivers[0].borrow().connection.state,
        ClusterState::Connecting,
        "the silent cluster is still waiting for its handshake"
    );
    // `settled` returns what there is at its timeout, the silent cluster still connecting.
    let settled = set.settled(Duration::from_millis(200)).await;
    assert_eq!(
        settled
            .iter()
            .map(|s| (s.context.as_str(), s.connection.state.name()))
            .collect::<BTreeMap<_, _>>(),
        BTreeMap::from([("silent", "Connecting"), (cp.context_name(), "Synced")])
    );
    held.abort();
}
