//! A deleted policy's cleanup: its rows leave every report before its finalizer goes.
//!
//! The cleanup never holds a controller worker on the report writes: a write may take as long as
//! the API server does (a stalled one answers never, and the client has no read timeout), and
//! the few workers are shared by every policy. It waits briefly (a write normally takes
//! milliseconds), then gives the worker back and is checked again shortly, keeping the finalizer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;

use super::hand_over;
use crate::Error;
use crate::context::Context;

/// How long one cleanup waits for its report writes before giving its worker back.
pub(super) const WAIT: Duration = Duration::from_secs(1);
/// When a cleanup whose report writes were still in flight is checked again.
pub(super) const RECHECK: Duration = Duration::from_secs(2);
/// How long a cleanup waits on its report writes before that is said at warn, once per policy:
/// a policy stuck in deletion shows why.
pub(super) const WARN_AFTER: Duration = Duration::from_secs(60);

/// Removes the deleted `policy`'s rows from the reports; `Ok` once they left every report (the
/// finalizer goes), [`Error::ReportsPending`] while writes are still in flight (it stays).
pub(super) async fn cleanup(policy: &str, ctx: &Context) -> Result<Action, Error> {
    let mut state = ctx.reports.lock().await;
    let changed = state.remove_policy(policy);
    ctx.kept.forget(policy);
    // During a pass the namespaces are written (or deleted) when it completes; else the writer
    // rewrites them (or deletes the emptied ones), retrying on its own.
    let due = if state.in_pass() {
        state.left(policy);
        Vec::new()
    } else {
        changed
    };
    let leaving = state.leaving(policy);
    drop(state);
    hand_over(due, ctx);
    // The finalizer stays until the rows left every report: a refused write fails this cleanup,
    // which is retried with the policy's backoff; a write still in flight is checked again.
    match tokio::time::timeout(WAIT, ctx.writer.settled(&leaving)).await {
        Ok(settled) => settled.into_result()?,
        Err(_) => {
            if let Some(waited) = ctx.cleanups.pending(policy, Instant::now()) {
                // The first few namespaces name where to look; a policy may span thousands.
                let first = &leaving[..leaving.len().min(10)];
                tracing::warn!(%policy, namespaces = leaving.len(), first = ?first, waited = ?waited, "a deleted GuardianPolicy's rows are still on their way out of the PolicyReports of its namespaces (`first`: up to 10 of them) after `waited`: its finalizer stays until they are written. Check that the API server answers the operator's PolicyReport writes (its load, admission webhooks on policyreports) and the operator's log for failed report writes (said once per policy)");
            }
            return Err(Error::ReportsPending {
                policy: policy.to_owned(),
                namespaces: leaving.len(),
            });
        }
    }
    ctx.reports.lock().await.left(policy);
    ctx.cleanups.forget(policy);
    ctx.metrics.forget_policy(policy);
    ctx.events.forget(policy);
    ctx.reset_backoff(policy);
    tracing::info!(%policy, "policy deleted; its results were removed from the reports");
    Ok(Action::await_change())
}

/// Since when each deleted policy's cleanup has been waiting on its report writes, and whether
/// that was said.
#[derive(Debug, Default)]
pub(crate) struct PendingCleanups {
    since: Mutex<HashMap<String, (Instant, bool)>>,
}

impl PendingCleanups {
    /// Notes `policy`'s cleanup waiting at `now`; once it has waited [`WARN_AFTER`] in this
    /// term, how long, the first time only.
    fn pending(&self, policy: &str, now: Instant) -> Option<Duration> {
        let mut since = self.since.lock().ok()?;
        let (first, said) = since.entry(policy.to_owned()).or_insert((now, false));
        let waited = now.duration_since(*first);
        if *said || waited < WARN_AFTER {
            return None;
        }
        *said = true;
        Some(waited)
    }

    /// A leadership term starts: a cleanup still pending counts its wait from now (the last
    /// term's writes were dropped with it).
    pub(crate) fn new_term(&self) {
        if let Ok(mut since) = self.since.lock() {
            since.clear();
        }
    }

    /// Forgets `policy` (its cleanup is done).
    fn forget(&self, policy: &str) {
        if let Ok(mut since) = self.since.lock() {
            since.remove(policy);
        }
    }

    /// Keeps only the policies `live` accepts (one gone without its cleanup finishing).
    pub(crate) fn retain_policies(&self, live: &dyn Fn(&str) -> bool) {
        if let Ok(mut since) = self.since.lock() {
            since.retain(|p, _| live(p));
        }
    }
}

#[cfg(test)]
#[path = "cleanup_tests.rs"]
mod tests;
