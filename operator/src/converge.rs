//! PolicyReports converge after a start or a leadership change.
//!
//! While no replica of this operator led (it was down, or leadership moved), policies may have
//! been deleted (even without their finalizer running) and namespaces fixed; the reports still say
//! otherwise. Each time this replica becomes leader, once its caches have synced, it forgets its
//! report state, has every live policy evaluated (a *pass*; reports are not written meanwhile, so
//! none loses the rows of a policy not yet evaluated), then writes every report with results and
//! deletes every report it owns (see [`reports::owned_namespaces`]) that no policy has results for.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use guardian_core::crd::GuardianPolicy;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;

use crate::Error;
use crate::context::Context;
use crate::reports::{self, ReportBody, ReportState, Settled};

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
        tracing::info!("leading: re-evaluating every policy before reconciling the PolicyReports");
        for name in ctx.live_policies() {
            if reconcile.send(ObjectRef::new(&name)).await.is_err() {
                return;
            }
        }
        let started = tokio::time::Instant::now();
        while ctx.is_leader() {
            match finish(&ctx, started.elapsed() > PASS_TIMEOUT).await {
                Ok(Finished::Written) => {
                    ctx.metrics.report_pass_done();
                    break;
                }
                Ok(Finished::Over) => break,
                Ok(Finished::Pending) => tokio::time::sleep(POLL).await,
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

/// What an attempt to complete the pass ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// The pass goes on.
    Pending,
    /// The pass is over: every report written and the stale ones deleted (counted in
    /// `report_passes_total`, which the tests and the bench wait on).
    Written,
    /// The pass is over without writing (no longer leading, or no PolicyReport CRD), or no pass
    /// runs: not counted.
    Over,
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
        due.retain(|(r, fingerprint)| failing.get(&r.namespace) != Some(fingerprint));
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
        for (report, _) in due {
            if report.empty {
                tracing::info!(namespace = %report.namespace, "deleting a PolicyReport no policy has results for any more");
            }
            ctx.writer.submit(report);
        }
        // Every namespace handed over is waited on, a failing one too: its new content is tried
        // at once, and `failing` then holds what is due now (else the pass spins on it).
        let waiting: Vec<String> = handed.keys().cloned().collect();
        if let Settled::Failed { namespace, error } = ctx.writer.settled(&waiting).await {
            tracing::warn!(namespace = %namespace, error = %crate::error::chain(&*error), "a PolicyReport write failed during the report pass; the writer retries it on its own and the pass goes on");
            let fingerprint = handed.get(&namespace).copied().unwrap_or_default();
            failing.insert(namespace, fingerprint);
        }
        if !ctx.is_leader() || ctx.writer.crd_missing() {
            // Not leading any more, or no PolicyReport CRD: nothing more to write.
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
        // Leadership lost, or no PolicyReport CRD, while writing.
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
mod stalled_api_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::{mpsc as chan, watch};

    use super::finish;
    use crate::context::Context;

    /// A leader's context whose API server takes every request and answers none; the first
    /// bytes of each request (its request line) go to the receiver.
    async fn stalled_api() -> (
        Arc<Context>,
        chan::UnboundedReceiver<String>,
        watch::Sender<bool>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = chan::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                loop {
                    let _ = socket.readable().await;
                    match socket.try_read(&mut buf) {
                        Ok(n) => {
                            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                }
                held.push(socket);
            }
        });
        let config = kube::Config::new(url.parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let (leader_tx, leader) = watch::channel(true);
        (Context::offline(client, leader), rx, leader_tx)
    }

    #[tokio::test]
    async fn the_sweep_lists_owned_reports_without_holding_the_report_lock() {
        let (ctx, mut requests, _leader) = stalled_api().await;
        // No live policy: the pass is complete and the sweep lists the reports it owns.
        let finishing = tokio::spawn({
            let ctx = ctx.clone();
            async move { finish(&ctx, false).await }
        });
        let request = tokio::time::timeout(Duration::from_secs(60), requests.recv())
            .await
            .expect("a request within 60 s")
            .expect("a request");
        assert!(request.contains("policyreports"), "{request}");
        assert!(
            ctx.reports.try_lock().is_ok(),
            "reconciles record their results while the API server is slow"
        );
        finishing.abort();
    }
}
