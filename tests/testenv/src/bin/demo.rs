//! `make demo`: two local clusters (`demo-a`, `demo-b`) seeded from `examples/`, one kubeconfig
//! with both contexts, and a `kube-guardian operator` per cluster when the binary has that
//! subcommand. Runs until Ctrl-C, then stops everything and removes its directory.
//! It builds nothing: `make demo` runs build.sh and `cargo build` first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{self, Error, Operator, Result, Seeded, Variant};

/// The clusters: context name and what it is seeded with.
const CLUSTERS: [(&str, Variant); 2] =
    [("demo-a", Variant::Reference), ("demo-b", Variant::Drifted)];
/// How long an operator may take to answer /healthz before the demo says so (it keeps running).
const OPERATOR_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the demo looks for operators that died while it waits for Ctrl-C.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

const USAGE: &str = "\
Usage: demo [--operator-bin PATH] [--dir DIR]

Starts two local control planes (contexts demo-a and demo-b), seeds them from examples/ and waits
for Ctrl-C. Binaries must exist: run tests/control-plane/build.sh --with-controller-manager.

  --operator-bin PATH  kube-guardian binary; runs `PATH operator` per cluster if it has that command
  --dir DIR            where the kubeconfig and operator logs go (default: <repo>/target/demo);
                       removed on exit
  -h, --help           this text";

#[derive(Debug)]
struct Args {
    operator_bin: Option<PathBuf>,
    dir: PathBuf,
}

/// `Ok(None)` asks for the help text. Hand-rolled: two flags do not justify a parser dependency.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        operator_bin: None,
        dir: demo::repo_root().join("target/demo"),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--operator-bin" => parsed.operator_bin = Some(PathBuf::from(value()?)),
            "--dir" => parsed.dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

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
    println!(
        "demo: ready in {:.1?}. Press Ctrl-C to stop.",
        started.elapsed()
    );
    signals.wait(&mut demo.operators).await;
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
    let [(a_name, a_variant), (b_name, b_variant)] = CLUSTERS;
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
            print_summary(cp, seeded);
        }
        print_memory(&self.planes, &self.operators);
        print_usage(&self.kubeconfig, check_bin, &self.operators);
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

async fn start_operators(binary: &Path, kubeconfig: &Path, dir: &Path) -> Result<Vec<Operator>> {
    if !demo::supports_operator(binary) {
        println!(
            "demo: {} has no `operator` subcommand yet: not starting operators",
            binary.display()
        );
        return Ok(Vec::new());
    }
    let mut operators = Vec::new();
    for (context, _) in CLUSTERS {
        operators.push(Operator::start(binary, kubeconfig, context, dir)?);
    }
    for operator in &operators {
        if operator.wait_healthy(OPERATOR_HEALTH_TIMEOUT).await {
            println!(
                "demo: operator for {} healthy on http://{}/healthz",
                operator.context(),
                operator.health_addr()
            );
        } else {
            println!(
                "demo: operator for {} not healthy after {OPERATOR_HEALTH_TIMEOUT:?}; see {}",
                operator.context(),
                operator.log().display()
            );
        }
    }
    Ok(operators)
}

fn print_summary(cp: &ControlPlane, seeded: &Seeded) {
    let kinds = [
        "GuardianPolicy",
        "GuardianException",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "CronJob",
        "Pod",
    ];
    let counts: Vec<String> = kinds
        .iter()
        .map(|kind| format!("{} {kind}", seeded.count(kind)))
        .collect();
    println!(
        "demo: {}: namespaces {}; {}",
        cp.context_name(),
        seeded.namespaces.join(", "),
        counts.join(", ")
    );
}

fn print_memory(planes: &[ControlPlane], operators: &[Operator]) {
    let mb = |bytes: u64| bytes / (1024 * 1024);
    for cp in planes {
        let parts: Vec<(&str, u64)> = cp
            .process_ids()
            .into_iter()
            .map(|(name, pid)| (name, demo::rss_bytes(pid).unwrap_or(0)))
            .collect();
        let total: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
        let detail: Vec<String> = parts
            .iter()
            .map(|(name, bytes)| format!("{name} {}", mb(*bytes)))
            .collect();
        println!(
            "demo: {} memory (RSS, MB): {} = {}",
            cp.context_name(),
            detail.join(" + "),
            mb(total)
        );
    }
    for operator in operators {
        let rss = operator.pid().and_then(demo::rss_bytes).unwrap_or(0);
        println!(
            "demo: operator {} memory (RSS): {} MB",
            operator.context(),
            mb(rss)
        );
    }
}

fn print_usage(kubeconfig: &Path, check_bin: Option<&Path>, operators: &[Operator]) {
    let check_bin = check_bin.map_or("kube-guardian".into(), |p| p.display().to_string());
    println!(
        "\nTry it (in another shell, from the repository root):\n  \
         export KUBECONFIG={kubeconfig}\n  \
         kubectl config get-contexts\n  \
         kubectl --context demo-a get gp,gex -A\n  \
         kubectl --context demo-b get deploy,sts,ds,cronjob,pods -A\n  \
         kubectl get policyreports -A\n  \
         {check_bin} check examples/manifests --policy examples/policies --policy examples/exceptions\n  \
         {check_bin} scan --kubeconfig {kubeconfig} --contexts demo-a,demo-b",
        kubeconfig = kubeconfig.display()
    );
    for operator in operators {
        println!(
            "  operator log ({}): {}",
            operator.context(),
            operator.log().display()
        );
    }
    println!();
}

/// The demo's directory (kubeconfig, operator logs), removed when dropped.
#[derive(Debug)]
struct DemoDir(PathBuf);

impl DemoDir {
    fn create(path: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            what: format!("create {}", path.display()),
            source,
        })?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("demo: cannot remove {}: {e}", self.0.display());
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, registered once so a signal during start-up is not lost.
#[derive(Debug)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind| {
            signal(kind).map_err(|source| Error::Io {
                what: "register signal handlers".into(),
                source,
            })
        };
        Ok(Self {
            interrupt: register(SignalKind::interrupt())?,
            terminate: register(SignalKind::terminate())?,
        })
    }

    /// Waits for SIGINT or SIGTERM.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    /// Waits for a signal, reporting operators that die meanwhile (the demo keeps running: the
    /// clusters are still useful without them).
    async fn wait(&mut self, operators: &mut [Operator]) {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        loop {
            tokio::select! {
                () = self.recv() => return,
                _ = tick.tick() => {
                    for operator in operators.iter_mut() {
                        if let Some(message) = operator.take_exit() {
                            eprintln!("demo: {message}");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn flags_parse_with_a_space_or_an_equals_sign() -> Result<(), String> {
        let args = parse(&["--operator-bin", "/bin/kg", "--dir=/tmp/d"])?;
        let args = args.ok_or("help instead of args")?;
        assert_eq!(args.operator_bin, Some(PathBuf::from("/bin/kg")));
        assert_eq!(args.dir, PathBuf::from("/tmp/d"));
        Ok(())
    }

    #[test]
    fn help_unknown_and_missing_values() {
        assert!(matches!(parse(&["--help"]), Ok(None)));
        assert!(parse(&["--nope"]).is_err_and(|e| e.contains("--nope")));
        assert!(parse(&["--dir"]).is_err_and(|e| e.contains("needs a value")));
        assert!(parse(&[]).is_ok_and(|a| a.is_some_and(|a| a.dir.ends_with("target/demo"))));
    }
}
