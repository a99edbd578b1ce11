//! The edit impact in the confirm dialog of a policy edit: the edited policy evaluated on the
//! cached workloads of every cluster in scope that holds a policy of that name (the edited
//! cluster first), `+12 violations in demo-a, −3 in demo-b`, then the violations themselves;
//! computed on a blocking thread, the dialog shows when it is ready.

use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::impact::{EditImpact, edit_impact};
use guardian_cluster::write::WriteKind;
use guardian_core::crd::GuardianPolicy;
use k8s_openapi::jiff::Timestamp;

use super::ui::{Modal, Pending};
use crate::app::State;
use crate::app::state::Request;

/// Violations listed per cluster and direction; the rest are counted.
const LISTED: usize = 10;

/// The impact of a policy edit, to compute off the UI thread: evaluating every cached object
/// of a large cluster takes too long for the reducer (see [`crate::edit::run`]).
#[derive(Debug, Clone)]
pub struct ImpactJob {
    /// The confirm dialog the impact goes into.
    pub modal: Modal,
    pending: Arc<Pending>,
    candidate: GuardianPolicy,
    /// The clusters it is evaluated in, the edited one first: their snapshots shared, not copied.
    snapshots: Vec<Arc<ClusterSnapshot>>,
    now: Timestamp,
}

/// Two jobs are the same when they are for the same edit.
impl PartialEq for ImpactJob {
    fn eq(&self, other: &ImpactJob) -> bool {
        self.pending == other.pending
    }
}

impl Eq for ImpactJob {}

/// The job that fills in `modal`'s impact, when it confirms the edit of a policy; else the
/// modal back, to show as it is.
pub fn impact_job(state: &State, modal: Box<Modal>) -> Result<Box<ImpactJob>, Box<Modal>> {
    let Modal::Confirm {
        on_yes: Request::Apply(pending),
        ..
    } = &*modal
    else {
        return Err(modal);
    };
    let key = &pending.session.key;
    if key.kind != WriteKind::Policy {
        return Err(modal);
    }
    let Ok(candidate) = serde_json::from_value::<GuardianPolicy>(pending.edited.clone()) else {
        return Err(modal);
    };
    let mut order: Vec<usize> = vec![pending.cluster];
    order.extend(
        (0..state.clusters.len())
            .filter(|&i| i != pending.cluster && state.scope.includes(i))
            .filter(|&i| {
                state.clusters[i]
                    .snapshot()
                    .policies
                    .iter()
                    .any(|p| p.metadata.name.as_deref() == Some(key.name.as_str()))
            }),
    );
    let snapshots = order
        .iter()
        .filter_map(|&i| state.clusters.get(i))
        .map(|c| Arc::clone(&c.rows.snapshot))
        .collect();
    Ok(Box::new(ImpactJob {
        pending: Arc::clone(pending),
        modal: *modal,
        candidate,
        snapshots,
        now: state.now,
    }))
}

impl ImpactJob {
    /// The dialog with the impact filled in (slow: for a blocking thread).
    pub fn run(self) -> Modal {
        let extra = lines(&self.snapshots, &self.candidate, self.now);
        self.with(extra)
    }

    /// The dialog with `extra`'s summary under its first line, before the diff, and the
    /// violations it lists (indented) after the diff: a small screen cuts the list, not the diff.
    pub fn with(self, extra: Vec<String>) -> Modal {
        let mut modal = self.modal;
        if let Modal::Confirm { lines, .. } = &mut modal {
            let (listed, summary): (Vec<String>, Vec<String>) =
                extra.into_iter().partition(|l| l.starts_with("  "));
            let at = lines.len().min(1);
            lines.splice(at..at, summary);
            if !listed.is_empty() {
                lines.push("Violations the edit adds (+) and removes (−):".to_owned());
                lines.extend(listed);
            }
        }
        modal
    }
}

fn lines(
    snapshots: &[Arc<ClusterSnapshot>],
    candidate: &GuardianPolicy,
    now: Timestamp,
) -> Vec<String> {
    let impacts: Vec<EditImpact> = snapshots
        .iter()
        .filter_map(|c| edit_impact(c, candidate, now))
        .collect();
    if impacts.is_empty() {
        return vec![
            "Impact: unknown (the cluster has not evaluated its workloads yet)".to_owned(),
        ];
    }
    let summary: Vec<String> = impacts.iter().map(summary).collect();
    // One line: the list of violations comes after the diff.
    let mut line = format!("Impact: {}", summary.join(", "));
    if impacts.len() > 1 {
        line.push_str(&format!(" (written to {} only)", impacts[0].context));
    }
    let mut out = vec![line];
    for impact in &impacts {
        for (sign, list) in [("+", &impact.added), ("−", &impact.removed)] {
            for v in list.iter().take(LISTED) {
                out.push(format!(
                    "  {sign} {} {} {}",
                    impact.context, v.resource, v.rule
                ));
            }
            if list.len() > LISTED {
                out.push(format!(
                    "  {sign} … {} more in {}",
                    list.len() - LISTED,
                    impact.context
                ));
            }
        }
    }
    out
}

