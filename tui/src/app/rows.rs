//! A cluster's rows, derived once per snapshot (off the UI thread, in the cluster's forwarder
//! task): each finding's place in the snapshot and what the snapshot cannot say (first seen,
//! enforcement, widths). Their texts are not copied: drawing, sorting and filtering read them
//! from the snapshot's findings, through [`ClusterRows::shown`] only (a row's own snapshot).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use guardian_cluster::aggregate::aggregate;
use guardian_cluster::{ClusterSnapshot, ObjectEvaluation};
use guardian_core::audit::Tally;
use guardian_core::crd::Enforcement;
use guardian_core::model::{Finding, Outcome, ResourceRef, Severity};
use k8s_openapi::jiff::Timestamp;

use super::filter::{Fields, Filter};
use super::order::Orders;

/// One cluster's snapshot with what the screens show of it. The derived rows are shared
/// (`Arc`): rows kept for a snapshot with the same findings (a Lease renewal) cost three
/// reference counts, not a copy of every row and order (the `memory` bench: 1.8 MB a cluster
/// at 30,000 findings, 6.6 MB at 110,000).
#[derive(Debug, Clone)]
pub struct ClusterRows {
    pub snapshot: Arc<ClusterSnapshot>,
    /// Every evaluated object counted (the score is [`Tally::score`] of it).
    pub tally: Tally,
    /// One row per finding, violations and waived findings alike.
    pub violations: Arc<Vec<ViolationRow>>,
    /// The rows pre-sorted by every column (the Violations table merges the clusters' orders).
    pub orders: Arc<Orders>,
    /// The widest of each row's [`ViolationRow::widths`] (the table's widths when no filter).
    pub widths: [u8; 4],
    /// The Policies screen's rows of this cluster (drift is marked across clusters later).
    pub policies: Arc<Vec<super::policies::PolicyRow>>,
}

impl ClusterRows {
    pub fn generation(&self) -> u64 {
        self.snapshot.generation
    }

    /// These rows for `snapshot`, which holds the same findings, policies and exceptions (see
    /// [`ClusterSnapshot::same_findings`]): the rows and orders are shared, not copied.
    pub fn kept(&self, snapshot: Arc<ClusterSnapshot>) -> ClusterRows {
        ClusterRows {
            snapshot,
            ..self.clone()
        }
    }

    /// Row `i` with its texts, read from this snapshot (the one the rows were derived with).
    pub fn shown(&self, i: usize) -> Option<Shown<'_>> {
        self.violations.get(i)?.read(&self.snapshot)
    }
}

/// One finding as the Violations table shows it: what the snapshot cannot say (where the finding
/// sits, when it was first seen, its policy's enforcement, its texts' widths). Its texts are read
/// from the snapshot's [`Finding`] when drawn ([`ClusterRows::shown`]): a row costs 24 bytes,
/// not a copy of every text (hundreds of thousands of rows at scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViolationRow {
    /// Where the finding sits in the snapshot: evaluation, then finding index (private: only
    /// its own snapshot, through [`ClusterRows::shown`], may be read with it).
    at: (u32, u32),
    /// When the console first saw it (objects carry no age of their findings), in nanoseconds
    /// since the epoch (a [`Timestamp`] takes twice the room).
    first_seen: i64,
    /// Characters of namespace, resource, policy and rule (capped), for column widths.
    pub widths: [u8; 4],
    pub severity: Severity,
    /// The policy's enforcement, `None` when the policy is gone.
    pub enforcement: Option<Enforcement>,
    /// Whether an exception waives it (its name: [`Shown::waived_by`]).
    pub waived: bool,
}

impl ViolationRow {
    /// The row with its texts, read from its snapshot (the one its [`ClusterRows`] holds).
    fn read<'s>(&'s self, snapshot: &'s ClusterSnapshot) -> Option<Shown<'s>> {
        let (e, f) = self.at;
        let evaluation = snapshot.evaluations.get(usize::try_from(e).ok()?)?;
        Some(Shown {
            row: self,
            object: &evaluation.resource,
            finding: evaluation.findings.get(usize::try_from(f).ok()?)?,
            evaluation,
        })
    }

    pub fn first_seen(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.first_seen)).unwrap_or_default()
    }

    /// The policy's enforcement (`Deny`, `Warn`, `Audit`), `-` when the policy is gone.
    pub fn enforcement(&self) -> &'static str {
        self.enforcement.map_or("-", label)
    }
}

/// A row with the texts it shows, borrowed from its snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'s> {
    pub row: &'s ViolationRow,
    /// The object (its evaluation's).
    pub object: &'s ResourceRef,
    pub finding: &'s Finding,
    /// The object's evaluation (every finding of it).
    pub evaluation: &'s ObjectEvaluation,
}

