//! The watches of one cluster, each reporting to the cluster's task over one channel: listed,
//! failed (classified), or changed. Workloads and namespaces go into the shared watch caches;
//! the few objects read whole (policies, exceptions, the Lease, PolicyReports, Warning Events)
//! into a map of their own.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use futures::stream::BoxStream;
use kube::Resource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc::UnboundedSender;

use crate::classify::{Failure, classify_watch};

/// What a watch tells its cluster's task; the `usize` is the resource's index in the task's
/// kind table.
#[derive(Debug)]
pub enum Update {
    /// The (re)list is complete; the watch streams.
    Listed(usize),
    /// The watch failed; it retries with kube's backoff.
    Failed(usize, Failure),
    /// Objects changed.
    Changed(usize),
    /// Workloads whose owner went away were fetched into the cache (no watch reported them).
    Fetched,
}

/// Objects read whole, by `namespace/name`; replaced on each relist.
pub type Objects<K> = Arc<RwLock<BTreeMap<String, Arc<K>>>>;

/// The objects of a map, shared.
pub fn values<K>(objects: &Objects<K>) -> Vec<Arc<K>> {
    objects
        .read()
        .map(|map| map.values().cloned().collect())
        .unwrap_or_default()
}

/// The events of a watcher (`watcher::watcher`, or `metadata_watcher` for what is only counted).
pub type WatchEvents<K> = BoxStream<'static, watcher::Result<Event<K>>>;

/// Follows `events` into `objects` until the future is dropped, reporting as resource `index`;
/// after a failure the watcher retries with kube's default backoff.
pub async fn watch_objects<K>(
    events: WatchEvents<K>,
    objects: Objects<K>,
    index: usize,
    updates: UnboundedSender<Update>,
) where
    K: Resource + Send + Sync + 'static,
{
    let mut buffer = BTreeMap::new();
    let mut stream = std::pin::pin!(events.default_backoff());
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(Event::Init) => {
                buffer.clear();
                None
            }
            Ok(Event::InitApply(object)) => {
                buffer.insert(key(&object), Arc::new(object));
                None
            }
            Ok(Event::InitDone) => {
                if let Ok(mut map) = objects.write() {
                    *map = std::mem::take(&mut buffer);
                }
                Some(Update::Listed(index))
            }
            Ok(Event::Apply(object)) => {
                if let Ok(mut map) = objects.write() {
                    map.insert(key(&object), Arc::new(object));
                }
                Some(Update::Changed(index))
            }
            Ok(Event::Delete(object)) => {
                if let Ok(mut map) = objects.write() {
                    map.remove(&key(&object));
                }
                Some(Update::Changed(index))
            }
            Err(e) => Some(Update::Failed(index, classify_watch(&e))),
        };
        if let Some(update) = update
            && updates.send(update).is_err()
        {
            // The cluster's task is gone.
            return;
        }
    }
}

fn key<K: Resource>(object: &K) -> String {
    let meta = object.meta();
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}
