//! kube-guardian's cluster layer, shared by the operator and the console (and `scan`).
//!
//! Connects to kubeconfig contexts, keeps watch caches, compiles the policy store, and follows
//! several clusters at once, each with an explicit connection state. It never imports a face
//! (operator, console or the binary): what more than one face needs lives here or in core.

pub mod cache;
pub mod connect;
pub mod crypto;
pub mod error;
pub mod lease;
pub mod logging;
pub mod snapshot;
pub mod state;
pub mod store;

pub use error::Error;
pub use snapshot::{ClusterSnapshot, KindState, KindStatus, ObjectEvaluation};
pub use state::{Access, ClusterState, Connection, UnreachableReason, WatchFailure};
