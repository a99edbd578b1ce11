//! The incremental filter: a word typed on (or added) only narrows the rows kept, so its table
//! is built from the last table's rows, not from every row. Kept by the loop's table builder
//! (off the UI thread), for the last table built with words to match.

use super::filter::Filter;
use super::state::Scope;
use super::violations::{self, GroupBy, Line, RowRef, Sort, Source, Table};

/// The last table built with words to match: what it was built from, and its rows.
#[derive(Debug, Default)]
pub struct Memo {
    last: Option<Last>,
    /// Tables built from the last one's rows so far.
    pub narrowed: u64,
}

#[derive(Debug)]
struct Last {
    /// Each source's rows by address and generation: the same rows, not only the same cluster.
    sources: Vec<(usize, u64)>,
    scope: Scope,
    sort: Sort,
    group: GroupBy,
    filter: Filter,
    /// Its rows, in its lines' order (grouping keeps the sort's order within each group, so
    /// the same grouping of fewer rows is the same order again).
    rows: Vec<RowRef>,
}

impl Memo {
    /// The table, from the last table's rows when only the filter changed and it narrows.
    pub fn build(
        &mut self,
        sources: Vec<Source>,
        scope: Scope,
        filter: &Filter,
        sort: Sort,
        group: GroupBy,
    ) -> Table {
        let identity: Vec<(usize, u64)> = (sources.iter())
            .map(|s| {
                (
                    std::sync::Arc::as_ptr(&s.rows) as usize,
                    s.rows.generation(),
                )
            })
            .collect();
        let last = self.last.take().filter(|last| {
            last.sources == identity
                && (last.scope, last.sort, last.group) == (scope, sort, group)
                && filter.narrows(&last.filter)
        });
        let table = match last {
            Some(last) => {
                self.narrowed += 1;
                violations::narrow(sources, scope, filter, group, &last.rows)
            }
            None => violations::build(sources, scope, filter, sort, group),
        };
        // Without words, every row is kept: nothing to narrow from.
        if filter.any_text() {
            return table;
        }
        let rows = (table.lines.iter())
            .filter_map(|line| match line {
                Line::Row(r) => Some(*r),
                Line::Group(_) => None,
            })
            .collect();
        self.last = Some(Last {
            sources: identity,
            scope,
            sort,
            group,
            filter: filter.clone(),
            rows,
        });
        table
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::Deriver;
    use crate::testing::{epoch, synthetic};

    fn sources(generation: u64) -> Vec<Source> {
        ["demo-a", "demo-b"]
            .iter()
            .map(|context| {
                let mut snapshot = synthetic(context, 60, 2);
                snapshot.generation = generation;
                let rows = Deriver::default().derive(Arc::new(snapshot), epoch());
                Source {
                    context: (*context).to_owned(),
                    rows: Arc::new(rows),
                }
            })
            .collect()
    }

    fn same(a: &Table, b: &Table) -> bool {
        (&a.lines, a.shown, a.total, a.widths) == (&b.lines, b.shown, b.total, b.widths)
    }

    #[test]
    fn a_word_typed_on_filters_the_last_tables_rows_into_the_table_built_from_every_row() {
        let mut memo = Memo::default();
        let mut rows = sources(1);
        let sort = Sort::default();
        let mut typed = 0;
        let texts = [
            "a",
            "ap",
            "app-00001",
            "app-000012",
            "app-00001",
            "app-0000 @demo-b",
        ];
        for group in [GroupBy::None, GroupBy::Namespace] {
            for (i, text) in texts.iter().chain(&["app-0000 !high", ""]).enumerate() {
                if i == 4 {
                    rows = sources(2);
                }
                let filter = Filter::parse(text);
                let scope = Scope::All;
                let built = memo.build(rows.clone(), scope, &filter, sort, group);
                let all = violations::build(rows.clone(), scope, &filter, sort, group);
                assert!(same(&built, &all), "{group:?} {text:?}");
                assert!(built.shown > 0 || text.contains('!'), "{text:?}");
                typed += 1;
            }
        }
        // Per grouping, `ap`, `app-00001` and `app-000012` narrow; `app-00001` over new rows,
        // `@demo-b` then (a word shorter), `!high` then (every cluster again) and `` are built
        // from every row.
        assert_eq!(memo.narrowed, 2 * 3, "of {typed}");
    }
}
