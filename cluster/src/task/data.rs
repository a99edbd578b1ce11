//! What one cluster's task keeps across connections: the watched resources, the caches and maps
//! they fill, and how a snapshot is built from them.

use std::sync::Arc;

use futures::StreamExt;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::watcher;
use kube::{Client, Resource as _};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use super::leases::Leases;
use super::memo::{Basis, Memo};
use crate::cache::{NamespaceCache, WorkloadCache, workload_resources};
use crate::classify::Failure;
use crate::evaluate::{Compiled, compile};
use crate::kinds::{Kinds, POLICIES};
use crate::set::ClusterOptions;
use crate::snapshot::{ClusterSnapshot, KindState, same};
use crate::store::PolicyStore;
use crate::watches::{Objects, Update, WatchEvents, values, watch_objects};

/// Starts the watch of one resource read whole, reporting as the given index.
type SpawnObjects =
    Box<dyn Fn(&Client, usize, UnboundedSender<Update>, &mut JoinSet<()>) + Send + Sync>;

/// One watched resource and where its objects go.
pub enum Resource {
    /// A workload kind, into the workload cache.
    Workload(ApiResource),
    /// Namespaces, into the namespace cache (their labels).
    Namespaces,
    /// Objects read whole, into a map of their own: how to watch them, and how many there are.
    Objects {
        spawn: SpawnObjects,
        count: Box<dyn Fn() -> usize + Send + Sync>,
    },
}

/// The caches and maps of one cluster, kept when its connection is lost (the stale data shown).
pub struct Data {
    pub resources: Vec<Resource>,
    pub kinds: Kinds,
    pub workloads: Arc<WorkloadCache>,
    pub namespaces: Arc<NamespaceCache>,
    /// Compiles the policies as the operator does (keeping each one's last good generation).
    store: PolicyStore,
    policies: Objects<GuardianPolicy>,
    exceptions: Objects<GuardianException>,
    /// The election Lease and its candidate records: refreshed without evaluating.
    leases: Leases,
    /// Warning Events about GuardianPolicies, read whole: the console shows them (few, and
    /// they expire).
    warnings: Objects<Event>,
    /// Where PolicyReports and Warning Events are in `resources`: they are counted.
    reports: usize,
    events: usize,
    /// The compiled policies and what they were compiled from (compiled again when it changes).
    compiled: Option<CompiledFrom>,
    /// Each object's evaluation, kept while its inputs stay the same.
    memo: Memo,
    /// The first expiry, after the instant of the last evaluation, among the exceptions it
    /// applied: that evaluation holds until then.
    until: Option<Timestamp>,
    /// Whether objects changed since the last snapshot (the evaluation is redone only then).
    dirty: bool,
    /// How many times the objects were evaluated (what a Lease renewal must not add to).
    evaluations_run: u64,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("kinds", &self.kinds)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

/// Resource names as `kubectl auth can-i` takes them: `plural.group`, the plural alone for core.
fn resource_name(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    }
}

fn objects<K>() -> Objects<K> {
    Objects::default()
}

/// A resource followed by the watcher `events(client)` starts, into `map`.
pub(super) fn whole<K>(
    map: &Objects<K>,
    events: impl Fn(Client) -> WatchEvents<K> + Send + Sync + 'static,
) -> Resource
where
    K: kube::Resource + Send + Sync + 'static,
{
    let watched = Arc::clone(map);
    let counted = Arc::clone(map);
    Resource::Objects {
        spawn: Box::new(move |client, index, updates, watches| {
            watches.spawn(watch_objects(
                events(client.clone()),
                Arc::clone(&watched),
                index,
                updates,
            ));
        }),
        count: Box::new(move || counted.read().map_or(0, |m| m.len())),
    }
}

/// The compiled set and the very objects (by identity) it was compiled from.
struct CompiledFrom {
    compiled: Compiled,
    policies: Vec<Arc<GuardianPolicy>>,
    exceptions: Vec<Arc<GuardianException>>,
}

impl Data {
    pub fn new(options: &ClusterOptions) -> Data {
        let policies = objects::<GuardianPolicy>();
        let exceptions = objects::<GuardianException>();
        let reports = objects::<PartialObjectMeta<DynamicObject>>();
        let warnings = objects::<Event>();
        let report_resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
            "policyreports",
        );

