//! One policy's latest results, kept per object between reconciles, so that a change to one
//! object re-evaluates that object only.
//!
//! Per object the policy selected, only what the status and the PolicyReports are made of is
//! kept: its violations by severity, its excepted findings, and its report rows as pointers to
//! interned row texts ([`RowText`]: a template deployed many times yields the same rows again
//! and again, kept once), 8 bytes a row. The resource of a row is made again from the object's
//! key when the rows are rebuilt. The policy's summary is kept as
//! running totals and its report rows per namespace are rebuilt from the kept rows of the
//! namespaces a change touched, so both equal what evaluating every object again would give
//! (the tests compare the two after random sequences of changes).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use guardian_core::audit::is_violation;
use guardian_core::crd::{PolicySummary, SeverityCounts};
use guardian_core::engine::Evaluation;
use guardian_core::model::{ResourceRef, Severity};
use guardian_core::workload::WorkloadKind;
use serde_json::Value;

use crate::reports::{NamespaceRows, PolicyRows, ReportResult};

/// An object within its namespace: its kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId {
    pub kind: WorkloadKind,
    pub name: Box<str>,
}

impl ObjectId {
    /// The object as a report row names it.
    fn resource(&self, namespace: &str) -> ResourceRef {
        ResourceRef {
            api_version: self.kind.api_version().to_owned(),
            kind: self.kind.kind().to_owned(),
            namespace: Some(namespace.to_owned()),
            name: self.name.to_string(),
        }
    }
}

/// The namespace and id of a workload as the cache holds it, read without evaluating it.
pub fn object_id(object: &Value) -> Option<(String, ObjectId)> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = WorkloadKind::of(api_version, object.get("kind")?.as_str()?)?;
    let meta = object.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some((
        namespace.to_owned(),
        ObjectId {
            kind,
            name: name.into(),
        },
    ))
}

/// A report row without its resource: what objects of one template share.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RowText {
    policy: Arc<str>,
    rule: Arc<str>,
    path: Arc<str>,
    result: &'static str,
    severity: &'static str,
    category: &'static str,
    message: Arc<str>,
    container: Option<Arc<str>>,
}

impl RowText {
    fn row(&self, resource: &Arc<ResourceRef>) -> ReportResult {
        ReportResult {
            policy: self.policy.clone(),
            resource: resource.clone(),
            rule: self.rule.clone(),
            path: self.path.clone(),
            result: self.result,
            severity: self.severity,
            category: self.category,
            message: self.message.clone(),
            container: self.container.clone(),
        }
    }
}

/// The interned row texts of one policy's kept rows.
#[derive(Debug, Default)]
pub struct Strings(HashSet<Arc<RowText>>);

impl Strings {
    fn intern(&mut self, row: ReportResult) -> Arc<RowText> {
        let text = RowText {
            policy: row.policy,
            rule: row.rule,
            path: row.path,
            result: row.result,
            severity: row.severity,
            category: row.category,
            message: row.message,
            container: row.container,
        };
        match self.0.get(&text) {
            Some(shared) => shared.clone(),
            None => {
                let text = Arc::new(text);
                self.0.insert(text.clone());
                text
            }
        }
    }

    /// Drops the texts no kept row uses any more.
    pub fn sweep(&mut self) {
        self.0.retain(|s| Arc::strong_count(s) > 1);
    }
}

/// What one object contributes to one policy's status and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectResult {
    /// Violations (`fail` and `error` findings) by severity, indexed by `Severity as usize`.
    violations: [u32; 5],
    /// Findings covered by an exception.
    skipped: u32,
    /// The report rows of its findings, in no particular order.
    rows: Box<[Arc<RowText>]>,
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl ObjectResult {
    /// The object's result for `policy`, or `None` when the policy did not select it (or the
    /// object is no workload).
    pub fn of(evaluation: &Evaluation, policy: &str, strings: &mut Strings) -> Option<Self> {
        let Evaluation::Evaluated {
            matched_policies,
            findings,
            ..
        } = evaluation
        else {
            return None;
        };
        let matched = matched_policies.iter().find(|m| &*m.name == policy)?;
        let own = matched.findings(findings);
        let mut result = ObjectResult::default();
        let mut rows = Vec::new();
        for f in own {
            if is_violation(f) {
                let slot = &mut result.violations[f.severity() as usize];
                *slot = slot.saturating_add(1);
            } else {
                result.skipped = result.skipped.saturating_add(1);
            }
            // Reports are per namespace; a finding without one is counted, not reported.
            if f.resource.namespace.is_none() {
                continue;
            }
            if let Some(row) = ReportResult::of(f, matched.enforcement) {
                rows.push(strings.intern(row));
            }
        }
        result.rows = rows.into_boxed_slice();
        Some(result)
    }
}

