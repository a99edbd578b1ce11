//! Fleet (home): one row per cluster: state, score with its trend, violations by severity,
//! policies and how many are reconciled, the operator's leader and lease, and when a policy's
//! condition last changed (the status holds no reconcile time: a reconcile that changes nothing
//! leaves no trace, so the column says CHANGED, not when the operator last reconciled).

use std::collections::VecDeque;

use guardian_core::model::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row};

use super::frame::{Detail, state_text};
use super::table::{self, Spec};
use super::text::{age, duration};
use crate::app::{Cluster, State};
use crate::theme::Theme;
use crate::views::Screen;
use guardian_cluster::operator_state::operator_state;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Bars of the trend (the whole history, downsampled), on wide and narrow terminals.
const TREND: usize = 10;
const NARROW_TREND: usize = 8;

/// From this width the Fleet shows every column; below it, the essentials.
const WIDE: u16 = 120;

pub fn render(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let wide = area.width >= WIDE;
    let titles: &[&str] = if wide {
        &[
            "CLUSTER", "STATE", "SCORE", "TREND", "CRIT", "HIGH", "MED", "LOW", "POLICIES",
            "LEADER", "LEASE", "CHANGED",
        ]
    } else {
        &["CLUSTER", "STATE", "SCORE", "TREND", "C/H/M/L", "POLICIES"]
    };
    let context = state
        .clusters
        .iter()
        .map(|c| c.context.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, 24);
    let context = u16::try_from(context).unwrap_or(24);
    let states = state
        .clusters
        .iter()
        .map(|c| {
            state_text(&c.snapshot().connection, state.now, Detail::Full)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0)
        .clamp(12, 48);
    let states = u16::try_from(states).unwrap_or(48);
    let widths = if wide {
        vec![
            Constraint::Length(context),
            Constraint::Length(states),
            Constraint::Length(5),
            Constraint::Length(TREND as u16),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(10),
            Constraint::Fill(1),
            Constraint::Length(12),
            Constraint::Length(10),
        ]
    } else {
        vec![
            Constraint::Length(context),
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Length(NARROW_TREND as u16),
            Constraint::Length(9),
            Constraint::Length(8),
        ]
    };
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} ({}) ",
        Screen::Fleet.title(),
        state.clusters.len()
    ));
    let spec = Spec {
        block,
        header: Row::new(titles.iter().map(|t| Cell::from(*t))),
        widths,
        len: state.clusters.len(),
        cursor: state.cursor(Screen::Fleet),
    };
    table::render(frame, area, spec, theme, |i| match state.clusters.get(i) {
        Some(cluster) => row(cluster, state, theme, wide),
        None => Row::default(),
    });
}

/// The score history since the console started as at most `width` bars, oldest left: every
/// point while they fit, else each bar the lowest score of its share of the history (a dip
/// stays visible however long ago).
fn trend(history: &VecDeque<u8>, width: usize) -> String {
    let bar = |s: u8| BARS[usize::from(s.min(99)) * BARS.len() / 100];
    let n = history.len();
    if n <= width {
        return history.iter().map(|&s| bar(s)).collect();
    }
    (0..width)
        .filter_map(|i| history.range(i * n / width..(i + 1) * n / width).min())
        .map(|&s| bar(s))
        .collect()
}

fn row<'a>(cluster: &'a Cluster, state: &State, theme: &Theme, wide: bool) -> Row<'a> {
    let snapshot = cluster.snapshot();
    let connection = &snapshot.connection;
    let live = connection.state.is_live();
    let known = live || connection.last_synced.is_some();
    let tally = &cluster.rows.tally;
    let count = |severity: Severity| -> Cell<'a> {
        let n = tally.by_severity.get(severity);
        if !known {
            return Cell::from("-");
        }
        let style = if n > 0 {
            theme.severity(severity)
        } else {
            Default::default()
        };
        Cell::from(Span::styled(n.to_string(), style))
    };
    let score = if known {
        tally.score().to_string()
    } else {
        "-".to_owned()
    };
    let trend = trend(&cluster.history, if wide { TREND } else { NARROW_TREND });
    // The operator's state as the cluster layer reads it (the same for `scan`).
    let operator = operator_state(snapshot, state.now);
    let policies = if known {
        let reconciled = operator.policies.len() - operator.pending();
        format!("{} ({reconciled})", operator.policies.len())
    } else {
        "-".to_owned()
    };
    let leader = operator
        .leader
        .as_ref()
        .and_then(|l| l.holder.clone())
        .unwrap_or_else(|| "-".to_owned());
    let renewed = operator.leader.as_ref().map_or_else(
        || "-".to_owned(),
        |l| match l.renew_age_seconds {
            Some(secs) => format!("{} {}", l.health.as_str(), duration(secs)),
            None => l.health.as_str().to_owned(),
        },
    );
    let last = operator
        .policies
        .iter()
        .filter_map(|p| p.last_transition)
        .max()
        .map_or_else(|| "-".to_owned(), |t| format!("{} ago", age(state.now, t)));
    let style = if live {
        Default::default()
    } else {
        theme.stale()
    };
    let state_cell = Cell::from(Line::from(Span::styled(
        state_text(
            connection,
            state.now,
            if wide { Detail::Full } else { Detail::Retry },
        ),
        theme.state(connection.state.name()),
    )));
    let cells = if wide {
        vec![
            Cell::from(cluster.context.as_str()),
            state_cell,
            Cell::from(score),
            Cell::from(trend),
            count(Severity::Critical),
            count(Severity::High),
            count(Severity::Medium),
            count(Severity::Low),
            Cell::from(policies),
            Cell::from(leader),
            Cell::from(renewed),
            Cell::from(last),
        ]
    } else {
        let counts = if known {
            let n: Vec<String> = [
                Severity::Critical,
                Severity::High,
                Severity::Medium,
                Severity::Low,
            ]
            .map(|s| tally.by_severity.get(s).to_string())
            .to_vec();
            n.join("/")
        } else {
            "-".to_owned()
        };
        vec![
            Cell::from(cluster.context.as_str()),
            state_cell,
            Cell::from(score),
            Cell::from(trend),
            Cell::from(counts),
            Cell::from(policies),
        ]
    };
    Row::new(cells).style(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trend_fits_the_whole_history_into_its_width_keeping_dips() {
        let short: VecDeque<u8> = [100, 50, 0].into();
        assert_eq!(trend(&short, TREND), "█▅▁");
        // 120 points: a dip at the start and one in the middle, the newest ten all 100.
        let mut long: VecDeque<u8> = std::iter::repeat_n(100, 120).collect();
        long[3] = 0;
        long[60] = 50;
        assert_eq!(trend(&long, TREND), "▁████▅████");
        assert_eq!(trend(&long, NARROW_TREND).chars().count(), NARROW_TREND);
    }
}
