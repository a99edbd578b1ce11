//! The chart's identity for the RBAC tests, applied for real (its ServiceAccount's tokens and
//! clients come from `guardian_testenv`), and waits that fail at the first Forbidden in the
//! operator's log.

use std::time::Duration;

use guardian_testenv::operator_process::{self, OperatorProcess};
use serde_json::Value;

use crate::support::{apply, find};

const POLL: Duration = Duration::from_millis(200);

/// Waits for `check`, failing at once (with the log) when the operator was refused anything.
pub(crate) async fn wait_for<T>(
    what: &str,
    op: &OperatorProcess,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    operator_process::wait_for(what, POLL, &[op], async || {
        assert_not_refused(op);
        check().await
    })
    .await
}

/// A verb the code needs and the chart lacks shows as a 403 in the operator's log.
pub(crate) fn assert_not_refused(op: &OperatorProcess) {
    let logs = op.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator was refused something with the chart's RBAC:\n{logs}"
    );
}

/// Applies the chart's identity (ServiceAccount, roles, bindings, and the admission policy that
/// narrows its Lease writes) for real and returns the
/// ServiceAccount's name.
pub(crate) async fn install_identity(client: &kube::Client, docs: &[Value]) -> String {
    let kinds = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ];
    for doc in docs
        .iter()
        .filter(|d| kinds.iter().any(|k| d["kind"] == *k))
    {
        apply(client, doc, false).await.expect("RBAC applied");
    }
    find(docs, "ServiceAccount", None)["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned()
}
