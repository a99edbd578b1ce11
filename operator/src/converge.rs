//! PolicyReports converge after a start or a leadership change.
//!
//! While no replica of this operator led (it was down, or leadership moved), policies may have
//! been deleted (even without their finalizer running) and namespaces fixed; the reports still say
//! otherwise. Each time this replica becomes leader, once its caches have synced, it forgets its
//! report state, has every live policy evaluated (a *pass*; reports are not written meanwhile, so
//! none loses the rows of a policy not yet evaluated), then writes every report with results and
//! deletes every report it owns (see [`reports::owned_namespaces`]) that no policy has results for.

use std::collections::BTreeSet;
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

/// Which policies a pass has evaluated so far, and whether reports still wait for it. Kept in
/// the [`ReportState`], under the same lock as the results it vouches for.
#[derive(Debug)]
pub struct Pass {
    /// Until the pass completes: the policies evaluated in it so far.
    evaluated: Option<BTreeSet<String>>,
    /// Whether reports wait for the pass; no longer once it timed out (the sweep still waits).
    holding: bool,
}

/// A fresh state waits for its first pass: nothing is written before every policy was evaluated.
impl Default for Pass {
    fn default() -> Self {
        Pass {
            evaluated: Some(BTreeSet::new()),
            holding: true,
        }
    }
}

impl Pass {
    /// True while reports wait for the pass to complete.
    pub fn holds_reports(&self) -> bool {
        self.evaluated.is_some() && self.holding
    }

    /// True until the pass completes, even once reports no longer wait for it.
    pub fn running(&self) -> bool {
        self.evaluated.is_some()
    }

    /// Notes that a policy's results are current in this pass.
    pub fn record(&mut self, policy: &str) {
        if let Some(evaluated) = self.evaluated.as_mut() {
            evaluated.insert(policy.to_owned());
        }
    }

    /// A deleted policy is no longer waited for.
    pub fn forget(&mut self, policy: &str) {
        if let Some(evaluated) = self.evaluated.as_mut() {
            evaluated.remove(policy);
        }
    }

    /// Whether every one of `live` was evaluated in the pass (true outside a pass).
    pub fn covers<'a>(&self, mut live: impl Iterator<Item = &'a str>) -> bool {
        self.evaluated
            .as_ref()
            .is_none_or(|evaluated| live.all(|p| evaluated.contains(p)))
    }

    /// Reports are written as results change again, while the pass goes on recording which
    /// policies were evaluated, for the sweep.
    fn release(&mut self) {
        self.holding = false;
    }

    /// Ends the pass.
    pub fn finish(&mut self) {
        self.evaluated = None;
    }
}

/// What a pass does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// No pass runs.
    Done,
    /// Not every live policy was evaluated yet: wait.
    Wait,
    /// Timed out: write the reports and let reconciles write them from now on; the sweep waits.
    Write,
    /// Every live policy was evaluated: write the reports and delete the stale ones.
    WriteAndSweep,
}

fn next_step(state: &ReportState, live: &[String], timed_out: bool) -> Step {
    if !state.pass.running() {
        Step::Done
    } else if state.pass.covers(live.iter().map(String::as_str)) {
        Step::WriteAndSweep
    } else if timed_out && state.in_pass() {
        Step::Write
    } else {
        Step::Wait
    }
}

/// After `step` wrote (and swept) successfully; returns whether the pass is over. Only now: a
/// failed write or sweep is retried as part of the same pass.
fn wrote(state: &mut ReportState, step: Step) -> bool {
    match step {
        Step::Write => {
            state.pass.release();
            false
        }
        Step::WriteAndSweep => {
            state.pass.finish();
            true
        }
        Step::Done => true,
        Step::Wait => false,
    }
}

/// Completes the pass once every live policy was evaluated in it: writes the reports and
/// deletes the stale ones. After the timeout, writes what it has and sweeps once the rest is
/// evaluated. Returns whether the pass is over.
async fn finish(ctx: &Context, timed_out: bool) -> Result<bool, Error> {
    let live = ctx.live_policies();
    let mut state = ctx.reports.lock().await;
    let step = next_step(&state, &live, timed_out);
    match step {
        Step::Done => return Ok(true),
        Step::Wait => return Ok(false),
        Step::Write => tracing::warn!(
            timeout = ?PASS_TIMEOUT,
            "not every policy could be evaluated since becoming leader; writing the \
             PolicyReports, and deleting stale ones once every policy is evaluated"
        ),
        Step::WriteAndSweep => {}
    }
    let stale = state.unwritten();
    flush_reports(&mut state, stale, ctx).await?;
    if step == Step::WriteAndSweep {
        sweep(&mut state, ctx).await?;
        tracing::info!("PolicyReports reconciled with the current results");
    }
    Ok(wrote(&mut state, step))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_pass_sweeps_once_every_policy_was_evaluated() {
        let mut state = ReportState::default();
        let live = ["p".to_owned(), "q".to_owned()];
        state.record("p");
        assert_eq!(next_step(&state, &live, false), Step::Wait);
        // "q" keeps failing: past the timeout the reports are written without the sweep.
        assert_eq!(next_step(&state, &live, true), Step::Write);
        assert!(!wrote(&mut state, Step::Write), "the pass goes on");
        assert!(!state.in_pass(), "reconciles write the reports again");
        assert_eq!(next_step(&state, &live, true), Step::Wait);
        // "q" is evaluated at last: the sweep runs.
        state.record("q");
        assert_eq!(next_step(&state, &live, true), Step::WriteAndSweep);
        assert!(wrote(&mut state, Step::WriteAndSweep));
        assert_eq!(next_step(&state, &live, true), Step::Done);
    }

    #[test]
    fn a_complete_pass_sweeps_without_waiting_for_the_timeout() {
        let mut state = ReportState::default();
        state.record("p");
        assert_eq!(
            next_step(&state, &["p".to_owned()], false),
            Step::WriteAndSweep
        );
    }
}
