//! The Violations order: each cluster's rows pre-sorted by every column when its snapshot
//! changes (off the UI thread, in the cluster's forwarder task), so a sort, a filter keystroke
//! or another cluster's delta only merges the clusters' runs, never sorts.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use guardian_cluster::ClusterSnapshot;
use guardian_core::model::ResourceRef;

use super::filter::Filter;
use super::rows::{Shown, ViolationRow};
use super::violations::{Column, RowRef, Sort};

/// One cluster's rows in the order of each column (ascending; a reversed sort reverses the
/// runs of equal keys, see [`Orders::walk`]).
#[derive(Debug, Clone, Default)]
pub struct Orders {
    by: Vec<Box<[u32]>>,
}

impl Orders {
    /// The orders of `rows`, whose texts are read from `snapshot` (their own).
    pub fn compute(rows: &[ViolationRow], snapshot: &ClusterSnapshot) -> Orders {
        // Each row's texts looked up once, not at every comparison.
        let shown: Vec<Option<Shown<'_>>> = rows.iter().map(|r| r.read(snapshot)).collect();
        let identity: Vec<u32> = (0..rows.len())
            .filter(|&i| shown[i].is_some())
            .map(index)
            .collect();
        let key = |i: u32| shown[i as usize].map(|s| Keyed::read(0, s));
        let by = Column::ALL
            .iter()
            .map(|&column| {
                let sort = Sort {
                    column,
                    reverse: false,
                };
                let mut order = identity.clone();
                // Stable: equal rows keep the snapshot's order, as one global sort would.
                order.sort_by(|&a, &b| match (key(a), key(b)) {
                    (Some(a), Some(b)) => compare(sort, a, b),
                    _ => Ordering::Equal,
                });
                order.into_boxed_slice()
            })
            .collect();
        Orders { by }
    }

    /// The cluster's rows in `sort`'s order (row indices): borrowed when ascending (no
    /// allocation on the UI thread per cluster and rebuild).
    pub fn walk<'o>(
        &'o self,
        rows: &[ViolationRow],
        snapshot: &ClusterSnapshot,
        sort: Sort,
    ) -> Cow<'o, [u32]> {
        let i = Column::ALL
            .iter()
            .position(|c| *c == sort.column)
            .unwrap_or(0);
        let forward = self.by.get(i).map_or(&[][..], |o| &o[..]);
        if !sort.reverse {
            return Cow::Borrowed(forward);
        }
        // Reversed: the primary key descends, the tie-breakers still ascend, so the runs of
        // equal primary keys come in reverse order, each run as it was.
        let key = |r: u32| {
            rows.get(r as usize)
                .map(|row| Keyed::lazy(0, row, snapshot))
        };
        let differ = |a: Option<Keyed<'_>>, b: Option<Keyed<'_>>| match (a, b) {
            (Some(a), Some(b)) => primary(sort.column, a, b).is_ne(),
            _ => true,
        };
        let mut reversed = Vec::with_capacity(forward.len());
        let mut end = forward.len();
        while end > 0 {
            let last = key(forward[end - 1]);
            let start = forward[..end]
                .iter()
                .rposition(|&r| differ(key(r), last))
                .map_or(0, |p| p + 1);
            reversed.extend_from_slice(&forward[start..end]);
            end = start;
        }
        Cow::Owned(reversed)
    }
}

/// A row and its cluster's rank among the contexts (clusters compare by name), with its texts
/// or the snapshot to read them from when a comparison needs them: a merge of unfiltered
/// clusters mostly decides by severity and cluster, without a trip to the finding.
#[derive(Debug, Clone, Copy)]
pub struct Keyed<'r> {
    rank: u32,
    row: &'r ViolationRow,
    texts: Texts<'r>,
}

