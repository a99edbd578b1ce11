//! The merge of the clusters' pre-sorted runs against one stable sort of every row.

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
                            let f = finding(policies[n % 2], rules[n % 3], Severity::ALL[n % 4]);
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
                    for r in 0..rows.violations.len() {
                        let row = rows.shown(r).expect("its snapshot's row");
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
                        .map(|(_, key)| text(&key.shown().expect("read")).chars().count() as u16)
                        .max()
                        .unwrap_or(0)
                };
                let widths = Widths {
                    cluster: if all.is_empty() { 0 } else { 6 },
                    namespace: widest(|r| r.namespace().to_owned()),
                    resource: widest(|r| r.resource()),
                    policy: widest(|r| r.finding.policy().to_string()),
                    rule: widest(|r| r.finding.rule_id().to_string()),
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
    for (column, expected) in [
        (
            Column::Resource,
            vec!["Deployment/web", "Job-x/a", "Job/a-2", "Job/b"],
        ),
        (Column::Message, vec!["Beta", "Zeta", "alpha", "beta"]),
    ] {
        for reverse in [false, true] {
            let sort = Sort { column, reverse };
            let mut expected = expected.clone();
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
        }
    }
}