impl<'s> Shown<'s> {
    /// Empty for a cluster-scoped object.
    pub fn namespace(&self) -> &'s str {
        self.object.namespace.as_deref().unwrap_or_default()
    }

    /// `Kind/name`, as the table shows it.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.object.kind, self.object.name)
    }

    /// The exception that waives it.
    pub fn waived_by(&self) -> Option<&'s str> {
        match &self.finding.outcome {
            Outcome::Skip { exception, .. } => Some(exception),
            Outcome::Fail | Outcome::Error => None,
        }
    }

    /// The enforcement column's text: `waived` for a waived finding, else the policy's.
    pub fn enforcement(&self) -> &'static str {
        if self.row.waived {
            "waived"
        } else {
            self.row.enforcement()
        }
    }

    /// Whether the filter keeps it: its texts as the table and the detail pane show them (the
    /// exception that waives it too), each searched on its own.
    pub fn matches(&self, filter: &Filter) -> bool {
        let f = self.finding;
        filter.fields(&Fields {
            texts: [
                self.namespace(),
                f.policy(),
                f.rule_id(),
                f.severity().as_str(),
                self.enforcement(),
                &f.message,
                self.waived_by().unwrap_or_default(),
            ],
            kind: &self.object.kind,
            name: &self.object.name,
        })
    }
}

/// Identifies a finding across snapshots, to keep its first-seen time: a hash of its namespace,
/// object, policy, rule and field path. The texts themselves would cost about 200 bytes a
/// finding (hundreds of thousands of them at scale, twice while a snapshot is derived); a
/// collision only shows one finding's age for another's.
type SeenKey = u64;

fn seen_key(object: &ResourceRef, finding: &Finding) -> SeenKey {
    let mut hasher = std::hash::DefaultHasher::new();
    (
        object.namespace.as_deref().unwrap_or_default(),
        &object.kind,
        &object.name,
        finding.policy(),
        finding.rule_id(),
        &finding.path,
    )
        .hash(&mut hasher);
    hasher.finish()
}

/// Builds a cluster's rows from each new snapshot, remembering when each finding first showed.
#[derive(Debug, Default)]
pub struct Deriver {
    /// Each finding's key and first-seen time (nanoseconds), sorted by key: 16 bytes a finding,
    /// where a hash map took 30 to 55 with its spare buckets.
    first_seen: Vec<(SeenKey, i64)>,
}

impl Deriver {
    pub fn derive(&mut self, snapshot: Arc<ClusterSnapshot>, now: Timestamp) -> ClusterRows {
        let enforcement: HashMap<&str, Enforcement> = snapshot
            .policies
            .iter()
            .filter_map(|p| Some((p.metadata.name.as_deref()?, p.spec.enforcement)))
            .collect();
        // Counted by the cluster layer's aggregation, as every face counts (score: Tally::score).
        let tally = aggregate(&[&*snapshot])
            .clusters
            .pop()
            .map(|group| group.tally)
            .unwrap_or_default();
        let now = nanoseconds(now);
        let count = snapshot.evaluations.iter().map(|e| e.findings.len()).sum();
        let mut violations = Vec::with_capacity(count);
        let mut seen = Vec::with_capacity(count);
        for (e, evaluation) in snapshot.evaluations.iter().enumerate() {
            let object = &*evaluation.resource;
            let namespace = width(object.namespace.as_deref().unwrap_or_default());
            // `Kind/name`, counted without formatting it.
            let resource = width_of(object.kind.chars().count() + 1 + object.name.chars().count());
            for (f, finding) in evaluation.findings.iter().enumerate() {
                let key = seen_key(object, finding);
                let first_seen = self
                    .first_seen
                    .binary_search_by_key(&key, |&(k, _)| k)
                    .map_or(now, |i| self.first_seen[i].1);
                seen.push((key, first_seen));
                violations.push(ViolationRow {
                    at: (index(e), index(f)),
                    first_seen,
                    widths: [
                        namespace,
                        resource,
                        width(finding.policy()),
                        width(finding.rule_id()),
                    ],
                    severity: finding.severity(),
                    enforcement: enforcement.get(finding.policy()).copied(),
                    waived: matches!(finding.outcome, Outcome::Skip { .. }),
                });
            }
        }
        // Findings that went away are forgotten: if they come back, they are new again.
        seen.sort_unstable_by_key(|&(k, _)| k);
        self.first_seen = seen;
        let widths = violations.iter().fold([0; 4], |mut widest, row| {
            for (w, r) in widest.iter_mut().zip(row.widths) {
                *w = (*w).max(r);
            }
            widest
        });
        let mut rows = ClusterRows {
            orders: Arc::default(),
            widths,
            policies: Arc::new(super::policies::cluster_rows(&snapshot)),
            snapshot,
            tally,
            violations: Arc::new(violations),
        };
        rows.orders = Arc::new(Orders::compute(&rows));
        rows
    }
}