#[derive(Debug, Clone, Copy)]
enum Texts<'r> {
    Read(Shown<'r>),
    In(&'r ClusterSnapshot),
}

impl<'r> Keyed<'r> {
    /// A row whose texts were read.
    pub fn read(rank: u32, shown: Shown<'r>) -> Keyed<'r> {
        Keyed {
            rank,
            row: shown.row,
            texts: Texts::Read(shown),
        }
    }

    /// A row whose texts are read from `snapshot` when needed.
    fn lazy(rank: u32, row: &'r ViolationRow, snapshot: &'r ClusterSnapshot) -> Keyed<'r> {
        let texts = Texts::In(snapshot);
        Keyed { rank, row, texts }
    }

    fn shown(&self) -> Option<Shown<'r>> {
        match self.texts {
            Texts::Read(shown) => Some(shown),
            Texts::In(snapshot) => self.row.read(snapshot),
        }
    }
}

/// The texts of `a` and `b` by `by` (equal when one cannot be read: never, a row reads its own
/// snapshot).
fn texts(a: &Keyed<'_>, b: &Keyed<'_>, by: impl Fn(Shown<'_>, Shown<'_>) -> Ordering) -> Ordering {
    match (a.shown(), b.shown()) {
        (Some(a), Some(b)) => by(a, b),
        _ => Ordering::Equal,
    }
}

/// `Kind/name` of `a` against `b`, as the texts compare, without formatting them.
fn resource(a: &ResourceRef, b: &ResourceRef) -> Ordering {
    if a.kind == b.kind {
        return a.name.cmp(&b.name);
    }
    fn text(r: &ResourceRef) -> impl Iterator<Item = u8> + '_ {
        let slash = std::iter::once(b'/');
        r.kind.bytes().chain(slash).chain(r.name.bytes())
    }
    text(a).cmp(text(b))
}

/// The sort column's own order: severity most severe first (waived after the violations of
/// the same severity), age newest first.
fn primary(column: Column, a: Keyed<'_>, b: Keyed<'_>) -> Ordering {
    let (ra, rb) = (a.row, b.row);
    match column {
        Column::Severity => rb
            .severity
            .cmp(&ra.severity)
            .then_with(|| ra.waived.cmp(&rb.waived)),
        Column::Cluster => a.rank.cmp(&b.rank),
        Column::Namespace => texts(&a, &b, |a, b| a.namespace().cmp(b.namespace())),
        Column::Resource => texts(&a, &b, |a, b| resource(a.object, b.object)),
        Column::Policy => texts(&a, &b, |a, b| a.finding.policy.cmp(&b.finding.policy)),
        Column::Rule => texts(&a, &b, |a, b| a.finding.rule.cmp(&b.finding.rule)),
        Column::Enforcement => ra.enforcement().cmp(rb.enforcement()),
        Column::Message => texts(&a, &b, |a, b| a.finding.message.cmp(&b.finding.message)),
        Column::Age => rb.first_seen().cmp(&ra.first_seen()),
    }
}

/// The table's order: the sort column, then a stable order under any column (severity,
/// cluster, namespace, resource, rule).
pub fn compare(sort: Sort, a: Keyed<'_>, b: Keyed<'_>) -> Ordering {
    let first = primary(sort.column, a, b);
    let first = if sort.reverse { first.reverse() } else { first };
    first
        .then_with(|| b.row.severity.cmp(&a.row.severity))
        .then_with(|| a.rank.cmp(&b.rank))
        .then_with(|| {
            texts(&a, &b, |a, b| {
                (a.namespace().cmp(b.namespace()))
                    .then_with(|| resource(a.object, b.object))
                    .then_with(|| a.finding.rule.cmp(&b.finding.rule))
            })
        })
}

/// One cluster's run in a merge.
#[derive(Debug)]
pub struct Run<'r> {
    /// Position of the cluster in the state (the [`RowRef`]'s cluster).
    pub cluster: u32,
    /// Rank of its context among the contexts.
    pub rank: u32,
    pub rows: &'r [ViolationRow],
    /// The snapshot the rows read their texts from.
    pub snapshot: &'r ClusterSnapshot,
    /// Its rows in the sort's order.
    pub order: Cow<'r, [u32]>,
}

impl<'r> Run<'r> {
    /// The run's row `i` with its texts.
    fn shown(&self, i: u32) -> Option<Shown<'r>> {
        self.rows.get(i as usize)?.read(self.snapshot)
    }
}

