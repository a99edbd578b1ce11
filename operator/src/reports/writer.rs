//! Writes the reports outside the report lock: a reconcile hands over each changed namespace's
//! body and goes on to its status at once.
//!
//! Per namespace: at most one write in flight, the latest body only (a newer one replaces one
//! still waiting: coalescing), none when the body is the one last written, and a failed write
//! retried with its own capped exponential backoff, without waiting for a reconcile. A task
//! serves a namespace only while it has work (or a retry due): the tasks are bounded by the
//! namespaces with pending writes. Leadership lost or the operator stopping drops what is
//! pending; [`reset`](ReportWriter::reset) starts a new leadership term from nothing.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::body::ReportBody;

mod slots;
mod task;

use crate::Error;
use crate::metrics::Metrics;
use slots::{Job, Slot, Slots};
pub(super) use task::lost;
use task::serve;

/// Writes one report: `(namespace, body, empty)`, deleting it when `empty`. `Ok(false)` when the
/// PolicyReport CRD is not installed.
pub type WriteFn = Arc<
    dyn Fn(String, Arc<Value>, bool) -> BoxFuture<'static, Result<bool, kube::Error>> + Send + Sync,
>;

/// The first wait before retrying a failed report write; it doubles with each failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between retries: a namespace refusing writes (RBAC, an admission policy)
/// costs one request per this period. A namespace being deleted is not retried.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// What a pass waiting on its writes found.
#[derive(Debug, Clone)]
pub enum Settled {
    /// Nothing is pending for those namespaces: written, skipped, or dropped (no longer
    /// leading, no PolicyReport CRD, stopping).
    Idle,
    /// A write failed and waits for its retry.
    Failed {
        namespace: String,
        error: Arc<kube::Error>,
    },
}

impl Settled {
    /// `Err` for a failed write: the error names the namespace, its source the API's answer.
    pub fn into_result(self) -> Result<(), Error> {
        match self {
            Settled::Idle => Ok(()),
            Settled::Failed { namespace, error } => Err(Error::ReportWrite {
                namespace,
                source: error,
            }),
        }
    }
}

/// The per-namespace report writer (see the module documentation). Cheap to share: one per
/// operator, in the [`Context`](crate::context::Context).
pub struct ReportWriter {
    inner: Arc<Inner>,
}

struct Inner {
    write: WriteFn,
    leader: watch::Receiver<bool>,
    metrics: Metrics,
    retry: (Duration, Duration),
    slots: Mutex<Slots>,
    /// Woken after every attempt and whenever a namespace has nothing pending any more.
    changed: Notify,
    stop: CancellationToken,
    unavailable_logged: AtomicBool,
}

