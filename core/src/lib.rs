//! kube-guardian's core: the custom resources, the rule library, CEL rules and the policy engine.
//!
//! Every enforcement point (offline `check`, the operator, the admission webhook, the console)
//! runs the same pipeline: object → workload view → match → exceptions → rules → findings.

pub mod audit;
pub mod ci;
pub mod crd;
pub mod decide;
pub mod engine;
mod error;
pub mod governance;
pub mod load;
pub mod model;
pub mod workload;

pub use error::Error;
