//! The console's state (owned by the UI thread) and the reducer that changes it.

pub mod building;
mod data;
pub mod describe;
pub mod filter;
#[cfg(test)]
mod filter_tests;
pub mod follow;
pub mod history;
pub mod keyed;
pub mod leases;
pub mod narrow;
pub mod order;
pub mod policies;
pub mod reconcile;
pub mod rows;
pub mod screens;
pub mod state;
pub mod update;
pub mod violations;

pub use filter::Filter;
pub use rows::{ClusterRows, Deriver, ViolationRow};
pub use state::{Cluster, Cursor, ErrorEntry, Mode, ObjectText, Request, Scope, State, Toast};
pub use update::{prepare, update};
