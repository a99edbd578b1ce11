//! Every policy's report rows by namespace: the source of truth the reports are written from.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use super::body::{self, ReportBody};
use super::rows::{NamespaceRows, PolicyRows, ReportResult};
use crate::converge::Pass;

/// One policy's rows in one namespace as a report holds them: their texts shared with every
/// other row's, and which allocation of the policy's rows they were made from (a `Weak`: the
/// rows themselves are not kept alive, and the address is not reused while it exists).
#[derive(Debug)]
struct Held {
    source: std::sync::Weak<PolicyRows>,
    rows: PolicyRows,
}

/// Every policy's results by namespace; the source of truth the reports are written from. Held
/// under the report lock for row updates and body builds only: the writes happen outside it (see
/// [`ReportWriter`](super::ReportWriter)).
///
/// After a start or a leadership change the state is rebuilt from scratch: reports are written
/// only once every live policy has been evaluated (a *pass*), so a report never loses the rows
/// of a policy not yet evaluated, and reports nothing holds results for any more are deleted then.
#[derive(Debug)]
pub struct ReportState {
    by_namespace: BTreeMap<String, BTreeMap<String, Held>>,
    /// Every path, message and container name the rows hold, once.
    strings: HashSet<Arc<str>>,
    /// The convergence pass after a start or a leadership change.
    pub(crate) pass: Pass,
    /// Bodies built so far (see [`ReportBody::seq`]); kept across passes.
    seq: u64,
    /// Per deleted policy, the namespaces whose report held its rows: its finalizer waits until
    /// they are written without them.
    leaving: BTreeMap<String, BTreeSet<String>>,
}

/// A fresh state waits for its first pass: nothing is written before every policy was evaluated.
impl Default for ReportState {
    fn default() -> Self {
        ReportState {
            by_namespace: BTreeMap::new(),
            strings: HashSet::new(),
            pass: Pass::default(),
            seq: 0,
            leaving: BTreeMap::new(),
        }
    }
}

impl ReportState {
    /// Replaces one policy's results; returns the report of each namespace whose content this
    /// call may have changed, built once (the writer skips those written as they are). Only the
    /// namespaces whose rows are a new allocation are copied and built: after one object's
    /// change, that object's namespace alone.
    pub fn set_policy(&mut self, policy: &str, results: Arc<NamespaceRows>) -> Vec<ReportBody> {
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
        changed.into_iter().map(|ns| self.report(&ns)).collect()
    }

    /// The namespace's report as it is now.
    pub fn report(&mut self, namespace: &str) -> ReportBody {
        let body = self.body(namespace);
        self.seq += 1;
        ReportBody {
            namespace: namespace.to_owned(),
            empty: self.is_empty(namespace),
            body,
            seq: self.seq,
        }
    }

