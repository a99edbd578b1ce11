//! Reconciles in O(changes): each policy's latest results are kept per object
//! ([`PolicyFindings`]), a workload change re-evaluates the changed object only, and a policy is
//! evaluated over every cached object only when its kept results cannot be trusted.
//!
//! Kept results are trusted while they come from the compiled set as it is (a policy's or an
//! exception's spec edit recompiles it: a new version), no trigger that can change any outcome
//! without an object event of its own happened since their full evaluation started (any
//! exception event, a relist of the namespaces or of a kind, a new leadership term: see
//! [`KeptFindings::invalidate_all`]), the replica stayed leader (a standby records no change, so
//! it keeps nothing: [`KeptFindings::stand_by`]), no exception expired since then, and the
//! periodic resync is not due (the safety net: a full evaluation whose result the tests show
//! equal to the kept one).
//!
//! A full evaluation takes the cache's snapshot after it announced itself; changes arriving
//! while it runs are queued and replayed on its result (with the namespace labels current at
//! each replay) before it is kept, so none is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use guardian_cluster::cache::CachedObject;
use guardian_core::crd::PolicySummary;
use guardian_core::engine::{Deadline, EvalContext, Evaluation, NamespaceLabels, PolicySet};
use k8s_openapi::jiff::Timestamp;

use crate::findings::{ObjectResult, PolicyFindings, Strings, object_id};
use crate::reconcile::OBJECT_EVALUATION_DEADLINE;
use crate::reports::NamespaceRows;

/// One workload change as the cache reports it: the object before and after (same key).
pub type Change = (Option<Arc<CachedObject>>, Option<Arc<CachedObject>>);

/// What a policy's status and reports are written from.
#[derive(Debug, Clone)]
pub struct Results {
    pub summary: PolicySummary,
    /// Shared with the kept results (see [`PolicyFindings::rows`]): handed out under the lock
    /// without copying any row.
    pub rows: Arc<NamespaceRows>,
    /// When the results were last evaluated over every object (the resync counts from there).
    pub full_at: Instant,
}

/// What the kept results of a policy must match to be trusted.
#[derive(Debug, Clone, Copy)]
pub struct Freshness<'a> {
    /// What the policy's results depend on now (see `reconcile_inputs::policy_inputs`).
    pub version: u64,
    pub now: Timestamp,
    pub resync: Duration,
    /// When each exception expires.
    pub expiries: &'a [Timestamp],
}

#[derive(Debug)]
struct Kept {
    findings: PolicyFindings,
    strings: Strings,
    /// What the policy's results depended on when evaluated in full.
    version: u64,
    /// The invalidation epoch when the full evaluation started.
    epoch: u64,
    /// When the full evaluation started: an exception expiring later is not reflected in it.
    evaluated_at: Timestamp,
    full_at: Instant,
}

impl Kept {
    fn trusted(&self, epoch: u64, f: &Freshness<'_>) -> bool {
        self.version == f.version
            && self.epoch == epoch
            && self.full_at.elapsed() < f.resync
            && !f
                .expiries
                .iter()
                .any(|e| *e > self.evaluated_at && *e <= f.now)
    }

    fn results(&mut self) -> Results {
        Results {
            summary: self.findings.summary(),
            rows: self.findings.rows(),
            full_at: self.full_at,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    kept: HashMap<String, Kept>,
    /// Policies being evaluated over every object, with the changes seen meanwhile.
    rebuilding: HashMap<String, Vec<Change>>,
    epoch: u64,
}

/// Every policy's kept results, shared by the reconciles and the workload watch task.
#[derive(Debug, Default)]
pub struct KeptFindings {
    inner: Mutex<Inner>,
}

/// What a workload change asks of each policy.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Policies whose status or reports changed: to be written from their kept results.
    pub write: Vec<String>,
    /// Policies without trusted kept results the object may concern: to be evaluated in full.
    pub evaluate: Vec<String>,
    /// Objects evaluated to decide (0 or 1).
    pub evaluated: u64,
}

impl Decision {
    /// The decision histogram's label: `evaluate` when a policy must be evaluated in full (the
    /// slow path), else `write` when a status or report changed, else `none`.
    pub fn outcome(&self) -> &'static str {
        if !self.evaluate.is_empty() {
            "evaluate"
        } else if !self.write.is_empty() {
            "write"
        } else {
            "none"
        }
    }
}

