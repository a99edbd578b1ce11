//! The live part of `scan`: select the contexts, connect to every cluster at once, wait for the
//! initial sync (bounded by `--timeout`), report, and exit as `check` does.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use guardian_cluster::kubeconfig::select;
use guardian_cluster::set::{ClusterOptions, ClusterSet};
use k8s_openapi::jiff::Timestamp;

use super::{ScanReport, exit_code, render};
use crate::cli::ScanArgs;
use crate::output::Style;

pub fn run(args: &ScanArgs) -> Result<ExitCode> {
    // An unknown context is a usage error (exit 2) whose message lists the available ones.
    let targets = select(&args.clusters).context("cannot select the clusters to scan")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let snapshots = runtime.block_on(async {
        let options = ClusterOptions {
            lease_name: args.lease_name.clone(),
            ..ClusterOptions::default()
        };
        let set = ClusterSet::start(targets, options);
        set.settled(args.timeout).await
    });
    let report = ScanReport::build(&snapshots, Timestamp::now());
    let stdout = std::io::stdout();
    let style = Style::detect(stdout.is_terminal());
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    render(&report, args.output, &mut out, style).context("writing the report")?;
    out.flush().context("writing the report")?;
    // The tasks may be in the middle of a request to a dead cluster: do not wait for them.
    runtime.shutdown_background();
    let lost: Vec<String> = report
        .not_scanned()
        .map(|c| format!("{} ({})", c.context, c.connection.state.name()))
        .collect();
    if !lost.is_empty() {
        eprintln!(
            "error: could not scan {}; the report above says why",
            lost.join(", ")
        );
    }
    Ok(ExitCode::from(exit_code(&report, args.fail_on)))
}
