//! `GuardianException`: a namespaced, owned, justified and expiring waiver of named rules.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Waives rules of a policy for resources in the exception's namespace.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "guardian.kube-guardian.dev",
    version = "v1alpha1",
    kind = "GuardianException",
    plural = "guardianexceptions",
    shortname = "gex",
    category = "guardian",
    namespaced,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".spec.policy"}"#,
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".spec.owner"}"#,
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".spec.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GuardianExceptionSpec {
    /// Name of the GuardianPolicy this exception applies to.
    #[schemars(length(min = 1, max = 253))]
    pub policy: String,
    /// Rule ids (built-in ids or CEL rule names) waived. Empty waives every rule of the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub rules: Vec<String>,
    /// Which resources in this namespace are excepted.
    pub resources: ExceptionResources,
    /// Who is accountable for the exception (a team or a person).
    #[schemars(length(min = 1, max = 253))]
    pub owner: String,
    /// Why the exception is acceptable.
    #[schemars(length(min = 1, max = 2048))]
    pub justification: String,
    /// When the exception stops applying. Required: exceptions are temporary.
    pub expires_at: Time,
}

/// Resources an exception covers: by name, by label selector, or both (either matches).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = Rule::new("(has(self.names) && size(self.names) > 0) || has(self.selector)")
    .message("an exception names resources or gives a selector"))]
#[serde(rename_all = "camelCase")]
pub struct ExceptionResources {
    /// Kinds covered. Empty means any workload kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<super::WorkloadKindName>,
    /// Resource names; a trailing `*` matches a prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub names: Vec<String>,
    /// Resources whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Limits the exception to one container of the matched resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}
