//! Three clusters built by hand for the golden tests: `prod` synced with an operator (one policy
//! pending), `staging` forbidden to list CronJobs and drifted from prod, `dr` unreachable with
//! its last data.

use std::sync::Arc;

use guardian_cluster::drift::POLICIES_RESOURCE;
use guardian_cluster::{
    Access, ClusterSnapshot, ClusterState, Connection, KindState, KindStatus, ObjectEvaluation,
    Rejected, UnreachableReason,
};
use guardian_core::crd::{
    Enforcement, ExceptionResources, GuardianException, GuardianExceptionSpec, GuardianPolicy,
    GuardianPolicySpec, GuardianPolicyStatus, Profile, RuleSpec,
};
use guardian_core::model::{Category, Finding, Outcome, ResourceRef, RuleRef, Severity};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, Time};
use k8s_openapi::jiff::Timestamp;

/// The report's clock.
pub fn now() -> Timestamp {
    at(0)
}

/// `seconds` after (or before) the report's clock.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_795_000_000 + seconds).expect("in range")
}

fn resource(kind: &str, namespace: &str, name: &str) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.to_owned(),
        kind: kind.to_owned(),
        namespace: Some(namespace.to_owned()),
        name: name.to_owned(),
    })
}

fn finding(
    resource: &Arc<ResourceRef>,
    policy: &str,
    rule: &str,
    severity: Severity,
    path: &str,
) -> Finding {
    Finding {
        rule: RuleRef::shared(
            policy,
            rule,
            severity,
            Category::Security,
            &format!("Fix {rule} by following the docs."),
        ),
        resource: Arc::clone(resource),
        container: Some("app".to_owned()),
        message: format!("Container \"app\" breaks {rule}"),
        path: path.to_owned(),
        outcome: Outcome::Fail,
        location: None,
    }
}

fn evaluation(
    resource: &Arc<ResourceRef>,
    policies: &[&str],
    findings: Vec<Finding>,
) -> Arc<ObjectEvaluation> {
    Arc::new(ObjectEvaluation {
        resource: Arc::clone(resource),
        matched_policies: policies.iter().map(|&p| Arc::from(p)).collect(),
        findings,
    })
}

fn policy(
    name: &str,
    enforcement: Enforcement,
    run_as_non_root_severity: Option<Severity>,
) -> GuardianPolicy {
    GuardianPolicy::new(
        name,
        GuardianPolicySpec {
            enforcement,
            profiles: vec![Profile::PssBaseline],
            rules: vec![
                RuleSpec {
                    id: Some("pss-run-as-non-root".into()),
                    severity: run_as_non_root_severity,
                    ..RuleSpec::default()
                },
                RuleSpec {
                    id: Some("required-labels".into()),
                    ..RuleSpec::default()
                },
            ],
            ..GuardianPolicySpec::default()
        },
    )
}

fn with_status(mut policy: GuardianPolicy, generation: i64, observed: i64) -> GuardianPolicy {
    policy.metadata.generation = Some(generation);
    policy.status = Some(GuardianPolicyStatus {
        observed_generation: Some(observed),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Reconciled".into(),
            message: "3 rules active".into(),
            last_transition_time: Time(at(-600)),
            observed_generation: Some(observed),
        }],
        summary: None,
    });
    policy
}

fn exception() -> GuardianException {
    let mut exception = GuardianException::new(
        "legacy-web",
        GuardianExceptionSpec {
            policy: "baseline".into(),
            rules: vec!["pss-run-as-non-root".into()],
            resources: ExceptionResources {
                names: vec!["web".into()],
                ..ExceptionResources::default()
            },
            owner: "team-shop".into(),
            justification: "Vendor image runs as root (OPS-12)".into(),
            expires_at: Time(at(86_400 * 30)),
        },
    );
    exception.metadata.namespace = Some("shop".into());
    exception
}

fn synced(since: i64) -> Connection {
    Connection {
        state: ClusterState::Synced,
        since: at(since),
        last_synced: Some(at(since)),
        next_retry: None,
    }
}

