//! The task serving one namespace: what it writes next, what an attempt's answer does (written,
//! nothing to write, or a retry after a backoff), and the wait between retries.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Inner;
use super::slots::{Job, Slots};

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while holding it; a poisoned lock still holds consistent slots.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing(&self) -> bool {
        *self.leader.borrow() && !self.stop.is_cancelled()
    }

    /// The next body to write for `ns`, with the term it belongs to; `None` ends the task.
    fn next(&self, ns: &str) -> Option<(Job, u64)> {
        let mut slots = self.lock();
        let slots = &mut *slots;
        let writing = self.writing();
        let slot = slots.by_namespace.get_mut(ns)?;
        slot.backing_off = false;
        // No attempt is in flight: the next one starts after any deletion seen so far.
        slot.forgotten = false;
        loop {
            match slot.next.take().filter(|_| writing) {
                // Written as it is (a change undone while the last write was in flight).
                Some(job) if slots.written.get(ns) == Some(&job.fingerprint) => {
                    slot.failures = 0;
                    slot.failed = None;
                }
                Some(job) => return Some((job, slots.epoch)),
                None => {
                    slots.by_namespace.remove(ns);
                    self.changed.notify_waiters();
                    return None;
                }
            }
        }
    }

    /// Records an attempt; returns the wait before retrying it, after a failure, and what ends
    /// that wait early.
    fn record(
        &self,
        ns: &str,
        job: Job,
        epoch: u64,
        result: Result<bool, kube::Error>,
    ) -> Option<(Duration, Arc<Notify>)> {
        let mut slots = self.lock();
        if slots.epoch != epoch {
            return None;
        }
        let slots = &mut *slots;
        let slot = slots.by_namespace.entry(ns.to_owned()).or_default();
        match result {
            Ok(written) => {
                slot.failures = 0;
                slot.failed = None;
                slots.crd_missing = !written;
                if written {
                    slots.gone.remove(ns);
                    if !slot.forgotten {
                        slots.written.insert(ns.to_owned(), job.fingerprint);
                    }
                } else {
                    // As before the writer: written with the namespace's next change or pass.
                    self.note_unavailable();
                }
                None
            }
            Err(e) if crate::reports::api::namespace_gone(&e, ns) => {
                // The namespace is deleted or being deleted, its report with it: nothing to
                // write. What it held is forgotten, so a namespace created again under that name
                // gets its report.
                tracing::debug!(namespace = %ns, "not writing a PolicyReport: its namespace is deleted or being deleted");
                slot.failures = 0;
                slot.failed = None;
                // The server routed the request to the PolicyReport resource: it is served.
                slots.crd_missing = false;
                slots.written.remove(ns);
                slots.gone.insert(ns.to_owned(), job.fingerprint);
                None
            }
            Err(e) => {
                slot.failures = slot.failures.saturating_add(1);
                let delay = crate::backoff::delay_within(slot.failures, self.retry.0, self.retry.1);
                let error = Arc::new(e);
                tracing::warn!(namespace = %ns, error = %crate::error::chain(&*error), retry_in = ?delay, "writing a PolicyReport failed");
                self.metrics.error("report_write");
                slot.failed = Some(error);
                // The server may have applied it before the answer was lost: what it holds is
                // unknown now, so no later body counts as written as it is.
                slots.written.remove(ns);
                // A newer body handed over meanwhile is the one retried.
                slot.next.get_or_insert(job);
                slot.backing_off = true;
                Some((delay, slot.wake.clone()))
            }
        }
    }

    pub(super) fn note_unavailable(&self) {
        if !self.unavailable_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed: violations are \
                 reported in GuardianPolicy status and metrics only; install it with the Helm chart \
                 (policyReports.installCRD) or from helm/kube-guardian/files/"
            );
        }
    }
}

/// Serves one namespace until nothing is pending for it.
pub(super) async fn serve(inner: Arc<Inner>, ns: String) {
    while let Some((job, epoch)) = inner.next(&ns) {
        let result = (inner.write)(ns.clone(), job.body.clone(), job.empty).await;
        let retry_in = inner.record(&ns, job, epoch, result);
        inner.changed.notify_waiters();
        if let Some((delay, wake)) = retry_in {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = wake.notified() => {}
                () = inner.stop.cancelled() => {}
                // Lost: the pending body is dropped by `next`.
                () = lost(inner.leader.clone()) => {}
            }
        }
    }
}

/// Ends once leadership is lost. A closed channel keeps its last value, the one [`Inner::writing`]
/// reads: still leading, this never ends and the retry waits its backoff (ending at once would
/// retry in a tight loop). The election turns the channel false before dropping its sender, so
/// a lost leadership is always seen; shutting down ends the wait through `stop`.
pub(in crate::reports) async fn lost(mut leader: watch::Receiver<bool>) {
    if leader.wait_for(|l| !*l).await.is_err() {
        std::future::pending::<()>().await;
    }
}
