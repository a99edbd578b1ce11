//! The ClusterSet against real control planes (guardian-testenv): states, staleness,
//! reconnection, permissions, and the evaluation. One test binary, so the control plane shared
//! by several tests (`ControlPlane::shared`) starts once; tests that stop or break a control
//! plane start their own.

mod cluster_objects;
mod credentials;
mod evaluation;
mod expiry;
mod states;
mod support;
mod two_clusters;
