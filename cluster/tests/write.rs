//! The write layer against a real API server: a fresh read without managedFields and status,
//! the server-side dry run speaking for the CRD schema, 409 on a stale resourceVersion, the
//! access review, and following a policy to the operator's verdict.

use std::time::Duration;

use guardian_cluster::Error;
use guardian_cluster::write::access::can_i;
use guardian_cluster::write::follow::{Verdict, follow};
use guardian_cluster::write::{ObjectKey, WriteKind, fetch, replace};
use guardian_core::crd::GuardianPolicy;
use guardian_testenv::{ControlPlane, unique_name};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn plane() -> &'static ControlPlane {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    cp
}

/// Creates an Audit policy with one rule; returns its name.
async fn policy(client: &kube::Client) -> String {
    let name = unique_name("edit");
    let policy: GuardianPolicy = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": {"name": name},
        "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("a policy");
    Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    name
}

#[tokio::test]
async fn an_edit_is_read_fresh_and_replaced_after_a_dry_run() {
    let cp = plane().await;
    let client = cp.client().expect("admin client");
    let name = policy(&client).await;
    let key = ObjectKey::policy(&name);
    let fetched = fetch(&client, &key).await.expect("read");
    let metadata = &fetched.editable["metadata"];
    assert!(metadata.get("managedFields").is_none(), "{metadata}");
    assert!(metadata.get("resourceVersion").is_none(), "{metadata}");
    assert!(fetched.editable.get("status").is_none());
    assert!(!fetched.resource_version.is_empty());

    let mut edited = fetched.editable.clone();
    edited["spec"]["enforcement"] = json!("Deny");
    let written = replace(&client, &key, &edited, &fetched.resource_version)
        .await
        .expect("the edit is written");
    assert!(written.metadata.generation > fetched.generation);
    let now = Api::<GuardianPolicy>::all(client)
        .get(&name)
        .await
        .expect("read back");
    assert_eq!(
        now.spec.enforcement,
        guardian_core::crd::Enforcement::Deny,
        "the server holds the edit"
    );
}

#[tokio::test]
async fn the_dry_run_rejects_what_the_crd_schema_rejects_and_nothing_changes() {
    let cp = plane().await;
    let client = cp.client().expect("admin client");
    let name = policy(&client).await;
    let key = ObjectKey::policy(&name);
    let fetched = fetch(&client, &key).await.expect("read");
    // The CRD's CEL validation: a policy needs a profile or a rule.
    let mut edited = fetched.editable.clone();
    edited["spec"]["rules"] = json!([]);
    let error = replace(&client, &key, &edited, &fetched.resource_version)
        .await
        .expect_err("the schema rejects a policy without rules");
    let Error::Rejected {
        dry_run, message, ..
    } = &error
    else {
        panic!("not a rejection: {error:?}");
    };
    assert!(*dry_run, "the dry run speaks first: {error}");
    assert!(
        message.contains("at least one profile or one rule"),
        "{message}"
    );
    assert!(
        error.to_string().contains("dry run, nothing changed"),
        "{error}"
    );
    let after = fetch(&client, &key).await.expect("read again");
    assert_eq!(
        after.resource_version, fetched.resource_version,
        "unchanged"
    );
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let cp = plane().await;
    let client = cp.client().expect("admin client");
    let name = policy(&client).await;
    let key = ObjectKey::policy(&name);
    let stale = fetch(&client, &key).await.expect("read");
    // Someone else changes it meanwhile.
    Api::<GuardianPolicy>::all(client.clone())
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"enforcement": "Warn"}})),
        )
        .await
        .expect("the other writer");
    let mut edited = stale.editable.clone();
    edited["spec"]["enforcement"] = json!("Deny");
    let error = replace(&client, &key, &edited, &stale.resource_version)
        .await
        .expect_err("a stale write fails");
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    assert!(
        error.to_string().contains("changed on the server"),
        "{error}"
    );
    let now = Api::<GuardianPolicy>::all(client)
        .get(&name)
        .await
        .expect("read back");
    assert_eq!(now.spec.enforcement, guardian_core::crd::Enforcement::Warn);
}

