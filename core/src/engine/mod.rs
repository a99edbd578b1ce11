//! The policy engine: a compiled, immutable, thread-shareable set of policies that turns one
//! object into findings with no work repeated per object.

mod compile;

pub use compile::Rejected;
mod exceptions;
mod matcher;
mod namespaces;
mod scratch;
mod selector;

pub use crate::governance::cel::Deadline;
pub use matcher::{
    DEFAULT_NAMESPACE, FailClosed, NamespaceLabels, NamespaceMap, UnknownNamespaces,
};
pub use selector::Labels;

use std::sync::{Arc, OnceLock};

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::Error;
use crate::crd::{Enforcement, GuardianException, GuardianPolicy};
use crate::governance::Rule;
use crate::governance::Violation;
use crate::governance::cel::{CelExpression, CelObject};
use crate::model::{Finding, Outcome, ResourceRef, RuleInfo, RuleRef};
use crate::workload::{ObjectMeta, ViewError, WorkloadKind, WorkloadView};
use exceptions::{CompiledException, ExceptionIndex};
use matcher::CompiledMatch;
use scratch::{Run, Scratch};

/// Policies compiled once; `Send + Sync`, share it behind an `Arc` across threads and tasks.
#[derive(Debug)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    rules: Vec<RuleInfo>,
}

#[derive(Debug)]
struct CompiledPolicy {
    name: Arc<str>,
    enforcement: Enforcement,
    matcher: CompiledMatch,
    rules: Vec<CompiledRule>,
    /// For each workload kind (in [`WorkloadKind::ALL`] order), the indices of the rules that
    /// apply to it: chosen once here, not per object.
    by_kind: [Vec<usize>; WorkloadKind::ALL.len()],
    exceptions: ExceptionIndex,
}

impl CompiledPolicy {
    /// The rules that apply to `kind`, in policy order, with their index in `rules`.
    fn rules_for(&self, kind: WorkloadKind) -> impl Iterator<Item = (usize, &CompiledRule)> {
        // `WorkloadKind::ALL` lists the kinds in declaration order (a test holds it).
        self.by_kind[kind as usize]
            .iter()
            .filter_map(|&i| self.rules.get(i).map(|r| (i, r)))
    }
}

#[derive(Debug)]
struct CompiledRule {
    /// What each of its findings refers to, built once here: a finding clones this one `Arc`.
    reference: Arc<RuleRef>,
    title: String,
    kind: RuleKind,
}

impl CompiledRule {
    fn applies_to(&self, kind: WorkloadKind) -> bool {
        match &self.kind {
            RuleKind::Builtin(rule) => rule.applies_to(kind),
            RuleKind::Cel { .. } => true,
        }
    }
}

#[derive(Debug)]
enum RuleKind {
    Builtin(Box<dyn Rule>),
    Cel {
        expr: CelExpression,
        message: String,
    },
}

/// What the engine needs to know besides the object.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// Exceptions expire relative to this instant.
    pub now: Timestamp,
    pub namespaces: &'a dyn NamespaceLabels,
}

impl std::fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl EvalContext<'static> {
    /// Now, with no namespace labels known: what offline checks use.
    pub fn offline() -> Self {
        EvalContext {
            now: Timestamp::now(),
            namespaces: &UnknownNamespaces,
        }
    }
}

/// The result of evaluating one object.
#[derive(Debug)]
pub enum Evaluation {
    /// Not evaluated, with the reason (not a manifest, or not a workload kind).
    Skipped(String),
    /// Evaluated: which policies matched (with their enforcement) and what they found.
    Evaluated {
        resource: Arc<ResourceRef>,
        matched_policies: Vec<MatchedPolicy>,
        findings: Vec<Finding>,
    },
}

/// A policy that selected the object. Its enforcement travels with the evaluation, so a sink
/// (admission, the audit) never looks a policy up by name again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedPolicy {
    /// The policy's position in the set, as [`PolicySet::policies`] lists them.
    pub index: usize,
    pub name: Arc<str>,
    pub enforcement: Enforcement,
    /// This policy's findings: `findings[range]` of the same evaluation (a policy's findings
    /// are contiguous).
    pub findings: std::ops::Range<usize>,
}

