//! The Violations table as index vectors over the clusters' immutable rows: filtered, sorted
//! and grouped when data, scope, filter, sort or grouping change, never per frame.

use std::cmp::Ordering;

use super::filter::Filter;
use super::rows::ViolationRow;
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

/// A line of the table: a group header or a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Group { label: String, count: usize },
    Row(RowRef),
}

/// The table's lines and counts.
#[derive(Debug, Clone, Default)]
pub struct Table {
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

/// Wider texts are cut: the detail pane shows them whole.
const MAX_WIDTH: usize = 40;

impl Widths {
    fn add(&mut self, cluster: &str, row: &ViolationRow) {
        fn fit(current: &mut u16, text: &str) {
            let n = u16::try_from(text.chars().count().min(MAX_WIDTH)).unwrap_or(u16::MAX);
            *current = (*current).max(n);
        }
        fit(&mut self.cluster, cluster);
        fit(&mut self.namespace, &row.namespace);
        fit(&mut self.resource, &row.resource);
        fit(&mut self.policy, &row.policy);
        fit(&mut self.rule, &row.rule);
    }
}

/// The row a reference points at.
pub fn row(clusters: &[Cluster], r: RowRef) -> Option<(&Cluster, &ViolationRow)> {
    let cluster = clusters.get(usize::try_from(r.cluster).ok()?)?;
    let row = cluster.rows.violations.get(usize::try_from(r.row).ok()?)?;
    Some((cluster, row))
}

/// Builds the table from every cluster in scope.
pub fn build(
    clusters: &[Cluster],
    scope: Scope,
    filter: &Filter,
    sort: Sort,
    group: GroupBy,
) -> Table {
    let mut refs = Vec::new();
    let mut total = 0;
    for (c, cluster) in clusters.iter().enumerate() {
        if !scope.includes(c) {
            continue;
        }
        total += cluster.rows.violations.len();
        if !filter.cluster(&cluster.context) {
            continue;
        }
        let c = u32::try_from(c).unwrap_or(u32::MAX);
        refs.extend(
            cluster
                .rows
                .violations
                .iter()
                .enumerate()
                .filter(|(_, row)| filter.text(&row.haystack))
                .map(|(r, _)| RowRef {
                    cluster: c,
                    row: u32::try_from(r).unwrap_or(u32::MAX),
                }),
        );
    }
    // Each row looked up once, not at every comparison (a rebuild sorts up to every row).
    let mut entries: Vec<(RowRef, Entry<'_>)> = refs
        .into_iter()
        .filter_map(|r| row(clusters, r).map(|entry| (r, entry)))
        .collect();
    entries.sort_by(|(_, a), (_, b)| {
        group_key(group, *a)
            .cmp(group_key(group, *b))
            .then_with(|| compare(sort, *a, *b))
    });
    let shown = entries.len();
    let mut widths = Widths::default();
    for (_, (cluster, row)) in &entries {
        widths.add(&cluster.context, row);
    }
    let mut lines = Vec::with_capacity(entries.len());
    if group == GroupBy::None {
        lines.extend(entries.into_iter().map(|(r, _)| Line::Row(r)));
    } else {
        let mut start = 0;
        while start < entries.len() {
            let key = group_key(group, entries[start].1);
            let end = start
                + entries[start..]
                    .iter()
                    .take_while(|(_, e)| group_key(group, *e) == key)
                    .count();
            let label = if key.is_empty() {
                "(cluster-scoped)".to_owned()
            } else {
                key.to_owned()
            };
            lines.push(Line::Group {
                label,
                count: end - start,
            });
            lines.extend(entries[start..end].iter().map(|(r, _)| Line::Row(*r)));
            start = end.max(start + 1);
        }
    }
    Table {
        lines,
        shown,
        total,
        widths,
    }
}

type Entry<'c> = (&'c Cluster, &'c ViolationRow);

fn group_key<'c>(group: GroupBy, (cluster, row): Entry<'c>) -> &'c str {
    match group {
        GroupBy::None => "",
        GroupBy::Cluster => &cluster.context,
        GroupBy::Policy => &row.policy,
        GroupBy::Namespace => &row.namespace,
        GroupBy::Rule => &row.rule,
    }
}

/// Clusters by context name; rows of one cluster compare without reading the name.
fn same_cluster(a: &Cluster, b: &Cluster) -> Ordering {
    if std::ptr::eq(a, b) {
        Ordering::Equal
    } else {
        a.context.cmp(&b.context)
    }
}

fn compare(sort: Sort, a: Entry<'_>, b: Entry<'_>) -> Ordering {
    let (ca, ra) = a;
    let (cb, rb) = b;
    let primary = match sort.column {
        // Most severe first; waived findings after the violations of the same severity.
        Column::Severity => rb
            .severity
            .cmp(&ra.severity)
            .then_with(|| ra.waived_by.is_some().cmp(&rb.waived_by.is_some())),
        Column::Cluster => same_cluster(ca, cb),
        Column::Namespace => ra.namespace.cmp(&rb.namespace),
        Column::Resource => ra.resource.cmp(&rb.resource),
        Column::Policy => ra.policy.cmp(&rb.policy),
        Column::Rule => ra.rule.cmp(&rb.rule),
        Column::Enforcement => ra.enforcement.cmp(rb.enforcement),
        Column::Message => ra.message.cmp(&rb.message),
        // Newest first.
        Column::Age => rb.first_seen.cmp(&ra.first_seen),
    };
    let primary = if sort.reverse {
        primary.reverse()
    } else {
        primary
    };
    // A stable order under any column: severity, cluster, namespace, resource, rule.
    primary
        .then_with(|| rb.severity.cmp(&ra.severity))
        .then_with(|| same_cluster(ca, cb))
        .then_with(|| ra.namespace.cmp(&rb.namespace))
        .then_with(|| ra.resource.cmp(&rb.resource))
        .then_with(|| ra.rule.cmp(&rb.rule))
}
