//! The console's errors: each says what failed, on which file or cluster, and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("console config: {what}")]
    Config { what: String },
    #[error("cannot read the console config {}", path.display())]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the console config {}, line {line}: {message} (fix or remove the file)", path.display())]
    ConfigParse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("the console panicked (its message is above and in the log); please report it")]
    Panicked,
    #[error("no home directory to keep the console's config and log in; pass --log-file")]
    NoHome,
    #[error("setting up the console's log file")]
    Logging(#[source] guardian_cluster::Error),
    #[error("choosing the clusters")]
    Clusters(#[source] guardian_cluster::Error),
    #[error("terminal: {what}")]
    Terminal {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("building the Violations table failed: {message} (please report it, with the log)")]
    TableBuild { message: String },
    #[error("no cluster at position {position}: the console follows {count}")]
    NoCluster { position: usize, count: usize },
    #[error("cannot make a client for context {context} (check its kubeconfig entry)")]
    Client {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("${variable} ({value:?}) cannot be split into a command: fix its quoting")]
    EditorCommand {
        variable: &'static str,
        value: String,
        #[source]
        source: shell_words::ParseError,
    },
    #[error(
        "cannot start the editor {command:?}: set $KUBE_EDITOR, $VISUAL or $EDITOR to an installed editor"
    )]
    EditorStart {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the editor {command:?} failed: {why}")]
    EditorFailed { command: String, why: String },
    #[error("the edit's temp file {}: {what}", path.display())]
    EditFile {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
