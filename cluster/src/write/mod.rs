//! Writes to GuardianPolicies and GuardianExceptions, for the console's edit flow and quick
//! actions: read a fresh copy, hand out what a person should edit (no managedFields, no
//! status), and replace it guarded by the resourceVersion it was read at, after a server-side
//! dry run so the schema, CEL validations and admission webhooks speak before anything changes.
//! Access reviews ([`access`]) and following the operator's verdict ([`follow`]) live beside.

pub mod access;
pub mod follow;
pub mod gitops;
pub mod quick;

use std::fmt;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::{Client, Resource};
use serde_json::Value;

use crate::Error;

/// The field manager of the console's writes (`kubectl get -o yaml --show-managed-fields`).
pub const FIELD_MANAGER: &str = "kube-guardian-console";

/// The kinds the console writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WriteKind {
    /// Cluster-scoped.
    Policy,
    /// Namespaced.
    Exception,
}

impl WriteKind {
    pub fn kind(self) -> &'static str {
        match self {
            WriteKind::Policy => "GuardianPolicy",
            WriteKind::Exception => "GuardianException",
        }
    }

    /// The resource's plural, as RBAC names it.
    pub fn plural(self) -> &'static str {
        match self {
            WriteKind::Policy => "guardianpolicies",
            WriteKind::Exception => "guardianexceptions",
        }
    }

    pub fn api_resource(self) -> ApiResource {
        match self {
            WriteKind::Policy => ApiResource::erase::<GuardianPolicy>(&()),
            WriteKind::Exception => ApiResource::erase::<GuardianException>(&()),
        }
    }

    /// `group/version`, as manifests spell it.
    pub fn api_version(self) -> String {
        GuardianPolicy::api_version(&()).into_owned()
    }
}

/// One object the console reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: WriteKind,
    /// Exceptions only.
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind.kind(), self.name),
            None => write!(f, "{} {}", self.kind.kind(), self.name),
        }
    }
}

impl ObjectKey {
    pub fn policy(name: impl Into<String>) -> ObjectKey {
        ObjectKey {
            kind: WriteKind::Policy,
            namespace: None,
            name: name.into(),
        }
    }

    pub fn exception(namespace: impl Into<String>, name: impl Into<String>) -> ObjectKey {
        ObjectKey {
            kind: WriteKind::Exception,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    fn api(&self, client: Client) -> Api<DynamicObject> {
        let resource = self.kind.api_resource();
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        }
    }
}

/// An object as read from the server: what to edit, and the resourceVersion a write of the
/// edit is guarded by.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub key: ObjectKey,
    /// Without managedFields, status and resourceVersion (the server's, not the user's).
    pub editable: Value,
    pub resource_version: String,
    /// The status, for the temp file's comment header.
    pub status: Option<Value>,
    pub generation: Option<i64>,
}

/// Reads a fresh copy of `key` (never the watch cache: an edit starts from the server's latest).
pub async fn fetch(client: &Client, key: &ObjectKey) -> Result<Fetched, Error> {
    let object = key
        .api(client.clone())
        .get(&key.name)
        .await
        .map_err(|e| classify(key, "reading", false, e))?;
    let resource_version = object.metadata.resource_version.clone().unwrap_or_default();
    let generation = object.metadata.generation;
    let mut value = serde_json::to_value(&object).map_err(|e| Error::Write {
        what: "encoding",
        object: key.to_string(),
        source: Box::new(kube::Error::SerdeError(e)),
    })?;
    let status = value.as_object_mut().and_then(|o| o.remove("status"));
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        metadata.remove("resourceVersion");
    }
    Ok(Fetched {
        key: key.clone(),
        editable: value,
        resource_version,
        status,
        generation,
    })
}