/// Sums over the kept objects.
#[derive(Debug, Default)]
struct Totals {
    evaluated: u64,
    violations: [u64; 5],
    skipped: u64,
}

impl Totals {
    /// Adds (or takes away) one object's counts.
    fn count(&mut self, result: &ObjectResult, add: bool) {
        let apply = |total: &mut u64, n: u64| {
            *total = if add {
                total.saturating_add(n)
            } else {
                total.saturating_sub(n)
            };
        };
        apply(&mut self.evaluated, 1);
        for (total, n) in self.violations.iter_mut().zip(result.violations) {
            apply(total, u64::from(n));
        }
        apply(&mut self.skipped, u64::from(result.skipped));
    }
}

/// One policy's kept results: per namespace, each selected object's [`ObjectResult`].
#[derive(Debug, Default)]
pub struct PolicyFindings {
    rules: u32,
    objects: BTreeMap<String, HashMap<ObjectId, ObjectResult>>,
    /// Running totals over `objects`.
    totals: Totals,
    /// Report rows per namespace, current except for the namespaces in `dirty`; handed out as
    /// is (a reader's snapshot is copied, namespaces as pointers, only when a change follows).
    rows: Arc<NamespaceRows>,
    dirty: BTreeSet<String>,
}

impl PolicyFindings {
    /// No results yet, for a policy of `rules` compiled rules.
    pub fn new(rules: usize) -> Self {
        PolicyFindings {
            rules: saturating_u32(rules),
            ..PolicyFindings::default()
        }
    }

    /// Sets one object's result (`None`: the policy does not select it, or it is gone). Returns
    /// whether anything the status or the reports show may have changed.
    pub fn set(&mut self, namespace: &str, id: &ObjectId, result: Option<ObjectResult>) -> bool {
        let objects = self.objects.get_mut(namespace);
        let previous = objects.as_ref().and_then(|o| o.get(id));
        if previous == result.as_ref() {
            return false;
        }
        let rows_changed = previous.map_or(0, |p| p.rows.len()) > 0
            || result.as_ref().map_or(0, |r| r.rows.len()) > 0;
        let previous = match result {
            Some(result) => {
                self.totals.count(&result, true);
                match objects {
                    Some(objects) => objects.insert(id.clone(), result),
                    None => {
                        let objects = HashMap::from([(id.clone(), result)]);
                        self.objects.insert(namespace.to_owned(), objects);
                        None
                    }
                }
            }
            None => {
                let objects = objects.map(|o| {
                    let removed = o.remove(id);
                    (removed, o.is_empty())
                });
                match objects {
                    Some((removed, emptied)) => {
                        if emptied {
                            self.objects.remove(namespace);
                        }
                        removed
                    }
                    None => None,
                }
            }
        };
        if let Some(previous) = previous {
            self.totals.count(&previous, false);
        }
        if rows_changed {
            self.dirty.insert(namespace.to_owned());
        }
        true
    }

    /// The counts a GuardianPolicy's status shows, as core's audit counts them.
    pub fn summary(&self) -> PolicySummary {
        let mut by_severity = SeverityCounts::default();
        for severity in Severity::ALL {
            let n = self.totals.violations[severity as usize];
            match severity {
                Severity::Critical => by_severity.critical = n,
                Severity::High => by_severity.high = n,
                Severity::Medium => by_severity.medium = n,
                Severity::Low => by_severity.low = n,
                Severity::Info => by_severity.info = n,
            }
        }
        PolicySummary {
            rules: self.rules,
            resources_evaluated: self.totals.evaluated,
            violations: self.totals.violations.iter().sum(),
            by_severity,
            skipped: self.totals.skipped,
        }
    }

    /// The report rows by namespace (namespaces without any left out), rebuilding those of the
    /// namespaces whose objects' rows changed since the last call. Cheap to clone: namespaces
    /// not rebuilt keep their allocation, so a reader tells which changed by pointer.
    pub fn rows(&mut self) -> Arc<NamespaceRows> {
        if self.dirty.is_empty() {
            return self.rows.clone();
        }
        let shared = Arc::make_mut(&mut self.rows);
        for namespace in std::mem::take(&mut self.dirty) {
            let mut rows = PolicyRows::default();
            let kept = self.objects.get(&namespace).into_iter().flatten();
            for (id, result) in kept.filter(|(_, r)| !r.rows.is_empty()) {
                let resource = Arc::new(id.resource(&namespace));
                for text in &result.rows {
                    rows.push(text.row(&resource));
                }
            }
            if rows.total() > 0 {
                shared.insert(namespace, Arc::new(rows));
            } else {
                shared.remove(&namespace);
            }
        }
        self.rows.clone()
    }
}

#[cfg(test)]
#[path = "findings_tests.rs"]
pub(crate) mod tests;
