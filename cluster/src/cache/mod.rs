//! Watch caches of the workload kinds and of namespace labels.
//!
//! Objects are kept pruned (no managedFields, no status, no last-applied annotation) as compact
//! JSON text, compressed (module `packed`) and parsed again for each evaluation: a parsed
//! `serde_json::Value` allocates a B-tree node of about 600 bytes per JSON object however
//! small, which made a 1.5 KB Pod cost ~15 KB of memory; parsing one back takes microseconds.
//! Objects controlled by a cached workload (a Deployment's ReplicaSets and Pods, a CronJob's
//! Jobs) keep no body: their template is evaluated on the owner, and skipping them keeps memory
//! flat. Every other object is evaluated itself, whatever it claims as owner (module `owners`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;

use futures::{Stream, StreamExt};
use guardian_core::engine::{FailClosed, Labels, NamespaceLabels, NamespaceMap};
use guardian_core::workload::WorkloadKind;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

mod owners;
mod packed;
use owners::{Entry, Index, controller_of};
pub use packed::{CachedObject, Packer};

/// How long the children of a deleted owner wait before they are fetched to be evaluated
/// themselves: the garbage collector usually deletes them first, and then nothing is fetched.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// The workload kinds the rule library understands, with their API resources.
pub fn workload_resources() -> Vec<ApiResource> {
    WorkloadKind::ALL
        .into_iter()
        .map(|k| ApiResource {
            group: k.group().to_owned(),
            version: k.version().to_owned(),
            api_version: k.api_version().to_owned(),
            kind: k.kind().to_owned(),
            plural: k.plural().to_owned(),
        })
        .collect()
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
        old: Option<Arc<CachedObject>>,
        new: Option<Arc<CachedObject>>,
    },
    /// A kind was (re)listed: everything may have changed.
    Relisted,
    /// Objects lost the owner they were evaluated through: fetch them after [`ORPHAN_GRACE`]
    /// ([`WorkloadCache::fetch_orphans`]).
    Orphaned,
}

/// The pruned objects of every workload kind.
#[derive(Debug, Default)]
pub struct WorkloadCache {
    index: RwLock<Index>,
}