impl std::fmt::Debug for ReportWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportWriter")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl ReportWriter {
    /// `retry`: the first and the longest wait between attempts of a failing namespace.
    pub fn new(
        write: WriteFn,
        leader: watch::Receiver<bool>,
        metrics: Metrics,
        retry: (Duration, Duration),
    ) -> Self {
        ReportWriter {
            inner: Arc::new(Inner {
                write,
                leader,
                metrics,
                retry,
                slots: Mutex::default(),
                changed: Notify::new(),
                stop: CancellationToken::new(),
                unavailable_logged: AtomicBool::new(false),
            }),
        }
    }

    /// Hands a namespace's body over to be written; returns at once. Called in the order the
    /// bodies were built: one older than a body handed over already, or built before the term
    /// started (see [`reset`](Self::reset)), is ignored.
    pub fn submit(&self, report: ReportBody) {
        // Serialises the body: outside the writer's lock, as the report lock is released too.
        let fingerprint = super::fingerprint(&report.body);
        self.submit_as(report, fingerprint);
    }

    /// [`submit`](Self::submit) with the body's fingerprint already taken (the report pass
    /// takes it to tell what is unwritten).
    pub fn submit_as(&self, report: ReportBody, fingerprint: u64) {
        let mut slots = self.inner.lock();
        let ns = report.namespace;
        if report.seq <= slots.floor || slots.newest.get(&ns).is_some_and(|&seq| seq >= report.seq)
        {
            return;
        }
        slots.newest.insert(ns.clone(), report.seq);
        let serving = slots.by_namespace.contains_key(&ns);
        if !serving && slots.written.get(&ns) == Some(&fingerprint) {
            return;
        }
        let slot = slots.by_namespace.entry(ns.clone()).or_default();
        // Content the failed attempt did not carry need not wait out its backoff.
        if slot.backing_off
            && slot
                .next
                .as_ref()
                .is_none_or(|j| j.fingerprint != fingerprint)
        {
            slot.wake.notify_one();
        }
        slot.next = Some(Job {
            body: Arc::new(report.body),
            fingerprint,
            empty: report.empty,
        });
        if !serving {
            tokio::spawn(serve(self.inner.clone(), ns));
        }
    }

    /// Forgets what was written for `namespace`: its report was deleted by someone else, so the
    /// next body handed over is written even if it equals the last one written, and an attempt
    /// in flight now (which may have landed before the deletion) does not count as written.
    pub fn forget(&self, namespace: &str) {
        let mut slots = self.inner.lock();
        slots.written.remove(namespace);
        if let Some(slot) = slots.by_namespace.get_mut(namespace) {
            slot.forgotten = true;
        }
    }

    /// The namespaces whose report was written in this term (and not forgotten since).
    pub fn written_namespaces(&self) -> Vec<String> {
        self.inner.lock().written.keys().cloned().collect()
    }

    /// Whether the namespace's report was last written as `report` holds it, in this term.
    #[cfg(test)]
    pub fn is_written(&self, report: &ReportBody) -> bool {
        self.is_written_as(&report.namespace, super::fingerprint(&report.body))
    }

    /// Whether `namespace`'s report was last written with this [`fingerprint`](super::fingerprint).
    pub fn is_written_as(&self, namespace: &str, fingerprint: u64) -> bool {
        self.inner.lock().written.get(namespace) == Some(&fingerprint)
    }

    /// Whether `namespace`'s last attempt, with this [`fingerprint`](super::fingerprint), was
    /// refused in this term because the namespace is deleted or being deleted (and no write of
    /// it succeeded since).
    pub fn is_gone_as(&self, namespace: &str, fingerprint: u64) -> bool {
        self.inner.lock().gone.get(namespace) == Some(&fingerprint)
    }

    /// Whether the last attempt found no PolicyReport CRD.
    pub fn crd_missing(&self) -> bool {
        self.inner.lock().crd_missing
    }

    /// Waits until nothing is pending for `namespaces`, or one of them failed and waits for its
    /// retry. An attempt ends when its request does, and the client bounds connecting and
    /// sending but not the wait for the answer: a caller that must not wait on a stalled API
    /// server bounds its own wait (as a policy's cleanup does).
    pub async fn settled(&self, namespaces: &[String]) -> Settled {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let slots = self.inner.lock();
                let mut busy = false;
                for ns in namespaces {
                    if let Some(slot) = slots.by_namespace.get(ns) {
                        if let Some(error) = &slot.failed {
                            return Settled::Failed {
                                namespace: ns.clone(),
                                error: error.clone(),
                            };
                        }
                        busy = true;
                    }
                }
                if !busy {
                    return Settled::Idle;
                }
            }
            tokio::select! {
                () = changed => {}
                () = self.inner.stop.cancelled() => return Settled::Idle,
            }
        }
    }

    /// Starts a new leadership term: forgets what was written and drops what is pending; an
    /// attempt in flight is not recorded, and bodies built so far (`seq` up to `floor`, the
    /// [`ReportState::seq`](super::ReportState::seq) read under the same report lock) are
    /// ignored when handed over later.
    pub fn reset(&self, floor: u64) {
        let mut slots = self.inner.lock();
        slots.epoch += 1;
        slots.floor = slots.floor.max(floor);
        slots.written.clear();
        slots.gone.clear();
        slots.crd_missing = false;
        for slot in slots.by_namespace.values_mut() {
            // A task waiting to retry ends now: its body belongs to the last term.
            slot.wake.notify_one();
            *slot = Slot::default();
        }
    }

    /// Drops every pending write and ends the tasks (a write in flight ends with its request).
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Logs once that the PolicyReport CRD is not installed.
    pub fn note_unavailable(&self) {
        self.inner.note_unavailable();
    }

    /// The namespaces a task serves now.
    #[cfg(test)]
    fn serving(&self) -> usize {
        self.inner.lock().by_namespace.len()
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
