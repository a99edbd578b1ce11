//! Completing a convergence pass: once every live policy was evaluated (or the pass timed out),
//! the reports are written and the stale ones deleted.

use std::collections::{BTreeSet, HashMap};

use super::PASS_TIMEOUT;
use crate::Error;
use crate::context::Context;
use crate::reports::{self, ReportBody, ReportState, Settled};

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

/// What an attempt to complete the pass ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The pass goes on.
    Pending,
    /// The pass is over: every report written and the stale ones deleted (counted in
    /// `report_passes_total`, which the tests and the bench wait on).
    Written,
    /// The pass is over without writing (no PolicyReport CRD), or no pass runs: not counted.
    Over,
    /// Leadership was lost while writing: the term is over, not counted.
    Lost,
}

/// After `step` ran without error (`wrote_all`: every write it tried was done); returns whether
/// the pass is over. Only now: a failed write or sweep is retried as part of the same pass.
fn wrote(state: &mut ReportState, step: Step, wrote_all: bool) -> Finished {
    match step {
        Step::Write => {
            state.pass.release();
            Finished::Pending
        }
        Step::WriteAndSweep => {
            state.pass.finish();
            if wrote_all {
                Finished::Written
            } else {
                Finished::Over
            }
        }
        Step::Done => Finished::Over,
        Step::Wait => Finished::Pending,
    }
}

/// Completes the pass once every live policy was evaluated in it: writes the reports and
/// deletes the stale ones. After the timeout, writes what it has and sweeps once the rest is
/// evaluated. Returns whether the pass is over.
///
/// The report lock is held to build the bodies only, never while listing or writing: reconciles
/// record their results meanwhile, and whatever they change is written before the pass moves on.
/// The writes go through the report writer like every other (one in flight per namespace). A
/// namespace whose write fails counts as handed over: the writer retries it on its own, and one
/// namespace refusing writes must not hold the pass (and every other report) open for the term.
pub(crate) async fn finish(ctx: &Context, timed_out: bool) -> Result<Finished, Error> {
    let live = ctx.live_policies();
    let step = next_step(&*ctx.reports.lock().await, &live, timed_out);
    match step {
        Step::Done => return Ok(Finished::Over),
        Step::Wait => return Ok(Finished::Pending),
        Step::Write => tracing::warn!(
            timeout = ?PASS_TIMEOUT,
            "not every policy could be evaluated since becoming leader; writing the \
             PolicyReports, and deleting stale ones once every policy is evaluated"
        ),
        Step::WriteAndSweep => {}
    }
    let owned = match step {
        Step::WriteAndSweep => owned_reports(ctx).await?,
        _ => Vec::new(),
    };
    // The namespaces whose write failed, with the content handed over to the writer's retries.
    let mut failing: HashMap<String, u64> = HashMap::new();
    loop {
        let mut state = ctx.reports.lock().await;
        // Results recorded while writing are written too, before the pass moves on (reconciles
        // do not hand bodies over while the pass holds reports back).
        let mut due = unwritten(&mut state, &owned, ctx);
        // A namespace deleted or being deleted refused this very content: it is not handed over
        // again in this pass (the writer forgot it as written, so it would be due forever).
        due.retain(|(r, fingerprint)| {
            failing.get(&r.namespace) != Some(fingerprint)
                && !ctx.writer.is_gone_as(&r.namespace, *fingerprint)
        });
        if due.is_empty() {
            if step == Step::WriteAndSweep {
                tracing::info!("PolicyReports reconciled with the current results");
            }
            // Only now: a failed write or sweep is retried as part of the same pass.
            return Ok(wrote(&mut state, step, true));
        }
        drop(state);
        let handed: HashMap<String, u64> = due
            .iter()
            .map(|(r, fingerprint)| (r.namespace.clone(), *fingerprint))
            .collect();
        for (report, fingerprint) in due {
            if report.empty {
                tracing::info!(namespace = %report.namespace, "deleting a PolicyReport no policy has results for any more");
            }
            ctx.writer.submit_as(report, fingerprint);
        }
        // Every namespace handed over is waited on, a failing one too: its new content is tried
        // at once, and `failing` then holds what is due now (else the pass spins on it).
        let waiting: Vec<String> = handed.keys().cloned().collect();
        if let Settled::Failed { namespace, error } = ctx.writer.settled(&waiting).await {
            tracing::warn!(namespace = %namespace, error = %crate::error::chain(&*error), "a PolicyReport write failed during the report pass; the writer retries it on its own and the pass goes on");
            let fingerprint = handed.get(&namespace).copied().unwrap_or_default();
            failing.insert(namespace, fingerprint);
        }
        if !ctx.is_leader() {
            // Not leading any more: nothing more to write. The next term starts its own pass.
            wrote(&mut *ctx.reports.lock().await, step, false);
            return Ok(Finished::Lost);
        }
        if ctx.writer.crd_missing() {
            // No PolicyReport CRD: nothing more to write.
            return Ok(wrote(&mut *ctx.reports.lock().await, step, false));
        }
    }
}

/// The reports of the namespaces with results and of `owned`, built now, that were not written
/// as they are, with their fingerprints.
fn unwritten(state: &mut ReportState, owned: &[String], ctx: &Context) -> Vec<(ReportBody, u64)> {
    let namespaces: BTreeSet<String> = state
        .namespaces()
        .into_iter()
        .chain(owned.iter().cloned())
        .collect();
    namespaces
        .iter()
        .map(|ns| {
            let report = state.report(ns);
            let fingerprint = reports::fingerprint(&report.body);
            (report, fingerprint)
        })
        .filter(|(report, fingerprint)| !ctx.writer.is_written_as(&report.namespace, *fingerprint))
        .collect()
}

/// The namespaces holding a report this operator owns (listed without the report lock).
async fn owned_reports(ctx: &Context) -> Result<Vec<String>, Error> {
    let owned = reports::owned_namespaces(&ctx.client)
        .await
        .map_err(|source| Error::Kube {
            context: "listing the PolicyReports kube-guardian owns".into(),
            source,
        })?;
    Ok(owned.unwrap_or_else(|| {
        ctx.note_reports_unavailable();
        Vec::new()
    }))
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
        assert_eq!(wrote(&mut state, Step::Write, true), Finished::Pending);
        assert!(!state.in_pass(), "reconciles write the reports again");
        assert_eq!(next_step(&state, &live, true), Step::Wait);
        // "q" is evaluated at last: the sweep runs.
        state.record("q");
        assert_eq!(next_step(&state, &live, true), Step::WriteAndSweep);
        assert_eq!(
            wrote(&mut state, Step::WriteAndSweep, true),
            Finished::Written
        );
        assert_eq!(next_step(&state, &live, true), Step::Done);
    }

    #[test]
    fn a_pass_that_could_not_write_is_over_but_not_counted_as_written() {
        let mut state = ReportState::default();
        state.record("p");
        // No PolicyReport CRD while writing.
        assert_eq!(
            wrote(&mut state, Step::WriteAndSweep, false),
            Finished::Over
        );
        assert_eq!(next_step(&state, &["p".to_owned()], false), Step::Done);
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

#[cfg(test)]
#[path = "stalled_api_tests.rs"]
mod stalled_api_tests;
