//! `make demo` as a newcomer runs it, in a real terminal (tmux): the demo starts both clusters
//! and their operators and opens the console on them; the Leases view shows demo-a's holder and
//! its standby; stopping demo-a's leader as the demo says shows the takeover there (the stopped
//! replica's row leaves); quitting the console stops the operators and control planes and removes
//! the demo's directory.
//!
//! The demo binary is guardian-testenv's `demo`, which `cargo test --workspace` (`make test`)
//! builds next to `kube-guardian`; run alone, build it first:
//! `cargo build -p guardian-testenv --bin demo && cargo test -p kube-guardian --test demo_console`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use guardian_testenv::tmux::{Exit, Tmux};

const BIN: &str = env!("CARGO_BIN_EXE_kube-guardian");
/// Two control planes with kube-controller-manager, seeding and three operators, on a loaded
/// 2-core machine: more than one cluster's usual 90 s.
const START_DEADLINE: Duration = Duration::from_secs(180);
const DEADLINE: Duration = Duration::from_secs(90);

fn demo_binary() -> PathBuf {
    let demo = Path::new(BIN).with_file_name("demo");
    assert!(
        demo.is_file(),
        "{} is missing: build it with `cargo build -p guardian-testenv --bin demo` \
         (`cargo test --workspace` builds it)",
        demo.display()
    );
    demo
}

/// Command lines of the running processes that contain `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(needle))
        .collect()
}

fn row_has(screen: &str, cluster: &str, word: &str) -> bool {
    screen.lines().any(|line| {
        let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
        start.split_whitespace().next() == Some(cluster) && line.contains(word)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_opens_the_console_and_quitting_it_cleans_everything_up() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo_dir = tmp.path().join("demo");
    let term = Tmux::builder(demo_binary())
        .arg("--operator-bin")
        .arg(BIN)
        .arg("--dir")
        .arg(&demo_dir)
        .start()
        .expect("tmux starts the demo");

    let screen = term
        .wait_for(
            "the console with demo-a and demo-b Synced",
            START_DEADLINE,
            |s| row_has(s, "demo-a", "Synced") && row_has(s, "demo-b", "Synced"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(term.alternate_screen().expect("tmux"), "{screen}");
    let pid = term.pid().expect("tmux").expect("the demo's pid");
    // What quitting must stop: three operator replicas, and two control planes whose
    // directories are named after the demo's pid.
    let dir = demo_dir.display().to_string();
    let planes = format!("kube-guardian-testenv-{pid}-");
    let operators = processes_mentioning(&format!("operator --kubeconfig {dir}"));
    assert_eq!(operators.len(), 3, "{operators:?}");
    assert!(
        processes_mentioning(&planes).len() >= 4,
        "etcd and kube-apiserver of both"
    );

    takeover(&term, &demo_dir).await;

    term.send_keys(&["q"]).expect("keys");
    let screen = term
        .wait_for_text("demo: stopped and cleaned up", DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        term.wait_for_exit(DEADLINE).await.expect("the demo exits"),
        Exit::Code(0),
        "{screen}"
    );
    assert!(!demo_dir.exists(), "{dir} is left behind");
    // Operators and the console (tmux's own command line names the directory too: not this).
    let kubeconfig = format!("--kubeconfig {dir}");
    assert_eq!(processes_mentioning(&kubeconfig), Vec::<String>::new());
    assert_eq!(processes_mentioning(&planes), Vec::<String>::new());
}

/// The demo-a replicas the Leases view shows in `role` (`holder`, `standby` or `gone`), by
/// replica name (`demo-a-1` or `demo-a-2`: an identity starts with the replica's name).
fn in_role<'a>(screen: &'a str, role: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|line| {
            let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
            start.split_whitespace().next() == Some("demo-a")
                && line.split_whitespace().any(|word| word == role)
        })
        .filter_map(|row| {
            row.split_whitespace().find_map(|word| {
                ["demo-a-1", "demo-a-2"]
                    .into_iter()
                    .find(|r| word.starts_with(r))
            })
        })
        .collect()
}

/// The ROLE of each demo-a row naming `replica` (`demo-a-1` or `demo-a-2`).
fn roles_of<'a>(screen: &'a str, replica: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|line| {
            let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
            start.split_whitespace().next() == Some("demo-a")
                && line
                    .split_whitespace()
                    .any(|word| word.starts_with(replica))
        })
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| ["holder", "standby", "gone"].contains(word))
        })
        .collect()
}

/// The demo-a replica the Leases view shows as the holder.
fn holder(screen: &str) -> Option<&str> {
    match in_role(screen, "holder")[..] {
        [holder] => Some(holder),
        _ => None,
    }
}

/// The Leases view's SEEN cell (leader changes the console saw) of demo-a's row.
fn changes_seen(screen: &str) -> Option<u32> {
    let header = screen.lines().find(|line| line.contains("SEEN"))?;
    let column = header[..header.find("SEEN")?].chars().count();
    let row = screen.lines().find(|line| {
        let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
        start.split_whitespace().next() == Some("demo-a")
    })?;
    let cell: String = row.chars().skip(column).take(4).collect();
    cell.trim().parse().ok()
}

/// Waits until the Leases view shows demo-a's holder and the other replica standing by; stops the
/// leader as the demo tells (`kill $(cat <dir>/operator-<replica>.pid)`) and waits until the view
/// shows the other replica holding the Lease, one leader change, and the stopped one in no row
/// but as `gone` (its candidate record deleted on shutdown, or stale).
async fn takeover(term: &Tmux, demo_dir: &Path) {
    term.send_keys(&[":"]).expect("keys");
    term.send_text("leases").expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    let screen = term
        .wait_for("demo-a's holder and its standby", DEADLINE, |s| {
            let standbys = in_role(s, "standby");
            holder(s).is_some_and(|h| {
                standbys
                    == [if h == "demo-a-1" {
                        "demo-a-2"
                    } else {
                        "demo-a-1"
                    }]
            }) && changes_seen(s).is_some()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let leader = holder(&screen).expect("a holder").to_owned();
    let before = changes_seen(&screen).expect("SEEN");
    let pid_file = demo_dir.join(format!("operator-{leader}.pid"));
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
    let killed = std::process::Command::new("kill")
        .arg(pid.trim())
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill {pid}");
    term.wait_for(
        "the other demo-a replica holding the Lease",
        DEADLINE,
        |s| {
            // The stopped replica in no row (its record deleted on SIGTERM), or only as gone;
            // the other's row says holder.
            holder(s).is_some_and(|h| h != leader)
                && changes_seen(s).is_some_and(|seen| seen > before)
                && roles_of(s, &leader).iter().all(|role| *role == "gone")
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
}
