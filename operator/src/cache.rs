//! Watch caches of the workload kinds and of namespace labels.
//!
//! Objects are kept as pruned JSON (no managedFields, no status, no last-applied annotation), the
//! form the engine reads, so evaluation needs no conversion. Objects owned by a controller (a
//! Deployment's ReplicaSets and Pods, a CronJob's Jobs) are not cached: their template is
//! evaluated on the owner, and skipping them keeps memory flat.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use futures::{Stream, StreamExt};
use guardian_core::engine::{Labels, NamespaceLabels, NamespaceMap};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::Value;

/// The workload kinds the rule library understands, with their API resources.
pub fn workload_resources() -> Vec<ApiResource> {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    vec![
        ApiResource::erase::<core::Pod>(&()),
        ApiResource::erase::<apps::Deployment>(&()),
        ApiResource::erase::<apps::StatefulSet>(&()),
        ApiResource::erase::<apps::DaemonSet>(&()),
        ApiResource::erase::<apps::ReplicaSet>(&()),
        ApiResource::erase::<batch::Job>(&()),
        ApiResource::erase::<batch::CronJob>(&()),
    ]
}

/// Identifies a cached object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// A change to the cache, for deciding which policies to re-evaluate.
#[derive(Debug)]
pub enum CacheChange {
    /// One object was added, changed or removed: its old and new forms.
    Object {
        old: Option<Arc<Value>>,
        new: Option<Arc<Value>>,
    },
    /// A kind was (re)listed: everything may have changed.
    Relisted,
}

/// The pruned objects of every workload kind.
#[derive(Debug, Default)]
pub struct WorkloadCache {
    objects: RwLock<HashMap<ObjectKey, Arc<Value>>>,
}

impl WorkloadCache {
    /// Every cached object (cheap: shares the values).
    pub fn snapshot(&self) -> Vec<Arc<Value>> {
        self.objects
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn apply(&self, key: ObjectKey, value: Option<Arc<Value>>) -> Option<Arc<Value>> {
        let Ok(mut map) = self.objects.write() else {
            return None;
        };
        match value {
            Some(v) => map.insert(key, v),
            None => map.remove(&key),
        }
    }

    fn replace_kind(&self, kind: &'static str, objects: Vec<(ObjectKey, Arc<Value>)>) {
        if let Ok(mut map) = self.objects.write() {
            map.retain(|k, _| k.kind != kind);
            map.extend(objects);
        }
    }
}

fn is_controlled(obj: &DynamicObject) -> bool {
    obj.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true))
}

/// The object as the engine reads it: with apiVersion and kind, without what no rule reads.
fn prune(mut obj: DynamicObject, ar: &ApiResource) -> Option<(ObjectKey, Arc<Value>)> {
    obj.metadata.managed_fields = None;
    if let Some(annotations) = obj.metadata.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    if let Some(data) = obj.data.as_object_mut() {
        data.remove("status");
    }
    let key = ObjectKey {
        kind: kind_name(&ar.kind),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
    };
    let mut value = serde_json::to_value(&obj).ok()?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        map.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    Some((key, Arc::new(value)))
}

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "Pod" => "Pod",
        "Deployment" => "Deployment",
        "StatefulSet" => "StatefulSet",
        "DaemonSet" => "DaemonSet",
        "ReplicaSet" => "ReplicaSet",
        "Job" => "Job",
        "CronJob" => "CronJob",
        _ => "Other",
    }
}

fn key_of(obj: &DynamicObject, ar: &ApiResource) -> ObjectKey {
    ObjectKey {
        kind: kind_name(&ar.kind),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
    }
}

