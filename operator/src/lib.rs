//! kube-guardian's in-cluster mode: a kube-runtime controller for GuardianPolicies, PolicyReports,
//! Events, leader election, the validating admission webhook, metrics, health and logs.

pub mod backoff;
mod changes;
pub mod config;
pub mod context;
pub mod controller;
pub mod converge;
pub mod error;
pub mod events;
#[cfg(test)]
mod fake_api;
pub mod findings;
pub mod health;
pub mod incremental;
pub mod leader;
pub mod metrics;
pub mod policy_build;
pub mod reconcile;
pub mod reconcile_inputs;
pub mod reports;
pub mod run;
pub mod status;
pub mod telemetry;
pub mod webhook;

pub use error::Error;
