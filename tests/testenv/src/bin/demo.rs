//! `make demo`: two local clusters (`demo-a`, `demo-b`) seeded from `examples/`, one kubeconfig
//! with both contexts, leader-elected `kube-guardian operator` replicas (two for demo-a, one for
//! demo-b), and the console `kube-guardian tui --contexts demo-a,demo-b` in the foreground.
//! Quitting the console (or Ctrl-C with `--no-console`) stops everything and removes its
//! directory. It builds nothing: `make demo` runs build.sh and `cargo build` first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{
    self, Console, Error, Operator, Replica, Result, RunningConsole, Seeded, Variant,
};

/// The clusters: context name, what it is seeded with, and how many operator replicas run for it
/// (two in demo-a: the Leases view shows a holder and a standby, and stopping the leader a takeover).
const CLUSTERS: [(&str, Variant, usize); 2] = [
    ("demo-a", Variant::Reference, 2),
    ("demo-b", Variant::Drifted, 1),
];
/// Where the operators' Lease lives (the console looks for it in every namespace).
const LEASE_NAMESPACE: &str = "kube-system";
/// How long an operator may take to answer /healthz before the demo says so (it keeps running).
const OPERATOR_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the demo looks for operators that died while it waits for Ctrl-C.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

const USAGE: &str = "\
Usage: demo [--operator-bin PATH] [--dir DIR] [--no-console]

Starts two local control planes (contexts demo-a and demo-b), seeds them from examples/, runs the
operators and opens the console; quitting it stops everything. Binaries must exist: run
tests/control-plane/build.sh --with-controller-manager.

  --operator-bin PATH  kube-guardian binary; runs `PATH operator` replicas per cluster and the
                       console `PATH tui` if it has those commands
  --dir DIR            where the kubeconfig and logs go (default: <repo>/target/demo); removed on exit
  --no-console         no console: run until Ctrl-C (or SIGTERM), for headless use and tests
  -h, --help           this text";

#[derive(Debug)]
struct Args {
    operator_bin: Option<PathBuf>,
    dir: PathBuf,
    no_console: bool,
}

/// `Ok(None)` asks for the help text. Hand-rolled: two flags do not justify a parser dependency.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        operator_bin: None,
        dir: demo::repo_root().join("target/demo"),
        no_console: false,
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
            "--no-console" if inline.is_none() => parsed.no_console = true,
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

/// The console's command line, unless `--no-console` or the binary has no `tui` command yet.
fn console(args: &Args, kubeconfig: &Path, dir: &Path) -> Option<Console> {
    let binary = args.operator_bin.as_ref()?;
    if args.no_console {
        return None;
    }
    if !demo::supports_console(binary) {
        println!(
            "demo: {} has no `tui` subcommand yet: not opening the console",
            binary.display()
        );
        return None;
    }
    Some(Console {
        binary: binary.clone(),
        kubeconfig: kubeconfig.to_owned(),
        contexts: CLUSTERS.iter().map(|(c, ..)| (*c).to_owned()).collect(),
        log_file: dir.join("console.log"),
    })
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
            operator.name(),
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
         kubectl --context demo-a get lease -n {LEASE_NAMESPACE}\n  \
         kubectl --context demo-b get deploy,sts,ds,cronjob,pods -A\n  \
         kubectl get policyreports -A\n  \
         {check_bin} check examples/manifests --policy examples/policies --policy examples/exceptions\n  \
         {check_bin} scan --kubeconfig {kubeconfig} --contexts demo-a,demo-b",
        kubeconfig = kubeconfig.display()
    );
    for operator in operators {
        println!(
            "  operator {} (pid {}) log: {}",
            operator.name(),
            pid(operator),
            operator.log().display()
        );
    }
    if operators.iter().filter(|o| o.context() == "demo-a").count() > 1 {
        let dir = kubeconfig.parent().unwrap_or(Path::new(".")).display();
        println!(
            "\nA takeover: the console's Leases view (:leases) shows which demo-a replica holds the Lease.\n\
             Stop it from another shell, e.g. `kill $(cat {dir}/operator-demo-a-1.pid)`: the other replica\n\
             takes the Lease over (at once, as a stopped leader releases it; `kill -9` waits out its 15 s)\n\
             and the Leases view shows the new holder, its transitions and the change under SEEN."
        );
    }
    println!();
}

/// The operator's process id as printed (`-` once it has exited).
fn pid(operator: &Operator) -> String {
    operator.pid().map_or("-".to_owned(), |pid| pid.to_string())
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

    /// Waits for the console to exit, or for a signal, which ends it. Its exit status is
    /// reported when it is not a success (it printed why on the terminal).
    async fn wait_for_console(&mut self, console: &mut RunningConsole) -> Result<()> {
        let exited = tokio::select! {
            status = console.wait() => Some(status?),
            () = self.recv() => None,
        };
        match exited {
            Some(status) if !status.success() => {
                eprintln!("demo: the console exited ({status})");
            }
            Some(_) => {}
            None => {
                console.kill();
                println!("demo: interrupted; closed the console");
            }
        }
        Ok(())
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

    #[test]
    fn the_console_opens_unless_no_console_is_given() -> Result<(), String> {
        let args = |a: &[&str]| parse(a)?.ok_or_else(|| "help instead of args".to_owned());
        assert!(!args(&[])?.no_console);
        assert!(args(&["--no-console"])?.no_console);
        assert!(parse(&["--no-console=yes"]).is_err());
        // Without a binary there is no console to open, whatever the flag says.
        assert!(console(&args(&[])?, Path::new("/k"), Path::new("/d")).is_none());
        let opened = console(
            &args(&["--operator-bin", "/bin/true"])?,
            Path::new("/k"),
            Path::new("/d"),
        );
        let opened = opened.ok_or("a console for a binary with a tui command")?;
        assert_eq!(opened.contexts, ["demo-a", "demo-b"]);
        assert_eq!(opened.log_file, Path::new("/d/console.log"));
        assert!(
            console(
                &args(&["--operator-bin", "/bin/true", "--no-console"])?,
                Path::new("/k"),
                Path::new("/d")
            )
            .is_none()
        );
        Ok(())
    }
}
