//! Server-side apply of arbitrary objects, the way `kubectl apply --server-side` does it: the
//! object's kind is looked up by discovery to learn its resource name and scope.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, Scope, pinned_kind};
use kube::{Api, Client};

use super::documents::Document;
use super::error::{Error, Result};
use super::plan::NamespacePlan;

/// Server-side apply field manager of the demo seed.
pub const FIELD_MANAGER: &str = "guardian-demo";

/// An object the seed applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub kind: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Applies objects to one cluster, remembering each kind's discovery answer (one request per
/// kind, not per object).
pub struct Applier {
    client: Client,
    kinds: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>,
    params: PatchParams,
}

// By hand: kube's Client has no Debug.
impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Applier {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            kinds: HashMap::new(),
            // Forced: re-seeding a cluster takes the fields back from whoever changed them.
            params: PatchParams::apply(FIELD_MANAGER).force(),
        }
    }

    /// Creates or updates the namespace with its labels.
    pub async fn apply_namespace(&self, plan: &NamespacePlan) -> Result<()> {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(plan.name.clone()),
                labels: Some(plan.labels.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.client.clone())
            .patch(&plan.name, &self.params, &Patch::Apply(&namespace))
            .await
            .map_err(|source| Error::Api {
                what: format!("applying namespace {}", plan.name),
                source,
            })?;
        Ok(())
    }

    /// Applies one object. A namespaced object without a namespace goes to `default`, as kubectl
    /// would put it; a cluster-scoped one has any namespace removed.
    pub async fn apply(&mut self, document: &Document) -> Result<Applied> {
        let mut object = document.object.clone();
        let what = || {
            format!(
                "applying {} {} from {}",
                document.kind(),
                document.name(),
                document.source.display()
            )
        };
        let gvk = &document.gvk;
        let (resource, scope) = self.discover(gvk).await.map_err(|source| Error::Api {
            what: format!("{} (discovering {gvk:?})", what()),
            source,
        })?;
        let api: Api<DynamicObject> = match scope {
            Scope::Namespaced => {
                let namespace = object
                    .metadata
                    .namespace
                    .get_or_insert_with(|| "default".to_owned());
                Api::namespaced_with(self.client.clone(), namespace, &resource)
            }
            Scope::Cluster => {
                object.metadata.namespace = None;
                Api::all_with(self.client.clone(), &resource)
            }
        };
        let name = document.name().to_owned();
        api.patch(&name, &self.params, &Patch::Apply(&object))
            .await
            .map_err(|source| Error::Api {
                what: what(),
                source,
            })?;
        Ok(Applied {
            kind: gvk.kind.clone(),
            namespace: object.metadata.namespace,
            name,
        })
    }

    async fn discover(&mut self, gvk: &GroupVersionKind) -> kube::Result<(ApiResource, Scope)> {
        if let Some((resource, caps)) = self.kinds.get(gvk) {
            return Ok((resource.clone(), caps.scope.clone()));
        }
        let found = pinned_kind(&self.client, gvk).await?;
        let answer = (found.0.clone(), found.1.scope.clone());
        self.kinds.insert(gvk.clone(), found);
        Ok(answer)
    }
}
