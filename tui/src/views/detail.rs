//! The Violations detail pane: the selected finding's facts (rule, policy, field path,
//! remediation, the exception that waives it) and its object's YAML with the offending line
//! highlighted.

use guardian_core::load::LineIndex;
use guardian_core::model::Outcome;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::text::age;
use crate::app::violations::{Line as TableLine, row};
use crate::app::{ObjectText, State};
use crate::theme::{Theme, severity_word};
use crate::views::Screen;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let block = Block::default().borders(Borders::ALL).title(" Detail ");
    if let Some(gone) = &state.violations.gone {
        let text = format!(
            "{}\n\nThis finding is gone since the last update: fixed, its policy changed, or its object \
             deleted. Move to show another finding; esc closes.",
            gone.label()
        );
        let pane = Paragraph::new(text).wrap(Wrap { trim: false }).block(block);
        frame.render_widget(pane, area);
        return;
    }
    let selected = state.cursor(Screen::Violations).selected;
    let found = match state.violations.table.lines.get(selected) {
        Some(TableLine::Row(r)) => row(&state.violations.table, *r).map(|found| (*r, found)),
        _ => None,
    };
    let Some((row_ref, (cluster, row))) = found else {
        let text = "Select a finding (a group header has no detail).";
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let finding = row.finding;
    let object = row.object;
    let severity = row.row.severity;
    let label = |name: &'static str| Span::styled(format!("{name:<8}"), theme.header());
    let mut lines = vec![
        Line::from(Span::styled(
            format!(
                "{} {}/{}  ({})",
                object.kind,
                row.namespace(),
                object.name,
                cluster.context
            ),
            theme.title(),
        )),
        Line::from(vec![
            label("rule"),
            Span::raw(format!("{}  ", finding.rule_id())),
            Span::styled(severity_word(severity), theme.severity(severity)),
            Span::raw(format!("  {}", row.row.enforcement())),
        ]),
        Line::from(vec![label("policy"), Span::raw(finding.policy())]),
        Line::from(vec![label("path"), Span::raw(finding.path.as_str())]),
    ];
    if let Some(container) = &finding.container {
        lines.push(Line::from(vec![label("in"), Span::raw(container.as_str())]));
    }
    lines.push(Line::from(vec![
        label("fix"),
        Span::raw(finding.remediation()),
    ]));
    let waived = match &finding.outcome {
        Outcome::Skip {
            exception,
            justification,
        } => format!("by {exception}: {justification}"),
        Outcome::Fail | Outcome::Error => "no exception".to_owned(),
    };
    lines.push(Line::from(vec![label("waived"), Span::raw(waived)]));
    lines.push(Line::from(vec![
        label("message"),
        Span::raw(finding.message.as_str()),
    ]));
    lines.push(Line::from(vec![
        label("seen"),
        Span::raw(format!("for {}", age(state.now, row.row.first_seen()))),
    ]));
    // The facts on top (wrapped), the object's YAML below with the offending line marked.
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let facts = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(facts), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);
    let path = finding.path.as_str();
    let index = usize::try_from(row_ref.cluster).unwrap_or(usize::MAX);
    let object = state
        .violations
        .object
        .as_ref()
        .filter(|o| o.is_of(index, &finding.resource));
    frame.render_widget(
        Paragraph::new(yaml_lines(object, path, bottom.height, theme)),
        bottom,
    );
}

/// The object's YAML around the line of `path`, numbered, that line highlighted and marked.
fn yaml_lines<'a>(
    object: Option<&'a ObjectText>,
    path: &str,
    height: u16,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let text = match object.map(|o| &o.text) {
        None => return vec![Line::from(" reading the object…")],
        Some(Err(error)) => return vec![Line::from(format!(" cannot read the object: {error}"))],
        Some(Ok(text)) => text,
    };
    let all: Vec<&str> = text.lines().collect();
    let at = LineIndex::new(text).locate(path);
    let height = usize::from(height).max(1);
    // The marked line a third of the way down: the context above it is usually the parent.
    let start = at
        .map_or(0, |line| line.saturating_sub(height / 3))
        .min(all.len().saturating_sub(height));
    all.iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, line)| {
            let number = format!("{:>4} ", i + 1);
            if Some(i) == at {
                Line::from(vec![
                    Span::styled(number, theme.highlight()),
                    Span::styled(format!("{line}  ◀"), theme.highlight()),
                ])
            } else {
                Line::from(vec![Span::styled(number, theme.header()), Span::raw(*line)])
            }
        })
        .collect()
}