/// Watches one workload kind into the cache; yields every change. Runs until the stream is dropped.
/// `synced` is called once per kind after its first complete list.
pub fn watch_kind(
    client: Client,
    ar: ApiResource,
    cache: Arc<WorkloadCache>,
    on_synced: impl Fn() + Send + 'static,
) -> impl Stream<Item = CacheChange> + Send {
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    // Small pages keep the initial list of a large cluster from spiking memory.
    let config = watcher::Config::default().page_size(250);
    let mut buffer: Vec<(ObjectKey, Arc<Value>)> = Vec::new();
    let mut synced_once = false;
    watcher::watcher(api, config)
        .default_backoff()
        .filter_map(move |event| {
            let change = match event {
                Ok(Event::Init) => {
                    buffer.clear();
                    None
                }
                Ok(Event::InitApply(obj)) => {
                    if !is_controlled(&obj)
                        && let Some(entry) = prune(obj, &ar)
                    {
                        buffer.push(entry);
                    }
                    None
                }
                Ok(Event::InitDone) => {
                    cache.replace_kind(kind_name(&ar.kind), std::mem::take(&mut buffer));
                    if !synced_once {
                        synced_once = true;
                        on_synced();
                    }
                    Some(CacheChange::Relisted)
                }
                Ok(Event::Apply(obj)) => {
                    if is_controlled(&obj) {
                        let old = cache.apply(key_of(&obj, &ar), None);
                        old.map(|old| CacheChange::Object {
                            old: Some(old),
                            new: None,
                        })
                    } else {
                        prune(obj, &ar).map(|(key, value)| {
                            let old = cache.apply(key, Some(value.clone()));
                            CacheChange::Object {
                                old,
                                new: Some(value),
                            }
                        })
                    }
                }
                Ok(Event::Delete(obj)) => {
                    let old = cache.apply(key_of(&obj, &ar), None);
                    old.map(|old| CacheChange::Object {
                        old: Some(old),
                        new: None,
                    })
                }
                Err(e) => {
                    // The watcher retries with backoff; a 410 Gone relists on its own.
                    tracing::warn!(kind = %ar.kind, error = %e, "workload watch error, retrying");
                    None
                }
            };
            std::future::ready(change)
        })
}

impl NamespaceLabels for NamespaceCache {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        self.labels.load().with_labels(namespace, check)
    }
}

/// Namespace labels, for policies with a namespaceSelector. Copy-on-write: namespaces change
/// rarely, and every reconcile and admission request reads a snapshot without copying.
#[derive(Debug, Default)]
pub struct NamespaceCache {
    labels: ArcSwap<NamespaceMap>,
}

impl NamespaceCache {
    /// The current labels, shared.
    pub fn snapshot(&self) -> Arc<NamespaceMap> {
        self.labels.load_full()
    }

    fn update(&self, change: impl Fn(&mut NamespaceMap) -> bool) -> bool {
        let mut next = NamespaceMap::clone(&self.labels.load());
        let changed = change(&mut next);
        if changed {
            self.labels.store(Arc::new(next));
        }
        changed
    }

    /// Watches namespaces; yields `()` whenever labels change.
    pub fn watch(
        self: Arc<Self>,
        client: Client,
        on_synced: impl Fn() + Send + 'static,
    ) -> impl Stream<Item = ()> + Send {
        let api: Api<Namespace> = Api::all(client);
        let mut buffer = HashMap::new();
        let mut synced_once = false;
        watcher::watcher(api, watcher::Config::default().page_size(500))
            .default_backoff()
            .filter_map(move |event| {
                let changed = match event {
                    Ok(Event::Init) => {
                        buffer.clear();
                        false
                    }
                    Ok(Event::InitApply(ns)) => {
                        buffer.insert(ns.name_any(), ns.metadata.labels.unwrap_or_default());
                        false
                    }
                    Ok(Event::InitDone) => {
                        self.labels
                            .store(Arc::new(NamespaceMap(std::mem::take(&mut buffer))));
                        if !synced_once {
                            synced_once = true;
                            on_synced();
                        }
                        true
                    }
                    Ok(Event::Apply(ns)) => {
                        let name = ns.name_any();
                        let labels: BTreeMap<String, String> =
                            ns.metadata.labels.unwrap_or_default();
                        self.update(|map| {
                            map.0.insert(name.clone(), labels.clone()).as_ref() != Some(&labels)
                        })
                    }
                    Ok(Event::Delete(ns)) => {
                        let name = ns.name_any();
                        self.update(|map| map.0.remove(&name).is_some())
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "namespace watch error, retrying");
                        false
                    }
                };
                std::future::ready(changed.then_some(()))
            })
    }
}
