//! The Violations table as index vectors over the clusters' immutable rows: filtered, sorted
//! and grouped when data, scope, filter, sort or grouping change, never per frame.

use std::collections::BTreeMap;
use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;

use super::filter::Filter;
use super::order::{Run, merge};
use super::rows::{ClusterRows, MAX_WIDTH, Shown};
use super::state::{Cluster, Scope};

/// The columns, in display order; each can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Severity,
    Cluster,
    Namespace,
    Resource,
    Policy,
    Rule,
    Enforcement,
    Message,
    Age,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Severity,
        Column::Cluster,
        Column::Namespace,
        Column::Resource,
        Column::Policy,
        Column::Rule,
        Column::Enforcement,
        Column::Message,
        Column::Age,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Severity => "SEVERITY",
            Column::Cluster => "CLUSTER",
            Column::Namespace => "NAMESPACE",
            Column::Resource => "KIND/NAME",
            Column::Policy => "POLICY",
            Column::Rule => "RULE",
            Column::Enforcement => "ENFORCEMENT",
            Column::Message => "MESSAGE",
            Column::Age => "AGE",
        }
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

/// How rows are grouped under header lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    None,
    Cluster,
    Policy,
    Namespace,
    Rule,
}

impl GroupBy {
    pub fn next(self) -> GroupBy {
        match self {
            GroupBy::None => GroupBy::Cluster,
            GroupBy::Cluster => GroupBy::Policy,
            GroupBy::Policy => GroupBy::Namespace,
            GroupBy::Namespace => GroupBy::Rule,
            GroupBy::Rule => GroupBy::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Cluster => "cluster",
            GroupBy::Policy => "policy",
            GroupBy::Namespace => "namespace",
            GroupBy::Rule => "rule",
        }
    }
}

/// The sort column and direction. Severity sorts most severe first, age newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub reverse: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Severity,
            reverse: false,
        }
    }
}

/// A row of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    pub cluster: u32,
    pub row: u32,
}

/// A line of the table: a group header or a row (16 bytes: a line per row shown, so the few
/// headers are boxed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Group(Box<Group>),
    Row(RowRef),
}

/// A group's header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub label: String,
    pub count: usize,
}

/// A cluster's rows as a table was built from them: the table holds them, so its lines stay
/// true while newer rows arrive and a newer table is built elsewhere (see [`super::building`]).
#[derive(Debug, Clone)]
pub struct Source {
    pub context: String,
    pub rows: Arc<ClusterRows>,
}

impl Source {
    /// Every cluster's rows as they are now.
    pub fn all(clusters: &[Cluster]) -> Vec<Source> {
        clusters
            .iter()
            .map(|c| Source {
                context: c.context.clone(),
                rows: Arc::clone(&c.rows),
            })
            .collect()
    }

    pub fn snapshot(&self) -> &ClusterSnapshot {
        &self.rows.snapshot
    }

    /// Row `i` with its texts, read from the snapshot it was derived with.
    pub fn shown(&self, i: usize) -> Option<Shown<'_>> {
        self.rows.shown(i)
    }
}

/// The table's lines and counts.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The rows the lines point into, one per cluster in selection order.
    pub sources: Vec<Source>,
    pub lines: Vec<Line>,
    /// Rows shown (after scope and filter).
    pub shown: usize,
    /// Rows in scope before the filter.
    pub total: usize,
    /// The widest text of each column among the rows shown (capped), for column widths.
    pub widths: Widths,
}

/// Column widths in characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Widths {
    pub cluster: u16,
    pub namespace: u16,
    pub resource: u16,
    pub policy: u16,
    pub rule: u16,
}

impl Widths {
    fn add(&mut self, cluster: u16, widths: [u8; 4]) {
        let [namespace, resource, policy, rule] = widths.map(u16::from);
        self.cluster = self.cluster.max(cluster);
        self.namespace = self.namespace.max(namespace);
        self.resource = self.resource.max(resource);
        self.policy = self.policy.max(policy);
        self.rule = self.rule.max(rule);
    }
}

/// The row a reference of the table points at, with its texts.
pub fn row(table: &Table, r: RowRef) -> Option<(&Source, Shown<'_>)> {
    row_in(&table.sources, r)
}

fn row_in(sources: &[Source], r: RowRef) -> Option<(&Source, Shown<'_>)> {
    let cluster = sources.get(usize::try_from(r.cluster).ok()?)?;
    Some((cluster, cluster.shown(usize::try_from(r.row).ok()?)?))
}

