//! A deleted policy's cleanup: its rows leave every report before its finalizer goes.
//!
//! The cleanup never holds a controller worker on the report writes: a write may take as long as
//! the API server does (a stalled one answers never, and the client has no read timeout), and
//! the few workers are shared by every policy. It waits briefly (a write normally takes
//! milliseconds), then gives the worker back and is checked again shortly, keeping the finalizer.

use std::time::Duration;

use kube::runtime::controller::Action;

use super::hand_over;
use crate::Error;
use crate::context::Context;

/// How long one cleanup waits for its report writes before giving its worker back.
pub(super) const WAIT: Duration = Duration::from_secs(1);
/// When a cleanup whose report writes were still in flight is checked again.
pub(super) const RECHECK: Duration = Duration::from_secs(2);

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
            return Err(Error::ReportsPending {
                policy: policy.to_owned(),
                namespaces: leaving.len(),
            });
        }
    }
    ctx.reports.lock().await.left(policy);
    ctx.metrics.forget_policy(policy);
    ctx.events.forget(policy);
    ctx.reset_backoff(policy);
    tracing::info!(%policy, "policy deleted; its results were removed from the reports");
    Ok(Action::await_change())
}

#[cfg(test)]
#[path = "cleanup_tests.rs"]
mod tests;
