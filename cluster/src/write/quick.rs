//! The console's quick actions, each one write without the editor: switch a policy's
//! enforcement, create an exception for a violation, extend or revoke an exception. Every one
//! is read fresh, dry-run, then written guarded by the resourceVersion it read.

use guardian_core::crd::Enforcement;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Preconditions};
use serde_json::{Value, json};

use super::{ObjectKey, WriteKind, classify, create, fetch, replace};
use crate::Error;

/// Sets `policy`'s enforcement; returns the new generation.
pub async fn set_enforcement(
    client: &Client,
    policy: &str,
    to: Enforcement,
) -> Result<Option<i64>, Error> {
    let key = ObjectKey::policy(policy);
    let mut fetched = fetch(client, &key).await?;
    fetched.editable["spec"]["enforcement"] = json!(to);
    let written = replace(client, &key, &fetched.editable, &fetched.resource_version).await?;
    Ok(written.metadata.generation)
}

/// What an exception made from a violation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewException {
    pub namespace: String,
    pub name: String,
    pub policy: String,
    /// The rule waived.
    pub rule: String,
    /// The workload it covers.
    pub kind: String,
    pub resource: String,
    pub owner: String,
    pub justification: String,
    pub expires_at: Timestamp,
}

impl NewException {
    pub fn key(&self) -> ObjectKey {
        ObjectKey::exception(&self.namespace, &self.name)
    }

    /// The GuardianException manifest.
    pub fn manifest(&self) -> Value {
        json!({
            "apiVersion": WriteKind::Exception.api_version(),
            "kind": WriteKind::Exception.kind(),
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "policy": self.policy,
                "rules": [self.rule],
                "resources": {"kinds": [self.kind], "names": [self.resource]},
                "owner": self.owner,
                "justification": self.justification,
                "expiresAt": self.expires_at.to_string(),
            }
        })
    }
}

/// Creates the exception (dry run first).
pub async fn create_exception(client: &Client, exception: &NewException) -> Result<(), Error> {
    create(client, &exception.key(), &exception.manifest()).await
}

/// Moves an exception's expiry to `expires_at`.
pub async fn extend_exception(
    client: &Client,
    key: &ObjectKey,
    expires_at: Timestamp,
) -> Result<(), Error> {
    let mut fetched = fetch(client, key).await?;
    fetched.editable["spec"]["expiresAt"] = json!(expires_at.to_string());
    replace(client, key, &fetched.editable, &fetched.resource_version).await?;
    Ok(())
}

/// Deletes an exception, guarded by the resourceVersion it was read at (dry run first).
pub async fn revoke_exception(client: &Client, key: &ObjectKey) -> Result<(), Error> {
    let fetched = fetch(client, key).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        key.namespace.as_deref().unwrap_or_default(),
        &key.kind.api_resource(),
    );
    let mut params = DeleteParams {
        dry_run: true,
        preconditions: Some(Preconditions {
            resource_version: Some(fetched.resource_version.clone()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(&key.name, &params)
        .await
        .map_err(|e| classify(key, "dry-running the deletion of", true, e))?;
    params.dry_run = false;
    api.delete(&key.name, &params)
        .await
        .map(|_| ())
        .map_err(|e| classify(key, "deleting", false, e))
}
