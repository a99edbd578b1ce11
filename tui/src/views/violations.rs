//! Violations: one table across the clusters in scope, grouped and sorted as chosen, with a
//! detail pane for the selected finding.

use guardian_core::model::Outcome;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};

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
    // Side by side on wide terminals, stacked on narrow ones.
    let split = if area.width >= WIDE {
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
    };
    let [list, detail] = split.areas(area);
    render_table(frame, list, state, theme);
    render_detail(frame, detail, state, theme);
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
        Some(TableLine::Group { .. }) => Row::new([Cell::from("")]),
        Some(TableLine::Row(r)) => match row(&state.clusters, *r) {
            Some((cluster, row)) => Row::new(columns.iter().map(|(column, _)| {
                let cell: Cell = match column {
                    Column::Severity => {
                        let mut word = severity_word(row.severity).to_owned();
                        if row.waived_by.is_some() {
                            word.push_str(" ~");
                        }
                        Cell::from(Span::styled(word, theme.severity(row.severity)))
                    }
                    Column::Cluster => Cell::from(cluster.context.as_str()),
                    Column::Namespace => Cell::from(&*row.namespace),
                    Column::Resource => Cell::from(row.resource.as_str()),
                    Column::Policy => Cell::from(&*row.policy),
                    Column::Rule => Cell::from(&*row.rule),
                    Column::Enforcement => Cell::from(if row.waived_by.is_some() {
                        "waived"
                    } else {
                        row.enforcement
                    }),
                    Column::Message => Cell::from(row.message.as_str()),
                    Column::Age => Cell::from(age(state.now, row.first_seen)),
                };
                cell
            })),
            None => Row::default(),
        },
        None => Row::default(),
    });
    for (y, i) in (first.y..).zip(shown) {
        if let Some(TableLine::Group { label, count }) = v.table.lines.get(i) {
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

fn render_detail(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let block = Block::default().borders(Borders::ALL).title(" Detail ");
    let selected = state.cursor(Screen::Violations).selected;
    let found = match state.violations.table.lines.get(selected) {
        Some(TableLine::Row(r)) => row(&state.clusters, *r),
        _ => None,
    };
    let Some((cluster, row)) = found else {
        let text = "Select a finding (a group header has no detail).";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let finding = row.finding(cluster.snapshot());
    let label = |name: &'static str| Span::styled(format!("{name:<8}"), theme.header());
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "{} {}/{}  ({})",
                row.resource.split('/').next().unwrap_or_default(),
                row.namespace,
                row.resource.split_once('/').map_or("", |(_, n)| n),
                cluster.context
            ),
            theme.title(),
        )),
        Line::from(vec![
            label("rule"),
            Span::raw(format!("{}  ", row.rule)),
            Span::styled(severity_word(row.severity), theme.severity(row.severity)),
            Span::raw(format!("  {}", row.enforcement)),
        ]),
        Line::from(vec![label("policy"), Span::raw(&*row.policy)]),
    ];
    if let Some(finding) = finding {
        lines.push(Line::from(vec![
            label("path"),
            Span::raw(finding.path.as_str()),
        ]));
        if let Some(container) = &finding.container {
            lines.push(Line::from(vec![label("in"), Span::raw(container.as_str())]));
        }
        lines.push(Line::from(vec![
            label("fix"),
            Span::raw(&*finding.remediation),
        ]));
        let waived = match &finding.outcome {
            Outcome::Skip {
                exception,
                justification,
            } => format!("by {exception}: {justification}"),
            Outcome::Fail | Outcome::Error => "no exception".to_owned(),
        };
        lines.push(Line::from(vec![label("waived"), Span::raw(waived)]));
    }
    lines.push(Line::from(vec![
        label("message"),
        Span::raw(row.message.as_str()),
    ]));
    lines.push(Line::from(vec![
        label("seen"),
        Span::raw(format!("for {}", age(state.now, row.first_seen))),
    ]));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
