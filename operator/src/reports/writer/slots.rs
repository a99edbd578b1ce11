//! What the writer holds per namespace and per term.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Notify;

/// A body to write, as handed over.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) body: Arc<Value>,
    pub(super) fingerprint: u64,
    pub(super) empty: bool,
}

/// One namespace's pending write, its failures and its task's wake-up.
#[derive(Debug, Default)]
pub(super) struct Slot {
    /// The latest body not yet written.
    pub(super) next: Option<Job>,
    pub(super) failures: u32,
    /// The last attempt's error, until a write of this namespace succeeds.
    pub(super) failed: Option<Arc<kube::Error>>,
    /// Waiting out a retry's backoff: a different body (or a new term) ends the wait at once.
    pub(super) backing_off: bool,
    /// The report was deleted by someone else while an attempt was in flight: that attempt may
    /// have landed before the deletion, so it does not count as written.
    pub(super) forgotten: bool,
    pub(super) wake: Arc<Notify>,
}

/// A slot exists while a task serves its namespace.
#[derive(Debug, Default)]
pub(super) struct Slots {
    pub(super) by_namespace: HashMap<String, Slot>,
    /// The fingerprint of each report as last written in this term.
    pub(super) written: HashMap<String, u64>,
    /// The fingerprint of each body last refused in this term because its namespace is deleted
    /// or being deleted, until a write of that namespace succeeds: the report pass does not hand
    /// it over again (it would spin on it).
    pub(super) gone: HashMap<String, u64>,
    /// The newest body handed over per namespace (its `seq`).
    pub(super) newest: HashMap<String, u64>,
    /// Bodies built before the term started (`seq` up to this) are dropped: a reconcile of the
    /// last term may hand its body over after the new term's pass started holding reports.
    pub(super) floor: u64,
    /// Bumped by `reset`: an attempt started before it is not recorded.
    pub(super) epoch: u64,
    /// The last attempt found no PolicyReport CRD.
    pub(super) crd_missing: bool,
}