fn prod() -> ClusterSnapshot {
    let web = resource("Deployment", "shop", "web");
    let debug = resource("Pod", "default", "debug");
    let api = resource("Deployment", "shop", "api");
    let mut skipped = finding(
        &web,
        "baseline",
        "pss-run-as-non-root",
        Severity::High,
        "spec.template.spec.containers[0].securityContext.runAsNonRoot",
    );
    skipped.outcome = Outcome::Skip {
        exception: "shop/legacy-web".into(),
        justification: "Vendor image runs as root (OPS-12)".into(),
    };
    ClusterSnapshot {
        context: "prod".into(),
        generation: 7,
        connection: synced(-5),
        kinds: vec![KindStatus {
            resource: "pods".into(),
            state: KindState::Synced,
            objects: 1,
            listed: true,
        }],
        evaluations: vec![
            evaluation(
                &web,
                &["baseline", "labels"],
                vec![
                    finding(
                        &web,
                        "baseline",
                        "pss-privileged",
                        Severity::Critical,
                        "spec.template.spec.containers[0].securityContext.privileged",
                    ),
                    skipped,
                    finding(
                        &web,
                        "labels",
                        "required-labels",
                        Severity::Low,
                        "metadata.labels",
                    ),
                ],
            ),
            evaluation(
                &debug,
                &["baseline"],
                vec![finding(
                    &debug,
                    "baseline",
                    "pss-host-path-volumes",
                    Severity::High,
                    "spec.volumes[0].hostPath",
                )],
            ),
            evaluation(&api, &["baseline", "labels"], Vec::new()),
        ],
        policies: vec![
            Arc::new(with_status(
                policy("baseline", Enforcement::Deny, None),
                2,
                2,
            )),
            Arc::new(with_status(policy("labels", Enforcement::Warn, None), 4, 3)),
        ],
        exceptions: vec![Arc::new(exception())],
        lease: Some(Arc::new(Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("kube-guardian-7d9f8-x2k4q".into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(at(-3))),
                acquire_time: Some(MicroTime(at(-3600))),
                lease_transitions: Some(1),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        })),
        ..ClusterSnapshot::connecting("", now())
    }
}

fn staging() -> ClusterSnapshot {
    let web = resource("Deployment", "shop", "web");
    ClusterSnapshot {
        context: "staging".into(),
        generation: 3,
        connection: Connection {
            state: ClusterState::Forbidden {
                missing: vec![Access {
                    verb: "list".into(),
                    resource: "cronjobs.batch".into(),
                }],
            },
            ..synced(-20)
        },
        kinds: vec![
            KindStatus {
                resource: "cronjobs.batch".into(),
                state: KindState::Forbidden {
                    verb: "list".into(),
                },
                objects: 0,
                listed: false,
            },
            KindStatus {
                resource: POLICIES_RESOURCE.into(),
                state: KindState::Synced,
                objects: 1,
                listed: true,
            },
        ],
        evaluations: vec![evaluation(
            &web,
            &["baseline"],
            vec![finding(
                &web,
                "baseline",
                "pss-run-as-non-root",
                Severity::Medium,
                "spec.template.spec.containers[0].securityContext.runAsNonRoot",
            )],
        )],
        policies: vec![Arc::new(policy(
            "baseline",
            Enforcement::Warn,
            Some(Severity::Medium),
        ))],
        exceptions: Vec::new(),
        lease: None,
        rejected: vec![Rejected {
            kind: "GuardianPolicy",
            name: "typo".into(),
            errors: vec!["rule \"pss-privileged-x\": no built-in rule has this id".into()],
        }],
        policy_reports: Some(0),
        warning_events: Some(2),
        ..ClusterSnapshot::connecting("", now())
    }
}

fn dr() -> ClusterSnapshot {
    ClusterSnapshot {
        context: "dr".into(),
        generation: 1,
        connection: Connection {
            state: ClusterState::Unreachable {
                reason: UnreachableReason::Refused,
                detail: "tcp connect error: Connection refused (os error 111)".into(),
            },
            since: at(-125),
            last_synced: Some(at(-125)),
            next_retry: Some(at(4)),
        },
        kinds: Vec::new(),
        // Its last data, kept while it is unreachable.
        evaluations: vec![evaluation(
            &resource("Deployment", "shop", "api"),
            &["baseline", "labels"],
            Vec::new(),
        )],
        policies: vec![
            // An operator without leader election wrote this status.
            Arc::new(with_status(
                policy("baseline", Enforcement::Deny, None),
                2,
                2,
            )),
            Arc::new(policy("labels", Enforcement::Warn, None)),
        ],
        exceptions: vec![Arc::new(exception())],
        lease: None,
        ..ClusterSnapshot::connecting("", now())
    }
}

pub fn snapshots() -> Vec<Arc<ClusterSnapshot>> {
    vec![Arc::new(prod()), Arc::new(staging()), Arc::new(dr())]
}
