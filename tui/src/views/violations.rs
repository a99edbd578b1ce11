//! Violations: one table across the clusters in scope, grouped and sorted as chosen, with a
//! detail pane for the selected finding.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};

use super::table::{self, Spec};
use super::text::age;
use crate::app::State;
use crate::app::violations::{Column, GroupBy, Line as TableLine, Widths, row};
use crate::theme::{Theme, severity_word};
use crate::views::Screen;

/// From this width the table shows namespaces, and from [`WIDE`] every column.
const MEDIUM: u16 = 70;
const WIDE: u16 = 120;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    if !state.violations.detail {
        render_table(frame, area, state, theme);
        return;
    }
    // Side by side on wide terminals; on narrow ones the detail takes the screen (Esc returns).
    if area.width < WIDE {
        super::detail::render(frame, area, state, theme);
        return;
    }
    let [list, detail] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    render_table(frame, list, state, theme);
    super::detail::render(frame, detail, state, theme);
}

fn columns(width: u16, widths: Widths) -> Vec<(Column, Constraint)> {
    let at_least = |title: &str, n: u16| {
        let title = u16::try_from(title.chars().count()).unwrap_or(u16::MAX);
        Constraint::Max(n.max(title))
    };
    let mut columns = vec![
        (Column::Severity, Constraint::Length(9)),
        (Column::Cluster, at_least("CLUSTER", widths.cluster)),
    ];
    if width >= MEDIUM {
        columns.push((Column::Namespace, at_least("NAMESPACE", widths.namespace)));
    }
    columns.push((Column::Resource, at_least("KIND/NAME", widths.resource)));
    if width >= WIDE {
        columns.push((Column::Policy, at_least("POLICY", widths.policy)));
        columns.push((Column::Rule, at_least("RULE", widths.rule)));
        columns.push((Column::Enforcement, Constraint::Length(11)));
        columns.push((Column::Message, Constraint::Fill(1)));
    } else {
        columns.push((Column::Rule, Constraint::Fill(1)));
    }
    columns.push((Column::Age, Constraint::Length(4)));
    columns
}

fn render_table(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let v = &state.violations;
    let columns = columns(area.width, v.table.widths);
    let header = Row::new(columns.iter().map(|(column, _)| {
        let mark = match (v.sort.column == *column, v.sort.reverse) {
            (false, _) => "",
            (true, false) => "↓",
            (true, true) => "↑",
        };
        Cell::from(format!("{}{mark}", column.title()))
    }));
    let mut title = format!(
        " {} ({} of {}",
        Screen::Violations.title(),
        v.table.shown,
        v.table.total
    );
    if let Some(filter) = state.filter(Screen::Violations) {
        title.push_str(&format!(", filter: /{}", filter.text));
    }
    title.push_str(") ");
    if v.group != GroupBy::None {
        title.push_str(&format!("─ group: {} ", v.group.name()));
    }
    // The table shown is the one before the key, until its rebuild (off the UI thread) is in.
    if let Some(doing) = crate::app::keyed::doing(state) {
        title.push_str(&format!("─ {doing} "));
    }
    let spec = Spec {
        block: Block::default().borders(Borders::ALL).title(title),
        header,
        widths: columns.iter().map(|(_, w)| *w).collect(),
        len: v.table.lines.len(),
        cursor: state.cursor(Screen::Violations),
    };
    let selected = state.cursor(Screen::Violations).selected;
    let (shown, first) = table::render(frame, area, spec, theme, |i| match v.table.lines.get(i) {
        // Drawn over the whole row below: a cell would cut the label at its column.
        Some(TableLine::Group(_)) => Row::new([Cell::from("")]),
        Some(TableLine::Row(r)) => match row(&state.violations.table, *r) {
            Some((cluster, row)) => Row::new(columns.iter().map(|(column, _)| {
                let waived = row.row.waived;
                let cell: Cell = match column {
                    Column::Severity => {
                        let severity = row.row.severity;
                        let mut word = severity_word(severity).to_owned();
                        if waived {
                            word.push_str(" ~");
                        }
                        Cell::from(Span::styled(word, theme.severity(severity)))
                    }
                    Column::Cluster => Cell::from(cluster.context.as_str()),
                    Column::Namespace => Cell::from(row.namespace()),
                    Column::Resource => Cell::from(row.resource()),
                    Column::Policy => Cell::from(row.finding.policy()),
                    Column::Rule => Cell::from(row.finding.rule_id()),
                    Column::Enforcement => Cell::from(row.enforcement()),
                    Column::Message => Cell::from(row.finding.message.as_str()),
                    Column::Age => Cell::from(age(state.now, row.row.first_seen())),
                };
                cell
            })),
            None => Row::default(),
        },
        None => Row::default(),
    });
    for (y, i) in (first.y..).zip(shown) {
        if let Some(TableLine::Group(group)) = v.table.lines.get(i) {
            let (label, count) = (&group.label, group.count);
            let style = if i == selected {
                theme.group().patch(theme.selected())
            } else {
                theme.group()
            };
            let text = Paragraph::new(format!("▾ {label} ({count})")).style(style);
            frame.render_widget(text, Rect { y, ..first });
        }
    }
}
