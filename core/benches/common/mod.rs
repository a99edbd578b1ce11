//! What the engine benches share: evaluating the whole corpus and counting its findings.

use guardian_core::engine::{EvalContext, Evaluation, PolicySet};
use serde_json::Value;

/// Evaluates every object and returns how many findings they have (the findings are dropped,
/// as a caller that renders and forgets them would).
pub fn count_findings(set: &PolicySet, objects: &[Value], ctx: &EvalContext<'_>) -> usize {
    objects
        .iter()
        .map(|o| match set.evaluate(o, ctx) {
            Evaluation::Evaluated { findings, .. } => findings.len(),
            Evaluation::Skipped(_) => 0,
        })
        .sum()
}
