//! The demo's seed on a real control plane: what `make demo` puts into demo-a and demo-b is there
//! afterwards, read back through the API (not from the seed's own report). The seed data is
//! `examples/`, the same files the CLI's integration tests check.
//!
//! Each test starts its own local control plane (never an existing cluster: the seed creates fixed
//! namespaces such as `shop`), without kube-controller-manager: only stored objects are asserted.

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{self, DEMO_LABEL, Variant};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::ListParams;
use kube::{Api, Client, Resource};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh local control plane seeded with `variant`, or `None` when cluster tests are skipped.
async fn seeded(variant: Variant) -> Result<Option<(ControlPlane, Client)>, demo::Error> {
    if guardian_testenv::skip_cluster_tests()? {
        return Ok(None);
    }
    let cp = ControlPlane::builder()
        .use_existing_cluster(false)
        .start()
        .await?;
    demo::prepare(&cp, &demo::examples_dir(), variant).await?;
    let client = cp.client()?;
    Ok(Some((cp, client)))
}

/// `namespace/name` of every object of kind `K` in the cluster.
async fn names<K>(client: &Client) -> Result<Vec<String>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let list = Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .iter()
        .map(|o| {
            let meta = o.meta();
            match &meta.namespace {
                Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
                None => meta.name.clone().unwrap_or_default(),
            }
        })
        .collect())
}

fn contains(list: &[String], want: &str) -> bool {
    list.iter().any(|n| n == want)
}

/// Asserts that every `namespace/name` (or `name`) in `wants` exists as a `K`.
async fn assert_has<K>(client: &Client, wants: &[&str]) -> TestResult
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let found = names::<K>(client).await?;
    for want in wants {
        assert!(
            contains(&found, want),
            "{} {want} not in {found:?}",
            K::kind(&())
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_reference_seed_creates_namespaces_workloads_policies_and_exceptions() -> TestResult {
    let Some((_cp, client)) = seeded(Variant::Reference).await? else {
        return Ok(());
    };

    let namespaces = Api::<Namespace>::all(client.clone());
    for name in ["shop", "monitoring"] {
        let ns = namespaces.get(name).await?;
        let labels = ns.metadata.labels.unwrap_or_default();
        assert_eq!(
            labels.get("env").map(String::as_str),
            Some("prod"),
            "{name}"
        );
        assert_eq!(labels.get(DEMO_LABEL).map(String::as_str), Some("true"));
    }

    assert_has::<Deployment>(&client, &["shop/storefront", "shop/legacy-api"]).await?;
    assert_has::<StatefulSet>(&client, &["shop/cart-db"]).await?;
    assert_has::<DaemonSet>(&client, &["monitoring/node-agent"]).await?;
    assert_has::<CronJob>(&client, &["shop/nightly-report"]).await?;
    // No namespace in the file: applied to `default`, as kubectl would.
    assert_has::<Pod>(&client, &["default/debug-shell"]).await?;
    assert_has::<GuardianPolicy>(
        &client,
        &["restricted-security", "best-practices", "team-ownership"],
    )
    .await?;
    assert_has::<GuardianException>(&client, &["monitoring/legacy-node-agent"]).await?;

    // The operator writes PolicyReports: their CRD is installed with the project's.
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    assert!(
        crds.get_opt("policyreports.wgpolicyk8s.io")
            .await?
            .is_some()
    );

    // Seeding again is a no-op, not an error (the demo may be pointed at a seeded cluster).
    demo::seed(&client, &demo::examples_dir(), Variant::Reference).await?;
    Ok(())
}

#[tokio::test]
async fn the_drifted_seed_differs_from_the_reference() -> TestResult {
    let Some((_cp, client)) = seeded(Variant::Drifted).await? else {
        return Ok(());
    };

    let payments = Api::<Namespace>::all(client.clone())
        .get("payments")
        .await?;
    let labels = payments.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("env").map(String::as_str), Some("staging"));

    let deployments = names::<Deployment>(&client).await?;
    assert!(
        contains(&deployments, "payments/checkout"),
        "{deployments:?}"
    );
    assert!(contains(&deployments, "shop/legacy-api"), "{deployments:?}");

    let policies = names::<GuardianPolicy>(&client).await?;
    assert!(contains(&policies, "restricted-security"), "{policies:?}");
    assert!(!contains(&policies, "team-ownership"), "{policies:?}");
    let exceptions = names::<GuardianException>(&client).await?;
    assert!(exceptions.is_empty(), "{exceptions:?}");
    Ok(())
}
