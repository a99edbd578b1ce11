//! PolicyReports (`wgpolicyk8s.io/v1alpha2`, the format Kyverno, Kubescape and Policy Reporter
//! read): one report per namespace holding every policy's fail and warn results, bounded in
//! size, and rewritten only when its content changed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use guardian_core::crd::Enforcement;
use guardian_core::model::{Finding, Outcome, ResourceRef};
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};

use crate::converge::Pass;

mod owned;
pub use owned::owned_namespaces;
use serde_json::{Value, json};

/// The name of the report kube-guardian owns in each namespace.
pub const REPORT_NAME: &str = "kube-guardian";
/// Results kept per report; the rest are counted in the summary's `truncated` property.
pub const MAX_RESULTS: usize = 1000;
const FIELD_MANAGER: &str = "kube-guardian";

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
        policy: &f.policy,
        kind: &f.resource.kind,
        api_version: &f.resource.api_version,
        name: &f.resource.name,
        rule: &f.rule,
        path: &f.path,
        result,
        severity: f.severity.as_str(),
        category: f.category.as_str(),
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
            policy: f.policy.clone(),
            resource: f.resource.clone(),
            rule: f.rule.clone(),
            path: f.path.as_str().into(),
            result,
            severity: f.severity.as_str(),
            category: f.category.as_str(),
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

    fn to_json(&self, namespace: &str) -> Value {
        let mut properties = serde_json::Map::new();
        if !self.path.is_empty() {
            properties.insert("path".into(), (*self.path).into());
        }
        if let Some(c) = &self.container {
            properties.insert("container".into(), (**c).into());
        }
        json!({
            "source": "kube-guardian",
            "policy": &*self.policy,
            "rule": &*self.rule,
            "result": self.result,
            "severity": self.severity,
            "category": self.category,
            "message": &*self.message,
            "properties": properties,
            "resources": [{
                "apiVersion": self.resource.api_version,
                "kind": self.resource.kind,
                "name": self.resource.name,
                "namespace": namespace,
            }],
        })
    }
}

/// One policy's results in one namespace: the first [`MAX_RESULTS`] rows in report order (all a
/// report can show, since the merged report's first rows are among every policy's first rows)
/// and the full counts, so memory stays bounded however many violations there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRows {
    rows: BTreeSet<ReportResult>,
    fail: usize,
    warn: usize,
    error: usize,
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

/// One policy's rows in one namespace as a report holds them: their texts shared with every
/// other row's, and which allocation of the policy's rows they were made from (a `Weak`: the
/// rows themselves are not kept alive, and the address is not reused while it exists).
#[derive(Debug)]
struct Held {
    source: std::sync::Weak<PolicyRows>,
    rows: PolicyRows,
}

/// Every policy's results by namespace; the source of truth the reports are written from.
///
/// After a start or a leadership change the state is rebuilt from scratch: reports are written
/// only once every live policy has been evaluated (a *pass*), so a report never loses the rows
/// of a policy not yet evaluated, and reports nothing holds results for any more are deleted then.
#[derive(Debug)]
pub struct ReportState {
    by_namespace: BTreeMap<String, BTreeMap<String, Held>>,
    /// A hash of each report body last written, to skip identical writes without keeping bodies.
    written: BTreeMap<String, u64>,
    /// Namespaces handed out to be written and not written since: a failed write is retried by
    /// later calls, best-effort (see [`retries`](Self::retries)).
    pending: BTreeSet<String>,
    /// Every path, message and container name the rows hold, once.
    strings: HashSet<Arc<str>>,
    /// The convergence pass after a start or a leadership change.
    pub(crate) pass: Pass,
}

/// How many earlier failed writes one reconcile retries: each costs a request while the report
/// lock is held.
pub const RETRIES: usize = 4;

/// A fresh state waits for its first pass: nothing is written before every policy was evaluated.
impl Default for ReportState {
    fn default() -> Self {
        ReportState {
            by_namespace: BTreeMap::new(),
            written: BTreeMap::new(),
            pending: BTreeSet::new(),
            strings: HashSet::new(),
            pass: Pass::default(),
        }
    }
}

