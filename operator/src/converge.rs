//! PolicyReports converge after a start or a leadership change.
//!
//! While no replica of this operator led (it was down, or leadership moved), policies may have
//! been deleted (even without their finalizer running) and namespaces fixed; the reports still say
//! otherwise. Each time this replica becomes leader, once its caches have synced, it forgets its
//! report state, has every live policy evaluated (a *pass*; reports are not written meanwhile, so
//! none loses the rows of a policy not yet evaluated), then writes every report with results and
//! deletes every report it owns (see [`crate::reports::owned_namespaces`]) that no policy has
//! results for.
//!
//! This file runs the passes; `pass.rs` keeps what a pass has evaluated, `finish.rs` writes and
//! sweeps the reports once it may.

use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use guardian_core::crd::GuardianPolicy;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;

use crate::context::Context;

mod finish;
mod pass;

pub(crate) use finish::{Finished, finish};
pub use pass::Pass;

/// How often a pass checks whether every live policy has been evaluated.
const POLL: Duration = Duration::from_millis(200);
/// The wait before retrying a failed write or sweep.
const RETRY: Duration = Duration::from_secs(5);
/// A pass holds reports back this long at most: one policy whose reconcile keeps failing must
/// not hold back every report. Reports are then written, and the sweep (which would delete the
/// rows of the policies not evaluated) waits until every live policy has been evaluated.
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
        {
            let mut state = ctx.reports.lock().await;
            state.start_pass();
            // Under the report lock: a body built before this (a reconcile of the last term
            // still on its way to hand it over) is not written during the new term's pass.
            ctx.writer.reset(state.seq());
        }
        ctx.cleanups.new_term();
        tracing::info!("leading: re-evaluating every policy before reconciling the PolicyReports");
        for name in ctx.live_policies() {
            if reconcile.send(ObjectRef::new(&name)).await.is_err() {
                return;
            }
        }
        let started = tokio::time::Instant::now();
        let mut done = false;
        while ctx.is_leader() {
            match finish(&ctx, started.elapsed() > PASS_TIMEOUT).await {
                Ok(Finished::Written) => {
                    ctx.metrics.report_pass_done();
                    done = true;
                    break;
                }
                Ok(Finished::Over) => {
                    done = true;
                    break;
                }
                Ok(Finished::Lost) => break,
                Ok(Finished::Pending) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(error = %crate::error::chain(&e), retry_in = ?RETRY, "reconciling the PolicyReports failed");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        // A pass over while leading waits for its term's end; a term seen lost (here or by
        // `finish`) goes straight back to waiting for the next, which may have begun since.
        if done && leader.wait_for(|l| !*l).await.is_err() {
            return;
        }
    }
}
