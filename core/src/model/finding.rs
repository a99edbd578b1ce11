//! Findings: the plain data every sink (CLI, status, reports, admission, TUI) renders.

use std::sync::Arc;

use serde::Serialize;

use super::severity::{Category, Severity};

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Whether a finding counts against the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Outcome {
    /// The rule failed and no exception covers it.
    Fail,
    /// The rule failed but an exception covers it; reported, never silently dropped.
    Skip {
        exception: String,
        justification: String,
    },
    /// The rule could not be evaluated (for example a CEL runtime error).
    Error,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Fail => "fail",
            Outcome::Skip { .. } => "skip",
            Outcome::Error => "error",
        }
    }
}

/// Where in a manifest file a finding points (offline `check` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    pub file: Arc<str>,
    pub line: usize,
}

/// The rule a finding comes from, as its policy set compiled it: one shared value per rule and
/// policy, so a finding holds one reference to it rather than a copy of each of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The policy whose rule this is.
    pub policy: Arc<str>,
    /// The rule's id (built-in) or name (CEL).
    pub id: Arc<str>,
    /// Effective severity (after the policy's override, if any).
    pub severity: Severity,
    pub category: Category,
    pub remediation: Arc<str>,
}

impl RuleRef {
    /// A rule reference to share among findings (the engine builds its own when it compiles).
    pub fn shared(
        policy: &str,
        id: &str,
        severity: Severity,
        category: Category,
        remediation: &str,
    ) -> Arc<RuleRef> {
        Arc::new(RuleRef {
            policy: policy.into(),
            id: id.into(),
            severity,
            category,
            remediation: remediation.into(),
        })
    }
}

/// One result of one rule on one resource.
///
/// Serialized flat, as `policy, rule, severity, category, resource, container?, message, path,
/// remediation, result..., location?`: the rule's fields are written in place, not nested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Arc<RuleRef>,
    pub resource: Arc<ResourceRef>,
    pub container: Option<String>,
    pub message: String,
    /// Dotted field path with list indices, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    pub outcome: Outcome,
    pub location: Option<SourceLocation>,
}

impl Finding {
    /// True when the finding counts against the resource (not excepted).
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Fail | Outcome::Error)
    }

    /// The policy that reported it.
    pub fn policy(&self) -> &str {
        &self.rule.policy
    }

    /// The rule's id (built-in) or name (CEL).
    pub fn rule_id(&self) -> &str {
        &self.rule.id
    }

    pub fn severity(&self) -> Severity {
        self.rule.severity
    }

    pub fn category(&self) -> Category {
        self.rule.category
    }

    pub fn remediation(&self) -> &str {
        &self.rule.remediation
    }
}

/// The serialized shape of a [`Finding`]: the field names and order every JSON consumer reads.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingWire<'a> {
    policy: &'a str,
    rule: &'a str,
    severity: Severity,
    category: Category,
    resource: &'a ResourceRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a str>,
    message: &'a str,
    path: &'a str,
    remediation: &'a str,
    #[serde(flatten)]
    outcome: &'a Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a SourceLocation>,
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FindingWire {
            policy: &self.rule.policy,
            rule: &self.rule.id,
            severity: self.rule.severity,
            category: self.rule.category,
            resource: &self.resource,
            container: self.container.as_deref(),
            message: &self.message,
            path: &self.path,
            remediation: &self.rule.remediation,
            outcome: &self.outcome,
            location: self.location.as_ref(),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(
        outcome: Outcome,
        container: Option<&str>,
        location: Option<SourceLocation>,
    ) -> Finding {
        Finding {
            rule: RuleRef::shared(
                "baseline",
                "pss-privileged",
                Severity::High,
                Category::Security,
                "Set privileged: false.",
            ),
            resource: Arc::new(ResourceRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            }),
            container: container.map(str::to_owned),
            message: "container app runs privileged".into(),
            path: "spec.template.spec.containers[0].securityContext.privileged".into(),
            outcome,
            location,
        }
    }

    /// The JSON every consumer of `check -o json` and the API reads: the rule's fields flat, in
    /// this order, optional ones left out when absent.
    #[test]
    fn a_finding_serializes_flat_in_its_documented_field_order() {
        let skipped = finding(
            Outcome::Skip {
                exception: "shop/legacy".into(),
                justification: "until the migration".into(),
            },
            Some("app"),
            Some(SourceLocation {
                file: "deploy.yaml".into(),
                line: 7,
            }),
        );
        assert_eq!(
            serde_json::to_string(&skipped).expect("serializes"),
            concat!(
                r#"{"policy":"baseline","rule":"pss-privileged","severity":"high","#,
                r#""category":"security","resource":{"apiVersion":"apps/v1","kind":"Deployment","#,
                r#""namespace":"shop","name":"web"},"container":"app","#,
                r#""message":"container app runs privileged","#,
                r#""path":"spec.template.spec.containers[0].securityContext.privileged","#,
                r#""remediation":"Set privileged: false.","result":"skip","#,
                r#""exception":"shop/legacy","justification":"until the migration","#,
                r#""location":{"file":"deploy.yaml","line":7}}"#,
            )
        );
        let bare = finding(Outcome::Error, None, None);
        assert_eq!(
            serde_json::to_string(&bare).expect("serializes"),
            concat!(
                r#"{"policy":"baseline","rule":"pss-privileged","severity":"high","#,
                r#""category":"security","resource":{"apiVersion":"apps/v1","kind":"Deployment","#,
                r#""namespace":"shop","name":"web"},"#,
                r#""message":"container app runs privileged","#,
                r#""path":"spec.template.spec.containers[0].securityContext.privileged","#,
                r#""remediation":"Set privileged: false.","result":"error"}"#,
            )
        );
    }
}
