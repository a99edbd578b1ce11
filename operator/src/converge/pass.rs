//! Which policies a convergence pass has evaluated, and whether reports still wait for it.

use std::collections::BTreeSet;

/// Which policies a pass has evaluated so far, and whether reports still wait for it. Kept in
/// the [`ReportState`], under the same lock as the results it vouches for.
#[derive(Debug)]
pub struct Pass {
    /// Until the pass completes: the policies evaluated in it so far.
    evaluated: Option<BTreeSet<String>>,
    /// Whether reports wait for the pass; no longer once it timed out (the sweep still waits).
    holding: bool,
}

/// A fresh state waits for its first pass: nothing is written before every policy was evaluated.
impl Default for Pass {
    fn default() -> Self {
        Pass {
            evaluated: Some(BTreeSet::new()),
            holding: true,
        }
    }
}

impl Pass {
    /// True while reports wait for the pass to complete.
    pub fn holds_reports(&self) -> bool {
        self.evaluated.is_some() && self.holding
    }

    /// True until the pass completes, even once reports no longer wait for it.
    pub fn running(&self) -> bool {
        self.evaluated.is_some()
    }

    /// Notes that a policy's results are current in this pass.
    pub fn record(&mut self, policy: &str) {
        if let Some(evaluated) = self.evaluated.as_mut() {
            evaluated.insert(policy.to_owned());
        }
    }

    /// A deleted policy is no longer waited for.
    pub fn forget(&mut self, policy: &str) {
        if let Some(evaluated) = self.evaluated.as_mut() {
            evaluated.remove(policy);
        }
    }

    /// Whether every one of `live` was evaluated in the pass (true outside a pass).
    pub fn covers<'a>(&self, mut live: impl Iterator<Item = &'a str>) -> bool {
        self.evaluated
            .as_ref()
            .is_none_or(|evaluated| live.all(|p| evaluated.contains(p)))
    }

    /// Reports are written as results change again, while the pass goes on recording which
    /// policies were evaluated, for the sweep.
    pub(super) fn release(&mut self) {
        self.holding = false;
    }

    /// Ends the pass.
    pub fn finish(&mut self) {
        self.evaluated = None;
    }
}