    /// The namespaces with results.
    pub fn namespaces(&self) -> Vec<String> {
        self.by_namespace.keys().cloned().collect()
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

    /// Removes a deleted policy's results; returns the namespaces to rewrite, which are also
    /// noted as [`leaving`](Self::leaving) it.
    pub fn remove_policy(&mut self, policy: &str) -> Vec<ReportBody> {
        self.pass.forget(policy);
        let changed = self.set_policy(policy, Arc::default());
        let leaving = self.leaving.entry(policy.to_owned()).or_default();
        leaving.extend(changed.iter().map(|r| r.namespace.clone()));
        changed
    }

    /// The namespaces whose report held a deleted policy's rows, since it was removed (a retried
    /// removal finds no rows left but still waits for these).
    pub fn leaving(&self, policy: &str) -> Vec<String> {
        self.leaving
            .get(policy)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The deleted policy's rows left every report.
    pub fn left(&mut self, policy: &str) {
        self.leaving.remove(policy);
    }

    /// Forgets everything and starts a pass: what a new leader does, since the reports may have
    /// changed while it was not writing (another leader, or none).
    pub fn start_pass(&mut self) {
        let seq = self.seq;
        *self = ReportState {
            seq,
            ..ReportState::default()
        };
    }

    /// The `seq` of the last body built: a new term's writer ignores bodies up to it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// True while reports wait for a pass to complete.
    pub fn in_pass(&self) -> bool {
        self.pass.holds_reports()
    }

    /// Notes that a policy's results are current in this pass.
    pub fn record(&mut self, policy: &str) {
        self.pass.record(policy);
    }

    /// The report body (summary and results) for a namespace.
    pub fn body(&self, namespace: &str) -> serde_json::Value {
        let policies: Vec<&PolicyRows> = self
            .by_namespace
            .get(namespace)
            .into_iter()
            .flat_map(|p| p.values())
            .map(|held| &held.rows)
            .collect();
        body::body(namespace, &policies)
    }

    pub fn is_empty(&self, namespace: &str) -> bool {
        self.by_namespace
            .get(namespace)
            .is_none_or(|p| p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::tests::{results, row};

    fn names(reports: &[ReportBody]) -> Vec<&str> {
        reports.iter().map(|r| r.namespace.as_str()).collect()
    }

    #[test]
    fn the_same_content_has_the_same_fingerprint() {
        let mut state = ReportState::default();
        let first = state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        assert_eq!(names(&first), ["a"]);
        // Equal rows in a new allocation: built again, with the fingerprint the writer skips.
        let again = state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        assert_eq!(
            body::fingerprint(&again[0].body),
            body::fingerprint(&first[0].body)
        );
        assert!(again[0].seq > first[0].seq, "built later");
        let other = state.set_policy("p", results("a", vec![row("p", "y", "r")]));
        assert_ne!(
            body::fingerprint(&other[0].body),
            body::fingerprint(&first[0].body)
        );
        assert!(!other[0].empty);
    }

    #[test]
    fn only_the_namespaces_whose_rows_changed_are_copied_and_built() {
        let mut state = ReportState::default();
        let mut rows = (*results("a", vec![row("p", "x", "r")])).clone();
        rows.extend((*results("b", vec![row("p", "y", "r")])).clone());
        assert_eq!(
            names(&state.set_policy("p", Arc::new(rows.clone()))),
            ["a", "b"]
        );
        // The same allocations: nothing changed, nothing built.
        assert!(state.set_policy("p", Arc::new(rows.clone())).is_empty());
        let held = |state: &ReportState, ns: &str| {
            std::ptr::from_ref(state.by_namespace[ns]["p"].rows.rows.first().expect("row"))
        };
        let b = held(&state, "b");
        rows.extend((*results("a", vec![row("p", "z", "r")])).clone());
        assert_eq!(names(&state.set_policy("p", Arc::new(rows))), ["a"]);
        assert_eq!(held(&state, "b"), b, "b's rows were not copied again");
        assert_eq!(state.body("a")["results"][0]["resources"][0]["name"], "z");
    }

    #[test]
    fn the_bodies_handed_out_for_the_write_are_the_reports_as_they_are_now() {
        let mut state = ReportState::default();
        let mut rows = (*results("a", vec![row("p", "x", "r")])).clone();
        rows.extend((*results("b", vec![row("p", "y", "r")])).clone());
        let due = state.set_policy("p", Arc::new(rows));
        assert_eq!(due.len(), 2);
        for report in &due {
            assert_eq!(report.body, state.body(&report.namespace));
        }
        // Another policy's rows in "a": its body holds both policies' rows.
        let due = state.set_policy("q", results("a", vec![row("q", "z", "r")]));
        assert_eq!(names(&due), ["a"]);
        assert_eq!(due[0].body, state.body("a"));
        assert_eq!(due[0].body["results"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn policies_share_a_namespace_report_and_removal_cleans_only_their_rows() {
        let mut state = ReportState::default();
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        state.set_policy("q", results("a", vec![row("q", "x", "r")]));
        assert_eq!(state.body("a")["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(names(&state.remove_policy("p")), ["a"]);
        let body = state.body("a");
        assert_eq!(body["results"][0]["policy"], "q");
        assert_eq!(body["summary"]["fail"], 1);
        let removed = state.remove_policy("q");
        assert!(state.is_empty("a"));
        assert!(removed[0].empty, "the emptied report is deleted");
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
    fn a_pass_holds_reports_back_until_every_live_policy_was_evaluated() {
        let mut state = ReportState::default();
        state.set_policy("gone", results("old", vec![row("gone", "x", "r")]));
        let seq = state.report("old").seq;
        state.start_pass();
        assert!(state.is_empty("old"), "a new pass starts from nothing");
        assert!(
            state.report("old").seq > seq,
            "bodies stay ordered across passes"
        );
        assert!(state.in_pass());
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        state.record("p");
        assert!(!state.pass.covers(["p", "q"].into_iter()));
        state.set_policy("q", Arc::default());
        state.record("q");
        assert!(state.pass.covers(["p", "q"].into_iter()));
        state.pass.finish();
        assert_eq!(state.namespaces(), ["a"]);
        assert!(!state.in_pass());
        assert!(state.pass.covers(["anything"].into_iter()));
    }
}
