//! Who can reach the control plane: RBAC for users and ServiceAccounts, the kubeconfig file, and
//! the existing-cluster mode. One shared control plane for the whole file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::{ControlPlane, Error};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The status code and message of a failed call, or a description of what happened instead.
fn denial<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => (0, format!("unexpected error: {other}")),
        Ok(value) => (0, format!("unexpectedly allowed: {value:?}")),
    }
}

#[tokio::test]
async fn a_user_without_permissions_is_forbidden_until_granted() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    cp.install_crds().await?;
    let ns = cp.create_namespace("rbac-user").await?;
    let alice = cp.client_for_user("alice", &["team-a"]).await?;

    let (code, message) = denial(
        Api::<ConfigMap>::namespaced(alice.clone(), &ns)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"User "alice" cannot list resource "configmaps""#),
        "{message}"
    );

    let (code, message) = denial(
        Api::<GuardianPolicy>::all(alice.clone())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(r#"cannot list resource "guardianpolicies""#),
        "{message}"
    );

    // Granting the group (not the user) proves the certificate's O= became a group.
    grant_configmap_read(
        cp.client()?,
        &ns,
        Subject {
            kind: "Group".into(),
            name: "team-a".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Subject::default()
        },
    )
    .await?;
    eventually_allowed(&alice, &ns).await
}

#[tokio::test]
async fn a_service_account_token_authenticates_and_is_subject_to_rbac() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let ns = cp.create_namespace("rbac-sa").await?;
    let operator = cp
        .client_for_service_account(&ns, "guardian-operator")
        .await?;

    let (code, message) = denial(
        Api::<ConfigMap>::namespaced(operator.clone(), &ns)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(code, 403, "{message}");
    let user = format!("system:serviceaccount:{ns}:guardian-operator");
    assert!(message.contains(&user), "{message}");

    grant_configmap_read(
        cp.client()?,
        &ns,
        Subject {
            kind: "ServiceAccount".into(),
            name: "guardian-operator".into(),
            namespace: Some(ns.clone()),
            ..Subject::default()
        },
    )
    .await?;
    eventually_allowed(&operator, &ns).await
}

#[tokio::test]
async fn a_client_for_an_existing_service_account_fails_on_a_missing_one() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let ns = cp.create_namespace("rbac-sa-missing").await?;
    let missing = cp
        .client_for_existing_service_account(&ns, "no-such-account")
        .await;
    assert!(missing.is_err(), "a client for a missing ServiceAccount");
    let accounts = Api::<ServiceAccount>::namespaced(cp.client()?, &ns);
    assert!(
        accounts.get_opt("no-such-account").await?.is_none(),
        "the ServiceAccount was created"
    );
    Ok(())
}

async fn grant_configmap_read(
    admin: Client,
    ns: &str,
    subject: Subject,
) -> Result<(), kube::Error> {
    let meta = ObjectMeta {
        name: Some("configmap-reader".into()),
        namespace: Some(ns.into()),
        ..ObjectMeta::default()
    };
    let role = Role {
        metadata: meta.clone(),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["list".into(), "get".into()],
            ..PolicyRule::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &role)
        .await?;
    let binding = RoleBinding {
        metadata: meta,
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "configmap-reader".into(),
        },
        subjects: Some(vec![subject]),
    };
    Api::<RoleBinding>::namespaced(admin, ns)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// The RBAC authorizer reads from an informer cache, so a new binding applies a moment later.
async fn eventually_allowed(client: &Client, ns: &str) -> TestResult {
    let api = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match api.list(&ListParams::default()).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 403 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[tokio::test]
async fn the_kubeconfig_file_works_for_kube_clients_and_kubectl() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let path = cp.kubeconfig_path();
    let from_file = kube::config::Kubeconfig::read_from(path)?;
    assert_eq!(
        from_file.current_context.as_deref(),
        Some(cp.context_name())
    );
    let config = kube::Config::from_custom_kubeconfig(from_file, &Default::default()).await?;
    let client = Client::try_from(config)?;
    let version = client.apiserver_version().await?;
    assert_eq!(version.major, "1");

    // kubectl is optional on a developer machine; when present, it must accept the file.
    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(path)
        .args(["get", "namespace", "default", "-o", "name"])
        .output();
    match output {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "kubectl failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(stdout.trim(), "namespace/default");
        }
        Err(e) => eprintln!("kubectl not run ({e}); checked the kubeconfig with kube only"),
    }
    Ok(())
}

#[tokio::test]
async fn an_existing_cluster_is_used_through_its_kubeconfig() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let mut existing = ControlPlane::builder()
        .existing_cluster(cp.kubeconfig_path(), Some(cp.context_name().to_owned()))
        .start()
        .await?;
    assert!(existing.is_existing_cluster());
    assert_eq!(existing.kubeconfig_path(), cp.kubeconfig_path());

    // Objects made through one are seen through the other: it is the same cluster.
    let ns = existing.create_namespace("existing").await?;
    let seen = Api::<Namespace>::all(cp.client()?).get(&ns).await?;
    let labels = seen.metadata.labels.unwrap_or_else(BTreeMap::new);
    assert_eq!(
        labels
            .get(guardian_testenv::NAMESPACE_LABEL)
            .map(String::as_str),
        Some("true")
    );

    // Impersonation stands in for minted certificates there.
    let bob = existing.client_for_user("bob", &[]).await?;
    let (code, message) = denial(
        Api::<ConfigMap>::namespaced(bob, &ns)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(message.contains(r#"User "bob""#), "{message}");

    // Process control is refused with a clear error.
    let err = existing
        .restart_apiserver()
        .await
        .err()
        .ok_or("restart_apiserver succeeded")?;
    assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("not supported against an existing cluster"),
        "{err}"
    );
    assert!(matches!(
        existing.stop_etcd(),
        Err(Error::NotSupported { .. })
    ));
    Ok(())
}
