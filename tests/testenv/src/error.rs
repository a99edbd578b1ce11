//! The harness's one error type. Messages say what failed and, for process failures, where the
//! logs are and what they said last, so a red test explains itself without a rerun.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, using or stopping a control plane.
#[derive(thiserror::Error)]
pub enum Error {
    #[error(
        "{name} not found at {path}: run tests/control-plane/build.sh{build_args} to build the \
         control plane (binary directory {dir}; override it with KUBE_GUARDIAN_CONTROL_PLANE_DIR)"
    )]
    BinaryMissing {
        name: &'static str,
        path: PathBuf,
        dir: PathBuf,
        build_args: &'static str,
    },

    #[error("cannot place the control-plane cache: neither XDG_CACHE_HOME nor HOME is set")]
    NoCacheDir,

    #[error("tests/control-plane/versions.env has no {key}= line")]
    Versions { key: &'static str },

    #[error("cannot create a temporary directory for the control plane")]
    TempDir(#[source] std::io::Error),

    #[error("cannot write {path}")]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot find a free loopback port")]
    FreePort(#[source] std::io::Error),

    #[error("cannot generate {what}")]
    Certificate {
        what: String,
        #[source]
        source: rcgen::Error,
    },

    #[error("cannot start {name} ({binary}); log: {log}")]
    Spawn {
        name: &'static str,
        binary: PathBuf,
        log: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{name} exited while starting ({status}); log: {log}\n--- last lines of {log} ---\n{tail}"
    )]
    Exited {
        name: &'static str,
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "kube-apiserver was not ready within {waited:?} (last /readyz check: {last_check}); \
         logs: {apiserver_log} and {etcd_log}\n--- last lines of {apiserver_log} ---\n{tail}"
    )]
    NotReady {
        waited: Duration,
        last_check: String,
        apiserver_log: PathBuf,
        etcd_log: PathBuf,
        tail: String,
    },

    #[error(
        "kube-controller-manager's controllers did not run within {waited:?} ({last_check}); \
         log: {log}\n--- last lines of {log} ---\n{tail}"
    )]
    ControllersNotReady {
        waited: Duration,
        last_check: String,
        log: PathBuf,
        tail: String,
    },

    #[error("cannot stop {name} (pid {pid}); log: {log}")]
    Stop {
        name: &'static str,
        pid: u32,
        log: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot serialise the kubeconfig")]
    SerializeKubeconfig(#[source] serde_yaml_ng::Error),

    #[error("cannot load kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("a kube client must be made inside a tokio runtime (call it from async test code)")]
    NoRuntime,

    #[error("cannot build a kube client for {who}")]
    Client {
        who: String,
        #[source]
        source: kube::Error,
    },

    #[error("{what} failed")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("the TokenRequest for ServiceAccount {account} returned no token")]
    NoToken { account: String },

    #[error("CRD {name} was not Established within {waited:?}; last state: {last}")]
    CrdNotEstablished {
        name: String,
        waited: Duration,
        last: String,
    },

    #[error(
        "{operation} is not supported against an existing cluster (KUBE_GUARDIAN_TEST_KUBECONFIG is set)"
    )]
    NotSupported { operation: &'static str },

    #[error("cannot run {what}")]
    Run {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{what} did not finish within {waited:?}: killed it")]
    CommandTimeout { what: String, waited: Duration },

    #[error("cannot run tmux to {action}: install it (as root: bash tests/deps.sh)")]
    TmuxMissing {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("tmux failed to {action} ({status}): {stderr}")]
    Tmux {
        action: String,
        status: String,
        stderr: String,
    },

    #[error("timed out after {waited:?} waiting for {what}; the terminal shows:\n{screen}")]
    TerminalTimeout {
        what: String,
        waited: Duration,
        screen: String,
    },

    #[error("the program exited ({exit}) while waiting for {what}; its last screen:\n{screen}")]
    TerminalExited {
        what: String,
        exit: String,
        screen: String,
    },

    #[error(
        "KUBE_GUARDIAN_SKIP_CLUSTER_TESTS is set while CI is on (set, and not empty, 0 or false): cluster tests must never be skipped in CI"
    )]
    SkipInCi,
}

/// Test failures print errors with `{:?}`; show the whole chain there rather than a struct dump.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Shorthand for the harness's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