/// `time` in nanoseconds since the epoch (saturating: an i64 spans the years 1678 to 2262).
fn nanoseconds(time: Timestamp) -> i64 {
    let nanos = time.as_nanosecond();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// Wider texts are cut in the table (the detail pane shows them whole).
pub const MAX_WIDTH: u8 = 40;

fn width(text: &str) -> u8 {
    width_of(text.chars().count())
}

fn width_of(chars: usize) -> u8 {
    u8::try_from(chars).map_or(MAX_WIDTH, |n| n.min(MAX_WIDTH))
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn label(enforcement: Enforcement) -> &'static str {
    match enforcement {
        Enforcement::Audit => "Audit",
        Enforcement::Warn => "Warn",
        Enforcement::Deny => "Deny",
    }
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::testing::{at, deployment, finding, synced};

    fn snapshot(names: &[&str]) -> Arc<ClusterSnapshot> {
        let mut s = synced("demo-a");
        s.evaluations = names
            .iter()
            .map(|n| {
                let f = finding("restricted", "run-as-non-root", Severity::High);
                deployment("shop", n, &["restricted"], vec![f])
            })
            .collect();
        Arc::new(s)
    }

    fn ages(rows: &ClusterRows) -> Vec<(String, Timestamp)> {
        let read = |i| rows.shown(i).map(|s| s.resource());
        let all = rows.violations.iter().enumerate();
        all.map(|(i, r)| (read(i).unwrap_or_default(), r.first_seen()))
            .collect()
    }

    #[test]
    fn a_finding_keeps_when_it_was_first_seen_until_it_goes_away() {
        let mut deriver = Deriver::default();
        deriver.derive(snapshot(&["web"]), at(0));
        let rows = deriver.derive(snapshot(&["web", "api"]), at(10));
        let web = ("Deployment/web".to_owned(), at(0));
        assert_eq!(ages(&rows), [web, ("Deployment/api".to_owned(), at(10))]);
        deriver.derive(snapshot(&["api"]), at(20));
        let rows = deriver.derive(snapshot(&["api", "web"]), at(30));
        let api = ("Deployment/api".to_owned(), at(10));
        assert_eq!(ages(&rows), [api, ("Deployment/web".to_owned(), at(30))]);
    }

    #[test]
    fn a_row_is_its_place_and_reads_its_texts_from_the_snapshot_it_was_derived_with() {
        // 24 bytes: the texts are not copied (a row with them took 192 bytes and ~150 more
        // on the heap).
        assert!(std::mem::size_of::<ViolationRow>() <= 24);
        let with = |message: &str, exception: Option<&str>| {
            let mut f = finding("restricted", "run-as-non-root", Severity::High);
            f.message = message.to_owned();
            let f = match exception {
                Some(e) => crate::testing::waived(f, e),
                None => f,
            };
            let mut s = synced("demo-a");
            s.evaluations = vec![deployment("shop", "web", &["restricted"], vec![f])];
            s.policies = vec![crate::testing::policy(
                "restricted",
                Enforcement::Warn,
                None,
            )];
            Arc::new(s)
        };
        let mut deriver = Deriver::default();
        let old = deriver.derive(with("runs as root", None), at(0));
        let new = deriver.derive(with("still runs as root", Some("shop/legacy")), at(5));
        let read = |rows: &ClusterRows| {
            let row = rows.violations[0];
            let shown = rows.shown(0).expect("the row's finding");
            let text = (shown.namespace().to_owned(), shown.resource());
            let finding = (
                shown.finding.message.clone(),
                shown.waived_by().map(str::to_owned),
            );
            (
                text,
                finding,
                row.enforcement(),
                row.waived,
                row.first_seen(),
            )
        };
        let text = ("shop".to_owned(), "Deployment/web".to_owned());
        let old_message = ("runs as root".to_owned(), None);
        assert_eq!(
            read(&old),
            (text.clone(), old_message, "Warn", false, at(0))
        );
        // The old rows still read the old snapshot (a table built from them stays true), the
        // new rows the new one; the finding is the same one, first seen before.
        let waived = (
            "still runs as root".to_owned(),
            Some("shop/legacy".to_owned()),
        );
        assert_eq!(read(&new), (text, waived, "Warn", true, at(0)));
    }
}
