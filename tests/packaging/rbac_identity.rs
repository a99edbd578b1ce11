//! The chart's identity for the RBAC tests: applied for real, a token minted for its
//! ServiceAccount, a client holding only that token, and waits that fail at the first Forbidden
//! in the operator's log.

use std::time::Duration;

use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::{self, OperatorProcess};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
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

pub(crate) async fn token(client: &kube::Client, namespace: &str, account: &str) -> String {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .and_then(|s| s.token)
        .expect("a token")
}

/// A client with the kubeconfig `path` (the ServiceAccount's token).
pub(crate) async fn sa_client(cp: &ControlPlane, path: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some(cp.context_name().to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}
