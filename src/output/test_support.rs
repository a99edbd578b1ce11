//! A hand-built report shared by the output format tests.

use std::sync::Arc;

use guardian_core::model::{
    Category, Finding, Outcome, ResourceRef, RuleInfo, RuleRef, Severity, SourceLocation,
};

use crate::check::report::{CheckReport, InputError, SkippedDocument};

pub const LONG_MESSAGE: &str = "Container \"debug\" mounts the host path /var/run/docker.sock, which \
     gives it full control of the node's container runtime & every other container on it <really>; \
     mount a projected volume or an emptyDir instead";

fn resource(kind: &str, namespace: &str, name: &str) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.to_owned(),
        kind: kind.to_owned(),
        namespace: Some(namespace.to_owned()),
        name: name.to_owned(),
    })
}

struct Spec<'a> {
    resource: &'a Arc<ResourceRef>,
    policy: &'a str,
    rule: &'a str,
    severity: Severity,
    message: &'a str,
    path: &'a str,
    outcome: Outcome,
    file: &'a str,
    line: usize,
}

fn finding(spec: Spec<'_>) -> Finding {
    Finding {
        rule: RuleRef::shared(
            spec.policy,
            spec.rule,
            spec.severity,
            Category::Security,
            &format!("Fix {} by following the docs.", spec.rule),
        ),
        resource: Arc::clone(spec.resource),
        container: Some("app".to_owned()),
        message: spec.message.to_owned(),
        path: spec.path.to_owned(),
        outcome: spec.outcome,
        location: Some(SourceLocation {
            file: spec.file.into(),
            line: spec.line,
        }),
    }
}

fn rule(id: &str, severity: Severity, category: Category) -> RuleInfo {
    RuleInfo {
        id: id.to_owned(),
        title: format!("Title of {id}"),
        category,
        severity,
        description: format!("Description of {id}."),
        remediation: format!("Fix {id} by following the docs."),
        custom: id.starts_with("custom-"),
    }
}

/// Two resources with findings (one of them with every outcome), one passing resource,
/// a skipped document and an input error.
pub fn sample_report() -> CheckReport {
    let web = resource("Deployment", "shop", "web");
    let debug = resource("Pod", "default", "debug");
    let bad = "examples/bad.yaml";
    let pods = "examples\\pods.yaml";
    let findings = vec![
        finding(Spec {
            resource: &web,
            policy: "baseline",
            rule: "run-as-non-root",
            severity: Severity::High,
            message: "Container \"app\" may run as root",
            path: "spec.template.spec.containers[0].securityContext.runAsNonRoot",
            outcome: Outcome::Fail,
            file: bad,
            line: 20,
        }),
        finding(Spec {
            resource: &web,
            policy: "baseline",
            rule: "privileged",
            severity: Severity::Critical,
            message: "Container \"app\" is privileged",
            path: "spec.template.spec.containers[0].securityContext.privileged",
            outcome: Outcome::Fail,
            file: bad,
            line: 22,
        }),
        finding(Spec {
            resource: &web,
            policy: "baseline",
            rule: "resource-limits",
            severity: Severity::Medium,
            message: "Container \"app\" has no memory limit",
            path: "spec.template.spec.containers[0].resources.limits.memory",
            outcome: Outcome::Skip {
                exception: "shop/legacy-web".to_owned(),
                justification: "Sized by the vendor; ticket OPS-12".to_owned(),
            },
            file: bad,
            line: 24,
        }),
        finding(Spec {
            resource: &debug,
            policy: "custom",
            rule: "custom-team-label",
            severity: Severity::Low,
            message: "CEL evaluation failed: no such key: team",
            path: "metadata.labels",
            outcome: Outcome::Error,
            file: pods,
            line: 4,
        }),
        finding(Spec {
            resource: &debug,
            policy: "baseline",
            rule: "host-path",
            severity: Severity::Medium,
            message: LONG_MESSAGE,
            path: "spec.volumes[0].hostPath.path",
            outcome: Outcome::Fail,
            file: pods,
            line: 9,
        }),
    ];
    CheckReport {
        findings,
        skipped_documents: vec![SkippedDocument {
            file: bad.into(),
            line: 40,
            reason: "kind ConfigMap is not a workload".to_owned(),
        }],
        input_errors: vec![InputError {
            file: "examples/broken.yaml".into(),
            line: Some(3),
            message: "did not find expected key <here> & \"there\"".to_owned(),
        }],
        resources_evaluated: 3,
        rules: vec![
            rule("custom-team-label", Severity::Low, Category::Reliability),
            rule("host-path", Severity::Medium, Category::Security),
            rule("privileged", Severity::Critical, Category::Security),
            rule("resource-limits", Severity::Medium, Category::Efficiency),
            rule("run-as-non-root", Severity::High, Category::Security),
        ],
    }
}
