//! Output formats of `check`: the same report as a human table, JSON, SARIF or JUnit XML.

mod escape;
mod json;
mod json_findings;
mod junit;
mod sarif;
mod style;
mod summary;
mod table;
mod table_findings;
mod wrap;

#[cfg(test)]
mod test_support;

use std::io::{self, Write};

use crate::check::report::CheckReport;

pub use escape::escape_control;
pub use style::Style;
// `scan` renders with the same pieces.
pub(crate) use json::API_VERSION;
pub(crate) use sarif::render as render_sarif;
pub(crate) use table::{
    WIDTH, count, error_style, severity_label, severity_style, write_findings, write_lines,
};
pub(crate) use wrap::wrap;

/// Whether `text` is all printable ASCII (space to `~`): nearly all report text, which then needs
/// neither control escaping nor a per-character width walk.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// How `check` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Findings grouped by resource, for people (colour on a terminal).
    Table,
    /// A versioned JSON document (apiVersion kube-guardian.dev/v1alpha1, kind CheckReport).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other code-scanning dashboards.
    Sarif,
    /// JUnit XML, for CI test reports (GitLab, Jenkins, ...).
    Junit,
}

/// Writes `report` to `out` in `format`. `style` only affects the table; the machine formats
/// never contain colour codes.
pub fn render(
    report: &CheckReport,
    format: Format,
    out: &mut dyn Write,
    style: Style,
) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, out, style),
        Format::Json => json::render(report, out),
        Format::Sarif => sarif::render(report, out),
        Format::Junit => junit::render(report, out),
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;
    use test_support::sample_report;

    #[test]
    fn format_names_on_the_command_line() {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["table", "json", "sarif", "junit"]);
    }

    #[test]
    fn machine_formats_ignore_colour() {
        for format in [Format::Json, Format::Sarif, Format::Junit] {
            let mut out = Vec::new();
            render(&sample_report(), format, &mut out, Style::COLOR).expect("render");
            let text = String::from_utf8(out).expect("UTF-8");
            assert!(!text.contains('\u{1b}'), "{format:?} has escape codes");
        }
    }
}
