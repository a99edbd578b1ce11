//! Having the API server refuse PolicyReport writes in a namespace, and lifting that.

use kube::Client;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use super::{create, eventually, policy_report_api};

/// Has the API server refuse every PolicyReport write in `ns` (a ValidatingAdmissionPolicy and
/// its binding, both named `name`), and waits until it does.
pub async fn refuse_reports(client: &Client, name: &str, ns: &str) {
    create(
        client,
        None,
        &format!(
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {{apiGroups: [wgpolicyk8s.io], apiVersions: ["*"], operations: [CREATE, UPDATE], resources: [policyreports]}}
  validations:
  - {{expression: "false", message: "no reports in this namespace"}}
"#
        ),
    )
    .await;
    create(
        client,
        None,
        &format!(
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
  matchResources: {{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}}}
"#
        ),
    )
    .await;
    eventually("the API server to refuse PolicyReports", || async {
        match dry_run_report(client, ns).await {
            Err(kube::Error::Api(s)) if s.message.contains("no reports in this namespace") => {
                Some(())
            }
            _ => None,
        }
    })
    .await;
}

/// Creates a PolicyReport in `ns` as a dry run: refused while `refuse_reports` is in force.
pub async fn dry_run_report(
    client: &Client,
    ns: &str,
) -> Result<kube::api::DynamicObject, kube::Error> {
    let probe: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "probe"}, "results": []
    }))
    .expect("report");
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    policy_report_api(client, ns).create(&dry_run, &probe).await
}

/// Deletes what `refuse_reports` created and waits until the API server admits PolicyReports
/// in `ns` again.
pub async fn lift_refusal(client: &Client, name: &str, ns: &str) {
    for kind in [
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicies",
    ] {
        let resource = kube::api::ApiResource {
            group: "admissionregistration.k8s.io".into(),
            version: "v1".into(),
            api_version: "admissionregistration.k8s.io/v1".into(),
            kind: String::new(),
            plural: kind.into(),
        };
        Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource)
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete the refusal");
    }
    allow_reports(client, ns).await;
}

/// Waits until the API server admits PolicyReports in `ns` again.
pub async fn allow_reports(client: &Client, ns: &str) {
    eventually("the API server to admit PolicyReports again", || async {
        dry_run_report(client, ns).await.ok().map(|_| ())
    })
    .await;
}