fn fingerprint(body: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

impl ReportState {
    /// Replaces one policy's results; returns the namespaces whose report content this call
    /// changed (a write still due elsewhere is not among them, so one namespace whose writes keep
    /// failing fails no other policy's reconcile). Only the namespaces whose rows are a new
    /// allocation are copied and compared: after one object's change, that object's namespace
    /// alone.
    pub fn set_policy(&mut self, policy: &str, results: Arc<NamespaceRows>) -> Vec<String> {
        let due = self.set_policy_bodies(policy, results);
        due.into_iter().map(|(ns, _)| ns).collect()
    }

    /// [`set_policy`](Self::set_policy), with each namespace's report body: built once, to tell
    /// whether it changed and to write it.
    pub fn set_policy_bodies(
        &mut self,
        policy: &str,
        results: Arc<NamespaceRows>,
    ) -> Vec<(String, Value)> {
        let mut changed: Vec<String> = self
            .by_namespace
            .iter()
            .filter(|(ns, policies)| policies.contains_key(policy) && !results.contains_key(*ns))
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in &changed {
            self.remove_rows(ns, policy);
        }
        for (ns, rows) in results.iter() {
            let held = self.by_namespace.get(ns).and_then(|p| p.get(policy));
            if held.is_some_and(|h| std::ptr::eq(h.source.as_ptr(), Arc::as_ptr(rows))) {
                continue;
            }
            if rows.total() > 0 {
                let held = Held {
                    source: Arc::downgrade(rows),
                    rows: self.interned((**rows).clone()),
                };
                let policies = self.by_namespace.entry(ns.clone()).or_default();
                policies.insert(policy.to_owned(), held);
            } else {
                self.remove_rows(ns, policy);
            }
            changed.push(ns.clone());
        }
        if !changed.is_empty() {
            // Texts only the replaced rows used.
            self.strings.retain(|s| Arc::strong_count(s) > 1);
        }
        let due: Vec<(String, Value)> = changed
            .into_iter()
            .filter_map(|ns| {
                let body = self.body(&ns);
                (self.written.get(&ns) != Some(&fingerprint(&body))).then_some((ns, body))
            })
            .collect();
        self.pending.extend(due.iter().map(|(ns, _)| ns.clone()));
        due
    }

    /// Namespaces whose write failed before, besides `except`, at most [`RETRIES`] of them: the
    /// caller retries them without failing on them.
    pub fn retries(&self, except: &[String]) -> Vec<String> {
        self.pending
            .iter()
            .filter(|ns| !except.contains(ns))
            .take(RETRIES)
            .cloned()
            .collect()
    }

    fn remove_rows(&mut self, namespace: &str, policy: &str) {
        if let Some(policies) = self.by_namespace.get_mut(namespace) {
            policies.remove(policy);
            if policies.is_empty() {
                self.by_namespace.remove(namespace);
            }
        }
    }

    /// The same rows, their texts shared with every other row holding the same ones.
    fn interned(&mut self, rows: PolicyRows) -> PolicyRows {
        let mut intern = |s: Arc<str>| match self.strings.get(&s) {
            Some(shared) => shared.clone(),
            None => {
                self.strings.insert(s.clone());
                s
            }
        };
        PolicyRows {
            rows: rows
                .rows
                .into_iter()
                .map(|r| ReportResult {
                    path: intern(r.path),
                    message: intern(r.message),
                    container: r.container.map(&mut intern),
                    ..r
                })
                .collect(),
            ..rows
        }
    }

    /// Removes a deleted policy's results; returns the namespaces to rewrite.
    pub fn remove_policy(&mut self, policy: &str) -> Vec<String> {
        self.pass.forget(policy);
        self.set_policy(policy, Arc::default())
    }

    /// Forgets everything and starts a pass: what a new leader does, since the reports may have
    /// changed while it was not writing (another leader, or none).
    pub fn start_pass(&mut self) {
        *self = ReportState::default();
    }

    /// True while reports wait for a pass to complete.
    pub fn in_pass(&self) -> bool {
        self.pass.holds_reports()
    }

    /// Notes that a policy's results are current in this pass.
    pub fn record(&mut self, policy: &str) {
        self.pass.record(policy);
    }

    /// The namespaces with results whose report was not written as it is now.
    pub fn unwritten(&self) -> Vec<String> {
        self.by_namespace
            .keys()
            .filter(|ns| !self.is_written(ns))
            .cloned()
            .collect()
    }

    /// Whether the namespace's report was written (or deleted, when empty) as it is now.
    pub fn is_written(&self, namespace: &str) -> bool {
        self.written.get(namespace) == Some(&fingerprint(&self.body(namespace)))
    }

    /// The report body (summary and results) for a namespace.
    pub fn body(&self, namespace: &str) -> Value {
        let policies = self.by_namespace.get(namespace);
        let mut rows: Vec<&ReportResult> = policies
            .into_iter()
            .flat_map(|p| p.values())
            .flat_map(|p| &p.rows.rows)
            .collect();
        rows.sort();
        let sum = |count: fn(&PolicyRows) -> usize| -> usize {
            policies
                .into_iter()
                .flat_map(|p| p.values())
                .map(|p| count(&p.rows))
                .sum()
        };
        let (fail, warn, error) = (sum(|p| p.fail), sum(|p| p.warn), sum(|p| p.error));
        let results: Vec<Value> = rows
            .iter()
            .take(MAX_RESULTS)
            .map(|r| r.to_json(namespace))
            .collect();
        let shown = results.len();
        // Counts of what the report holds plus what the bound left out. Passing and excepted
        // checks are not results of these reports, so `pass` and `skip` are not claimed.
        let mut body = json!({
            "summary": {"fail": fail, "warn": warn, "error": error},
            "results": results,
        });
        let total = fail + warn + error;
        if total > shown {
            body["metadata"] = json!({"annotations": {
                "guardian.kube-guardian.dev/truncated-results": (total - shown).to_string()
            }});
        }
        body
    }

    pub fn mark_written(&mut self, namespace: &str, body: &Value) {
        self.pending.remove(namespace);
        self.written.insert(namespace.to_owned(), fingerprint(body));
    }

    pub fn is_empty(&self, namespace: &str) -> bool {
        self.by_namespace
            .get(namespace)
            .is_none_or(|p| p.is_empty())
    }
}

fn report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
        "policyreports",
    )
}

