//! The Violations order: each cluster's rows pre-sorted by every column when its snapshot
//! changes (off the UI thread, in the cluster's forwarder task), so a sort, a filter keystroke
//! or another cluster's delta only merges the clusters' runs, never sorts.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use guardian_core::model::ResourceRef;

use super::filter::Filter;
use super::rows::{ClusterRows, Shown, ViolationRow};
use super::violations::{Column, RowRef, Sort};

/// One cluster's rows in the order of each column (ascending; a reversed sort reverses the
/// runs of equal keys, see [`Orders::walk`]).
#[derive(Debug, Clone, Default)]
pub struct Orders {
    by: Vec<Box<[u32]>>,
}

impl Orders {
    /// The orders of `rows` (their own are ignored).
    pub fn compute(rows: &ClusterRows) -> Orders {
        // Each row's texts looked up once, not at every comparison.
        let shown: Vec<Option<Shown<'_>>> =
            (0..rows.violations.len()).map(|i| rows.shown(i)).collect();
        let identity: Vec<u32> = (0..shown.len())
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
    pub fn walk<'o>(&'o self, rows: &ClusterRows, sort: Sort) -> Cow<'o, [u32]> {
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
        let key = |r: u32| Keyed::lazy(0, rows, r);
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
    /// Row `.1` of these rows.
    In(&'r ClusterRows, u32),
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

    /// Row `i` of `rows`, its texts read when needed.
    fn lazy(rank: u32, rows: &'r ClusterRows, i: u32) -> Option<Keyed<'r>> {
        let row = rows.violations.get(i as usize)?;
        let texts = Texts::In(rows, i);
        Some(Keyed { rank, row, texts })
    }

    fn shown(&self) -> Option<Shown<'r>> {
        match self.texts {
            Texts::Read(shown) => Some(shown),
            Texts::In(rows, i) => rows.shown(i as usize),
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
        Column::Policy => texts(&a, &b, |a, b| a.finding.policy().cmp(b.finding.policy())),
        Column::Rule => texts(&a, &b, |a, b| a.finding.rule_id().cmp(b.finding.rule_id())),
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
                    .then_with(|| a.finding.rule_id().cmp(b.finding.rule_id()))
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
    /// The rows, with the snapshot they read their texts from.
    pub rows: &'r ClusterRows,
    /// Its rows in the sort's order.
    pub order: Cow<'r, [u32]>,
}

impl<'r> Run<'r> {
    /// The run's row `i` with its texts.
    fn shown(&self, i: u32) -> Option<Shown<'r>> {
        self.rows.shown(i as usize)
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
                Keyed::lazy(r.rank, r.rows, i)?
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
#[path = "order_tests.rs"]
mod tests;
