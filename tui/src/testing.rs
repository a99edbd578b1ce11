//! Synthetic clusters for snapshot tests and the bench (feature `testing`): snapshots built by
//! hand, a state fed with them the way the loop feeds it, and a frame rendered into a
//! `TestBackend` at a fixed clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use guardian_cluster::{ClusterSnapshot, ClusterState, Connection, ObjectEvaluation};
use guardian_core::crd::{Enforcement, GuardianPolicy, GuardianPolicySpec, GuardianPolicyStatus};
use guardian_core::model::{Category, Finding, Outcome, ResourceRef, RuleRef, Severity};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use crate::action::{Action, Delta};
use crate::app::{Deriver, State, prepare, update};
use crate::keymap::Keymap;
use crate::theme::Theme;
use crate::views::frame;

/// The fixed clock of every test: 2026-01-01T00:00:00Z.
pub fn epoch() -> Timestamp {
    Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `seconds` after [`epoch`].
pub fn at(seconds: i64) -> Timestamp {
    epoch() + SignedDuration::from_secs(seconds)
}

/// A snapshot of `context`, `Synced` since the epoch, with no objects yet.
pub fn synced(context: &str) -> ClusterSnapshot {
    ClusterSnapshot {
        generation: 1,
        connection: Connection {
            state: ClusterState::Synced,
            since: epoch(),
            last_synced: Some(epoch()),
            next_retry: None,
        },
        ..ClusterSnapshot::connecting(context, epoch())
    }
}

/// The snapshot as it turns unreachable at `since`, retrying at `retry`.
pub fn unreachable(
    mut snapshot: ClusterSnapshot,
    since: Timestamp,
    retry: Timestamp,
) -> ClusterSnapshot {
    snapshot.generation += 1;
    snapshot.connection = Connection {
        state: ClusterState::Unreachable {
            reason: guardian_cluster::UnreachableReason::Refused,
            detail: "connection refused".to_owned(),
        },
        since,
        last_synced: Some(since),
        next_retry: Some(retry),
    };
    snapshot
}

/// A finding of `policy`/`rule` with a path, message and remediation.
pub fn finding(policy: &str, rule: &str, severity: Severity) -> Finding {
    Finding {
        rule: RuleRef::shared(
            policy,
            rule,
            severity,
            Category::Security,
            &format!("fix {rule}"),
        ),
        resource: Arc::new(ResourceRef {
            api_version: String::new(),
            kind: String::new(),
            namespace: None,
            name: String::new(),
        }),
        container: Some("app".to_owned()),
        message: format!("{rule} is not satisfied"),
        path: "spec.template.spec.containers[0].securityContext".to_owned(),
        outcome: Outcome::Fail,
        location: None,
    }
}

/// The finding, waived by `exception` (`namespace/name`).
pub fn waived(finding: Finding, exception: &str) -> Finding {
    Finding {
        outcome: Outcome::Skip {
            exception: exception.to_owned(),
            justification: "accepted until the migration".to_owned(),
        },
        ..finding
    }
}

/// A Deployment `namespace/name` evaluated by `policies` with these findings.
pub fn deployment(
    namespace: &str,
    name: &str,
    policies: &[&str],
    findings: Vec<Finding>,
) -> Arc<ObjectEvaluation> {
    Arc::new(guardian_cluster::testing::evaluation(
        namespace, name, policies, findings,
    ))
}

/// A GuardianPolicy the operator reconciled (`Ready`) at `reconciled`, or left pending.
pub fn policy(
    name: &str,
    enforcement: Enforcement,
    reconciled: Option<Timestamp>,
) -> Arc<GuardianPolicy> {
    let mut policy = GuardianPolicy::new(
        name,
        GuardianPolicySpec {
            enforcement,
            ..GuardianPolicySpec::default()
        },
    );
    policy.metadata.generation = Some(2);
    policy.status = reconciled.map(|at| GuardianPolicyStatus {
        observed_generation: Some(2),
        conditions: vec![Condition {
            type_: "Ready".to_owned(),
            status: "True".to_owned(),
            reason: "Reconciled".to_owned(),
            message: String::new(),
            observed_generation: Some(2),
            last_transition_time: Time(at),
        }],
        summary: None,
    });
    Arc::new(policy)
}

/// The operator's Lease held by `holder`, renewed at `renewed`.
pub fn lease(holder: &str, renewed: Timestamp) -> Arc<Lease> {
    Arc::new(Lease {
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(1),
            ..LeaseSpec::default()
        }),
        ..Lease::default()
    })
}

