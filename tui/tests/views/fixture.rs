//! Two synthetic clusters for the Policies, Reconcile, Leases, Events, Errors and Contexts
//! screens, fed through the reducer as the loop feeds them (built on `guardian_tui::testing`).
//!
//! - demo-a: three policies (best-practices pending: generation 3 observed at 2), two
//!   exceptions (one expiring in 3 days, one in 30), its Lease renewed 20 s ago for 15 s (late);
//!   three candidate records: the holder's, a standby's renewed 2 s ago, and one renewed 30 s
//!   ago (gone).
//! - demo-b: restricted-security in Warn instead of Deny (drift), team-ownership missing (drift),
//!   best-practices failing (Ready turned False while the console ran, with a Warning Event),
//!   its Lease renewed 40 s ago for 15 s (stale); then it becomes unreachable (an error).

use std::sync::Arc;

use guardian_core::crd::{
    Enforcement, ExceptionResources, GuardianException, GuardianExceptionSpec, GuardianPolicy,
};
use guardian_core::model::Severity;
use guardian_tui::app::State;
use guardian_tui::app::screens::ContextInfo;
use guardian_tui::testing::{
    at, deployment, epoch, feed, finding, lease, policy, state, synced, unreachable, waived,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

/// The clock of every screen test: one hour after the epoch.
pub fn now() -> Timestamp {
    at(3600)
}

fn exception(
    namespace: &str,
    name: &str,
    policy: &str,
    owner: &str,
    expires: i64,
) -> Arc<GuardianException> {
    let mut exception = GuardianException::new(
        name,
        GuardianExceptionSpec {
            policy: policy.to_owned(),
            rules: vec!["run-as-non-root".to_owned()],
            resources: ExceptionResources {
                names: vec!["ledger".to_owned()],
                ..ExceptionResources::default()
            },
            owner: owner.to_owned(),
            justification: "vendor image runs as root until the migration".to_owned(),
            expires_at: Time(at(expires)),
        },
    );
    exception.metadata.namespace = Some(namespace.to_owned());
    exception.metadata.creation_timestamp = Some(Time(epoch()));
    Arc::new(exception)
}

fn created(policy: Arc<GuardianPolicy>) -> Arc<GuardianPolicy> {
    let mut policy = (*policy).clone();
    policy.metadata.creation_timestamp = Some(Time(epoch()));
    Arc::new(policy)
}

/// best-practices at generation 3 with the operator's status at 2 (pending).
fn pending(name: &str) -> Arc<GuardianPolicy> {
    let mut p = (*policy(name, Enforcement::Warn, Some(epoch()))).clone();
    p.metadata.generation = Some(3);
    created(Arc::new(p))
}

/// The policy with Ready False and Degraded True since `since` (the operator failed).
fn failing(name: &str, since: Timestamp) -> Arc<GuardianPolicy> {
    let mut p = (*policy(name, Enforcement::Warn, Some(epoch()))).clone();
    if let Some(status) = p.status.as_mut() {
        status.conditions = vec![
            condition("Ready", "False", "InvalidRule", since),
            condition("Degraded", "True", "InvalidRule", since),
        ];
    }
    created(Arc::new(p))
}

fn condition(type_: &str, status: &str, reason: &str, since: Timestamp) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: "rule cel-owner does not compile: undeclared reference".to_owned(),
        observed_generation: Some(2),
        last_transition_time: Time(since),
    }
}

fn warning_event(policy: &str, at_: Timestamp) -> Arc<Event> {
    Arc::new(Event {
        metadata: ObjectMeta {
            name: Some(format!("{policy}.1")),
            namespace: Some("default".to_owned()),
            uid: Some(format!("uid-{policy}")),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            kind: Some("GuardianPolicy".to_owned()),
            name: Some(policy.to_owned()),
            ..ObjectReference::default()
        },
        type_: Some("Warning".to_owned()),
        reason: Some("PolicyDegraded".to_owned()),
        message: Some("rule cel-owner does not compile".to_owned()),
        count: Some(1),
        last_timestamp: Some(Time(at_)),
        ..Event::default()
    })
}

/// The Lease where the operator keeps it.
fn named(lease: Arc<Lease>) -> Arc<Lease> {
    let mut lease = (*lease).clone();
    lease.metadata.namespace = Some("kube-guardian".to_owned());
    lease.metadata.name = Some("kube-guardian-operator".to_owned());
    Arc::new(lease)
}

/// The candidate record of replica `identity`, renewed at `renewed` for 15 s.
fn candidate(identity: &str, renewed: Timestamp) -> Arc<Lease> {
    let mut record = (*lease(identity, renewed)).clone();
    record.metadata.namespace = Some("kube-guardian".to_owned());
    record.metadata.name = Some(format!("kube-guardian-operator-candidate-{identity}"));
    Arc::new(record)
}

/// The console after following both clusters for an hour.
pub fn fleet() -> State {
    let mut a = synced("demo-a");
    a.policies = vec![
        pending("best-practices"),
        created(policy(
            "restricted-security",
            Enforcement::Deny,
            Some(epoch()),
        )),
        created(policy("team-ownership", Enforcement::Audit, Some(epoch()))),
    ];
    a.exceptions = vec![
        exception(
            "payments",
            "legacy-ledger",
            "restricted-security",
            "team-payments",
            3600 + 3 * 86_400,
        ),
        exception(
            "shop",
            "vendor-image",
            "restricted-security",
            "team-shop",
            3600 + 30 * 86_400,
        ),
    ];
    a.evaluations = vec![
        deployment(
            "shop",
            "web",
            &["restricted-security", "best-practices"],
            vec![
                finding("restricted-security", "privileged", Severity::Critical),
                finding("best-practices", "memory-limits", Severity::Medium),
            ],
        ),
        deployment(
            "payments",
            "ledger",
            &["restricted-security"],
            vec![waived(
                finding("restricted-security", "run-as-non-root", Severity::High),
                "payments/legacy-ledger",
            )],
        ),
    ];
    a.lease = Some(named(lease("kube-guardian-7f9c", at(3580))));
    a.candidates = vec![
        candidate("kube-guardian-7f9c", at(3598)),
        candidate("kube-guardian-c2d4", at(3570)),
        candidate("kube-guardian-b81a", at(3598)),
    ];

    let mut b = synced("demo-b");
    b.policies = vec![
        created(policy("best-practices", Enforcement::Warn, Some(epoch()))),
        created(policy(
            "restricted-security",
            Enforcement::Warn,
            Some(epoch()),
        )),
    ];
    b.evaluations = vec![deployment(
        "shop",
        "api",
        &["restricted-security"],
        vec![finding(
            "restricted-security",
            "privileged",
            Severity::Critical,
        )],
    )];
    b.lease = Some(named(lease("kube-guardian-55d1", at(3560))));

    let mut state = state(vec![a, b.clone()], now());
    // While the console runs: demo-b's best-practices fails, the operator warns, the leader
    // changes, and then the cluster goes away.
    b.generation += 1;
    b.policies[0] = failing("best-practices", at(1200));
    b.warnings = vec![warning_event("best-practices", at(1201))];
    b.lease = Some(named(lease("kube-guardian-9a2e", at(3560))));
    feed(&mut state, 1, b.clone());
    feed(&mut state, 1, unreachable(b, at(3300), at(3612)));
    state.screens.contexts = vec![
        ContextInfo {
            server: Some("https://127.0.0.1:6443".to_owned()),
            user: Some("admin-a".to_owned()),
        },
        ContextInfo {
            server: Some("https://127.0.0.1:7443".to_owned()),
            user: Some("admin-b".to_owned()),
        },
    ];
    state
}