/// When to reconcile again without a change: at the resync, or when an exception expires first.
pub fn next_requeue(results: &Results, expiries: &[Timestamp], resync: Duration) -> Duration {
    let now = Timestamp::now();
    let resync = resync.saturating_sub(results.full_at.elapsed());
    expiries
        .iter()
        .filter(|e| **e > now)
        .filter_map(|e| Duration::try_from(now.duration_until(*e)).ok())
        .fold(resync, Duration::min)
        // Not sooner than a second: an expiry a few microseconds away is due by then.
        .max(Duration::from_secs(1))
}

/// One object against the policies `include` accepts, within the per-object deadline.
pub(crate) fn evaluate_object(
    set: &PolicySet,
    object: &serde_json::Value,
    ctx: &EvalContext<'_>,
    include: impl Fn(&str) -> bool,
) -> Evaluation {
    Deadline::at(Instant::now() + OBJECT_EVALUATION_DEADLINE)
        .run(|| set.evaluate_policies(object, ctx, include))
}

/// Sets the result of one change for `policy` from the new object's evaluation.
fn record(
    findings: &mut PolicyFindings,
    strings: &mut Strings,
    policy: &str,
    change: &Change,
    evaluation: Option<&(serde_json::Value, Evaluation)>,
) -> bool {
    match evaluation {
        Some((value, evaluation)) => {
            let Some((namespace, id)) = object_id(value) else {
                return false;
            };
            let result = ObjectResult::of(evaluation, policy, strings);
            findings.set(&namespace, &id, result)
        }
        // Gone (deleted, or now evaluated through its owner).
        None => {
            let old = change.0.as_ref().and_then(|o| o.value());
            match old.as_ref().and_then(object_id) {
                Some((namespace, id)) => findings.set(&namespace, &id, None),
                None => false,
            }
        }
    }
}

