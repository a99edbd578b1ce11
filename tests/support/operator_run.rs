//! One `kube-guardian operator` process on the shared control plane: the process tests' common
//! ground.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::{self, OperatorProcess, OperatorProcessBuilder};

/// The operator binary on the control plane, as `name`.
pub fn operator(cp: &ControlPlane, name: &str) -> OperatorProcessBuilder {
    OperatorProcess::builder(
        env!("CARGO_BIN_EXE_kube-guardian"),
        cp.kubeconfig_path(),
        cp.context_name(),
    )
    .name(name)
}

/// Waits (with the generous deadline of the harness) until `check` holds, naming `what`; a
/// timeout shows the logs of `operators`.
pub async fn wait_for<T>(
    what: &str,
    operators: &[&OperatorProcess],
    check: impl AsyncFnMut() -> Option<T>,
) -> T {
    operator_process::wait_for(what, Duration::from_millis(200), operators, check).await
}

/// Where the operator's logs go (kept until dropped).
pub fn logs_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("log dir")
}
