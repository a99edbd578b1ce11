//! kube-guardian's cluster layer, shared by the operator and the console (and `scan`).
//!
//! Connects to kubeconfig contexts, keeps watch caches, compiles the policy store, and follows
//! several clusters at once, each with an explicit connection state. It never imports a face
//! (operator, console or the binary): what more than one face needs lives here or in core.

pub mod aggregate;
pub mod backoff;
pub mod cache;
pub mod caught;
pub mod classify;
pub mod connect;
pub mod crypto;
pub mod drift;
pub mod error;
pub mod evaluate;
pub mod impact;
pub mod kinds;
pub mod kubeconfig;
pub mod lease;
pub mod logging;
pub mod names;
pub mod operator_state;
pub mod set;
pub mod snapshot;
pub mod state;
pub mod store;
mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod watches;
pub mod write;

pub use error::Error;
pub use kubeconfig::{ContextSelection, Target};
pub use set::{ClusterOptions, ClusterSet};
pub use snapshot::{ClusterSnapshot, KindState, KindStatus, ObjectEvaluation, Rejected};
pub use state::{Access, ClusterState, Connection, UnreachableReason, WatchFailure};
