//! `GuardianPolicy`: a cluster-scoped set of rules, where they apply and how they are enforced.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::model::Severity;

/// A GuardianPolicy selects resources and evaluates built-in and CEL rules against them.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "guardian.kube-guardian.dev",
    version = "v1alpha1",
    kind = "GuardianPolicy",
    plural = "guardianpolicies",
    shortname = "gp",
    category = "guardian",
    status = "GuardianPolicyStatus",
    printcolumn = r#"{"name":"Enforcement","type":"string","jsonPath":".spec.enforcement"}"#,
    printcolumn = r#"{"name":"Rules","type":"integer","jsonPath":".status.summary.rules"}"#,
    printcolumn = r#"{"name":"Violations","type":"integer","jsonPath":".status.summary.violations"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(
    "(has(self.profiles) && size(self.profiles) > 0) || (has(self.rules) && size(self.rules) > 0)"
).message("a policy needs at least one profile or one rule"))]
#[serde(rename_all = "camelCase")]
pub struct GuardianPolicySpec {
    /// What the policy is for, shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// What happens to a violating resource at admission: Audit (report only), Warn or Deny.
    #[serde(default)]
    pub enforcement: Enforcement,
    /// Which resources the policy applies to. Empty matches every workload kind everywhere.
    #[serde(default, rename = "match")]
    pub match_: MatchSpec,
    /// Named rule sets from the built-in library.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub profiles: Vec<Profile>,
    /// Individual rules: a built-in rule by id, or a custom CEL rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub rules: Vec<RuleSpec>,
}

/// How a policy's violations are enforced at admission. Ordered by strength (`Audit < Warn <
/// Deny`, the declaration order): an object matched by several policies gets the strongest.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    schemars::JsonSchema,
)]
pub enum Enforcement {
    #[default]
    Audit,
    Warn,
    Deny,
}

impl Enforcement {
    /// Lower-case, for metric labels and log fields (a bounded set).
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::Audit => "audit",
            Enforcement::Warn => "warn",
            Enforcement::Deny => "deny",
        }
    }
}

/// A named set of built-in rules.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
pub enum Profile {
    /// Pod Security Standards, baseline level.
    #[serde(rename = "pss-baseline")]
    PssBaseline,
    /// Pod Security Standards, restricted level (includes baseline).
    #[serde(rename = "pss-restricted")]
    PssRestricted,
    /// Reliability and efficiency checks in the spirit of Polaris and kube-score.
    #[serde(rename = "best-practices")]
    BestPractices,
}

impl Profile {
    pub const ALL: [Profile; 3] = [
        Profile::PssBaseline,
        Profile::PssRestricted,
        Profile::BestPractices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::PssBaseline => "pss-baseline",
            Profile::PssRestricted => "pss-restricted",
            Profile::BestPractices => "best-practices",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown profile {s:?}; expected one of pss-baseline, pss-restricted, best-practices"))
    }
}

/// Which resources a policy applies to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchSpec {
    /// Kinds to match (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). Empty means all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<WorkloadKindName>,
    /// Namespaces to match. Empty means every namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub namespaces: Vec<String>,
    /// Namespaces never matched; wins over `namespaces`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub exclude_namespaces: Vec<String>,
    /// Matches namespaces by their labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Matches resources by their own labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<LabelSelector>,
}

/// The workload kinds a policy can match.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
pub enum WorkloadKindName {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

/// One rule of a policy: exactly one of `id` (built-in) or `cel` (custom).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(validation = Rule::new("has(self.id) != has(self.cel)")
    .message("a rule sets exactly one of id (a built-in rule) or cel (a custom rule)"))]
#[x_kube(validation = Rule::new("!has(self.parameters) || has(self.id)")
    .message("parameters apply to built-in rules only"))]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// A built-in rule id, see `kube-guardian rules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub id: Option<String>,
    /// Overrides the rule's default severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Rule parameters, e.g. `{"registries": ["ghcr.io/acme/"]}` for allowed-registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// A custom rule in CEL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<CelRuleSpec>,
}

/// A custom rule: a CEL expression over `object` that is true when the resource complies.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CelRuleSpec {
    /// Rule name, unique within the policy; used as the rule id in findings.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// A CEL expression that evaluates to true when the resource complies.
    #[schemars(length(min = 1, max = 4096))]
    pub expression: String,
    /// Shown when the expression is false.
    #[schemars(length(min = 1, max = 1024))]
    pub message: String,
    /// Severity of a violation.
    #[serde(default = "default_cel_severity")]
    pub severity: Severity,
    /// Hint on how to fix a violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub remediation: Option<String>,
}

fn default_cel_severity() -> Severity {
    Severity::Medium
}

fn free_form_object(_: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Observed state, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardianPolicyStatus {
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Standard conditions: Ready and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Counts from the last evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<PolicySummary>,
}

/// Counts from the last evaluation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    /// Rules compiled from profiles and explicit rules.
    pub rules: u32,
    /// Resources the policy matched and evaluated.
    pub resources_evaluated: u64,
    /// Violations not covered by an exception.
    pub violations: u64,
    /// Violations by severity.
    #[serde(default)]
    pub by_severity: SeverityCounts,
    /// Violations covered by an exception.
    #[serde(default)]
    pub skipped: u64,
}

/// Violations by severity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
}

#[cfg(test)]
mod tests {
    use super::Enforcement;

    #[test]
    fn the_strongest_enforcement_wins() {
        let matched = [Enforcement::Warn, Enforcement::Deny, Enforcement::Audit];
        assert_eq!(matched.into_iter().max(), Some(Enforcement::Deny));
        assert!(Enforcement::Audit < Enforcement::Warn && Enforcement::Warn < Enforcement::Deny);
        let labels: Vec<_> = [Enforcement::Audit, Enforcement::Warn, Enforcement::Deny]
            .into_iter()
            .map(Enforcement::label)
            .collect();
        assert_eq!(labels, ["audit", "warn", "deny"]);
    }
}
