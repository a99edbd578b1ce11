//! PolicyReports converge after a start or a leadership change.
//!
//! While no replica of this operator led (it was down, or leadership moved), policies may have
//! been deleted (even without their finalizer running) and namespaces fixed; the reports still say
//! otherwise. Each time this replica becomes leader, once its caches have synced, it forgets its
//! report state, has every live policy evaluated (a *pass*; reports are not written meanwhile, so
//! none loses the rows of a policy not yet evaluated), then writes every report with results and
//! deletes every report it owns (see [`reports::owned_namespaces`]) that no policy has results for.

use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use guardian_core::crd::GuardianPolicy;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;

use crate::Error;
use crate::context::Context;
use crate::reconcile::flush_reports;
use crate::reports::{self, ReportState};

/// How often a pass checks whether every live policy has been evaluated.
const POLL: Duration = Duration::from_millis(200);
/// The wait before retrying a failed write or sweep.
const RETRY: Duration = Duration::from_secs(5);
/// A pass waits this long at most for every policy to be evaluated: one policy whose reconcile
/// keeps failing must not hold back every report. Reports are then written without the sweep,
/// which would delete the rows of the policies not evaluated.
const PASS_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs for the operator's lifetime: one pass per leadership term.
pub async fn run(
    ctx: Arc<Context>,
    mut leader: watch::Receiver<bool>,
    mut synced: watch::Receiver<bool>,
    mut reconcile: mpsc::Sender<ObjectRef<GuardianPolicy>>,
) {
    loop {
        if synced.wait_for(|s| *s).await.is_err() {
            return;
        }
        if leader.wait_for(|l| *l).await.is_err() {
            return;
        }
        ctx.reports.lock().await.start_pass();
        tracing::info!("leading: re-evaluating every policy before reconciling the PolicyReports");
        for name in ctx.live_policies() {
            if reconcile.send(ObjectRef::new(&name)).await.is_err() {
                return;
            }
        }
        let started = tokio::time::Instant::now();
        while ctx.is_leader() {
            match finish(&ctx, started.elapsed() > PASS_TIMEOUT).await {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), retry_in = ?RETRY, "reconciling the PolicyReports failed");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        if leader.wait_for(|l| !*l).await.is_err() {
            return;
        }
    }
}

/// Completes the pass once every live policy was evaluated in it: writes the reports and
/// deletes the stale ones. After the timeout, writes what it has, without deleting. Returns
/// whether the pass is over.
async fn finish(ctx: &Context, timed_out: bool) -> Result<bool, Error> {
    let live = ctx.live_policies();
    let mut state = ctx.reports.lock().await;
    if !state.in_pass() {
        return Ok(true);
    }
    let complete = state.pass_covers(live.iter().map(String::as_str));
    if !complete && !timed_out {
        return Ok(false);
    }
    if !complete {
        tracing::warn!(
            timeout = ?PASS_TIMEOUT,
            "not every policy could be evaluated since becoming leader; writing the \
             PolicyReports without deleting stale ones"
        );
    }
    let stale = state.unwritten();
    flush_reports(&mut state, stale, ctx).await?;
    if complete {
        sweep(&mut state, ctx).await?;
        tracing::info!("PolicyReports reconciled with the current results");
    }
    // Only now: a failed write or sweep is retried as part of the same pass.
    state.finish_pass();
    Ok(true)
}

/// Deletes the reports this operator owns in namespaces no policy has results for.
async fn sweep(state: &mut ReportState, ctx: &Context) -> Result<(), Error> {
    let owned = reports::owned_namespaces(&ctx.client)
        .await
        .map_err(|source| Error::Kube {
            context: "listing the PolicyReports kube-guardian owns".into(),
            source,
        })?;
    let Some(owned) = owned else {
        ctx.note_reports_unavailable();
        return Ok(());
    };
    let stale: Vec<String> = owned.into_iter().filter(|ns| state.is_empty(ns)).collect();
    for ns in &stale {
        tracing::info!(namespace = %ns, "deleting a PolicyReport no policy has results for any more");
    }
    flush_reports(state, stale, ctx).await
}
