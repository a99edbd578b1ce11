//! Issue 17's packaging, proven: the Helm chart rendered and linted by the pinned helm, its
//! manifests accepted by the real API server, its RBAC proven by running the operator with the
//! chart's ServiceAccount alone, and the Dockerfile linted and its build command run.

mod apiserver;
mod chart;
mod dockerfile;
mod leases;
mod rbac;
mod rbac_access;
mod rbac_candidates_off;
mod rbac_identity;
mod rbac_leases;
mod rbac_objects;
mod support;
