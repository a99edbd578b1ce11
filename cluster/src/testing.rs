//! Snapshots built by hand for the unit tests of the pure functions over snapshots.

use std::sync::Arc;

use guardian_core::model::{Category, Finding, Outcome, ResourceRef, RuleRef, Severity};
use k8s_openapi::jiff::Timestamp;

use crate::snapshot::{ClusterSnapshot, ObjectEvaluation};
use crate::state::{ClusterState, Connection};

pub fn snapshot(context: &str, evaluations: Vec<ObjectEvaluation>) -> ClusterSnapshot {
    ClusterSnapshot {
        generation: 1,
        connection: Connection {
            state: ClusterState::Synced,
            since: Timestamp::UNIX_EPOCH,
            last_synced: Some(Timestamp::UNIX_EPOCH),
            next_retry: None,
        },
        evaluations: evaluations.into_iter().map(Arc::new).collect(),
        policies: Vec::new(),
        exceptions: Vec::new(),
        ..ClusterSnapshot::connecting(context, Timestamp::UNIX_EPOCH)
    }
}

/// A Deployment `namespace/name` matched by `policies`, with these findings (their resource is
/// set to this object).
pub fn evaluation(
    namespace: &str,
    name: &str,
    policies: &[&str],
    findings: Vec<Finding>,
) -> ObjectEvaluation {
    let resource = Arc::new(ResourceRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    });
    ObjectEvaluation {
        resource: resource.clone(),
        matched_policies: policies.iter().map(|&p| Arc::from(p)).collect(),
        findings: findings
            .into_iter()
            .map(|f| Finding {
                resource: resource.clone(),
                ..f
            })
            .collect(),
    }
}

/// A failing finding of `policy`.
pub fn finding(policy: &str, severity: Severity) -> Finding {
    Finding {
        rule: RuleRef::shared(
            policy,
            &format!("rule-{severity}"),
            severity,
            Category::Security,
            "",
        ),
        resource: Arc::new(ResourceRef {
            api_version: String::new(),
            kind: String::new(),
            namespace: None,
            name: String::new(),
        }),
        container: None,
        message: String::new(),
        path: String::new(),
        outcome: Outcome::Fail,
        location: None,
    }
}

/// A finding of `policy` covered by an exception.
pub fn skipped(policy: &str, severity: Severity) -> Finding {
    Finding {
        outcome: Outcome::Skip {
            exception: "ns/e".into(),
            justification: "why".into(),
        },
        ..finding(policy, severity)
    }
}

/// `objects` evaluated with `policies` (no exceptions, no namespace labels), as a cluster's
/// task would: the evaluations and the inputs they came from, for tests of the impact preview.
pub fn evaluated(
    snapshot: &mut ClusterSnapshot,
    policies: Vec<guardian_core::crd::GuardianPolicy>,
    objects: &[serde_json::Value],
) {
    use guardian_core::engine::{FailClosed, NamespaceMap, PolicySet};
    let namespaces = Arc::new(FailClosed(NamespaceMap(Default::default())));
    let (set, _) = PolicySet::compile_partial(&policies, &[]);
    let evaluations = crate::evaluate::evaluate(
        &set,
        objects.iter().cloned(),
        &*namespaces,
        Timestamp::UNIX_EPOCH,
    );
    snapshot.evaluations = evaluations.into_iter().map(Arc::new).collect();
    snapshot.policies = policies.into_iter().map(Arc::new).collect();
    snapshot.inputs = Some(Arc::new(crate::snapshot::EvaluationInputs {
        objects: objects
            .iter()
            .map(|o| Arc::new(crate::cache::CachedObject::for_tests(o)))
            .collect(),
        namespaces,
    }));
}
