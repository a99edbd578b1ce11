//! Reconciling one GuardianPolicy: take its results (kept per object and updated as workloads
//! change, or evaluated over every cached resource it matches when they cannot be trusted, see
//! [`crate::incremental`]), then write status, events and metrics, each only when it changed, and
//! hand the PolicyReports over to their writer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use guardian_cluster::store::{self, PolicySnapshot};
use guardian_core::crd::{GuardianPolicy, GuardianPolicyStatus};
use guardian_core::engine::NamespaceLabels;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::Error;
use crate::context::Context;
use crate::events::Transition;
use crate::incremental::{Freshness, Results, next_requeue};
use crate::metrics::{FULL, Metrics};
use crate::policy_build::PolicyInputs;
use crate::reports::{NamespaceRows, ReportBody};
use crate::status::{self, Assessment, DEGRADED};

mod cleanup;

pub(crate) use cleanup::PendingCleanups;

/// Guards report cleanup: a policy's rows leave every report before the policy goes.
pub const FINALIZER: &str = "guardian.kube-guardian.dev/reports";
const FIELD_MANAGER: &str = "kube-guardian";

/// The controller's entry point: the finalizer helper dispatches to apply or cleanup.
#[tracing::instrument(skip_all, fields(policy = %policy.name_any()))]
pub async fn reconcile(policy: Arc<GuardianPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Every replica keeps the compiled set current: standbys serve the webhook too. Compiling
    // is CPU work, and only when a policy or exception changed in what the set depends on
    // (never after a status write); asking waits for a compile another task runs. Both off the
    // async workers.
    let compiling = ctx.clone();
    let built = tokio::task::spawn_blocking(move || compiling.fresh_build())
        .await
        .map_err(|e| Error::Join(e.to_string()))?;
    if !ctx.is_leader() {
        // Standbys keep caches warm and write nothing; becoming leader triggers a full pass.
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let api: Api<GuardianPolicy> = Api::all(ctx.client.clone());
    let name = policy.name_any();
    let result = finalizer(&api, FINALIZER, policy, |event| async {
        match event {
            FinalizerEvent::Apply(p) => apply(&p, built.clone(), &ctx).await,
            FinalizerEvent::Cleanup(p) => cleanup::cleanup(&p.name_any(), &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let label = match &result {
        Ok(_) => {
            ctx.reset_backoff(&name);
            "success"
        }
        Err(e) => e.metric_label(),
    };
    record(&ctx.metrics, label, &result, started.elapsed());
    result
}

/// Counts a reconcile and times it, unless it is a cleanup waiting on its report writes: that
/// wait (up to [`cleanup::WAIT`], every few seconds while the writes are in flight) is no
/// reconcile's work, and would skew the durations.
fn record(metrics: &Metrics, label: &'static str, result: &Result<Action, Error>, took: Duration) {
    if result.as_ref().is_err_and(Error::reports_pending) {
        metrics.reconcile_untimed(label);
    } else {
        metrics.reconcile(label, took);
    }
}

/// Requeues a failed policy with per-policy exponential backoff; never exits. A cleanup waiting
/// for its report writes is no failure: checked again shortly, without backoff.
pub fn error_policy(policy: Arc<GuardianPolicy>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = policy.name_any();
    if error.reports_pending() {
        tracing::debug!(policy = %name, retry_in = ?cleanup::RECHECK, "{error}");
        return Action::requeue(cleanup::RECHECK);
    }
    let delay = ctx.backoff(&name);
    tracing::warn!(policy = %name, error = %crate::error::chain(error), retry_in = ?delay, "reconcile failed");
    ctx.metrics.error(error.metric_label());
    Action::requeue(delay)
}

/// `built`: the compiled set and what each policy's results depend on, asked for by `reconcile`.
async fn apply(
    policy: &GuardianPolicy,
    built: (Arc<PolicySnapshot>, Arc<PolicyInputs>),
    ctx: &Context,
) -> Result<Action, Error> {
    let name = policy.name_any();
    let (snapshot, inputs) = built;
    let errors = snapshot.rejected_policies.get(&name);
    let fallback = snapshot.enforced_instead.get(&name);
    let (assessment, rows, requeue) = match (errors, fallback) {
        // Nothing of the policy compiled: nothing is enforced, and nothing reported.
        (Some(errors), None) => {
            ctx.kept.forget(&name);
            (Assessment::Invalid(errors.clone()), Arc::default(), None)
        }
        // Compiled, or broken with its last good generation in the set: that is evaluated.
        _ => {
            let version = inputs.get(&name).copied().unwrap_or_default();
            let results = results(&name, &snapshot, version, ctx).await?;
            let requeue = next_requeue(&results, &ctx.exception_expiries(), ctx.resync);
            let Results { summary, rows, .. } = results;
            let assessment = match (errors, fallback) {
                (Some(errors), Some(last)) => Assessment::Fallback {
                    errors: errors.clone(),
                    enforced: last.generation,
                    summary,
                },
                _ => Assessment::Evaluated(summary),
            };
            (assessment, rows, Some(requeue))
        }
    };
    if !ctx.is_leader() {
        return Ok(Action::await_change());
    }
    if matches!(assessment, Assessment::Evaluated(_)) {
        record_last_good(policy, ctx).await?;
    }
    let due = update_reports(&name, rows, ctx).await;
    // The status first: it waits on no report write. The bodies are handed over whatever the
    // status write did: the retried reconcile finds the rows recorded and hands none over.
    let status = write_status(policy, &assessment, ctx).await;
    hand_over(due, ctx);
    status?;
    // An invalid policy waits for its next edit instead of hot-looping.
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Records a generation that compiles on the policy itself, so replicas that never saw it compile
/// (a standby started later, any replica after a restart) enforce it should an edit break it.
async fn record_last_good(policy: &GuardianPolicy, ctx: &Context) -> Result<(), Error> {
    let Some(value) = store::last_good_annotation(policy) else {
        return Ok(());
    };
    let name = policy.name_any();
    let patch = json!({"metadata": {"annotations": {store::LAST_GOOD_ANNOTATION: value}}});
    Api::<GuardianPolicy>::all(ctx.client.clone())
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Kube {
            context: format!("recording the last good generation of GuardianPolicy {name}"),
            source,
        })?;
    Ok(())
}

/// How long the audit may spend on one object. CEL rules are bounded in steps and bytes, but a
/// step can still scan a large string; past this deadline the object's unfinished CEL rules are
/// `error` findings, so a hostile policy costs each reconcile at most this per object, never a
/// stall. Built-in rules always finish.
pub const OBJECT_EVALUATION_DEADLINE: Duration = Duration::from_secs(1);

/// The policy's results: the kept ones when they can be trusted, else evaluated over every
/// cached object (see [`crate::incremental`]).
async fn results(
    name: &str,
    snapshot: &PolicySnapshot,
    version: u64,
    ctx: &Context,
) -> Result<Results, Error> {
    let expiries = ctx.exception_expiries();
    let freshness = Freshness {
        version,
        now: Timestamp::now(),
        resync: ctx.resync,
        expiries: &expiries,
    };
    if let Some(results) = ctx.kept.trusted(name, &freshness) {
        return Ok(results);
    }
    let set = snapshot.set.clone();
    let (kept, workloads, namespaces) = (
        ctx.kept.clone(),
        ctx.workloads.clone(),
        ctx.namespaces.clone(),
    );
    let (policy, metrics) = (name.to_owned(), ctx.metrics.clone());
    // CPU-bound: off the async runtime so watches and probes stay responsive.
    tokio::task::spawn_blocking(move || {
        let (results, evaluated) = kept.rebuild(
            &policy,
            &set,
            version,
            || workloads.snapshot(),
            || -> Arc<dyn NamespaceLabels> { namespaces.snapshot() },
        );
        metrics.objects_evaluated(FULL, evaluated);
        results
    })
    .await
    .map_err(|e| Error::Join(e.to_string()))
}

/// Records the policy's rows; returns the bodies of the namespaces they changed, to hand over to
/// the writer, none while a pass holds reports back (written all at once when it completes, see
/// `converge`). The report lock is held for the rows and the bodies only, never across a write.
pub(crate) async fn update_reports(
    policy: &str,
    rows: Arc<NamespaceRows>,
    ctx: &Context,
) -> Vec<ReportBody> {
    let mut state = ctx.reports.lock().await;
    let due = state.set_policy(policy, rows);
    state.record(policy);
    if state.in_pass() { Vec::new() } else { due }
}

/// Hands bodies over to the report writer, which writes them outside the report lock.
pub(crate) fn hand_over(due: Vec<ReportBody>, ctx: &Context) {
    for report in due {
        ctx.writer.submit(report);
    }
}

async fn write_status(
    policy: &GuardianPolicy,
    assessment: &Assessment,
    ctx: &Context,
) -> Result<(), Error> {
    let name = policy.name_any();
    let previous = policy.status.as_ref();
    let desired = status::desired(
        assessment,
        policy.meta().generation,
        previous,
        Timestamp::now(),
    );
    if let Some(summary) = assessment.summary() {
        ctx.metrics.policy_counts(
            &name,
            &summary.by_severity.pairs(),
            summary.resources_evaluated,
        );
    }
    if previous == Some(&desired) {
        return Ok(());
    }
    publish_transitions(policy, previous, &desired, ctx).await;
    let api: Api<GuardianPolicy> = Api::all(ctx.client.clone());
    let patch = json!({
        "apiVersion": GuardianPolicy::api_version(&()),
        "kind": GuardianPolicy::kind(&()),
        "status": desired,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Kube {
        context: format!("writing the status of GuardianPolicy {name}"),
        source,
    })?;
    Ok(())
}

async fn publish_transitions(
    policy: &GuardianPolicy,
    previous: Option<&GuardianPolicyStatus>,
    desired: &GuardianPolicyStatus,
    ctx: &Context,
) {
    let was_degraded = status::condition_status(previous, DEGRADED) == Some("True");
    let is_degraded = status::condition_status(Some(desired), DEGRADED) == Some("True");
    if is_degraded && !was_degraded {
        let message = desired
            .conditions
            .iter()
            .find(|c| c.type_ == DEGRADED)
            .map(|c| c.message.clone());
        ctx.events
            .publish(
                policy,
                Transition::BecameDegraded,
                message.unwrap_or_default(),
            )
            .await;
    } else if was_degraded && !is_degraded {
        ctx.events
            .publish(
                policy,
                Transition::BecameReady,
                "the policy compiles again".to_owned(),
            )
            .await;
    }
    let violations = |s: Option<&GuardianPolicyStatus>| {
        s.and_then(|s| s.summary.as_ref())
            .map_or(0, |s| s.violations)
    };
    let (before, after) = (violations(previous), violations(Some(desired)));
    if before == 0 && after > 0 {
        ctx.events
            .publish(
                policy,
                Transition::ViolationsAppeared,
                format!("{after} violations found"),
            )
            .await;
    } else if before > 0 && after == 0 && !is_degraded {
        ctx.events
            .publish(
                policy,
                Transition::ViolationsCleared,
                "no violations remain".to_owned(),
            )
            .await;
    }
}

#[cfg(test)]
#[path = "report_retry_tests.rs"]
mod report_retry_tests;

#[cfg(test)]
mod deadline_tests {
    use guardian_core::crd::GuardianPolicy;
    use guardian_core::engine::{EvalContext, Evaluation, PolicySet, UnknownNamespaces};
    use guardian_core::model::Outcome;
    use serde_json::json;

    use super::*;
    use crate::incremental::evaluate_object;

    #[test]
    fn a_slow_cel_rule_is_an_error_after_the_objects_deadline() {
        // Every step scans 1 MiB: within the step budget this runs for minutes.
        let policy: GuardianPolicy = serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": { "name": "slow" },
            "spec": { "enforcement": "Audit", "rules": [{ "cel": {
                "name": "scan", "message": "scans",
                "expression":
                    "object.spec.containers.all(c, object.spec.containers.all(d, !object.blob.contains('y')))"
            }}]}
        }))
        .expect("policy");
        let set = PolicySet::compile(&[policy], &[]).expect("compiles");
        let containers: Vec<_> = (0..1000)
            .map(|i| json!({ "name": format!("c{i}"), "image": "nginx:1.27" }))
            .collect();
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "web", "namespace": "shop" },
            "spec": { "containers": containers },
            "blob": "x".repeat(1 << 20)
        });
        let ctx = EvalContext {
            now: Timestamp::now(),
            namespaces: &UnknownNamespaces,
        };
        let started = Instant::now();
        let evaluation = evaluate_object(&set, &pod, &ctx, |p| p == "slow");
        let elapsed = started.elapsed();
        let Evaluation::Evaluated { findings, .. } = evaluation else {
            panic!("not evaluated: {evaluation:?}");
        };
        assert!(
            findings
                .iter()
                .any(|f| f.outcome == Outcome::Error && f.message.contains("deadline")),
            "{findings:?}"
        );
        assert!(
            elapsed < OBJECT_EVALUATION_DEADLINE * 5,
            "stopped only after {elapsed:?}"
        );
    }
}
