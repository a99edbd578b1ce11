//! What one cluster holds at one moment: its connection, the objects kube-guardian reads, and
//! the operator's own state. Faces (console, `scan`) and the aggregation read only this.

use std::sync::Arc;

use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::model::{Finding, ResourceRef};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::state::{ClusterState, Connection};

/// One cluster's view, rebuilt when something changed; `generation` grows with each rebuild.
#[derive(Debug, Clone)]
pub struct ClusterSnapshot {
    /// The kubeconfig context name.
    pub context: String,
    pub generation: u64,
    pub connection: Connection,
    /// Per watched resource, whether it is shown (a kind the credentials cannot list is hidden).
    pub kinds: Vec<KindStatus>,
    /// Every workload object evaluated with the cluster's own policies and exceptions (an
    /// object evaluated through its owner, like a Deployment's Pods, is not listed again).
    /// Shared with the task's memo and the previous snapshots: a big cluster's findings are
    /// kept once, not once per copy.
    pub evaluations: Vec<Arc<ObjectEvaluation>>,
    /// How many objects were evaluated for this snapshot; the others kept their evaluation
    /// (unchanged object, policies, namespace labels and exceptions).
    pub evaluated: usize,
    pub policies: Vec<Arc<GuardianPolicy>>,
    pub exceptions: Vec<Arc<GuardianException>>,
    /// The operator's leader-election Lease, when one is found.
    pub lease: Option<Arc<Lease>>,
    /// The candidate records of that Lease's election (one per operator replica that writes
    /// them: see `crate::lease`), by name; empty for an operator that writes none.
    pub candidates: Vec<Arc<Lease>>,
    /// Policies and exceptions that do not compile: left out of `evaluations`, reported here.
    pub rejected: Vec<Rejected>,
    /// How many PolicyReports the cluster holds (`None` while not listed: the CRD is not
    /// installed, or the credentials cannot list them).
    pub policy_reports: Option<usize>,
    /// How many Warning Events about GuardianPolicies the cluster holds (`None` while not listed).
    pub warning_events: Option<usize>,
    /// Those Warning Events themselves (empty while not listed), by namespace and name.
    pub warnings: Vec<Arc<Event>>,
    /// What `evaluations` were computed from (the cached objects and namespace labels, shared
    /// with the cache): a candidate policy is evaluated on exactly these (see `impact`).
    pub inputs: Option<Arc<EvaluationInputs>>,
}

impl ClusterSnapshot {
    /// The first snapshot of a cluster: `Connecting` since `now`, nothing known yet.
    /// Whether the cluster's GuardianPolicies and GuardianExceptions are known: both kinds
    /// completed a list once. Until then nothing is evaluated (an unknown policy set is not an
    /// empty one: judging by it would report a cluster clean), and drift does not compare it.
    pub fn policies_known(&self) -> bool {
        crate::kinds::policies_listed(&self.kinds)
    }

    pub fn connecting(context: impl Into<String>, now: Timestamp) -> ClusterSnapshot {
        ClusterSnapshot {
            context: context.into(),
            generation: 0,
            connection: Connection {
                state: ClusterState::Connecting,
                since: now,
                last_synced: None,
                next_retry: None,
            },
            kinds: Vec::new(),
            evaluations: Vec::new(),
            evaluated: 0,
            policies: Vec::new(),
            exceptions: Vec::new(),
            lease: None,
            candidates: Vec::new(),
            rejected: Vec::new(),
            policy_reports: None,
            warning_events: None,
            warnings: Vec::new(),
            inputs: None,
        }
    }

    /// Whether `other` holds the very same evaluations, policies and exceptions (the same
    /// `Arc`s, not equal copies), so what a face derives from them (rows, tallies, orders)
    /// holds for both. A Lease renewal or a state change publishes such a snapshot.
    pub fn same_findings(&self, other: &ClusterSnapshot) -> bool {
        self.context == other.context
            && same(&self.evaluations, &other.evaluations)
            && same(&self.policies, &other.policies)
            && same(&self.exceptions, &other.exceptions)
    }
}

/// Whether two lists hold the same objects (not equal copies: the same cached `Arc`s).
pub(crate) fn same<T>(a: &[Arc<T>], b: &[Arc<T>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
}

/// The inputs of one evaluation of a cluster.
pub struct EvaluationInputs {
    pub objects: Vec<Arc<crate::cache::CachedObject>>,
    pub namespaces: Arc<crate::cache::AuditNamespaces>,
}

// Counts only: the objects are compressed JSON.
impl std::fmt::Debug for EvaluationInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationInputs")
            .field("objects", &self.objects.len())
            .finish_non_exhaustive()
    }
}

/// A policy or exception that does not compile, with its errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// `GuardianPolicy` or `GuardianException`.
    pub kind: &'static str,
    /// The policy name, or `namespace/name` of an exception.
    pub name: String,
    pub errors: Vec<String>,
}

/// One evaluated object: the policies that matched it and what they found.
#[derive(Debug, Clone)]
pub struct ObjectEvaluation {
    pub resource: Arc<ResourceRef>,
    pub matched_policies: Vec<Arc<str>>,
    pub findings: Vec<Finding>,
}

/// Whether one watched resource is shown, and how many objects it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindStatus {
    /// `plural.group`, or the plural alone for the core group.
    pub resource: String,
    pub state: KindState,
    pub objects: usize,
    /// Whether its list ever completed: before that, an empty set means unknown, not none.
    #[serde(skip)]
    pub listed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all_fields = "camelCase")]
pub enum KindState {
    Listing,
    Synced,
    /// The credentials cannot `verb` this resource: hidden, the other kinds still show.
    Forbidden {
        verb: String,
    },
    /// The resource is not served (a CRD not installed).
    NotInstalled,
    /// The watch fails for another reason; it is retried.
    Failing {
        error: String,
    },
}
