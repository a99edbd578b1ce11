//! `kube-guardian tui` flags.

use std::path::PathBuf;

use guardian_cluster::ContextSelection;

/// Open the console: live governance across kubeconfig contexts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TuiArgs {
    /// Kubeconfig files (repeatable); default: KUBECONFIG, else ~/.kube/config.
    #[arg(long = "kubeconfig", value_name = "FILE")]
    pub kubeconfigs: Vec<PathBuf>,
    /// Contexts to follow, comma-separated; default: the current context.
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        conflicts_with = "all_contexts"
    )]
    pub contexts: Vec<String>,
    /// Follow every context of the kubeconfig.
    #[arg(long)]
    pub all_contexts: bool,
    /// No write actions: they are absent from keys, hints and help.
    #[arg(long)]
    pub readonly: bool,
    /// Write the log here (default: the XDG state dir, see --print-paths).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Print the config and log file paths, and exit.
    #[arg(long)]
    pub print_paths: bool,
}

impl TuiArgs {
    pub fn selection(&self) -> ContextSelection {
        ContextSelection {
            kubeconfigs: self.kubeconfigs.clone(),
            contexts: self.contexts.clone(),
            all_contexts: self.all_contexts,
        }
    }
}