/// The rows `filter` keeps, of every run, in `sort`'s order: a k-way merge of the runs (equal
/// rows: the lower cluster position first, as a stable sort of all rows would).
pub fn merge(runs: &[Run<'_>], sort: Sort, filter: &Filter) -> Vec<RowRef> {
    struct Head<'r> {
        sort: Sort,
        key: Keyed<'r>,
        run: usize,
        at: usize,
    }
    impl Ord for Head<'_> {
        fn cmp(&self, other: &Self) -> Ordering {
            // BinaryHeap pops the greatest: the smallest row is the greatest head.
            compare(self.sort, other.key, self.key).then_with(|| other.run.cmp(&self.run))
        }
    }
    impl PartialOrd for Head<'_> {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl PartialEq for Head<'_> {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other).is_eq()
        }
    }
    impl Eq for Head<'_> {}

    // Without words every row is kept: its text is not read (one cache miss less a row).
    let every = filter.any_text();
    // The next row of the run the filter keeps, from `at`.
    let next = |run: usize, mut at: usize| -> Option<Head<'_>> {
        let r = &runs[run];
        while let Some(&i) = r.order.get(at) {
            let key = if every {
                Keyed::lazy(r.rank, r.rows.get(i as usize)?, r.snapshot)
            } else {
                let shown = r.shown(i)?;
                if !shown.matches(filter) {
                    at += 1;
                    continue;
                }
                Keyed::read(r.rank, shown)
            };
            return Some(Head { sort, key, run, at });
        }
        None
    };
    let refs = |run: &Run<'_>, i: u32| RowRef {
        cluster: run.cluster,
        row: i,
    };
    // Sized for every row up front: no regrowth of a 200,000-row vector on the UI thread.
    let mut out = Vec::with_capacity(if every {
        runs.iter().map(|r| r.order.len()).sum()
    } else {
        0
    });
    match runs {
        [] => {}
        // One cluster (or a scope of one): its order is the table's.
        [one] => out.extend(
            one.order
                .iter()
                .filter(|&&i| every || one.shown(i).is_some_and(|s| s.matches(filter)))
                .map(|&i| refs(one, i)),
        ),
        _ => {
            let mut heap: BinaryHeap<Head<'_>> =
                (0..runs.len()).filter_map(|r| next(r, 0)).collect();
            while let Some(mut head) = heap.pop() {
                // Rows of one cluster often follow each other (the cluster is the second key
                // after severity): take them while they come before every other run's head,
                // one comparison a row instead of a trip through the heap.
                loop {
                    let run = &runs[head.run];
                    out.push(refs(run, run.order[head.at]));
                    let Some(following) = next(head.run, head.at + 1) else {
                        break;
                    };
                    if heap.peek().is_some_and(|top| following < *top) {
                        heap.push(following);
                        break;
                    }
                    head = following;
                }
            }
        }
    }
    out
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::app::state::Scope;
    use crate::app::violations::{GroupBy, Line, Source, Widths, build};
    use crate::testing::{at, deployment, finding, state, synced, waived};

    #[test]
    fn merging_the_clusters_presorted_runs_gives_the_order_of_one_stable_sort_of_all_rows() {
        let policies = ["restricted", "labels"];
        let rules = ["privileged", "run-as-non-root", "owner-label"];
        // Positions not in name order, names repeating across clusters and within one: ties.
        let snapshots = ["demo-c", "demo-a", "demo-b"]
            .iter()
            .enumerate()
            .map(|(c, context)| {
                let mut snapshot = synced(context);
                snapshot.evaluations = (0..24)
                    .map(|i| {
                        let findings = (0..3)
                            .map(|j| {
                                let n = i + j + c;
                                let f =
                                    finding(policies[n % 2], rules[n % 3], Severity::ALL[n % 4]);
                                if n % 5 == 0 {
                                    waived(f, "shop/legacy")
                                } else {
                                    f
                                }
                            })
                            .collect();
                        let (ns, name) = (format!("team-{}", i % 3), format!("app-{}", i % 4));
                        deployment(&ns, &name, &policies, findings)
                    })
                    .collect();
                snapshot
            })
            .collect();
        let s = state(snapshots, at(60));
        let mut rank = [0u32; 3];
        for (c, cluster) in s.clusters.iter().enumerate() {
            rank[c] = s
                .clusters
                .iter()
                .filter(|o| o.context < cluster.context)
                .count() as u32;
        }
        for text in ["", "team-1", "!privileged restricted", "@demo-b high"] {
            let filter = Filter::parse(text);
            for column in Column::ALL {
                for reverse in [false, true] {
                    let sort = Sort { column, reverse };
                    let mut all: Vec<(RowRef, Keyed<'_>)> = Vec::new();
                    for (c, cluster) in s.clusters.iter().enumerate() {
                        if !filter.cluster(&cluster.context) {
                            continue;
                        }
                        let rows = &cluster.rows;
                        for (r, row) in rows.violations.iter().enumerate() {
                            let row = row.read(&rows.snapshot).expect("its snapshot's row");
                            if row.matches(&filter) {
                                let at = RowRef {
                                    cluster: c as u32,
                                    row: r as u32,
                                };
                                all.push((at, Keyed::read(rank[c], row)));
                            }
                        }
                    }
                    all.sort_by(|(_, a), (_, b)| compare(sort, *a, *b));
                    let widest = |text: fn(&Shown<'_>) -> String| {
                        all.iter()
                            .map(|(_, key)| {
                                text(&key.shown().expect("read")).chars().count() as u16
                            })
                            .max()
                            .unwrap_or(0)
                    };
                    let widths = Widths {
                        cluster: if all.is_empty() { 0 } else { 6 },
                        namespace: widest(|r| r.namespace().to_owned()),
                        resource: widest(|r| r.resource()),
                        policy: widest(|r| r.finding.policy.to_string()),
                        rule: widest(|r| r.finding.rule.to_string()),
                    };
                    let expected: Vec<Line> = all.into_iter().map(|(r, _)| Line::Row(r)).collect();
                    let table = build(
                        Source::all(&s.clusters),
                        Scope::All,
                        &filter,
                        sort,
                        GroupBy::None,
                    );
                    assert!(!expected.is_empty() || text.starts_with('@'));
                    assert_eq!(table.lines, expected, "{sort:?}, filter {text:?}");
                    assert_eq!(table.widths, widths, "filter {text:?}");
                }
            }
        }
    }

    #[test]
    fn sorting_by_resource_or_message_orders_the_texts_the_table_shows() {
        // `Job-x/a` sorts before `Job/b` as texts (`-` before `/`), after it as (kind, name).
        let objects = [
            ("Job-x", "a"),
            ("Job", "b"),
            ("Deployment", "web"),
            ("Job", "a-2"),
        ];
        let messages = ["Zeta", "alpha", "beta", "Beta"];
        let mut snapshot = synced("demo-a");
        snapshot.evaluations = objects
            .iter()
            .zip(messages)
            .map(|(&(kind, name), message)| {
                let mut f = finding("restricted", "privileged", Severity::High);
                f.message = message.to_owned();
                let mut e = (*deployment("shop", name, &[], vec![f])).clone();
                std::sync::Arc::make_mut(&mut e.resource).kind = kind.to_owned();
                std::sync::Arc::new(e)
            })
            .collect();
        let s = state(vec![snapshot], at(60));
        for (column, mut expected) in [
            (
                Column::Resource,
                vec!["Deployment/web", "Job-x/a", "Job/a-2", "Job/b"],
            ),
            (Column::Message, vec!["Beta", "Zeta", "alpha", "beta"]),
        ] {
            for reverse in [false, true] {
                let sort = Sort { column, reverse };
                let table = build(
                    Source::all(&s.clusters),
                    Scope::All,
                    &Filter::default(),
                    sort,
                    GroupBy::None,
                );
                let texts: Vec<String> = (table.lines.iter())
                    .filter_map(|line| match line {
                        Line::Row(r) => crate::app::violations::row(&table, *r),
                        Line::Group(_) => None,
                    })
                    .map(|(_, row)| match column {
                        Column::Resource => row.resource(),
                        _ => row.finding.message.clone(),
                    })
                    .collect();
                if reverse {
                    expected.reverse();
                }
                assert_eq!(texts, expected, "{sort:?}");
                expected.sort_unstable();
            }
        }
    }
}