impl MatchedPolicy {
    /// This policy's findings among the evaluation's `findings`.
    pub fn findings<'f>(&self, findings: &'f [Finding]) -> &'f [Finding] {
        findings.get(self.findings.clone()).unwrap_or_default()
    }
}

/// Public facts about one compiled policy.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInfo<'a> {
    pub name: &'a str,
    pub enforcement: Enforcement,
    pub rules: usize,
}

impl PolicySet {
    /// Compiles policies and exceptions, reporting every error at once.
    pub fn compile(
        policies: &[GuardianPolicy],
        exceptions: &[GuardianException],
    ) -> Result<PolicySet, Error> {
        compile::compile(policies, exceptions)
    }

    /// Compiles the valid policies and exceptions and returns the rejected ones with their errors
    /// (what a controller wants: one broken policy must not disable the others).
    pub fn compile_partial(
        policies: &[GuardianPolicy],
        exceptions: &[GuardianException],
    ) -> (PolicySet, Vec<Rejected>) {
        compile::compile_partial(policies, exceptions)
    }

    /// Every active rule, sorted by id.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The compiled policies, in the order given.
    pub fn policies(&self) -> impl Iterator<Item = PolicyInfo<'_>> {
        self.policies.iter().map(|p| PolicyInfo {
            name: &p.name,
            enforcement: p.enforcement,
            rules: p.rules.len(),
        })
    }

    /// The names of the policies whose `match` selects this object (no rule is run): what a
    /// controller needs to decide which policies a changed object affects.
    pub fn matching_policies(&self, object: &Value, ctx: &EvalContext<'_>) -> Vec<Arc<str>> {
        let Ok(meta) = ObjectMeta::from_value(object) else {
            return Vec::new();
        };
        let Some(workload) = WorkloadView::new(meta, object) else {
            return Vec::new();
        };
        self.policies
            .iter()
            .filter(|p| p.matcher.matches(&workload, ctx.namespaces))
            .map(|p| p.name.clone())
            .collect()
    }

    /// Evaluates one object against every matching policy. CEL rules stop at the deadline of an
    /// enclosing [`Deadline::run`], if any, as with [`evaluate_until`](Self::evaluate_until).
    pub fn evaluate(&self, object: &Value, ctx: &EvalContext<'_>) -> Evaluation {
        self.evaluate_policies(object, ctx, |_| true)
    }

    /// [`evaluate`](Self::evaluate), stopping CEL rules once `deadline` passes: each one still
    /// running stops at its next step and each one not yet started fails at once, all as `error`
    /// findings (which deny under `Deny`: fail-closed). Built-in rules always finish; they do
    /// bounded work. The webhook passes its request deadline, so an abandoned review gives its
    /// evaluation slot back instead of running on.
    pub fn evaluate_until(
        &self,
        object: &Value,
        ctx: &EvalContext<'_>,
        deadline: &Deadline,
    ) -> Evaluation {
        deadline.run(|| self.evaluate(object, ctx))
    }

    /// Evaluates one object against the matching policies whose name `include` accepts (a
    /// controller reconciling one policy evaluates only that one).
    pub fn evaluate_policies(
        &self,
        object: &Value,
        ctx: &EvalContext<'_>,
        include: impl Fn(&str) -> bool,
    ) -> Evaluation {
        let meta = match ObjectMeta::from_value(object) {
            Ok(meta) => meta,
            Err(ViewError::NotAManifest(why)) => {
                return Evaluation::Skipped(format!("not a Kubernetes object: {why}"));
            }
        };
        let Some(workload) = WorkloadView::new(meta, object) else {
            return Evaluation::Skipped(format!(
                "{} {} is not a workload kind; no rule applies",
                meta.api_version, meta.kind
            ));
        };
        let resource = Arc::new(meta.resource_ref());
        let mut matched_policies = Vec::new();
        let mut findings = Vec::new();
        // Reused across objects on this thread: nothing is allocated for a rule that passes, and
        // a policy's violations are all in before its findings are reserved, at once.
        let mut scratch = scratch::take();
        let mut exceptions: Vec<&CompiledException> = Vec::new();
        // Bound once per object, so fields several CEL rules read are converted once.
        let cel_object: OnceLock<CelObject<'_>> = OnceLock::new();
        for (index, policy) in self.policies.iter().enumerate() {
            if !include(&policy.name) || !policy.matcher.matches(&workload, ctx.namespaces) {
                continue;
            }
            let first = findings.len();
            exceptions.clear();
            policy
                .exceptions
                .covering(&workload, ctx.now, &mut exceptions);
            let Scratch { violations, runs } = &mut scratch;
            violations.clear();
            runs.clear();
            for (rule_index, rule) in policy.rules_for(workload.kind) {
                let errored = run_rule(rule, &workload, object, &cel_object, violations);
                if runs.last().map_or(0, |r| r.end) < violations.len() {
                    runs.push(Run {
                        rule: rule_index,
                        errored,
                        end: violations.len(),
                    });
                }
            }
            // One reservation per policy (exact for the usual single policy): the findings are
            // never moved by the vector growing.
            findings.reserve(violations.len());
            let mut drained = violations.drain(..);
            let mut start = 0;
            for run in runs.iter() {
                let count = run.end - start;
                start = run.end;
                // The run's violations are taken first, so a missing rule (never expected:
                // `runs` holds indices from `rules_for`) drops its own, never the next run's.
                let own = drained.by_ref().take(count);
                let Some(rule) = policy.rules.get(run.rule) else {
                    own.for_each(drop);
                    continue;
                };
                for v in own {
                    let outcome = if run.errored {
                        Outcome::Error
                    } else {
                        exception_outcome(&exceptions, &rule.reference.id, v.container.as_deref())
                    };
                    findings.push(Finding {
                        rule: rule.reference.clone(),
                        resource: resource.clone(),
                        container: v.container,
                        message: v.message,
                        path: v.path,
                        outcome,
                        location: None,
                    });
                }
            }
            drop(drained);
            matched_policies.push(MatchedPolicy {
                index,
                name: policy.name.clone(),
                enforcement: policy.enforcement,
                findings: first..findings.len(),
            });
        }
        scratch::put_back(scratch);
        Evaluation::Evaluated {
            resource,
            matched_policies,
            findings,
        }
    }
}