/// A Warning Event about GuardianPolicy `policy`, the `count`th of `uid`, last at `last`.
pub fn warning(policy: &str, uid: &str, count: i32, last: Timestamp) -> Arc<Event> {
    Arc::new(Event {
        metadata: ObjectMeta {
            uid: Some(uid.into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some("GuardianPolicy".into()),
            name: Some(policy.into()),
            ..Default::default()
        },
        reason: Some("PolicyDegraded".into()),
        message: Some("a rule does not compile".into()),
        count: Some(count),
        last_timestamp: Some(Time(last)),
        type_: Some("Warning".into()),
        ..Event::default()
    })
}

/// `workloads` Deployments over 20 namespaces, each with `per` findings of mixed severity and
/// rules: the bench's and the scale tests' synthetic cluster.
pub fn synthetic(context: &str, workloads: usize, per: usize) -> ClusterSnapshot {
    let policies = ["restricted-security", "best-practices", "team-ownership"];
    let rules = [
        "run-as-non-root",
        "privileged",
        "memory-limits",
        "image-tag",
        "owner-label",
    ];
    let evaluations = (0..workloads)
        .map(|i| {
            let findings = (0..per)
                .map(|j| {
                    let n = i + j;
                    finding(policies[n % 3], rules[n % 5], Severity::ALL[n % 5])
                })
                .collect();
            deployment(
                &format!("team-{:02}", i % 20),
                &format!("app-{i:06}"),
                &policies,
                findings,
            )
        })
        .collect();
    let mut snapshot = synced(context);
    snapshot.evaluations = evaluations;
    snapshot.policies = policies
        .iter()
        .map(|p| policy(p, Enforcement::Deny, Some(epoch())))
        .collect();
    snapshot
}

/// A state following these snapshots (in order), fed through the reducer as the loop feeds it,
/// at the clock `now`. Rows first seen at the epoch.
pub fn state(snapshots: Vec<ClusterSnapshot>, now: Timestamp) -> State {
    state_with(snapshots, now, Keymap::standard(), &BTreeSet::new())
}

/// [`state`] with a keymap and read-only contexts of its own.
pub fn state_with(
    snapshots: Vec<ClusterSnapshot>,
    now: Timestamp,
    keymap: Keymap,
    readonly_contexts: &BTreeSet<String>,
) -> State {
    let contexts: Vec<String> = snapshots.iter().map(|s| s.context.clone()).collect();
    let mut state = State::new(&contexts, epoch(), Arc::new(keymap), readonly_contexts);
    for (cluster, snapshot) in snapshots.into_iter().enumerate() {
        feed(&mut state, cluster, snapshot);
    }
    update(&mut state, Action::Tick(now));
    prepare(&mut state);
    state
}

/// Sends one snapshot of `cluster` through the reducer, rows derived at the epoch.
pub fn feed(state: &mut State, cluster: usize, snapshot: ClusterSnapshot) {
    let rows = Deriver::default().derive(Arc::new(snapshot), epoch());
    update(
        state,
        Action::Delta(Box::new(Delta {
            cluster,
            rows: Arc::new(rows),
        })),
    );
}

/// The frame as a `width`×`height` terminal shows it.
pub fn render(state: &mut State, width: u16, height: u16, theme: &Theme) -> Buffer {
    update(state, Action::Resize { width, height });
    prepare(state);
    let backend = TestBackend::new(width, height);
    let mut terminal = match Terminal::new(backend) {
        Ok(terminal) => terminal,
        Err(e) => match e {},
    };
    let _ = terminal.draw(|f| frame::draw(f, state, theme));
    crate::edit::selection::drawn(state);
    terminal.backend().buffer().clone()
}

/// A buffer's text, one line per row (trailing spaces trimmed), for snapshots and asserts.
pub fn text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width);
    let mut out = String::new();
    for row in buffer.content().chunks(width.max(1)) {
        let line: String = row.iter().map(|c| c.symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
