//! `kube-guardian tui` flags.

use std::path::PathBuf;

use guardian_cluster::ContextSelection;

/// Open the console: live governance across kubeconfig contexts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub clusters: ContextSelection,
    /// No write actions: they are absent from keys, hints and help.
    #[arg(long)]
    pub readonly: bool,
    /// Write the log here (default: the XDG state dir, see --print-paths).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Print the config, log and edits paths and the allocator's settings, and exit.
    #[arg(long)]
    pub print_paths: bool,
}