impl WorkloadCache {
    /// Every object evaluated itself (cheap: shares the values).
    pub fn snapshot(&self) -> Vec<Arc<CachedObject>> {
        self.index
            .read()
            .map(|i| i.objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys of one namespace's objects evaluated themselves (a namespace's labels changed:
    /// what its policies select there may have). Keys, not bodies: whoever re-evaluates them
    /// later reads the body current then ([`get`](Self::get)), never an older one.
    pub fn namespace_keys(&self, namespace: &str) -> Vec<ObjectKey> {
        self.index
            .read()
            .map(|i| {
                i.objects
                    .keys()
                    .filter(|key| key.namespace == namespace)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds `obj` as a watch would (tests of the layers above, which have no watch).
    #[cfg(test)]
    pub(crate) fn insert_for_tests(&self, obj: DynamicObject, ar: &ApiResource) {
        let mut packer = Packer::default();
        if let Some(entry) = entry(obj, ar, Some(&mut packer)) {
            self.update(|index, changes| index.apply(entry, changes));
        }
    }

    /// The object as cached now, if it is evaluated itself.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<CachedObject>> {
        self.index.read().ok()?.objects.get(key).cloned()
    }

    fn update(&self, change: impl FnOnce(&mut Index, &mut Vec<CacheChange>)) -> Vec<CacheChange> {
        let mut changes = Vec::new();
        if let Ok(mut index) = self.index.write() {
            change(&mut index, &mut changes);
            if index.take_new_orphans() {
                changes.push(CacheChange::Orphaned);
            }
        }
        changes
    }

    /// Whether an object with this controller is evaluated through it (so need not be packed).
    fn parks(&self, obj: &DynamicObject, ar: &ApiResource) -> bool {
        controller_of(obj, &ar.kind)
            .is_some_and(|owner| self.index.read().is_ok_and(|i| i.parks(&owner)))
    }

    /// Fetches the objects whose owner went away and evaluates them themselves (or parks them
    /// again, should they have a known owner now). Those deleted or changed meanwhile (their own
    /// watch event came first) are left as their watch put them. Returns how many were added.
    pub async fn fetch_orphans(&self, client: &Client) -> usize {
        self.fetch_orphan_keys(client).await.len()
    }

    /// [`fetch_orphans`](Self::fetch_orphans), with the keys of the objects added: a caller that
    /// keeps results per object re-evaluates those objects only (reading their current body).
    pub async fn fetch_orphan_keys(&self, client: &Client) -> Vec<ObjectKey> {
        let mut added = Vec::new();
        let keys = self
            .index
            .read()
            .map(|i| i.orphan_keys())
            .unwrap_or_default();
        let resources = workload_resources();
        let mut packer = Packer::default();
        for key in keys {
            let Some(ar) = resources.iter().find(|ar| kind_name(&ar.kind) == key.kind) else {
                continue;
            };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &key.namespace, ar);
            let fetched = match api.get_opt(&key.name).await {
                Ok(obj) => obj,
                Err(e) => {
                    tracing::warn!(kind = key.kind, namespace = %key.namespace, name = %key.name, error = %e, "fetching an object whose owner went away failed; it is evaluated after the next relist");
                    continue;
                }
            };
            let Ok(mut index) = self.index.write() else {
                return added;
            };
            if !index.is_orphan(&key) {
                continue;
            }
            match fetched.and_then(|obj| entry(obj, ar, Some(&mut packer))) {
                Some(entry) => {
                    index.apply(entry, &mut Vec::new());
                    added.push(key);
                }
                None => index.forget_orphan(&key),
            }
        }
        added
    }
}

/// The object as the index takes it: packed unless `packer` is `None` (expected to be parked).
fn entry(obj: DynamicObject, ar: &ApiResource, packer: Option<&mut Packer>) -> Option<Entry> {
    let controller = controller_of(&obj, &ar.kind);
    let uid = obj.metadata.uid.as_deref().unwrap_or_default().into();
    let key = key_of(&obj, ar);
    let body = match packer {
        Some(packer) => Some(prune(obj, ar, packer)?.1),
        None => None,
    };
    Some(Entry {
        key,
        uid,
        controller,
        body,
    })
}

/// The object as the engine reads it: with apiVersion and kind, without what no rule reads.
fn prune(
    mut obj: DynamicObject,
    ar: &ApiResource,
    packer: &mut Packer,
) -> Option<(ObjectKey, Arc<CachedObject>)> {
    obj.metadata.managed_fields = None;
    if let Some(annotations) = obj.metadata.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
    if let Some(data) = obj.data.as_object_mut() {
        data.remove("status");
    }
    let key = key_of(&obj, ar);
    // Serialized straight from the typed object (no intermediate Value: the initial list of a
    // big cluster would allocate a tree per object only to drop it).
    obj.types = Some(kube::core::TypeMeta {
        api_version: ar.api_version.clone(),
        kind: ar.kind.clone(),
    });
    let json = serde_json::to_vec(&obj).ok()?;
    Some((key, Arc::new(packer.pack(&json))))
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

/// What a watch reports to its owner, besides the cache changes it yields.
#[derive(Debug)]
pub enum WatchSignal<'a> {
    /// The initial list is complete (every relist too).
    Listed,
    /// The watch failed; the watcher retries with backoff (a 410 Gone relists on its own).
    Failed(&'a kube::runtime::watcher::Error),
}

/// How a workload watch gets its initial state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialList {
    /// One watch that streams every object as an event (Kubernetes 1.34+, where the WatchList
    /// feature is on by default; 1.33 shipped it off and answers such watches with 422). Objects
    /// arrive one at a time, so a big cluster's list never sits in memory as pages of full objects.
    Streaming,
    /// Paged list calls, then a watch: what every Kubernetes version serves.
    Paged,
}

impl InitialList {
    /// Streaming from Kubernetes 1.34 on, paged before it or when the version is unknown.
    pub async fn for_server(client: &Client) -> InitialList {
        match client.apiserver_version().await {
            Ok(info) => Self::for_version(&info.major, &info.minor),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the API server version; using paged lists");
                InitialList::Paged
            }
        }
    }

    fn for_version(major: &str, minor: &str) -> InitialList {
        // Managed offerings report minors like "34+".
        let number = |s: &str| {
            s.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse::<u32>()
                .ok()
        };
        match (number(major), number(minor)) {
            (Some(1), Some(minor)) if minor >= 34 => InitialList::Streaming,
            (Some(major), Some(_)) if major > 1 => InitialList::Streaming,
            _ => InitialList::Paged,
        }
    }

    fn config(self) -> watcher::Config {
        match self {
            InitialList::Streaming => watcher::Config::default().streaming_lists(),
            // Small pages keep the initial list of a large cluster from spiking memory.
            InitialList::Paged => watcher::Config::default().page_size(250),
        }
    }
}

/// Watches one workload kind into the cache; yields every change. Runs until the stream is dropped.
/// `signal` hears of every complete list and every failure.
pub fn watch_kind(
    client: Client,
    ar: ApiResource,
    initial_list: InitialList,
    cache: Arc<WorkloadCache>,
    mut signal: impl FnMut(WatchSignal<'_>) + Send + 'static,
) -> impl Stream<Item = CacheChange> + Send {
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let config = initial_list.config();
    let mut buffer: Vec<Entry> = Vec::new();
    let mut packer = Packer::default();
    watcher::watcher(api, config)
        .default_backoff()
        .map(move |event| match event {
            Ok(Event::Init) => {
                buffer.clear();
                packer.relist();
                Vec::new()
            }
            Ok(Event::InitApply(obj)) => {
                let packer = (!cache.parks(&obj, &ar)).then_some(&mut packer);
                buffer.extend(entry(obj, &ar, packer));
                Vec::new()
            }
            Ok(Event::InitDone) => {
                let entries = std::mem::take(&mut buffer);
                let changes = cache.update(|index, changes| {
                    index.replace_kind(kind_name(&ar.kind), entries, changes);
                });
                signal(WatchSignal::Listed);
                changes
            }
            Ok(Event::Apply(obj)) => {
                let packer = (!cache.parks(&obj, &ar)).then_some(&mut packer);
                match entry(obj, &ar, packer) {
                    Some(entry) => cache.update(|index, changes| index.apply(entry, changes)),
                    None => Vec::new(),
                }
            }
            Ok(Event::Delete(obj)) => {
                let key = key_of(&obj, &ar);
                cache.update(|index, changes| index.delete(&key, changes))
            }
            Err(e) => {
                signal(WatchSignal::Failed(&e));
                Vec::new()
            }
        })
        .flat_map(futures::stream::iter)
}

/// The webhook's view: `None` for a namespace not in the cache, which admission waits for
/// briefly before failing closed (the operator's `webhook::namespaces`).
impl NamespaceLabels for NamespaceCache {
    fn with_labels(
        &self,
        namespace: &str,
        check: &mut dyn FnMut(&dyn Labels) -> bool,
    ) -> Option<bool> {
        self.labels.load().0.with_labels(namespace, check)
    }
}

/// Namespace labels as the audit reads them: a namespace not in the cache matches every
/// namespaceSelector, as at admission. The audit meets one when an object's watch event comes
/// before its namespace's, or a namespace's deletion before its objects'. Failing closed, the
/// object is judged by every policy that could select it until the namespace event (which
/// re-evaluates the namespace's objects) says which; and its deletion re-evaluates every policy
/// that may have reported it, where name-only matching would leave a row behind until the next
/// resync.
pub type AuditNamespaces = FailClosed<NamespaceMap>;

/// Namespace labels, for policies with a namespaceSelector. Copy-on-write: namespaces change
/// rarely, and every reconcile and admission request reads a snapshot without copying.
#[derive(Debug, Default)]
pub struct NamespaceCache {
    labels: ArcSwap<AuditNamespaces>,
}

impl NamespaceCache {
    /// The current labels, shared, as the audit reads them.
    pub fn snapshot(&self) -> Arc<AuditNamespaces> {
        self.labels.load_full()
    }

    fn update(&self, change: impl Fn(&mut NamespaceMap) -> bool) -> bool {
        let mut next = NamespaceMap::clone(&self.labels.load().0);
        let changed = change(&mut next);
        if changed {
            self.labels.store(Arc::new(FailClosed(next)));
        }
        changed
    }

    /// Watches namespaces; yields `()` whenever labels change. `signal` hears of every complete
    /// list and every failure.
    pub fn watch(
        self: Arc<Self>,
        client: Client,
        signal: impl FnMut(WatchSignal<'_>) + Send + 'static,
    ) -> impl Stream<Item = ()> + Send {
        self.watch_names(client, signal).map(|_| ())
    }

    /// [`watch`](Self::watch), saying which namespace's labels changed (added, changed or
    /// deleted), or `None` after a complete list (any may have).
    pub fn watch_names(
        self: Arc<Self>,
        client: Client,
        mut signal: impl FnMut(WatchSignal<'_>) + Send + 'static,
    ) -> impl Stream<Item = Option<String>> + Send {
        let api: Api<Namespace> = Api::all(client);
        let mut buffer = HashMap::new();
        watcher::watcher(api, watcher::Config::default().page_size(500))
            .default_backoff()
            .filter_map(move |event| {
                let changed = match event {
                    Ok(Event::Init) => {
                        buffer.clear();
                        None
                    }
                    Ok(Event::InitApply(ns)) => {
                        buffer.insert(ns.name_any(), ns.metadata.labels.unwrap_or_default());
                        None
                    }
                    Ok(Event::InitDone) => {
                        self.labels
                            .store(Arc::new(FailClosed(NamespaceMap(std::mem::take(
                                &mut buffer,
                            )))));
                        signal(WatchSignal::Listed);
                        Some(None)
                    }
                    Ok(Event::Apply(ns)) => {
                        let name = ns.name_any();
                        let labels: BTreeMap<String, String> =
                            ns.metadata.labels.unwrap_or_default();
                        self.update(|map| {
                            map.0.insert(name.clone(), labels.clone()).as_ref() != Some(&labels)
                        })
                        .then_some(Some(name))
                    }
                    Ok(Event::Delete(ns)) => {
                        let name = ns.name_any();
                        self.update(|map| map.0.remove(&name).is_some())
                            .then_some(Some(name))
                    }
                    Err(e) => {
                        signal(WatchSignal::Failed(&e));
                        None
                    }
                };
                std::future::ready(changed)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_core_kind_table_names_the_resources_k8s_openapi_knows() {
        use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
        let expected = [
            ApiResource::erase::<core::Pod>(&()),
            ApiResource::erase::<apps::Deployment>(&()),
            ApiResource::erase::<apps::StatefulSet>(&()),
            ApiResource::erase::<apps::DaemonSet>(&()),
            ApiResource::erase::<apps::ReplicaSet>(&()),
            ApiResource::erase::<batch::Job>(&()),
            ApiResource::erase::<batch::CronJob>(&()),
        ];
        assert_eq!(workload_resources(), expected);
        for (kind, resource) in WorkloadKind::ALL.into_iter().zip(&expected) {
            assert_eq!(
                WorkloadKind::of(&resource.api_version, &resource.kind),
                Some(kind)
            );
        }
    }

    #[test]
    fn the_audit_judges_an_unknown_namespace_by_every_selector_as_admission_does() {
        let cache = NamespaceCache::default();
        cache.update(|map| {
            map.0.insert(
                "known".to_owned(),
                BTreeMap::from([("env".to_owned(), "dev".to_owned())]),
            );
            true
        });
        let audit = cache.snapshot();
        // A selector the known namespace's labels do not match.
        assert_eq!(audit.with_labels("known", &mut |_| false), Some(false));
        assert_eq!(
            audit.with_labels("not-seen-yet", &mut |_| false),
            Some(true),
            "fail-closed: every namespaceSelector matches"
        );
        // The webhook's view still says "unknown", so that it can wait for the namespace first.
        assert_eq!(cache.with_labels("not-seen-yet", &mut |_| false), None);
    }

    #[test]
    fn streaming_lists_only_where_the_server_has_them_on() {
        assert_eq!(InitialList::for_version("1", "33"), InitialList::Paged);
        assert_eq!(InitialList::for_version("1", "34"), InitialList::Streaming);
        assert_eq!(InitialList::for_version("1", "37+"), InitialList::Streaming);
        assert_eq!(InitialList::for_version("1", ""), InitialList::Paged);
        assert_eq!(InitialList::for_version("2", "0"), InitialList::Streaming);
    }

    #[test]
    fn pruned_objects_round_trip_without_what_no_rule_reads() {
        let ar = workload_resources().remove(0);
        let obj: DynamicObject = serde_json::from_value(json!({
            "metadata": {
                "name": "web", "namespace": "shop",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "team": "a"
                }
            },
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": {"phase": "Running"}
        }))
        .expect("object");
        let (key, cached) = prune(obj, &ar, &mut Packer::default()).expect("pruned");
        assert_eq!(
            (key.kind, &*key.namespace, &*key.name),
            ("Pod", "shop", "web")
        );
        let value = cached.value().expect("the cache's own JSON parses");
        assert_eq!(value["apiVersion"], "v1");
        assert_eq!(value["kind"], "Pod");
        assert_eq!(value["metadata"]["annotations"], json!({"team": "a"}));
        assert_eq!(value["spec"]["containers"][0]["image"], "nginx:1.27");
        assert!(value.get("status").is_none());
        assert!(value["metadata"].get("managedFields").is_none());
    }
}
