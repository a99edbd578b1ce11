//! A namespace's report body (summary and results, as written) and its fingerprint, by which an
//! identical write is skipped without keeping bodies.

use serde_json::{Value, json};

use super::MAX_RESULTS;
use super::rows::{PolicyRows, ReportResult};

/// One namespace's report as it is to be written: built under the report lock (cheap), written
/// outside it by the [`writer`](super::writer).
#[derive(Debug, Clone)]
pub struct ReportBody {
    pub namespace: String,
    pub body: Value,
    /// No results: the report is deleted instead.
    pub empty: bool,
    /// The order bodies were built in under the report lock: the writer never replaces a newer
    /// body of a namespace with an older one handed over later.
    pub seq: u64,
}

/// A hash of a body, to skip identical writes without keeping bodies. It serialises the body:
/// the writer takes it outside the report lock (only a report pass takes it under the lock).
pub fn fingerprint(body: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

impl ReportResult {
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

/// The report body (summary and results) of a namespace holding `policies`' rows.
pub(super) fn body(namespace: &str, policies: &[&PolicyRows]) -> Value {
    let mut rows: Vec<&ReportResult> = policies.iter().flat_map(|p| &p.rows).collect();
    rows.sort();
    let sum =
        |count: fn(&PolicyRows) -> usize| -> usize { policies.iter().map(|p| count(p)).sum() };
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use guardian_core::crd::Enforcement;
    use guardian_core::model::Outcome;

    use super::*;
    use crate::reports::ReportState;
    use crate::reports::tests::{finding, results, row};

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