/// Writes one namespace's report by server-side apply, or deletes it when it has no results.
/// Returns `Ok(false)` when the PolicyReport CRD is not installed.
pub async fn write(
    client: &Client,
    namespace: &str,
    body: &Value,
    empty: bool,
) -> Result<bool, kube::Error> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &report_resource());
    let result = if empty {
        match api.delete(REPORT_NAME, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 && !crd_missing(&s) => Ok(()),
            Err(e) => Err(e),
        }
    } else {
        let mut doc = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport",
            "metadata": {
                "name": REPORT_NAME,
                "namespace": namespace,
                "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            },
        });
        merge(&mut doc, body);
        api.patch(
            REPORT_NAME,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&doc),
        )
        .await
        .map(|_| ())
    };
    match result {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 && crd_missing(&s) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The label on every report kube-guardian writes, by which it finds its reports again.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "kube-guardian";

/// A 404 for the resource type itself (no CRD: a bare "404 page not found"), not the
/// `NotFound` Status the API server returns for one missing object.
fn crd_missing(status: &kube::core::Status) -> bool {
    status.reason != "NotFound"
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(policy: &str, name: &str, rule: &str) -> ReportResult {
        ReportResult {
            policy: policy.into(),
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("a".into()),
                name: name.into(),
            }),
            rule: rule.into(),
            path: "spec.containers[0].image".into(),
            result: "fail",
            severity: "high",
            category: "security",
            message: "m".into(),
            container: Some("c".into()),
        }
    }

    pub(crate) fn results(ns: &str, rows: Vec<ReportResult>) -> Arc<NamespaceRows> {
        let mut policy_rows = PolicyRows::default();
        rows.into_iter().for_each(|r| policy_rows.push(r));
        Arc::new([(ns.to_owned(), Arc::new(policy_rows))].into())
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let mut state = ReportState::default();
        let changed = state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        assert_eq!(changed, vec!["a"]);
        let body = state.body("a");
        state.mark_written("a", &body);
        assert!(
            state
                .set_policy("p", results("a", vec![row("p", "x", "r")]))
                .is_empty()
        );
        assert_eq!(
            state.set_policy("p", results("a", vec![row("p", "y", "r")])),
            vec!["a"]
        );
    }

    #[test]
    fn only_the_namespaces_whose_rows_changed_are_copied_and_a_failed_write_is_retried() {
        let mut state = ReportState::default();
        let mut rows = (*results("a", vec![row("p", "x", "r")])).clone();
        rows.extend((*results("b", vec![row("p", "y", "r")])).clone());
        assert_eq!(state.set_policy("p", Arc::new(rows.clone())), ["a", "b"]);
        let body = state.body("a");
        state.mark_written("a", &body);
        // "b"'s write failed: nothing changed, so not this call's to write; retried besides.
        assert!(state.set_policy("p", Arc::new(rows.clone())).is_empty());
        assert_eq!(state.retries(&[]), ["b"]);
        let body = state.body("b");
        state.mark_written("b", &body);
        let held = |state: &ReportState, ns: &str| {
            std::ptr::from_ref(state.by_namespace[ns]["p"].rows.rows.first().expect("row"))
        };
        let b = held(&state, "b");
        rows.extend((*results("a", vec![row("p", "z", "r")])).clone());
        assert_eq!(state.set_policy("p", Arc::new(rows)), ["a"]);
        assert_eq!(held(&state, "b"), b, "b's rows were not copied again");
        assert_eq!(state.body("a")["results"][0]["resources"][0]["name"], "z");
    }

    #[test]
    fn the_bodies_handed_out_for_the_write_are_the_reports_as_they_are_now() {
        let mut state = ReportState::default();
        let mut rows = (*results("a", vec![row("p", "x", "r")])).clone();
        rows.extend((*results("b", vec![row("p", "y", "r")])).clone());
        let due = state.set_policy_bodies("p", Arc::new(rows));
        assert_eq!(due.len(), 2);
        for (ns, body) in &due {
            assert_eq!(body, &state.body(ns), "{ns}");
        }
        // Another policy's rows in "a": its body holds both policies' rows.
        let due = state.set_policy_bodies("q", results("a", vec![row("q", "z", "r")]));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, "a");
        assert_eq!(due[0].1, state.body("a"));
        assert_eq!(due[0].1["results"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_namespace_whose_write_keeps_failing_is_no_other_policys_write() {
        let mut state = ReportState::default();
        let mut rows = (*results("a", vec![row("p", "x", "r")])).clone();
        rows.extend((*results("stuck", vec![row("p", "y", "r")])).clone());
        assert_eq!(state.set_policy("p", Arc::new(rows)), ["a", "stuck"]);
        let body = state.body("a");
        state.mark_written("a", &body);
        // "stuck"'s write failed (and keeps failing): q changed "b" only, which is its to write;
        // "stuck" is retried besides, without failing q's reconcile.
        let changed = state.set_policy("q", results("b", vec![row("q", "z", "r")]));
        assert_eq!(changed, ["b"]);
        assert_eq!(state.retries(&changed), ["stuck"]);
        // Removing q touches "b" only: q's deletion does not wait on "stuck".
        assert_eq!(state.remove_policy("q"), ["b"]);
    }

    #[test]
    fn policies_share_a_namespace_report_and_removal_cleans_only_their_rows() {
        let mut state = ReportState::default();
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        state.set_policy("q", results("a", vec![row("q", "x", "r")]));
        assert_eq!(state.body("a")["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(state.remove_policy("p"), vec!["a"]);
        let body = state.body("a");
        assert_eq!(body["results"][0]["policy"], "q");
        assert_eq!(body["summary"]["fail"], 1);
        state.remove_policy("q");
        assert!(state.is_empty("a"));
    }

    fn finding(name: &str, outcome: Outcome) -> Finding {
        Finding {
            policy: "p".into(),
            rule: "r".into(),
            severity: guardian_core::model::Severity::High,
            category: guardian_core::model::Category::Security,
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("a".into()),
                name: name.into(),
            }),
            container: Some("c".into()),
            message: "m".into(),
            path: "spec.containers[0].image".into(),
            remediation: "fix".into(),
            outcome,
            location: None,
        }
    }

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

    #[test]
    fn rows_share_their_texts_until_no_row_holds_them() {
        let mut state = ReportState::default();
        state.set_policy(
            "p",
            results("a", vec![row("p", "x", "r"), row("p", "y", "r")]),
        );
        state.set_policy("q", results("b", vec![row("q", "z", "r")]));
        let messages: Vec<&Arc<str>> = state
            .by_namespace
            .values()
            .flat_map(|p| p.values())
            .flat_map(|p| &p.rows.rows)
            .map(|r| &r.message)
            .collect();
        assert_eq!(messages.len(), 3);
        assert!(messages.windows(2).all(|w| Arc::ptr_eq(w[0], w[1])));
        // path, message and container name: three texts for three rows
        assert_eq!(state.strings.len(), 3);
        state.remove_policy("p");
        assert_eq!(state.strings.len(), 3);
        state.remove_policy("q");
        assert!(state.strings.is_empty());
    }

    #[test]
    fn cel_runtime_errors_are_error_results_and_the_summary_counts_them() {
        let mut rows = PolicyRows::default();
        rows.push_finding(&finding("broken", Outcome::Error), Enforcement::Deny);
        rows.push_finding(&finding("bad", Outcome::Fail), Enforcement::Deny);
        rows.push_finding(
            &finding(
                "waived",
                Outcome::Skip {
                    exception: "e".into(),
                    justification: "j".into(),
                },
            ),
            Enforcement::Deny,
        );
        let mut state = ReportState::default();
        state.set_policy("p", Arc::new([("a".to_owned(), Arc::new(rows))].into()));
        let body = state.body("a");
        let results: Vec<(&str, &str)> = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["resources"][0]["name"].as_str().unwrap_or_default(),
                    r["result"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(results, vec![("bad", "fail"), ("broken", "error")]);
        assert_eq!(body["summary"], json!({"fail": 1, "warn": 0, "error": 1}));
    }

    #[test]
    fn the_summary_counts_every_result_kind_past_the_bound() {
        let mut rows = PolicyRows::default();
        for i in 0..MAX_RESULTS + 7 {
            let outcome = if i % 2 == 0 {
                Outcome::Error
            } else {
                Outcome::Fail
            };
            rows.push_finding(&finding(&format!("pod-{i:05}"), outcome), Enforcement::Warn);
        }
        let mut state = ReportState::default();
        state.set_policy("p", Arc::new([("a".to_owned(), Arc::new(rows))].into()));
        let body = state.body("a");
        let shown = body["results"].as_array().map_or(0, Vec::len);
        assert_eq!(shown, MAX_RESULTS);
        let (warn, error) = ((MAX_RESULTS + 7) / 2, (MAX_RESULTS + 7).div_ceil(2));
        assert_eq!(
            body["summary"],
            json!({"fail": 0, "warn": warn, "error": error})
        );
        assert_eq!(
            body["metadata"]["annotations"]["guardian.kube-guardian.dev/truncated-results"],
            "7"
        );
    }

    #[test]
    fn a_pass_holds_reports_back_until_every_live_policy_was_evaluated() {
        let mut state = ReportState::default();
        state.set_policy("gone", results("old", vec![row("gone", "x", "r")]));
        state.start_pass();
        assert!(state.is_empty("old"), "a new pass starts from nothing");
        assert!(state.in_pass());
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        state.record("p");
        assert!(!state.pass.covers(["p", "q"].into_iter()));
        state.set_policy("q", Arc::default());
        state.record("q");
        assert!(state.pass.covers(["p", "q"].into_iter()));
        state.pass.finish();
        assert_eq!(state.unwritten(), vec!["a"]);
        let body = state.body("a");
        state.mark_written("a", &body);
        assert!(state.unwritten().is_empty());
        assert!(!state.in_pass());
        assert!(state.pass.covers(["anything"].into_iter()));
    }

    #[test]
    fn reports_are_bounded() {
        let mut state = ReportState::default();
        let rows = (0..MAX_RESULTS + 5)
            .map(|i| row("p", &format!("pod-{i:05}"), "r"))
            .collect();
        state.set_policy("p", results("a", rows));
        let body = state.body("a");
        assert_eq!(body["results"].as_array().map(Vec::len), Some(MAX_RESULTS));
        assert_eq!(body["summary"]["fail"], MAX_RESULTS + 5);
        assert_eq!(
            body["metadata"]["annotations"]["guardian.kube-guardian.dev/truncated-results"],
            "5"
        );
    }
}
