//! A report's rows: one per fail, warn or error finding, in report order, bounded per policy
//! and namespace with full counts beside them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use guardian_core::crd::Enforcement;
use guardian_core::model::{Finding, Outcome, ResourceRef};

use super::MAX_RESULTS;

/// One row of a report. Policy, rule and resource are shared with the findings, and the report
/// state interns paths and messages (rows live as long as the policy's results, and a template
/// deployed many times yields the same texts again and again).
#[derive(Debug, Clone)]
pub struct ReportResult {
    pub policy: Arc<str>,
    pub resource: Arc<ResourceRef>,
    pub rule: Arc<str>,
    pub path: Arc<str>,
    pub result: &'static str,
    pub severity: &'static str,
    pub category: &'static str,
    pub message: Arc<str>,
    pub container: Option<Arc<str>>,
}

/// The order of rows in a report, borrowed so a finding can be placed before it becomes a row.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey<'a> {
    policy: &'a str,
    kind: &'a str,
    api_version: &'a str,
    name: &'a str,
    rule: &'a str,
    path: &'a str,
    result: &'static str,
    severity: &'static str,
    category: &'static str,
    message: &'a str,
    container: Option<&'a str>,
}

// Equality follows the report order, so the two never disagree inside a row set.
impl PartialEq for ReportResult {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ReportResult {}

impl PartialOrd for ReportResult {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ReportResult {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// `fail` or `warn` for a finding that counts, `error` for a rule that could not be evaluated (a
/// CEL runtime error: neither a pass nor a plain failure); excepted findings are not reported.
fn result_of(f: &Finding, enforcement: Enforcement) -> Option<&'static str> {
    match (&f.outcome, enforcement) {
        (Outcome::Error, _) => Some("error"),
        (Outcome::Fail, Enforcement::Warn) => Some("warn"),
        (Outcome::Fail, _) => Some("fail"),
        (Outcome::Skip { .. }, _) => None,
    }
}

fn finding_key<'a>(f: &'a Finding, result: &'static str) -> RowKey<'a> {
    RowKey {
        policy: f.policy(),
        kind: &f.resource.kind,
        api_version: &f.resource.api_version,
        name: &f.resource.name,
        rule: f.rule_id(),
        path: &f.path,
        result,
        severity: f.severity().as_str(),
        category: f.category().as_str(),
        message: &f.message,
        container: f.container.as_deref(),
    }
}

impl ReportResult {
    /// The row a finding of a policy under `enforcement` makes, if it is reported (excepted
    /// findings are not): what the operator keeps per object between reconciles.
    pub(crate) fn of(f: &Finding, enforcement: Enforcement) -> Option<Self> {
        result_of(f, enforcement).map(|result| ReportResult::new(f, result))
    }

    fn new(f: &Finding, result: &'static str) -> Self {
        ReportResult {
            policy: f.rule.policy.clone(),
            resource: f.resource.clone(),
            rule: f.rule.id.clone(),
            path: f.path.as_str().into(),
            result,
            severity: f.severity().as_str(),
            category: f.category().as_str(),
            message: f.message.as_str().into(),
            container: f.container.as_deref().map(Arc::from),
        }
    }

    fn key(&self) -> RowKey<'_> {
        RowKey {
            policy: &self.policy,
            kind: &self.resource.kind,
            api_version: &self.resource.api_version,
            name: &self.resource.name,
            rule: &self.rule,
            path: &self.path,
            result: self.result,
            severity: self.severity,
            category: self.category,
            message: &self.message,
            container: self.container.as_deref(),
        }
    }
}

/// One policy's results in one namespace: the first [`MAX_RESULTS`] rows in report order (all a
/// report can show, since the merged report's first rows are among every policy's first rows)
/// and the full counts, so memory stays bounded however many violations there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRows {
    pub(super) rows: BTreeSet<ReportResult>,
    pub(super) fail: usize,
    pub(super) warn: usize,
    pub(super) error: usize,
}

impl PolicyRows {
    /// Counts a finding and keeps its row if it is among the first [`MAX_RESULTS`]; the row is
    /// built only then (a policy failing on every Pod of a big namespace would otherwise
    /// allocate a row per finding only to drop it).
    pub fn push_finding(&mut self, f: &Finding, enforcement: Enforcement) {
        let Some(result) = result_of(f, enforcement) else {
            return;
        };
        // Full, and the finding sorts after the last kept row: it can only be counted.
        if self.rows.len() >= MAX_RESULTS
            && self
                .rows
                .last()
                .is_some_and(|last| finding_key(f, result) >= last.key())
        {
            self.count(result);
            return;
        }
        self.push(ReportResult::new(f, result));
    }

    fn count(&mut self, result: &str) {
        match result {
            "fail" => self.fail += 1,
            "warn" => self.warn += 1,
            _ => self.error += 1,
        }
    }

    /// Counts a row and keeps it if it is among the first [`MAX_RESULTS`].
    pub(crate) fn push(&mut self, row: ReportResult) {
        self.count(row.result);
        self.rows.insert(row);
        if self.rows.len() > MAX_RESULTS {
            self.rows.pop_last();
        }
    }

    pub(crate) fn total(&self) -> usize {
        self.fail + self.warn + self.error
    }
}

/// One policy's report rows by namespace, as its kept results hand them out: a namespace's rows
/// are a new allocation only when they changed, so a reader sees which changed without
/// comparing rows.
pub type NamespaceRows = BTreeMap<String, Arc<PolicyRows>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::tests::finding;

    #[test]
    fn a_finding_sorts_exactly_where_its_row_would() {
        // Every field distinct, so a swapped mapping between the two keys shows.
        let f = finding("web", Outcome::Fail);
        for result in ["fail", "warn"] {
            assert_eq!(finding_key(&f, result), ReportResult::new(&f, result).key());
        }
    }

    #[test]
    fn findings_past_the_bound_are_counted_without_becoming_rows() {
        // Out of order, so the bound must keep the first rows by report order, not by arrival.
        let findings: Vec<Finding> = (0..MAX_RESULTS + 50)
            .rev()
            .map(|i| finding(&format!("pod-{i:05}"), Outcome::Fail))
            .chain([finding(
                "excepted",
                Outcome::Skip {
                    exception: "e".into(),
                    justification: "j".into(),
                },
            )])
            .collect();
        let mut lazy = PolicyRows::default();
        let mut eager = PolicyRows::default();
        for f in &findings {
            lazy.push_finding(f, Enforcement::Warn);
            if let Some(result) = result_of(f, Enforcement::Warn) {
                eager.push(ReportResult::new(f, result));
            }
        }
        assert_eq!(lazy, eager);
        assert_eq!(
            (lazy.warn, lazy.fail, lazy.rows.len()),
            (MAX_RESULTS + 50, 0, MAX_RESULTS)
        );
        assert_eq!(
            lazy.rows.last().map(|r| r.resource.name.clone()),
            Some(format!("pod-{:05}", MAX_RESULTS - 1))
        );
    }
}
