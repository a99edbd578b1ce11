//! `make demo`: two local clusters (`demo-a`, `demo-b`) seeded from `examples/`, one kubeconfig
//! with both contexts, leader-elected `kube-guardian operator` replicas (two for demo-a, one for
//! demo-b), and the console `kube-guardian tui --contexts demo-a,demo-b` in the foreground.
//! Quitting the console (or Ctrl-C with `--no-console`) stops everything and removes its
//! directory. It builds nothing: `make demo` runs build.sh and `cargo build` first.

mod args;
mod lifecycle;
mod operators;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{self, Operator, Result, Seeded, Variant};

use args::{Args, USAGE, console, parse_args};
use lifecycle::{DemoDir, Signals};
use operators::start_operators;

/// The clusters: context name, what it is seeded with, and how many operator replicas run for it
/// (two in demo-a: the Leases view shows a holder and a standby, and stopping the leader a takeover).
const CLUSTERS: [(&str, Variant, usize); 2] = [
    ("demo-a", Variant::Reference, 2),
    ("demo-b", Variant::Drifted, 1),
];
/// Where the operators' Lease lives (the console looks for it in every namespace).
const LEASE_NAMESPACE: &str = "kube-system";
#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("demo: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args, started).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:?}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, started: Instant) -> Result<()> {
    // Made before anything starts, so Drop removes the directory on every way out.
    let dir = DemoDir::create(args.dir.clone())?;
    let mut signals = Signals::new()?;
    // Ctrl-C during start-up drops the half-started demo: control planes stop in their Drop.
    let mut demo = tokio::select! {
        demo = start(&args, dir.path()) => demo?,
        () = signals.recv() => {
            println!("demo: interrupted while starting; cleaning up");
            return Ok(());
        }
    };
    demo.print(args.operator_bin.as_deref());
    match console(&args, &demo.kubeconfig, dir.path()) {
        Some(console) => {
            println!(
                "demo: ready in {:.1?}. Opening the console; q quits it and stops the demo.",
                started.elapsed()
            );
            let mut running = console.spawn()?;
            signals.wait_for_console(&mut running).await?;
            // Reported after the console, which owned the terminal meanwhile.
            for operator in &mut demo.operators {
                if let Some(message) = operator.take_exit() {
                    eprintln!("demo: {message}");
                }
            }
        }
        None => {
            println!(
                "demo: ready in {:.1?}. Press Ctrl-C to stop.",
                started.elapsed()
            );
            signals.wait(&mut demo.operators).await;
        }
    }
    println!("demo: stopping operators and control planes");
    demo.stop().await;
    drop(dir);
    println!("demo: stopped and cleaned up");
    Ok(())
}

/// A started demo: both clusters seeded, the kubeconfig written, operators running if any.
#[derive(Debug)]
struct Demo {
    planes: [ControlPlane; 2],
    seeded: [Seeded; 2],
    kubeconfig: PathBuf,
    operators: Vec<Operator>,
}

async fn start(args: &Args, dir: &Path) -> Result<Demo> {
    let started = Instant::now();
    println!(
        "demo: starting control planes demo-a and demo-b (etcd, kube-apiserver, kube-controller-manager)"
    );
    let [(a_name, a_variant, _), (b_name, b_variant, _)] = CLUSTERS;
    // Concurrently: most of a start is waiting for the apiserver, not CPU.
    let (a, b) = tokio::try_join!(start_plane(a_name), start_plane(b_name))?;
    let examples = demo::examples_dir();
    println!(
        "demo: control planes up after {:.1?}; seeding from {}",
        started.elapsed(),
        examples.display()
    );
    let seeded = tokio::try_join!(
        demo::prepare(&a, &examples, a_variant),
        demo::prepare(&b, &examples, b_variant),
    )?;
    let kubeconfig = dir.join("kubeconfig");
    demo::write_kubeconfig(
        &demo::merge_kubeconfigs(&[a.kubeconfig(), b.kubeconfig()]),
        &kubeconfig,
    )?;
    let operators = match &args.operator_bin {
        Some(binary) => start_operators(binary, &kubeconfig, dir).await?,
        None => Vec::new(),
    };
    Ok(Demo {
        planes: [a, b],
        seeded: [seeded.0, seeded.1],
        kubeconfig,
        operators,
    })
}

impl Demo {
    /// What was seeded, memory, and how to use it; `check_bin` is shown in the `check` example.
    fn print(&self, check_bin: Option<&Path>) {
        for (cp, seeded) in self.planes.iter().zip(&self.seeded) {
            report::print_summary(cp, seeded);
        }
        report::print_memory(&self.planes, &self.operators);
        report::print_usage(&self.kubeconfig, check_bin, &self.operators);
    }

    /// Operators first (they are the apiservers' clients), then both control planes in parallel:
    /// each stop may wait out a few seconds of SIGTERM grace.
    async fn stop(self) {
        let Self {
            planes, operators, ..
        } = self;
        for mut operator in operators {
            if let Err(e) = operator.stop() {
                eprintln!("demo: {e:?}");
            }
        }
        let stops = planes.map(|cp| tokio::task::spawn_blocking(move || drop(cp)));
        for stop in stops {
            // A panic in Drop has already been printed; there is nothing else to clean up.
            let _ = stop.await;
        }
    }
}

async fn start_plane(context: &str) -> Result<ControlPlane> {
    let cp = ControlPlane::builder()
        .context_name(context)
        .with_controller_manager()
        // The demo is local by definition, whatever KUBE_GUARDIAN_TEST_KUBECONFIG says.
        .use_existing_cluster(false)
        .start()
        .await?;
    Ok(cp)
}
