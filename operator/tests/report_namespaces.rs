//! The report writer against the real API server, for namespaces it cannot write into: one that
//! does not exist (a 404 for the namespace) and one being deleted (a 403 NamespaceTerminating)
//! are nothing to write (no error, no retry); a 404 for the PolicyReport resource itself (no
//! CRD) is not taken for either. A binary of its own: the first part needs a control plane
//! without the PolicyReport CRD.

pub mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{DEADLINE, eventually};
use guardian_operator::metrics::Metrics;
use guardian_operator::reports::{self, ReportBody, ReportWriter, Settled, WriteFn};
use guardian_testenv::{ControlPlane, policy_reports};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::json;
use tokio::sync::watch;

/// A leading writer through the real `write`, with its own metrics.
fn writer(client: &Client) -> (ReportWriter, Metrics, watch::Sender<bool>) {
    let client = client.clone();
    let write: WriteFn = Arc::new(move |ns, body, empty| {
        let client = client.clone();
        Box::pin(async move { reports::write(&client, &ns, &body, empty).await })
    });
    let metrics = Metrics::new().expect("metrics");
    let (leader, rx) = watch::channel(true);
    let retry = (Duration::from_secs(1), Duration::from_secs(30));
    (
        ReportWriter::new(write, rx, metrics.clone(), retry),
        metrics,
        leader,
    )
}

/// Hands one body with a result over for `ns` and waits until the writer settles.
async fn write_into(writer: &ReportWriter, ns: &str, seq: u64) -> Settled {
    writer.submit(ReportBody {
        namespace: ns.to_owned(),
        body: json!({"summary": {"fail": 1}, "results": [{"policy": "p", "result": "fail"}]}),
        empty: false,
        seq,
    });
    tokio::time::timeout(DEADLINE, writer.settled(&[ns.to_owned()]))
        .await
        .expect("the writer settles")
}

fn write_errors(metrics: &Metrics) -> bool {
    metrics.render().contains(r#"kind="report_write""#)
}

/// Whether kube-guardian's report exists in `ns`.
async fn report_exists(client: &Client, ns: &str) -> bool {
    policy_reports(client, ns)
        .get_opt(reports::REPORT_NAME)
        .await
        .expect("read the report")
        .is_some()
}

/// Waits until the API server refuses new content in the deleted namespace `ns` as terminating:
/// its NamespaceLifecycle admission reads namespaces from an informer, which may still show `ns`
/// active right after the DELETE returns. On an existing cluster a controller-manager may have
/// removed `ns` already, which is as good.
async fn refuses_content(cp: &ControlPlane, client: &Client, ns: &str) {
    let configmaps = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let probe = ConfigMap {
        metadata: ObjectMeta {
            generate_name: Some("probe-".to_owned()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    eventually(
        "the terminating namespace to refuse new content",
        || async {
            match configmaps.create(&PostParams::default(), &probe).await {
                Err(kube::Error::Api(s)) if s.code == 403 => s
                    .details
                    .as_ref()
                    .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
                    .then_some(()),
                Err(kube::Error::Api(s)) if s.code == 404 && cp.is_existing_cluster() => Some(()),
                _ => None,
            }
        },
    )
    .await;
}

/// One test: its first step needs the control plane without the PolicyReport CRD, the others with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_terminating_namespace_is_nothing_to_write_unlike_a_missing_crd() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let client = cp.client().expect("client");
    let (writer, metrics, _leader) = writer(&client);
    let missing = "kube-guardian-no-such-namespace";

    // No PolicyReport CRD: the server's 404 is for the resource (a bare "404 page not found"),
    // said as the missing CRD, not taken for a missing namespace. (An existing cluster may have
    // the CRD installed already.)
    if !cp.is_existing_cluster() {
        let settled = write_into(&writer, missing, 1).await;
        assert!(matches!(settled, Settled::Idle), "{settled:?}");
        assert!(writer.crd_missing(), "the missing CRD is noted");
    }

    // With the CRD, a namespace that does not exist (`namespaces "..." not found`): nothing to
    // write, no error, no retry.
    guardian_testenv::demo::install_policy_report_crd(&cp.client().expect("client"))
        .await
        .expect("the PolicyReport CRD installs");
    let settled = write_into(&writer, missing, 2).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");
    assert!(!writer.crd_missing());
    assert!(!write_errors(&metrics), "{}", metrics.render());

    // A namespace being deleted: without a controller-manager it stays Terminating (its
    // `kubernetes` finalizer is never removed), and the NamespaceLifecycle admission refuses new
    // content with a 403 NamespaceTerminating.
    let ending = cp.create_namespace("ending").await.expect("namespace");
    let namespaces = Api::<Namespace>::all(client.clone());
    namespaces
        .delete(&ending, &DeleteParams::default())
        .await
        .expect("delete the namespace");
    refuses_content(cp, &client, &ending).await;
    let settled = write_into(&writer, &ending, 3).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");
    assert!(!write_errors(&metrics), "{}", metrics.render());
    assert!(
        !report_exists(&client, &ending).await,
        "nothing written there"
    );

    // A namespace that exists is written: the writer did not stop writing.
    let there = cp.create_namespace("there").await.expect("namespace");
    let settled = write_into(&writer, &there, 4).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");
    assert!(
        report_exists(&client, &there).await,
        "the report was written"
    );
    assert!(
        reports::write(&client, &there, &json!({}), true)
            .await
            .expect("the written report deletes"),
        "the report was there"
    );
    assert!(!write_errors(&metrics), "{}", metrics.render());
    writer.stop();
}
