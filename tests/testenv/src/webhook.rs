//! The ValidatingWebhookConfiguration tests register for kube-guardian's webhook, written once so
//! every test covers the same resources as the README's example: each workload kind and the
//! `pods/ephemeralcontainers` subresource that `kubectl debug` writes through.

use guardian_core::workload::WorkloadKind;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ObjectMeta;

/// The webhook's name in the configuration; the API server quotes it in denials.
pub const WEBHOOK_NAME: &str = "validate.kube-guardian.dev";

/// What the webhook reviews: every workload kind (core's list) and the ephemeral containers
/// subresource, which `kubectl debug` writes through.
pub fn webhook_resources() -> Vec<String> {
    let mut resources: Vec<String> = WorkloadKind::ALL
        .iter()
        .map(|k| k.plural().to_owned())
        .collect();
    resources.push("pods/ephemeralcontainers".to_owned());
    resources
}

/// A configuration `name` that sends CREATE and UPDATE of [`webhook_resources`] in `namespace`
/// (only, so tests sharing a control plane do not see each other's webhooks) to `url`, trusting
/// `ca_pem`, with `failurePolicy: Fail`.
pub fn webhook_configuration(
    name: &str,
    url: &str,
    ca_pem: &str,
    namespace: &str,
) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        webhooks: Some(vec![ValidatingWebhook {
            name: WEBHOOK_NAME.to_owned(),
            client_config: WebhookClientConfig {
                url: Some(url.to_owned()),
                ca_bundle: Some(ByteString(ca_pem.as_bytes().to_vec())),
                ..WebhookClientConfig::default()
            },
            rules: Some(vec![RuleWithOperations {
                api_groups: Some(vec!["".into(), "apps".into(), "batch".into()]),
                api_versions: Some(vec!["v1".into()]),
                operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                resources: Some(webhook_resources()),
                scope: Some("Namespaced".into()),
            }]),
            namespace_selector: Some(LabelSelector {
                match_labels: Some(
                    [(
                        "kubernetes.io/metadata.name".to_owned(),
                        namespace.to_owned(),
                    )]
                    .into(),
                ),
                ..LabelSelector::default()
            }),
            side_effects: "None".into(),
            admission_review_versions: vec!["v1".into()],
            failure_policy: Some("Fail".into()),
            timeout_seconds: Some(10),
            ..ValidatingWebhook::default()
        }]),
    }
}
