//! Governance: the rule library, custom CEL rules and what a rule is.

pub mod cel;
pub mod policies;
pub mod rules;
pub mod traits;

pub use policies::{library, profile_rules, rule};
pub use traits::{BuiltinRule, ParamDoc, Params, Rule, RuleMeta, Violation};
