//! One context's client: from a kubeconfig file and its context, with errors naming what failed.

use guardian_cluster::Error;
use guardian_cluster::connect::client;
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};

#[tokio::test]
async fn a_kubeconfig_and_its_context_give_a_working_client() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    let path = cp.kubeconfig_path();
    for context in [None, Some(cp.context_name())] {
        let client = client(Some(path), context).await.expect("a client");
        let namespaces = Api::<Namespace>::all(client)
            .list(&ListParams::default())
            .await
            .expect("the client reaches the API server");
        assert!(
            namespaces
                .items
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some("default")),
            "context {context:?}: the default namespace is listed"
        );
    }
}

#[tokio::test]
async fn a_missing_file_or_an_unknown_context_names_what_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-kubeconfig");
    let Err(error) = client(Some(&missing), None).await else {
        panic!("a client from a missing kubeconfig");
    };
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("reading {}", missing.display())),
        "{error}"
    );

    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    let path = cp.kubeconfig_path();
    let Err(error) = client(Some(path), Some("no-such-context")).await else {
        panic!("a client for an unknown context");
    };
    let text = error.to_string();
    assert!(
        text.contains(&format!("using {}", path.display())),
        "{text}"
    );
    assert!(text.contains("check --kubeconfig, --context"), "{text}");
    let source = std::error::Error::source(&error).expect("the cause is chained");
    assert!(source.to_string().contains("no-such-context"), "{source}");
}