#[tokio::test]
async fn the_access_review_says_who_may_update() {
    let cp = plane().await;
    let admin = cp.client().expect("admin client");
    let viewer = cp
        .client_for_user(&unique_name("viewer"), &[])
        .await
        .expect("a user without roles");
    let allowed = can_i(&admin, "update", WriteKind::Policy, None)
        .await
        .expect("review");
    assert!(allowed.allowed, "{allowed:?}");
    let denied = can_i(&viewer, "update", WriteKind::Policy, None)
        .await
        .expect("review");
    assert!(!denied.allowed, "{denied:?}");
    let why = denied.explain("update", WriteKind::Policy, None);
    assert!(
        why.contains("no permission to update guardianpolicies.guardian.kube-guardian.dev"),
        "{why}"
    );
    let exceptions = can_i(&viewer, "create", WriteKind::Exception, Some("default"))
        .await
        .expect("review");
    assert!(!exceptions.allowed, "{exceptions:?}");
}

#[tokio::test]
async fn following_reports_the_operators_verdict_or_its_absence() {
    let cp = plane().await;
    let client = cp.client().expect("admin client");
    let name = policy(&client).await;
    let api = Api::<GuardianPolicy>::all(client.clone());
    let generation = api
        .get(&name)
        .await
        .expect("read")
        .metadata
        .generation
        .expect("a generation");
    // Nothing reconciles it here.
    let verdict = follow(&client, &name, generation, Duration::from_secs(2))
        .await
        .expect("follows");
    assert_eq!(verdict, Verdict::NoOperator);
    assert!(verdict.describe(&name, "c").contains("no operator"));

    // What an operator writes: observedGeneration and a Degraded condition.
    let status = json!({"status": {
        "observedGeneration": generation,
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "Invalid", "message": "rule x: bad CEL",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Degraded", "status": "True", "reason": "Invalid", "message": "rule x: bad CEL",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]
    }});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("status written");
    let verdict = follow(&client, &name, generation, Duration::from_secs(60))
        .await
        .expect("follows");
    assert_eq!(verdict, Verdict::Degraded("rule x: bad CEL".to_owned()));

    let ready = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}
    ]}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(ready))
        .await
        .expect("status written");
    let verdict = follow(&client, &name, generation, Duration::from_secs(60))
        .await
        .expect("follows");
    assert_eq!(verdict, Verdict::Ready);
}

#[tokio::test]
async fn quick_actions_switch_enforcement_and_create_extend_and_revoke_an_exception() {
    use guardian_cluster::write::quick::{
        NewException, create_exception, extend_exception, revoke_exception, set_enforcement,
    };
    use guardian_core::crd::{Enforcement, GuardianException};
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    let cp = plane().await;
    let client = cp.client().expect("admin client");
    let name = policy(&client).await;
    let generation = set_enforcement(&client, &name, Enforcement::Deny)
        .await
        .expect("switched");
    assert_eq!(generation, Some(2));
    let now = Api::<GuardianPolicy>::all(client.clone())
        .get(&name)
        .await
        .expect("read");
    assert_eq!(now.spec.enforcement, Enforcement::Deny);

    let ns = cp.create_namespace("quick").await.expect("namespace");
    let expires = Timestamp::now() + SignedDuration::from_hours(24 * 90);
    let exception = NewException {
        namespace: ns.clone(),
        name: "root-pss-privileged".to_owned(),
        policy: name.clone(),
        rule: "pss-privileged".to_owned(),
        kind: "Pod".to_owned(),
        resource: "root".to_owned(),
        owner: "team-shop".to_owned(),
        justification: "migrating".to_owned(),
        expires_at: expires,
    };
    create_exception(&client, &exception)
        .await
        .expect("created");
    let api = Api::<GuardianException>::namespaced(client.clone(), &ns);
    let made = api.get("root-pss-privileged").await.expect("read");
    assert_eq!(made.spec.owner, "team-shop");
    assert_eq!(made.spec.resources.names, ["root"]);

    // The schema speaks in the dry run: an empty owner is refused, nothing created.
    let bad = NewException {
        name: "bad".to_owned(),
        owner: String::new(),
        ..exception.clone()
    };
    let error = create_exception(&client, &bad).await.expect_err("no owner");
    assert!(
        matches!(error, Error::Rejected { dry_run: true, .. }),
        "{error:?}"
    );
    assert!(api.get_opt("bad").await.expect("read").is_none());

    let later = expires + SignedDuration::from_hours(24);
    extend_exception(&client, &exception.key(), later)
        .await
        .expect("extended");
    let extended = api.get("root-pss-privileged").await.expect("read");
    assert_eq!(extended.spec.expires_at.0, later);

    revoke_exception(&client, &exception.key())
        .await
        .expect("revoked");
    assert!(
        api.get_opt("root-pss-privileged")
            .await
            .expect("read")
            .is_none()
    );
}
