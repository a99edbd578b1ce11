//! The report model shared by every sink.

mod finding;
mod rule_info;
mod severity;

pub use finding::{Finding, Outcome, ResourceRef, RuleRef, SourceLocation};
pub use rule_info::RuleInfo;
pub use severity::{Category, Severity};
