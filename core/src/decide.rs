//! The admission decision: findings of the new object (and, on UPDATE, of the old one) in, a
//! verdict out. Pure: no request parsing, no message text, no clock; the webhook renders it.
//!
//! By the enforcement of the policy a finding comes from (carried by the evaluation):
//! - Deny: a failing finding denies. A finding whose rule could not be evaluated (a CEL runtime
//!   error) also denies: **fail-closed**, as Kubernetes' own ValidatingAdmissionPolicy does with
//!   its default `failurePolicy: Fail`. Failing open would admit exactly the objects a broken
//!   rule was written to stop, silently; failing closed is loud and names the rule.
//! - Warn: allowed, one warning per failing finding.
//! - Audit: allowed; only counted (the controller's reports carry the details).
//!
//! Excepted findings never deny or warn. On UPDATE, a Deny violation that the old object already
//! had (same policy, rule, container, field and offending value) does not deny — editing an
//! unrelated field of a legacy object must not be blocked — but it is still warned about; a new
//! violation denies. Only a *failure* on the old object counts as "already had": a rule that
//! could not be evaluated on the old object (an `error`) says nothing about it, so a failure or
//! an error on the new object is judged as new.

use std::collections::HashSet;

use crate::crd::Enforcement;
use crate::engine::MatchedPolicy;
use crate::model::{Finding, Outcome};

/// What admission answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    Allowed,
    Warned,
    Denied,
}

impl Decision {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Warned => "warned",
            Decision::Denied => "denied",
        }
    }
}

/// A finding allowed with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warned<'f> {
    pub finding: &'f Finding,
    /// A Deny violation the old object already had, allowed on update.
    pub pre_existing: bool,
}

/// The verdict on one object, borrowing the new object's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'f> {
    /// Failures of Deny policies the old object did not have, in evaluation order.
    pub denied: Vec<&'f Finding>,
    /// Failures of Warn policies, then the Deny failures judged pre-existing.
    pub warned: Vec<Warned<'f>>,
    /// The strictest enforcement among the policies that matched the object.
    pub enforcement: Option<Enforcement>,
    /// Failing findings whose rule could not be evaluated, under any enforcement.
    pub rule_errors: usize,
}

impl Verdict<'_> {
    pub fn decision(&self) -> Decision {
        if !self.denied.is_empty() {
            Decision::Denied
        } else if !self.warned.is_empty() {
            Decision::Warned
        } else {
            Decision::Allowed
        }
    }

    /// The Deny failures allowed because the old object already had them.
    pub fn pre_existing(&self) -> impl Iterator<Item = &Finding> {
        self.warned
            .iter()
            .filter(|w| w.pre_existing)
            .map(|w| w.finding)
    }
}

/// Decides on an object from its evaluation (`matched` policies and their `findings`).
/// `old` gives the old object's findings on UPDATE (`None` on CREATE, or when the old object
/// cannot be evaluated: it then vouches for nothing); it is called only when something would be
/// denied, so the common update costs one evaluation, not two.
pub fn decide<'f>(
    matched: &[MatchedPolicy],
    findings: &'f [Finding],
    old: impl FnOnce() -> Option<Vec<Finding>>,
) -> Verdict<'f> {
    let mut verdict = Verdict {
        denied: Vec::new(),
        warned: Vec::new(),
        enforcement: matched.iter().map(|p| p.enforcement).max(),
        rule_errors: 0,
    };
    // In evaluation order (matched policies come in set order), each finding with its own
    // policy's enforcement.
    let failing = matched
        .iter()
        .flat_map(|p| p.findings(findings).iter().map(move |f| (f, p.enforcement)))
        .filter(|(f, _)| f.is_failure());
    for (f, enforcement) in failing {
        if f.outcome == Outcome::Error {
            verdict.rule_errors += 1;
        }
        match enforcement {
            Enforcement::Deny => verdict.denied.push(f),
            Enforcement::Warn => verdict.warned.push(Warned {
                finding: f,
                pre_existing: false,
            }),
            Enforcement::Audit => {}
        }
    }
    if verdict.denied.is_empty() {
        return verdict;
    }
    let Some(old) = old() else {
        return verdict;
    };
    let existing = existing_violations(&old);
    // Only a failure can be pre-existing: an error on the new object is judged fresh.
    let (pre_existing, fresh): (Vec<&Finding>, Vec<&Finding>) = verdict
        .denied
        .into_iter()
        .partition(|f| f.outcome == Outcome::Fail && existing.contains(&ViolationKey::of(f)));
    verdict.denied = fresh;
    verdict
        .warned
        .extend(pre_existing.into_iter().map(|finding| Warned {
            finding,
            pre_existing: true,
        }));
    verdict
}

/// Every violation of the old object, excepted or not: a violation it already had is not new.
/// A rule that could not be evaluated on it (`error`) is no violation: it proves nothing.
fn existing_violations(old: &[Finding]) -> HashSet<ViolationKey> {
    old.iter()
        .filter(|f| f.outcome != Outcome::Error)
        .map(ViolationKey::of)
        .collect()
}

/// What makes two findings "the same violation" across an update: policy, rule, container,
/// field and message. For a container's finding only the container's own list index is dropped
/// from the path (the container is keyed by its name), so reordering containers does not turn an
/// old violation into a new one; every other index stays, and the message names the offending
/// value, so a second added capability or another host port is a new violation.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ViolationKey {
    policy: String,
    rule: String,
    container: Option<String>,
    path: String,
    message: String,
}

impl ViolationKey {
    fn of(f: &Finding) -> Self {
        let path = if f.container.is_some() {
            strip_container_index(&f.path)
        } else {
            f.path.clone()
        };
        ViolationKey {
            policy: f.policy().to_string(),
            rule: f.rule_id().to_string(),
            container: f.container.clone(),
            path,
            message: f.message.clone(),
        }
    }
}

/// The lists whose index names a container.
const CONTAINER_LISTS: [&str; 3] = ["containers[", "initContainers[", "ephemeralContainers["];

/// `spec.containers[2].ports[1].hostPort` → `spec.containers[].ports[1].hostPort`: only the
/// index right after a container list goes.
fn strip_container_index(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let (head, tail) = rest.split_at(open + 1);
        out.push_str(head);
        let is_container_list = CONTAINER_LISTS.iter().any(|list| {
            head.strip_suffix(list)
                .is_some_and(|before| before.is_empty() || before.ends_with('.'))
        });
        match tail.find(']') {
            Some(close) if is_container_list => rest = &tail[close..],
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
