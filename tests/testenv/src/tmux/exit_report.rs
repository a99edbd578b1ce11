//! A console under test run through `sh`, which after the console exits prints its status and
//! the terminal's modes (`stty -a`) and waits for Enter (tmux reports a dead pane's cursor as
//! hidden), then exits with the console's status: how the e2e tests see the terminal given back.

use std::time::Duration;

use super::{Tmux, TmuxBuilder};
use crate::error::Result;

/// The line `sh` prints after the console exits, before its status.
const EXITED: &str = "console exited";

/// What the pane showed once the console exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitReport {
    /// The whole screen then.
    pub screen: String,
    /// The console's status as the shell printed it.
    pub status: Option<i32>,
    /// The terminal back in cooked mode: `stty -a` shows `icanon`, `echo` and `isig` (not
    /// `-icanon`, …).
    pub cooked: bool,
}

impl ExitReport {
    /// The report on `screen`, once it shows the exit line and stty's modes (`isig` or `-isig`).
    pub fn parse(screen: &str) -> Option<Self> {
        let line = screen.lines().find(|line| line.starts_with(EXITED))?;
        if !screen.contains("isig") {
            return None;
        }
        let modes: Vec<&str> = screen.split_whitespace().collect();
        Some(Self {
            screen: screen.to_owned(),
            status: line[EXITED.len()..].trim().parse().ok(),
            cooked: ["icanon", "echo", "isig"]
                .iter()
                .all(|mode| modes.contains(mode)),
        })
    }
}

impl Tmux {
    /// A session running `sh`, which runs the console given as the builder's arguments and
    /// reports its exit ([`Tmux::wait_for_exit_report`]); `report` is shell put before the exit
    /// line (e.g. an `echo` of the environment the console had), or empty.
    pub fn reporting_exit(report: &str) -> TmuxBuilder {
        let script = format!(
            r#""$@"; status=$?; echo; {report} echo "{EXITED} $status"; stty -a; read x; exit $status"#
        );
        Self::builder("sh").args(["-c", script.as_str(), "sh"])
    }

    /// Waits for the report of a [`Tmux::reporting_exit`] session's console.
    pub async fn wait_for_exit_report(&self, deadline: Duration) -> Result<ExitReport> {
        let screen = self
            .wait_for("the exit line and stty's modes", deadline, |screen| {
                ExitReport::parse(screen).is_some()
            })
            .await?;
        // The screen `wait_for` accepted parses.
        Ok(ExitReport::parse(&screen).unwrap_or(ExitReport {
            screen,
            status: None,
            cooked: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_the_status_and_whether_the_modes_are_cooked() {
        let cooked = "bye\n\nconsole exited 2\nspeed 38400 baud; line = 0;\n\
                      -parenb cs8 isig icanon iexten echo echoe\n";
        let report = ExitReport::parse(cooked).expect("a report");
        assert_eq!((report.status, report.cooked), (Some(2), true));
        let raw = cooked.replace(" isig icanon", " -isig -icanon");
        let report = ExitReport::parse(&raw).expect("a report");
        assert_eq!((report.status, report.cooked), (Some(2), false));
        assert_eq!(
            ExitReport::parse("console exited 0\n"),
            None,
            "no modes yet"
        );
        assert_eq!(ExitReport::parse("running\n"), None);
    }
}