        let mut names = Vec::new();
        let mut resources = Vec::new();
        for ar in workload_resources() {
            names.push(resource_name(&ar.plural, &ar.group));
            resources.push(Resource::Workload(ar));
        }
        names.push("namespaces".to_owned());
        resources.push(Resource::Namespaces);
        names.push(POLICIES.to_owned());
        resources.push(whole(&policies, |client| {
            watcher::watcher(Api::all(client), watcher::Config::default()).boxed()
        }));
        names.push(resource_name(
            &GuardianException::plural(&()),
            &GuardianException::group(&()),
        ));
        resources.push(whole(&exceptions, |client| {
            watcher::watcher(Api::all(client), watcher::Config::default()).boxed()
        }));
        let mut leases = Leases::default();
        leases.watch(&options.lease_name, &mut names, &mut resources);
        // PolicyReports are counted, not read: their metadata is enough.
        let reports_at = resources.len();
        names.push(resource_name(
            &report_resource.plural,
            &report_resource.group,
        ));
        resources.push(whole(&reports, move |client| {
            let api = Api::<PartialObjectMeta<DynamicObject>>::all_with(client, &report_resource);
            watcher::watcher(api, watcher::Config::default().page_size(500)).boxed()
        }));
        let events_at = resources.len();
        names.push("events".to_owned());
        resources.push(whole(&warnings, |client| {
            let config = watcher::Config::default()
                .fields("type=Warning,involvedObject.kind=GuardianPolicy");
            watcher::watcher(Api::<Event>::all(client), config).boxed()
        }));
        Data {
            resources,
            kinds: Kinds::new(names),
            workloads: Arc::default(),
            namespaces: Arc::default(),
            store: PolicyStore::new(),
            policies,
            exceptions,
            leases,
            warnings,
            reports: reports_at,
            events: events_at,
            compiled: None,
            memo: Memo::default(),
            until: None,
            dirty: true,
            evaluations_run: 0,
        }
    }

    /// When the last evaluation stops holding because an exception it applied expires (its
    /// findings turn into violations then, with no watch event to say so); `None` while an
    /// evaluation is due anyway. Read from that evaluation, not from the clock: once passed, it
    /// stays due until the next evaluation, however late the task comes around to it.
    pub fn expiry_due(&self) -> Option<Timestamp> {
        self.until.filter(|_| !self.dirty)
    }

    /// Objects changed: the next snapshot evaluates what changed.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// Takes a watch's update: a list or change marks the kind listed (recovered) and refreshes
    /// what it feeds ([`updated`](Self::updated)). A failure is handed back: the task tells a
    /// lost connection from one kind's error.
    pub fn apply_watch(&mut self, update: Update) -> Option<(usize, Failure)> {
        match update {
            Update::Listed(i) => {
                self.kinds.listed(i);
                self.updated(i);
            }
            Update::Changed(i) => {
                self.kinds.recovered(i);
                self.updated(i);
            }
            Update::Fetched => self.changed(),
            Update::Failed(i, failure) => return Some((i, failure)),
        }
        None
    }

    /// Resource `index` changed or listed: the Leases alone are read again when it is one of
    /// theirs (a renewal every retry period per replica must not re-evaluate the cluster), the
    /// objects are evaluated again otherwise.
    fn updated(&mut self, index: usize) {
        if self.leases.owns(index) {
            self.leases.changed();
        } else {
            self.changed();
        }
    }

    /// How many times the objects were evaluated so far.
    #[cfg(test)]
    pub fn evaluations_run(&self) -> u64 {
        self.evaluations_run
    }

    /// Brings the snapshot's objects, evaluations and counts up to date (state aside); the
    /// evaluation only when objects changed.
    pub async fn refresh(&mut self, snapshot: &mut ClusterSnapshot, now: Timestamp) {
        let evaluate = std::mem::take(&mut self.dirty);
        if evaluate {
            self.evaluate(snapshot, now).await;
        }
        self.leases.refresh(snapshot, evaluate);
        for index in self.leases.indices() {
            if let Some(Resource::Objects { count, .. }) = self.resources.get(index) {
                self.kinds.set_objects(index, count());
            }
        }
        // Also when only a kind's state changed (now forbidden: no count).
        snapshot.policy_reports = self.counted(self.reports, snapshot.policy_reports);
        snapshot.warning_events = self.counted(self.events, snapshot.warning_events);
        snapshot.warnings = match snapshot.warning_events {
            Some(_) => {
                let mut warnings = values(&self.warnings);
                warnings.sort_by(|a, b| {
                    (&a.metadata.namespace, &a.metadata.name)
                        .cmp(&(&b.metadata.namespace, &b.metadata.name))
                });
                warnings
            }
            None => Vec::new(),
        };
    }

    /// The cluster's workloads evaluated with its policies and exceptions, and the counts.
    async fn evaluate(&mut self, snapshot: &mut ClusterSnapshot, now: Timestamp) {
        self.evaluations_run += 1;
        let mut policies = values(&self.policies);
        policies.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut exceptions = values(&self.exceptions);
        exceptions.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        let unchanged = self
            .compiled
            .as_ref()
            .is_some_and(|c| same(&c.policies, &policies) && same(&c.exceptions, &exceptions));
        if !unchanged {
            self.compiled = Some(CompiledFrom {
                compiled: compile(&self.store, &policies, &exceptions),
                policies: policies.clone(),
                exceptions: exceptions.clone(),
            });
        }
        let Some(compiled) = self.compiled.as_ref().map(|c| &c.compiled) else {
            return;
        };
        let objects = self.workloads.snapshot();
        let namespaces = self.namespaces.snapshot();
        let namespace_count = namespaces.0.0.len();
        let basis = Basis {
            set: Arc::clone(&compiled.set),
            namespaces,
            until: next_expiry(&exceptions, now),
        };
        self.until = basis.until;
        // Until the cluster's policies and exceptions are known (both listed once), judging by an
        // empty set would report every workload clean, or every excepted finding as a violation.
        if !crate::kinds::policies_listed(self.kinds.statuses()) {
            snapshot.evaluations = Vec::new();
            snapshot.evaluated = 0;
        } else {
            // Off the async workers: a big cluster's evaluation must not hold up other clusters'
            // tasks.
            let mut memo = std::mem::take(&mut self.memo);
            snapshot.inputs = Some(Arc::new(crate::snapshot::EvaluationInputs {
                objects: objects.clone(),
                namespaces: Arc::clone(&basis.namespaces),
            }));
            // Caught: the console's panic hook leaves the console running for this one.
            let evaluated = crate::caught::spawn_blocking(move || {
                let (evaluations, evaluated) = memo.run(basis, objects, now);
                (memo, evaluations, evaluated)
            })
            .await;
            match evaluated {
                Ok((memo, evaluations, evaluated)) => {
                    self.memo = memo;
                    snapshot.evaluations = evaluations;
                    snapshot.evaluated = evaluated;
                }
                // Only a panic in the engine gets here; the previous evaluation stays.
                Err(e) => {
                    tracing::error!(context = %snapshot.context, error = %e, "evaluating the cluster's workloads failed")
                }
            }
        }
        snapshot.rejected = compiled.rejected.clone();

        for (i, resource) in self.resources.iter().enumerate() {
            let count = match resource {
                Resource::Workload(ar) => snapshot
                    .evaluations
                    .iter()
                    .filter(|e| e.resource.kind == ar.kind)
                    .count(),
                Resource::Namespaces => namespace_count,
                Resource::Objects { count, .. } => count(),
            };
            self.kinds.set_objects(i, count);
        }
        snapshot.policies = policies;
        snapshot.exceptions = exceptions;
    }

    /// The object count of resource `index`, unless it cannot be listed (hidden); while it
    /// lists again, the count from before.
    fn counted(&self, index: usize, before: Option<usize>) -> Option<usize> {
        let status = self.kinds.statuses().get(index)?;
        match status.state {
            KindState::Forbidden { .. } | KindState::NotInstalled => None,
            KindState::Listing => before,
            KindState::Synced | KindState::Failing { .. } => Some(status.objects),
        }
    }
}

/// The earliest expiry after `now` among these exceptions.
fn next_expiry(exceptions: &[Arc<GuardianException>], now: Timestamp) -> Option<Timestamp> {
    exceptions
        .iter()
        .map(|e| e.spec.expires_at.0)
        .filter(|t| *t > now)
        .min()
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod expiry_tests;

#[cfg(test)]
#[path = "lease_refresh_tests.rs"]
mod lease_refresh_tests;
