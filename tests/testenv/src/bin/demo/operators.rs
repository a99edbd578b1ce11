//! The operator replicas: started per cluster, their pid files written for `kill $(cat …)`,
//! then waited on until healthy.

use std::path::Path;
use std::time::Duration;

use guardian_testenv::demo::{self, Error, Operator, Replica, Result};

use crate::{CLUSTERS, LEASE_NAMESPACE};

/// How long an operator may take to answer /healthz before the demo says so (it keeps running).
const OPERATOR_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
pub async fn start_operators(
    binary: &Path,
    kubeconfig: &Path,
    dir: &Path,
) -> Result<Vec<Operator>> {
    if !demo::supports_operator(binary) {
        println!(
            "demo: {} has no `operator` subcommand yet: not starting operators",
            binary.display()
        );
        return Ok(Vec::new());
    }
    let mut operators = Vec::new();
    for (context, _, replicas) in CLUSTERS {
        for n in 1..=replicas {
            let replica = Replica {
                name: format!("{context}-{n}"),
                lease_namespace: LEASE_NAMESPACE.to_owned(),
            };
            operators.push(Operator::start_replica(
                binary, kubeconfig, context, &replica, dir,
            )?);
        }
    }
    for operator in &operators {
        // For `kill $(cat …)`: the console hides this output while it is open.
        let file = dir.join(format!("operator-{}.pid", operator.name()));
        std::fs::write(&file, format!("{}\n", pid(operator))).map_err(|source| Error::Io {
            what: format!("write {}", file.display()),
            source,
        })?;
    }
    for operator in &operators {
        if operator.wait_healthy(OPERATOR_HEALTH_TIMEOUT).await {
            println!(
                "demo: operator {} ({}, pid {}) healthy on http://{}/healthz",
                operator.name(),
                operator.context(),
                pid(operator),
                operator.health_addr()
            );
        } else {
            println!(
                "demo: operator {} ({}, pid {}) not healthy after {OPERATOR_HEALTH_TIMEOUT:?}; see {}",
                operator.name(),
                operator.context(),
                pid(operator),
                operator.log().display()
            );
        }
    }
    Ok(operators)
}

/// The operator's process id as printed (`-` once it has exited).
pub fn pid(operator: &Operator) -> String {
    operator.pid().map_or("-".to_owned(), |pid| pid.to_string())
}
