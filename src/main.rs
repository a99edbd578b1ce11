//! kube-guardian: one binary, one shared core, several faces.

mod allocator;
mod check;
mod cli;
mod output;
mod rules_cmd;
mod scan;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use guardian_core::engine::{EvalContext, PolicySet};

use cli::{CheckArgs, Cli, Command, RulesCommand};

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, as CI pipelines read them.
pub(crate) const EXIT_FINDINGS: u8 = 1;
pub(crate) const EXIT_USAGE_OR_INPUT: u8 = 2;

fn main() -> ExitCode {
    // One TLS provider for every client and server of the process, before any exists.
    guardian_cluster::crypto::install_crypto_provider();
    let cli = Cli::parse();
    allocator::tune_for(&cli.command);
    // A panic is a bug, but a CI pipeline must still see "failed" (2) with a message, never
    // Rust's 101; panics in worker threads reach here too (rayon re-raises them).
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {}", output::escape_control(&format!("{e:#}")));
            ExitCode::from(EXIT_USAGE_OR_INPUT)
        }
        Err(_) => {
            eprintln!(
                "error: kube-guardian stopped on an internal error (a bug, described above); \
                 please report it with the command and input that caused it"
            );
            ExitCode::from(EXIT_USAGE_OR_INPUT)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Scan(args) => scan::run(&args),
        Command::Rules(args) => {
            let text = match args.command {
                Some(RulesCommand::Explain { id }) => rules_cmd::explain(&id)?,
                None => rules_cmd::list(args.output)?,
            };
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crd => {
            print(&guardian_core::crd::crds_yaml()?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Operator(cmd) => operator(*cmd),
        Command::Tui(args) => {
            let print_paths = args.print_paths;
            // What `tune_for` set for the console, read before it runs (as the console runs).
            let alloc = allocator::describe();
            guardian_tui::run(args)?;
            if print_paths {
                print(&format!("alloc:  {alloc}\n"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn operator(cmd: cli::OperatorCmd) -> Result<ExitCode> {
    // Transparent huge pages back mimalloc's arenas with 2 MiB pages, which kept about 12 MiB more
    // resident in an idle operator. Before any thread starts, so it covers the whole process.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!(
            "warning: could not opt out of transparent huge pages ({e}); memory use may be higher"
        );
    }
    return_freed_memory_periodically();
    // Held until exit: dropping it flushes the non-blocking log writers.
    let _logs = guardian_operator::telemetry::init(&cmd.log).context("setting up logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let stop = shutdown_signal().context("installing signal handlers")?;
        guardian_operator::run::run(cmd.operator, stop)
            .await
            .context("the operator failed")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// mimalloc hands pages freed by a burst of work (a reconcile of every cached object) back to the
/// OS lazily, on some later allocation; a quiet operator would keep them resident for good. A
/// background collect every few seconds returns them (about 7 MiB after a 10,000-Pod reconcile).
fn return_freed_memory_periodically() {
    let spawned = std::thread::Builder::new()
        .name("mimalloc-collect".into())
        .spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                // SAFETY: mi_collect only walks the allocator's own bookkeeping, and mimalloc
                // documents it as callable from any thread at any time.
                #[allow(unsafe_code)]
                unsafe {
                    libmimalloc_sys::mi_collect(false)
                };
            }
        });
    if let Err(e) = spawned {
        eprintln!(
            "warning: cannot start the memory collector thread ({e}); memory use may be higher"
        );
    }
}

/// Completes on SIGTERM (the kubelet's stop) or SIGINT (Ctrl-C).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let set = policy_set(args)?;
    let report = check::run(
        &set,
        &args.paths,
        &EvalContext::offline(),
        args.max_file_size,
    );
    let stdout = std::io::stdout();
    let style = output::Style::detect(stdout.is_terminal());
    // Stdout is line-buffered; a report of thousands of lines needs one buffer, not a write per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    output::render(&report, args.output, &mut out, style).context("writing the report")?;
    out.flush().context("writing the report")?;
    let code = if !report.input_errors.is_empty() {
        EXIT_USAGE_OR_INPUT
    } else if report.failures_at_or_above(args.fail_on) > 0 {
        EXIT_FINDINGS
    } else {
        0
    };
    // The process ends right after this: freeing the report (tens of thousands of findings, a few
    // allocations each) and the policy set one allocation at a time would only cost CPU time.
    std::mem::forget(report);
    std::mem::forget(set);
    Ok(ExitCode::from(code))
}

fn policy_set(args: &CheckArgs) -> Result<PolicySet> {
    use guardian_core::crd::Profile;
    let mut loaded = if args.policies.is_empty() {
        let profiles = if args.profiles.is_empty() {
            vec![Profile::BestPractices, Profile::PssRestricted]
        } else {
            args.profiles.clone()
        };
        check::policies::Loaded {
            policies: vec![check::policies::from_profiles(&profiles)],
            exceptions: Vec::new(),
        }
    } else {
        check::policies::load(&args.policies, args.max_file_size).map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| match e.line {
                    Some(line) => format!("{}:{line}: {}", e.file, e.message),
                    None => format!("{}: {}", e.file, e.message),
                })
                .collect();
            anyhow::anyhow!("cannot load the policies:\n  {}", lines.join("\n  "))
        })?
    };
    if !args.policies.is_empty() && !args.profiles.is_empty() {
        loaded
            .policies
            .push(check::policies::from_profiles(&args.profiles));
    }
    if loaded.policies.is_empty() {
        anyhow::bail!(
            "no GuardianPolicy found in {:?}; nothing to check against",
            args.policies
        );
    }
    PolicySet::compile(&loaded.policies, &loaded.exceptions).context("the policies do not compile")
}
