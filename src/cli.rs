//! The command line: one binary, one subcommand per face of the product.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use guardian_core::crd::Profile;
use guardian_core::model::Severity;

use crate::output::Format;
use crate::scan::ScanFormat;

#[derive(Debug, Parser)]
#[command(
    name = "kube-guardian",
    version,
    about = "Kubernetes governance: policies, admission, audit and an on-call console"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifest files against policies, offline (for CI pipelines).
    Check(CheckArgs),
    /// Scan live clusters at once: violations under each cluster's own policies, the operator's
    /// state and policy drift across clusters (for scripts and cron jobs).
    Scan(ScanArgs),
    /// List the built-in rule library, or explain one rule.
    Rules(RulesArgs),
    /// Print the CustomResourceDefinitions as multi-document YAML.
    Crd,
    /// Run in-cluster: reconcile GuardianPolicies, write PolicyReports, serve the admission webhook.
    Operator(Box<OperatorCmd>),
    /// Open the console: live governance, reconcile and lease state across clusters.
    Tui(guardian_tui::TuiArgs),
}

#[derive(Debug, clap::Args)]
pub struct OperatorCmd {
    #[command(flatten)]
    pub operator: guardian_operator::config::OperatorArgs,
    #[command(flatten)]
    pub log: guardian_operator::telemetry::LogConfig,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml, .json); `-` reads stdin.
    #[arg(value_name = "PATH|-", required = true)]
    pub paths: Vec<PathBuf>,
    /// GuardianPolicy and GuardianException files or directories. Default: the profiles below.
    #[arg(short, long = "policy", value_name = "FILE|DIR")]
    pub policies: Vec<PathBuf>,
    /// Built-in profiles to check (repeatable). Default without --policy: best-practices and
    /// pss-restricted; with --policy they are checked in addition.
    #[arg(long = "profile", value_name = "NAME", value_parser = parse_profile)]
    pub profiles: Vec<Profile>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Exit with 1 when a finding of this severity or higher fails.
    #[arg(long, value_name = "SEVERITY", default_value = "info", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Larger files are not read (an input error naming the file, exit code 2); the other
    /// files are still checked. Bytes, or with a KiB, MiB or GiB suffix. The default is far
    /// above any real manifest and far below what would exhaust memory.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = crate::check::parse_size)]
    pub max_file_size: u64,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub clusters: guardian_cluster::ContextSelection,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ScanFormat::Table)]
    pub output: ScanFormat,
    /// Exit with 1 when a violation of this severity or higher is found in any cluster.
    #[arg(long, value_name = "SEVERITY", default_value = "info", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// The operator's leader-election Lease (its --lease-name), looked for in every namespace.
    #[arg(long, value_name = "NAME", default_value = guardian_cluster::lease::DEFAULT_LEASE_NAME)]
    pub lease_name: String,
    /// How long to wait for every cluster's initial sync (30s, 500ms, 2m); a cluster not synced
    /// by then is reported as not scanned.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::scan::parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: Option<RulesCommand>,
    /// Output format of the list.
    #[arg(short, long, value_enum, default_value_t = RulesFormat::Table)]
    pub output: RulesFormat,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Explain one rule, with a failing and a passing example.
    Explain {
        /// A rule id, as listed by `kube-guardian rules`.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Table,
    Json,
    /// The Markdown table the README embeds.
    Markdown,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}