/// Builds the table from every cluster in scope: each cluster's rows are already sorted (see
/// [`super::order`]), so this filters and merges them, then groups.
pub fn build(
    clusters: Vec<Source>,
    scope: Scope,
    filter: &Filter,
    sort: Sort,
    group: GroupBy,
) -> Table {
    // Clusters compare by context: their rank among the contexts, computed once per build.
    let mut by_name: Vec<usize> = (0..clusters.len()).collect();
    by_name.sort_by(|&a, &b| clusters[a].context.cmp(&clusters[b].context));
    let mut rank = vec![0u32; clusters.len()];
    for (r, &c) in by_name.iter().enumerate() {
        rank[c] = index(r);
    }
    let mut total = 0;
    let mut runs = Vec::new();
    for (c, cluster) in clusters.iter().enumerate() {
        if !scope.includes(c) {
            continue;
        }
        let rows = &cluster.rows.violations;
        total += rows.len();
        if rows.is_empty() || !filter.cluster(&cluster.context) {
            continue;
        }
        runs.push(Run {
            cluster: index(c),
            rank: rank[c],
            rows: &cluster.rows,
            order: cluster.rows.orders.walk(&cluster.rows, sort),
        });
    }
    let merged = merge(&runs, sort, filter);
    let every: Option<Vec<usize>> = filter
        .any_text()
        .then(|| runs.iter().map(|run| run.cluster as usize).collect());
    finish(clusters, merged, total, every, group)
}

/// The table `filter` keeps of `rows`, the rows of a table built with the same sources, scope,
/// sort and grouping and a filter `filter` narrows (see [`Filter::narrows`]): each is read
/// once more, the others not at all.
pub fn narrow(
    clusters: Vec<Source>,
    scope: Scope,
    filter: &Filter,
    group: GroupBy,
    rows: &[RowRef],
) -> Table {
    let total = (clusters.iter().enumerate())
        .filter(|(c, _)| scope.includes(*c))
        .map(|(_, cluster)| cluster.rows.violations.len())
        .sum();
    let kept: Vec<bool> = (clusters.iter())
        .map(|c| filter.cluster(&c.context))
        .collect();
    let merged = (rows.iter().copied())
        .filter(|r| {
            kept.get(r.cluster as usize) == Some(&true)
                && row_in(&clusters, *r).is_some_and(|(_, shown)| shown.matches(filter))
        })
        .collect();
    finish(clusters, merged, total, None, group)
}

/// The table of the rows `merged` (in the sort's order): widths and groups. `every` lists the
/// clusters whose every row shows (no words to match), whose widths are their rows'.
fn finish(
    clusters: Vec<Source>,
    merged: Vec<RowRef>,
    total: usize,
    every: Option<Vec<usize>>,
    group: GroupBy,
) -> Table {
    let shown = merged.len();
    let mut widths = Widths::default();
    let context_widths: Vec<u16> = clusters
        .iter()
        .map(|c| {
            let n = c.context.chars().count().min(usize::from(MAX_WIDTH));
            u16::try_from(n).unwrap_or(u16::MAX)
        })
        .collect();
    if let Some(every) = every {
        // Every row of the clusters merged shows: their widest, computed with their rows.
        for cluster in every {
            widths.add(context_widths[cluster], clusters[cluster].rows.widths);
        }
    } else {
        for r in &merged {
            if let Some((_, shown)) = row_in(&clusters, *r) {
                widths.add(context_widths[r.cluster as usize], shown.row.widths);
            }
        }
    }
    let lines = if group == GroupBy::None {
        merged.into_iter().map(Line::Row).collect()
    } else {
        grouped(&clusters, group, merged)
    };
    Table {
        sources: clusters,
        lines,
        shown,
        total,
        widths,
    }
}

/// Header lines over the rows of each group, groups by name, rows in the order given.
fn grouped(clusters: &[Source], group: GroupBy, rows: Vec<RowRef>) -> Vec<Line> {
    let mut groups: BTreeMap<&str, Vec<RowRef>> = BTreeMap::new();
    for r in rows {
        if let Some(entry) = row_in(clusters, r) {
            groups.entry(group_key(group, entry)).or_default().push(r);
        }
    }
    let mut lines = Vec::with_capacity(groups.values().map(|g| g.len() + 1).sum());
    for (key, rows) in groups {
        let label = if key.is_empty() {
            "(cluster-scoped)".to_owned()
        } else {
            key.to_owned()
        };
        lines.push(Line::Group(Box::new(Group {
            label,
            count: rows.len(),
        })));
        lines.extend(rows.into_iter().map(Line::Row));
    }
    lines
}

type Entry<'c> = (&'c Source, Shown<'c>);

fn group_key<'c>(group: GroupBy, (cluster, row): Entry<'c>) -> &'c str {
    match group {
        GroupBy::None => "",
        GroupBy::Cluster => &cluster.context,
        GroupBy::Policy => row.finding.policy(),
        GroupBy::Namespace => row.namespace(),
        GroupBy::Rule => row.finding.rule_id(),
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
