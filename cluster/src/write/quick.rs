//! The console's quick actions, each one write without the editor: switch a policy's
//! enforcement, create an exception for a violation, extend or revoke an exception. Every one
//! is read fresh, dry-run, then written guarded by the resourceVersion it read.

use guardian_core::crd::Enforcement;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Preconditions};
use serde_json::{Value, json};

use std::future::Future;

use super::{ObjectKey, WriteKind, create, dry_run_then, fetch, replace};
use crate::Error;

/// Read-modify-write attempts of one quick action.
const ATTEMPTS: u32 = 5;

/// Runs `write` (a fresh read, then a write guarded by its resourceVersion) again while it
/// meets a conflict, at most [`ATTEMPTS`] times. A quick action changes one field whatever the
/// rest holds, so a conflict (the operator wrote status or a finalizer meanwhile: both move the
/// resourceVersion) only means "read again"; unlike an edit, nothing the user typed is stale.
async fn retry_on_conflict<T, F, Fut>(mut write: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Err(Error::Conflict { object, .. }) if attempt < ATTEMPTS => {
                tracing::debug!(%object, attempt, "conflict; reading it again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Sets `policy`'s enforcement; returns the new generation.
pub async fn set_enforcement(
    client: &Client,
    policy: &str,
    to: Enforcement,
) -> Result<Option<i64>, Error> {
    let key = ObjectKey::policy(policy);
    retry_on_conflict(|| async {
        let mut fetched = fetch(client, &key).await?;
        fetched.editable["spec"]["enforcement"] = json!(to);
        let written = replace(client, &key, &fetched.editable, &fetched.resource_version).await?;
        Ok(written.metadata.generation)
    })
    .await
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
    retry_on_conflict(|| async {
        let mut fetched = fetch(client, key).await?;
        fetched.editable["spec"]["expiresAt"] = json!(expires_at.to_string());
        replace(client, key, &fetched.editable, &fetched.resource_version).await?;
        Ok(())
    })
    .await
}

/// Deletes an exception, guarded by the resourceVersion it was read at (dry run first).
pub async fn revoke_exception(client: &Client, key: &ObjectKey) -> Result<(), Error> {
    retry_on_conflict(|| revoke_once(client, key)).await
}

async fn revoke_once(client: &Client, key: &ObjectKey) -> Result<(), Error> {
    let fetched = fetch(client, key).await?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        key.namespace.as_deref().unwrap_or_default(),
        &key.kind.api_resource(),
    );
    let what = ["dry-running the deletion of", "deleting"];
    dry_run_then(key, what, |dry_run| {
        let params = DeleteParams {
            dry_run,
            preconditions: Some(Preconditions {
                resource_version: Some(fetched.resource_version.clone()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let (api, name) = (api.clone(), key.name.clone());
        async move { api.delete(&name, &params).await.map(|_| ()) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use kube::core::Status;

    use super::*;

    fn failure(code: u16) -> Error {
        let source = Box::new(kube::Error::Api(
            Status::failure("the object has been modified", "Conflict")
                .with_code(code)
                .boxed(),
        ));
        if code == 409 {
            Error::Conflict {
                object: "GuardianPolicy p".to_owned(),
                source,
            }
        } else {
            Error::Write {
                what: "updating",
                object: "GuardianPolicy p".to_owned(),
                source,
            }
        }
    }

    #[tokio::test]
    async fn a_conflict_is_read_and_written_again() {
        let calls = AtomicU32::new(0);
        let written = retry_on_conflict(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(failure(409)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(written.expect("the third attempt writes"), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_failures_and_endless_conflicts_are_returned() {
        let calls = AtomicU32::new(0);
        let failed = retry_on_conflict(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(failure(500))
        })
        .await;
        assert!(matches!(failed, Err(Error::Write { .. })), "{failed:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");

        let calls = AtomicU32::new(0);
        let failed = retry_on_conflict(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(failure(409))
        })
        .await;
        assert!(matches!(failed, Err(Error::Conflict { .. })), "{failed:?}");
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);
    }
}