/// Replaces `key` with `edited`, guarded by `resource_version`: first a server-side dry run
/// (`dryRun=All`), then the write. Returns the object as written (its new generation).
pub async fn replace(
    client: &Client,
    key: &ObjectKey,
    edited: &Value,
    resource_version: &str,
) -> Result<DynamicObject, Error> {
    let mut object = encode(key, edited)?;
    object.metadata.resource_version = Some(resource_version.to_owned());
    object.metadata.managed_fields = None;
    let api = key.api(client.clone());
    let what = ["dry-running the update of", "updating"];
    dry_run_then(key, what, |dry_run| {
        let (api, name, object) = (api.clone(), key.name.clone(), object.clone());
        async move { api.replace(&name, &post(dry_run), &object).await }
    })
    .await
}

/// Creates `object` (an exception made by a quick action), dry run first.
pub async fn create(client: &Client, key: &ObjectKey, object: &Value) -> Result<(), Error> {
    let object = encode(key, object)?;
    let api = key.api(client.clone());
    let what = ["dry-running the creation of", "creating"];
    dry_run_then(key, what, |dry_run| {
        let (api, object) = (api.clone(), object.clone());
        async move { api.create(&post(dry_run), &object).await.map(|_| ()) }
    })
    .await
}

/// `value` as the dynamic object kube-rs writes.
fn encode(key: &ObjectKey, value: &Value) -> Result<DynamicObject, Error> {
    serde_json::from_value(value.clone()).map_err(|e| Error::Write {
        what: "encoding",
        object: key.to_string(),
        source: Box::new(kube::Error::SerdeError(e)),
    })
}

fn post(dry_run: bool) -> PostParams {
    PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    }
}

/// `write` as a server-side dry run (the schema, CEL validations and webhooks answer, nothing
/// changes), then for real; `what` names both steps in errors.
async fn dry_run_then<T, F>(
    key: &ObjectKey,
    what: [&'static str; 2],
    write: impl Fn(bool) -> F,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, kube::Error>>,
{
    write(true)
        .await
        .map_err(|e| classify(key, what[0], true, e))?;
    write(false)
        .await
        .map_err(|e| classify(key, what[1], false, e))
}

/// 409 AlreadyExists is a taken name, 404 a deleted object, another 409 a conflict (re-read and
/// edit again); 400, 403 and 422 are the server's verdict on the object (schema, CEL, webhooks,
/// RBAC); anything else did not reach a verdict.
fn classify(key: &ObjectKey, what: &'static str, dry_run: bool, error: kube::Error) -> Error {
    let object = key.to_string();
    match &error {
        kube::Error::Api(status) if status.is_already_exists() => Error::AlreadyExists {
            object,
            source: Box::new(error),
        },
        kube::Error::Api(status) if status.is_not_found() => Error::NotFound {
            object,
            source: Box::new(error),
        },
        kube::Error::Api(status) if status.is_conflict() => Error::Conflict {
            object,
            source: Box::new(error),
        },
        kube::Error::Api(status) if matches!(status.code, 400 | 403 | 422) => Error::Rejected {
            object,
            dry_run,
            message: status.message.clone(),
            source: Box::new(error),
        },
        _ => Error::Write {
            what,
            object,
            source: Box::new(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(reason: &str, code: u16) -> kube::Error {
        kube::Error::Api(Status::failure("refused", reason).with_code(code).boxed())
    }

    #[test]
    fn a_taken_name_and_a_deleted_object_are_told_apart_from_a_conflict() {
        let key = ObjectKey::exception("shop", "web");
        let taken = classify(&key, "creating", false, api("AlreadyExists", 409));
        assert!(matches!(taken, Error::AlreadyExists { .. }), "{taken:?}");
        assert!(taken.to_string().contains("exists already"), "{taken}");
        let gone = classify(&key, "deleting", false, api("NotFound", 404));
        assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
        assert!(!gone.to_string().contains("connection"), "{gone}");
        let conflict = classify(&key, "updating", false, api("Conflict", 409));
        assert!(matches!(conflict, Error::Conflict { .. }), "{conflict:?}");
    }
}