/// `+12 −3 violations in demo-a (40 → 49)`, or `no change in demo-a`.
fn summary(impact: &EditImpact) -> String {
    let (added, removed) = (impact.added.len(), impact.removed.len());
    let context = &impact.context;
    match (added, removed) {
        (0, 0) => format!("no change in {context} ({} violations)", impact.after),
        (a, 0) => format!("+{a} violations in {context}"),
        (0, r) => format!("−{r} violations in {context}"),
        (a, r) => format!(
            "+{a} −{r} violations in {context} ({} → {})",
            impact.before, impact.after
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use guardian_cluster::testing::evaluated;
    use guardian_cluster::write::{Fetched, ObjectKey};
    use serde_json::{Value, json};

    use super::*;
    use crate::app::update;
    use crate::edit::session::Session;
    use crate::testing::{at, state, synced};

    fn policy(rules: &[&str]) -> Value {
        let rules: Vec<Value> = rules.iter().map(|r| json!({"id": r})).collect();
        json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {"name": "p"},
            "spec": {"rules": rules}
        })
    }

    fn pod(name: &str, privileged: bool, host_network: bool) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"hostNetwork": host_network, "containers": [{
                "name": "c", "image": "nginx:1.27",
                "securityContext": {"privileged": privileged}}]}
        })
    }

    fn cluster(context: &str, objects: &[Value]) -> guardian_cluster::ClusterSnapshot {
        let mut snapshot = synced(context);
        let current = serde_json::from_value(policy(&["pss-privileged"])).expect("policy");
        evaluated(&mut snapshot, vec![current], objects);
        snapshot
    }

    fn confirm(edited: Value) -> Modal {
        let key = ObjectKey::policy("p");
        let session = Session::open_for_tests(
            "demo-a",
            PathBuf::from("/edits/p.yaml"),
            Fetched {
                key,
                editable: policy(&["pss-privileged"]),
                resource_version: "1".to_owned(),
                status: None,
                generation: Some(1),
            },
        );
        Modal::Confirm {
            title: "Apply".to_owned(),
            lines: vec![
                "Apply to GuardianPolicy p in demo-a?".to_owned(),
                "- diff".to_owned(),
            ],
            protected: None,
            typed: String::new(),
            on_yes: Request::Apply(Arc::new(Pending {
                cluster: 0,
                session,
                edited,
            })),
            kept: None,
        }
    }

    #[test]
    fn the_dialog_shows_what_the_edit_adds_and_removes_per_cluster() {
        let a = cluster(
            "demo-a",
            &[pod("root", true, true), pod("net", false, true)],
        );
        let b = cluster("demo-b", &[pod("priv", true, false)]);
        let mut s = state(vec![a, b], at(60));
        // pss-privileged swapped for pss-host-namespaces.
        let edited = policy(&["pss-host-namespaces"]);
        update(
            &mut s,
            crate::action::Action::Modal(Box::new(confirm(edited))),
        );
        // The reducer only asks for it: evaluating every object would freeze the console.
        assert!(s.modal.is_none(), "{:?}", s.modal);
        let Some(Request::Impact(job)) = s.requests.pop() else {
            panic!("no impact job: {:?}", s.requests);
        };
        update(&mut s, crate::action::Action::Impact(Box::new(job.run())));
        let (_, lines) = s.modal.as_ref().expect("the dialog").view();
        assert_eq!(lines[0], "Apply to GuardianPolicy p in demo-a?");
        assert_eq!(
            lines[1],
            "Impact: +2 −1 violations in demo-a (1 → 2), −1 violations in demo-b \
             (written to demo-a only)"
        );
        assert!(
            lines.contains(&"  + demo-a Pod/shop/net pss-host-namespaces".to_owned()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"  − demo-a Pod/shop/root pss-privileged".to_owned()),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"  − demo-b Pod/shop/priv pss-privileged".to_owned()),
            "{lines:#?}"
        );
        // The diff right under the summary; the list after it.
        assert_eq!(lines[2], "- diff", "{lines:#?}");
    }
}
