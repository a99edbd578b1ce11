//! The project's CRDs on a real apiserver: installed, established, validated at admission, and
//! usable through create / get / list / watch. One shared control plane for the whole file.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use guardian_core::crd::{Enforcement, GuardianPolicy, GuardianPolicySpec, Profile};
use guardian_testenv::{ControlPlane, unique_name};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The shared control plane with the CRDs installed, or `None` when cluster tests are skipped.
async fn cluster() -> Result<Option<&'static ControlPlane>, guardian_testenv::Error> {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(None);
    };
    cp.install_crds().await?;
    Ok(Some(cp))
}

#[tokio::test]
async fn crds_install_and_become_established() -> TestResult {
    let Some(cp) = cluster().await? else {
        return Ok(());
    };
    let crds: Api<CustomResourceDefinition> = Api::all(cp.client()?);
    for want in guardian_core::crd::all_crds() {
        let name = want.metadata.name.clone().unwrap_or_default();
        let got = crds.get(&name).await?;
        let conditions = got.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True"),
            "{name}: {conditions:?}"
        );
    }
    // A second install on a live cluster is a no-op, not an error.
    cp.install_crds().await?;
    Ok(())
}

/// Creates a GuardianPolicy from raw JSON, so that invalid specs reach the apiserver.
async fn create_raw_policy(
    client: Client,
    spec: serde_json::Value,
) -> Result<DynamicObject, kube::Error> {
    let resource = ApiResource::erase::<GuardianPolicy>(&());
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": { "name": unique_name("invalid") },
        "spec": spec,
    }))
    .map_err(kube::Error::SerdeError)?;
    api.create(&PostParams::default(), &object).await
}

/// The apiserver's rejection message, or a description of what happened instead.
fn rejection(result: Result<DynamicObject, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message),
        Err(other) => (0, format!("unexpected error: {other}")),
        Ok(created) => (0, format!("unexpectedly accepted: {created:?}")),
    }
}

#[tokio::test]
async fn invalid_policies_are_rejected_by_the_schema() -> TestResult {
    let Some(cp) = cluster().await? else {
        return Ok(());
    };
    let result = create_raw_policy(
        cp.client()?,
        json!({ "enforcement": "Block", "profiles": ["pss-baseline"] }),
    )
    .await;
    let (code, message) = rejection(result);
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("spec.enforcement"), "{message}");
    assert!(
        message.contains(r#"Unsupported value: "Block""#),
        "{message}"
    );
    assert!(message.contains(r#""Audit", "Warn", "Deny""#), "{message}");
    Ok(())
}

#[tokio::test]
async fn invalid_policies_are_rejected_by_cel_validations() -> TestResult {
    let Some(cp) = cluster().await? else {
        return Ok(());
    };
    let both_id_and_cel = json!({
        "rules": [{
            "id": "privileged-container",
            "cel": { "name": "custom", "expression": "true", "message": "never fails" }
        }]
    });
    let (code, message) = rejection(create_raw_policy(cp.client()?, both_id_and_cel).await);
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("a rule sets exactly one of id (a built-in rule) or cel (a custom rule)"),
        "{message}"
    );

    let (code, message) =
        rejection(create_raw_policy(cp.client()?, json!({ "enforcement": "Deny" })).await);
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("a policy needs at least one profile or one rule"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_policy_can_be_created_read_listed_and_watched() -> TestResult {
    let Some(cp) = cluster().await? else {
        return Ok(());
    };
    let api: Api<GuardianPolicy> = Api::all(cp.client()?);
    let name = unique_name("crud");
    let policy = GuardianPolicy::new(
        &name,
        GuardianPolicySpec {
            description: Some("created by a test".into()),
            profiles: vec![Profile::PssBaseline],
            ..GuardianPolicySpec::default()
        },
    );
    let created = api.create(&PostParams::default(), &policy).await?;
    assert_eq!(created.spec, policy.spec);

    let fetched = api.get(&name).await?;
    assert_eq!(fetched.spec.enforcement, Enforcement::Audit);
    let listed = api.list(&ListParams::default()).await?;
    assert!(
        listed
            .items
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(name.as_str()))
    );

    // Watch from the version we created, then change the policy: the watch must see the update.
    let version = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(60);
    let mut events = api.watch(&params, &version).await?.boxed();
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "enforcement": "Deny" } })),
    )
    .await?;
    let seen = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.try_next().await? {
            if let WatchEvent::Modified(p) = event
                && p.spec.enforcement == Enforcement::Deny
            {
                return Ok::<_, kube::Error>(Some(p));
            }
        }
        Ok(None)
    })
    .await??;
    let updated = seen.ok_or("the watch ended without the update")?;
    assert_eq!(updated.metadata.name.as_deref(), Some(name.as_str()));

    api.delete(&name, &Default::default()).await?;
    Ok(())
}
