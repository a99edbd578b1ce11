//! Environment switches, in the spirit of envtest's USE_EXISTING_CLUSTER.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Path of a kubeconfig: when set, tests use that cluster instead of starting a local one.
pub const EXISTING_KUBECONFIG_ENV: &str = "KUBE_GUARDIAN_TEST_KUBECONFIG";
/// Context of [`EXISTING_KUBECONFIG_ENV`] to use; its current context when unset.
pub const EXISTING_CONTEXT_ENV: &str = "KUBE_GUARDIAN_TEST_CONTEXT";
/// `1` skips cluster tests for quick local loops; an error under CI ([`guardian_core::ci`]).
pub const SKIP_ENV: &str = "KUBE_GUARDIAN_SKIP_CLUSTER_TESTS";

/// The existing cluster to use, if [`EXISTING_KUBECONFIG_ENV`] is set.
pub(crate) fn existing_cluster() -> Option<(PathBuf, Option<String>)> {
    let path = non_empty(EXISTING_KUBECONFIG_ENV)?;
    Some((PathBuf::from(path), non_empty(EXISTING_CONTEXT_ENV)))
}

/// True when tests run against an existing cluster rather than a local control plane.
pub fn existing_cluster_configured() -> bool {
    existing_cluster().is_some()
}

/// Whether cluster tests should be skipped ([`SKIP_ENV`]); says so loudly on stderr.
///
/// Fails when the switch is set under CI ([`guardian_core::ci::is_on`]): CI must always run them.
pub fn skip_cluster_tests() -> Result<bool> {
    if !non_empty(SKIP_ENV).is_some_and(|v| v != "0" && v != "false") {
        return Ok(false);
    }
    if guardian_core::ci::from_env() {
        return Err(Error::SkipInCi);
    }
    // Written to the stderr handle, not with eprintln!: the test harness captures the macros'
    // output of passing tests, and this must be seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!! {SKIP_ENV} is set: SKIPPING tests that need a Kubernetes control plane. \
         They have NOT run. Unset it to run them. !!!\n"
    );
    Ok(true)
}

/// Whether a test that starts (and restarts or breaks) its own local control plane should run:
/// not when cluster tests are skipped ([`skip_cluster_tests`], an error under CI), nor when an
/// existing cluster is configured, which such a test cannot use. Says so loudly when it skips.
pub fn local_plane_wanted() -> Result<bool> {
    if skip_cluster_tests()? {
        return Ok(false);
    }
    if existing_cluster_configured() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! an existing cluster is configured: SKIPPING a test that needs its own local \
             control plane. It has NOT run. !!!\n"
        );
        return Ok(false);
    }
    Ok(true)
}

fn non_empty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}