/// The policies selecting the object before or after a change (no rule is run): what a replica
/// without kept results reconciles.
pub fn matching(change: &Change, set: &PolicySet, namespaces: &dyn NamespaceLabels) -> Vec<String> {
    let ctx = EvalContext {
        now: Timestamp::now(),
        namespaces,
    };
    let mut names: Vec<String> = [&change.0, &change.1]
        .into_iter()
        .flatten()
        .filter_map(|o| o.value())
        .flat_map(|o| set.matching_policies(&o, &ctx))
        .map(|p| p.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

impl KeptFindings {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves results that may be half updated: distrust them.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.epoch += 1;
            self.inner.clear_poison();
            inner
        })
    }

    /// Distrusts every kept result: the next reconcile of each policy evaluates it in full.
    pub fn invalidate_all(&self) {
        self.lock().epoch += 1;
    }

    /// How many times every kept result was distrusted (the tests read it).
    #[cfg(test)]
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Drops a policy's results (deleted, or not compiled).
    pub fn forget(&self, policy: &str) {
        self.lock().kept.remove(policy);
    }

    /// The policy's kept results, if they can be trusted.
    pub fn trusted(&self, policy: &str, freshness: &Freshness<'_>) -> Option<Results> {
        let mut inner = self.lock();
        let epoch = inner.epoch;
        let kept = inner.kept.get_mut(policy)?;
        kept.trusted(epoch, freshness).then(|| kept.results())
    }

    /// Evaluates `policy` over every object `snapshot` returns and keeps the results, replaying
    /// the changes seen meanwhile. Each batch (the snapshot, then each batch of changes queued
    /// while the previous one ran) is evaluated with the namespace labels `labels` returns at its
    /// start: a namespace relabelled meanwhile requeues its objects, and their replay must see
    /// the new labels. Returns the results and how many objects were evaluated. CPU-bound: called
    /// off the async runtime. `snapshot` is called once the evaluation announced itself, so every
    /// later change is queued for it.
    pub fn rebuild(
        &self,
        policy: &str,
        set: &PolicySet,
        version: u64,
        snapshot: impl FnOnce() -> Vec<Arc<CachedObject>>,
        labels: impl Fn() -> Arc<dyn NamespaceLabels>,
    ) -> (Results, u64) {
        let epoch = {
            let mut inner = self.lock();
            inner.rebuilding.insert(policy.to_owned(), Vec::new());
            inner.epoch
        };
        // A panic below must not leave the policy announced forever (`apply` would skip it).
        let mut guard = Announced {
            kept: self,
            policy,
            done: false,
        };
        let (full_at, evaluated_at) = (Instant::now(), Timestamp::now());
        let rules = set
            .policies()
            .find(|p| p.name == policy)
            .map_or(0, |p| p.rules);
        let mut findings = PolicyFindings::new(rules);
        let mut strings = Strings::default();
        let mut evaluated = 0;
        let mut pending: Vec<Change> = snapshot()
            .into_iter()
            .map(|object| (None, Some(object)))
            .collect();
        loop {
            let namespaces = labels();
            let ctx = EvalContext {
                now: Timestamp::now(),
                namespaces: &*namespaces,
            };
            for change in &pending {
                let evaluation = change.1.as_ref().and_then(|o| o.value()).map(|value| {
                    evaluated += 1;
                    let evaluation = evaluate_object(set, &value, &ctx, |p| p == policy);
                    (value, evaluation)
                });
                record(
                    &mut findings,
                    &mut strings,
                    policy,
                    change,
                    evaluation.as_ref(),
                );
            }
            let mut inner = self.lock();
            pending = inner
                .rebuilding
                .get_mut(policy)
                .map(std::mem::take)
                .unwrap_or_default();
            if pending.is_empty() {
                inner.rebuilding.remove(policy);
                guard.done = true;
                strings.sweep();
                let mut kept = Kept {
                    findings,
                    strings,
                    version,
                    epoch,
                    evaluated_at,
                    full_at,
                };
                let results = kept.results();
                inner.kept.insert(policy.to_owned(), kept);
                return (results, evaluated);
            }
        }
    }

    /// This replica is not the leader: it stops keeping results (changes are no longer recorded
    /// in them), and a full evaluation started before is not trusted either. Frees the memory.
    pub fn stand_by(&self) {
        let mut inner = self.lock();
        if !inner.kept.is_empty() || !inner.rebuilding.is_empty() {
            inner.kept.clear();
            inner.epoch += 1;
        }
    }

    /// Applies one workload change: evaluates the new object once against every policy with
    /// trusted results (and queues the change for those being evaluated in full), and decides
    /// which policies must be written or evaluated in full.
    pub fn apply(
        &self,
        change: &Change,
        set: &PolicySet,
        inputs: &HashMap<String, u64>,
        namespaces: &dyn NamespaceLabels,
    ) -> Decision {
        let ctx = EvalContext {
            now: Timestamp::now(),
            namespaces,
        };
        let evaluation = change.1.as_ref().and_then(|o| o.value()).map(|value| {
            let evaluation = evaluate_object(set, &value, &ctx, |_| true);
            (value, evaluation)
        });
        let mut decision = Decision {
            evaluated: u64::from(evaluation.is_some()),
            ..Decision::default()
        };
        let mut inner = self.lock();
        let epoch = inner.epoch;
        let Inner {
            kept, rebuilding, ..
        } = &mut *inner;
        // Their results are written once their full evaluation completes.
        for queued in rebuilding.values_mut() {
            queued.push(change.clone());
        }
        // A policy gone from the cache (its finalizer removed by hand, say) keeps nothing.
        kept.retain(|policy, _| inputs.contains_key(policy));
        for (policy, kept) in kept.iter_mut() {
            if rebuilding.contains_key(policy) {
                continue;
            }
            if inputs.get(policy) != Some(&kept.version) || kept.epoch != epoch {
                decision.evaluate.push(policy.clone());
                continue;
            }
            if record(
                &mut kept.findings,
                &mut kept.strings,
                policy,
                change,
                evaluation.as_ref(),
            ) {
                decision.write.push(policy.clone());
            }
        }
        // Policies without results here yet (never evaluated on this replica) that select the
        // object before or after: evaluated in full, as before kept results existed.
        let known = |p: &str| inner.kept.contains_key(p) || inner.rebuilding.contains_key(p);
        if set.policies().any(|p| !known(p.name)) {
            let old = change.0.as_ref().and_then(|o| o.value());
            let mut names: Vec<String> = old
                .iter()
                .chain(evaluation.as_ref().map(|(value, _)| value))
                .flat_map(|o| set.matching_policies(o, &ctx))
                .filter(|p| !known(p))
                .map(|p| p.to_string())
                .collect();
            decision.evaluate.append(&mut names);
        }
        decision.write.sort();
        decision.evaluate.sort();
        decision.evaluate.dedup();
        decision
    }
}

/// A policy announced as being evaluated in full; unannounced (and its old results dropped) when
/// the evaluation ends without keeping its results (a panic).
struct Announced<'a> {
    kept: &'a KeptFindings,
    policy: &'a str,
    done: bool,
}

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.kept.lock();
            inner.rebuilding.remove(self.policy);
            inner.kept.remove(self.policy);
        }
    }
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
