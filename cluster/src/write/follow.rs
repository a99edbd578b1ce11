//! After a policy is written: follow it until the operator has acted on the new generation
//! (`status.observedGeneration` ≥ `metadata.generation`) and report its verdict, or say that
//! nothing reconciled it within the deadline (no operator runs there).

use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use kube::{Api, Client};

use super::ObjectKey;
use crate::Error;
use crate::operator_state::{PolicySync, policy_state};

/// Between two reads while following.
const POLL: Duration = Duration::from_millis(500);

/// What the operator made of a written policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Reconciled and Ready.
    Ready,
    /// Reconciled and Degraded (or not Ready): the operator's message.
    Degraded(String),
    /// Not reconciled within the deadline: no operator runs, or it is down.
    NoOperator,
}

impl Verdict {
    /// The toast's text for `name` in `cluster`.
    pub fn describe(&self, name: &str, cluster: &str) -> String {
        match self {
            Verdict::Ready => format!("{name} reconciled in {cluster}: Ready"),
            Verdict::Degraded(message) => format!("{name} in {cluster} is Degraded: {message}"),
            Verdict::NoOperator => format!(
                "{name} saved in {cluster}, but no operator reconciled it (is the operator running there?)"
            ),
        }
    }
}

/// Follows the policy `name` until its generation `generation` (at least) is reconciled, or
/// `deadline` passes.
pub async fn follow(
    client: &Client,
    name: &str,
    generation: i64,
    deadline: Duration,
) -> Result<Verdict, Error> {
    let api: Api<GuardianPolicy> = Api::all(client.clone());
    let key = ObjectKey::policy(name);
    let waited = tokio::time::timeout(deadline, async {
        loop {
            let policy = api.get(name).await.map_err(|source| Error::Write {
                what: "following",
                object: key.to_string(),
                source: Box::new(source),
            })?;
            let state = policy_state(&policy);
            let caught_up = state.observed_generation.is_some_and(|o| o >= generation);
            if caught_up && state.sync == PolicySync::Reconciled {
                return Ok(verdict(&state.conditions));
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
    waited.unwrap_or(Ok(Verdict::NoOperator))
}

fn verdict(conditions: &[crate::operator_state::ConditionState]) -> Verdict {
    let status = |t: &str| conditions.iter().find(|c| c.type_ == t);
    if let Some(degraded) = status("Degraded").filter(|c| c.status == "True") {
        return Verdict::Degraded(degraded.message.clone());
    }
    match status("Ready") {
        Some(ready) if ready.status == "True" => Verdict::Ready,
        Some(ready) => Verdict::Degraded(ready.message.clone()),
        None => Verdict::Degraded("the operator wrote no Ready condition".to_owned()),
    }
}