/// Runs one rule; returns true when the violations describe an evaluation error.
fn run_rule<'o>(
    rule: &CompiledRule,
    workload: &WorkloadView<'_>,
    object: &'o Value,
    cel_object: &OnceLock<CelObject<'o>>,
    out: &mut Vec<Violation>,
) -> bool {
    match &rule.kind {
        RuleKind::Builtin(r) => {
            r.check(workload, out);
            false
        }
        RuleKind::Cel { expr, message } => {
            match expr.evaluate(cel_object.get_or_init(|| CelObject::new(object))) {
                Ok(true) => false,
                Ok(false) => {
                    out.push(Violation::new(String::new(), message.clone()));
                    false
                }
                Err(e) => {
                    out.push(Violation::new(
                        String::new(),
                        format!("CEL rule {} could not be evaluated: {e}", rule.reference.id),
                    ));
                    true
                }
            }
        }
    }
}

fn exception_outcome(
    exceptions: &[&CompiledException],
    rule: &str,
    container: Option<&str>,
) -> Outcome {
    if exceptions.is_empty() {
        return Outcome::Fail;
    }
    exceptions
        .iter()
        .find(|e| e.covers_finding(rule, container))
        .map_or(Outcome::Fail, |e| Outcome::Skip {
            exception: e.id.clone(),
            justification: e.justification.clone(),
        })
}

#[cfg(test)]
mod alloc_tests;
#[cfg(test)]
mod tests;
