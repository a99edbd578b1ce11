//! The console end to end, in a real terminal: `kube-guardian tui --contexts a,b` runs in tmux
//! against two real control planes, each with `kube-guardian operator` running, as the README
//! tells a user to start them. The test reads the screen as a user does and changes the
//! clusters through the API: violations appear and disappear, a stopped control plane turns
//! `Unreachable` and stale while the other stays live, and recovers when it is back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::operator_process::OperatorProcess;
use guardian_testenv::tmux::{Exit, Tmux};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};

/// Generous: a loaded 2-core machine, and a reconnection backoff that may have grown to 30 s.
const DEADLINE: Duration = Duration::from_secs(90);
/// Help's last line: waiting for it, not its header, reads the whole Help (a capture can land
/// while the frame is still being written to the terminal).
const HELP_DRAWN: &str = "screen_contexts";
const A: &str = "e2e-a";
const B: &str = "e2e-b";
const NAMESPACE: &str = "e2e-shop";

const BIN: &str = env!("CARGO_BIN_EXE_kube-guardian");

async fn start_plane(context: &str) -> ControlPlane {
    ControlPlane::builder()
        .context_name(context)
        .use_existing_cluster(false)
        .start()
        .await
        .expect("a local control plane")
}

/// The CRDs, a namespace, a policy that forbids privileged containers there, and a Pod that
/// breaks it.
async fn seed(cp: &ControlPlane, pod: &str) -> kube::Client {
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("CRDs");
    let client = cp.client().expect("client");
    let namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}
    }))
    .expect("namespace");
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    let policy: GuardianPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": "no-privileged"},
        "spec": {"enforcement": "Audit", "match": {"namespaces": [NAMESPACE]},
                 "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("policy");
    Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy");
    guardian_testenv::pods::create_privileged(&client, NAMESPACE, pod).await;
    client
}

/// `kube-guardian operator --kubeconfig K --context C`, as the README starts it.
fn start_operator(kubeconfig: &Path, context: &str, dir: &Path) -> OperatorProcess {
    OperatorProcess::builder(BIN, kubeconfig, context)
        .name(&format!("operator-{context}"))
        .start(dir)
        .expect("the operator starts")
}

/// The console in tmux, through `sh` that reports its exit (`Tmux::reporting_exit`).
fn start_console(kubeconfig: &Path, contexts: &str, dir: &Path, extra: &[&str]) -> Tmux {
    let log = dir.join(format!("console{}.log", extra.join("")));
    Tmux::reporting_exit("")
        .args([BIN, "tui", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--contexts", contexts, "--log-file"])
        .arg(&log)
        .args(extra.iter().copied())
        .start()
        .expect("tmux starts the console")
}

/// The Fleet row of `cluster`: the line whose first word is its name (the header's chips come
/// after the app name, so they never match).
fn fleet_row<'a>(screen: &'a str, cluster: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
        start.split_whitespace().next() == Some(cluster)
    })
}

fn row_has(screen: &str, cluster: &str, words: &[&str], absent: &[&str]) -> bool {
    fleet_row(screen, cluster).is_some_and(|row| {
        words.iter().all(|w| row.contains(w)) && !absent.iter().any(|w| row.contains(w))
    })
}

/// Opens a screen through the `:` palette, as a user types it, and waits for its title.
async fn show(term: &Tmux, screen: &str, title: &str) -> String {
    term.send_keys(&[":"]).expect("keys");
    term.send_text(screen).expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    term.wait_for_text(title, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("the {screen} screen: {e:?}"))
}

/// Panics with the error and the console's log, so a red run explains itself.
fn ok<T>(result: Result<T, guardian_testenv::Error>, what: &str, dir: &Path) -> T {
    result.unwrap_or_else(|e| {
        let logs: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {}:\n{}", p.display(), tail.join("\n"))
            })
            .collect();
        panic!("{what}: {e:?}\n{}", logs.join("\n"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_follows_two_clusters_live_through_an_outage_in_a_real_terminal() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let (mut a, b) = tokio::join!(start_plane(A), start_plane(B));
    let (client_a, client_b) = tokio::join!(seed(&a, "root-a"), seed(&b, "root-b"));
    let kubeconfig: PathBuf = dir.join("kubeconfig");
    guardian_testenv::demo::write_kubeconfig(
        &guardian_testenv::demo::merge_kubeconfigs(&[a.kubeconfig(), b.kubeconfig()]),
        &kubeconfig,
    )
    .expect("kubeconfig");
    let _operators = [
        start_operator(&kubeconfig, A, dir),
        start_operator(&kubeconfig, B, dir),
    ];

    let term = start_console(&kubeconfig, &format!("{A},{B}"), dir, &[]);
    // The Fleet: both clusters Synced; not read-only.
    let screen = ok(
        term.wait_for("both clusters Synced on the Fleet", DEADLINE, |s| {
            row_has(s, A, &["Synced"], &[]) && row_has(s, B, &["Synced"], &[])
        })
        .await,
        "the Fleet",
        dir,
    );
    assert!(!screen.contains("READ-ONLY"), "{screen}");

    // Violations from both clusters.
    show(&term, "violations", "Violations").await;
    ok(
        term.wait_for("both Pods on Violations", DEADLINE, |s| {
            s.contains("Pod/root-a") && s.contains("Pod/root-b")
        })
        .await,
        "violations",
        dir,
    );

    // A workload fixed through the API leaves the table; the other cluster's stays.
    Api::<Pod>::namespaced(client_a.clone(), NAMESPACE)
        .delete("root-a", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete the pod");
    ok(
        term.wait_for("Pod/root-a to leave Violations", DEADLINE, |s| {
            !s.contains("Pod/root-a") && s.contains("Pod/root-b")
        })
        .await,
        "a fixed workload",
        dir,
    );

    // One control plane down: Unreachable and stale; the other live.
    a.stop_apiserver().expect("stop e2e-a's apiserver");
    show(&term, "fleet", "Fleet").await;
    ok(
        term.wait_for("e2e-a Unreachable and stale, e2e-b Synced", DEADLINE, |s| {
            row_has(s, A, &["Unreachable", "stale"], &[]) && row_has(s, B, &["Synced"], &[])
        })
        .await,
        "an outage",
        dir,
    );
    guardian_testenv::pods::create_privileged(&client_b, NAMESPACE, "late-b").await;
    show(&term, "violations", "Violations").await;
    ok(
        term.wait_for_text("Pod/late-b", DEADLINE).await,
        "the live cluster during the outage",
        dir,
    );

    // Back: Synced again, no longer stale.
    a.start_apiserver()
        .await
        .expect("restart e2e-a's apiserver");
    show(&term, "fleet", "Fleet").await;
    ok(
        term.wait_for("e2e-a Synced again", DEADLINE, |s| {
            row_has(s, A, &["Synced"], &["stale", "Unreachable"])
        })
        .await,
        "the recovery",
        dir,
    );

    quit(&term, dir).await;
}

/// `q`: the console exits with status 0 and gives the terminal back: normal screen, cursor shown,
/// cooked mode (`stty` after it shows `icanon echo isig`).
async fn quit(term: &Tmux, dir: &Path) {
    term.send_keys(&["q"]).expect("keys");
    let report = ok(term.wait_for_exit_report(DEADLINE).await, "quitting", dir);
    let screen = &report.screen;
    assert_eq!(report.status, Some(0), "{screen}");
    assert!(!term.alternate_screen().expect("tmux"), "{screen}");
    assert!(term.cursor_visible().expect("tmux"), "{screen}");
    assert!(report.cooked, "cooked mode not restored:\n{screen}");
    term.send_keys(&["Enter"]).expect("keys");
    let exit = ok(term.wait_for_exit(DEADLINE).await, "the shell's exit", dir);
    assert_eq!(exit, Exit::Code(0), "{screen}");
}

/// The COMMAND column of the Help screen: every command the user is offered.
fn help_commands(screen: &str) -> Vec<String> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("WHAT IT DOES"));
    let column = lines.next().and_then(|header| header.find("COMMAND"));
    let Some(column) = column else {
        return Vec::new();
    };
    lines
        .filter_map(|line| line.get(column..)?.split_whitespace().next())
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

/// The commands that change a cluster, as the Help screen names them: those the keymap registry
/// marks as writes (the one place read-only mode checks), so a new write command is covered.
fn write_commands() -> Vec<String> {
    guardian_tui::keymap::defaults()
        .iter()
        .filter(|b| b.writes)
        .map(|b| guardian_tui::keymap::command_name(b.command))
        .collect()
}

/// The Help screen and the hint bar of a console started with `extra` flags, then quit.
async fn help_and_hints(
    kubeconfig: &Path,
    context: &str,
    dir: &Path,
    extra: &[&str],
) -> (String, String) {
    let term = start_console(kubeconfig, context, dir, extra);
    let fleet = ok(
        term.wait_for_text("Fleet", DEADLINE).await,
        "the console",
        dir,
    );
    let hints = fleet
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned();
    term.send_keys(&["?"]).expect("keys");
    let help = ok(term.wait_for_text(HELP_DRAWN, DEADLINE).await, "Help", dir);
    quit(&term, dir).await;
    (format!("{fleet}\n{help}"), hints)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_offers_no_write_action() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let a = start_plane(A).await;
    seed(&a, "root-a").await;
    let kubeconfig = a.kubeconfig_path();

    let (normal, normal_hints) = help_and_hints(kubeconfig, A, dir, &[]).await;
    let (readonly, readonly_hints) = help_and_hints(kubeconfig, A, dir, &["--readonly"]).await;
    assert!(readonly.contains("READ-ONLY"), "{readonly}");
    assert!(!normal.contains("READ-ONLY"), "{normal}");
    let (all, offered) = (help_commands(&normal), help_commands(&readonly));
    assert!(offered.contains(&"quit".to_owned()), "{readonly}");
    let writes = write_commands();
    // Normal mode offers every write (`enforcement` among them): the names match Help's.
    assert!(writes.contains(&"enforcement".to_owned()), "{writes:?}");
    for write in &writes {
        assert!(
            all.contains(write),
            "{write} not on normal mode's Help:\n{normal}"
        );
    }
    // Read-only only takes away: every command it offers is offered in normal mode too.
    for command in &offered {
        assert!(all.contains(command), "{command} only in read-only mode");
        assert!(
            !writes.contains(command),
            "{command} offered in read-only mode:\n{readonly}"
        );
    }
    // The hint bar holds whole hints that fit, so write hints in normal mode may push a
    // global one off it: every key read-only hints at must be on normal mode's bar or Help.
    let normal_keys = help_keys(&normal);
    for label in readonly_hints.split_whitespace() {
        let Some(key) = label.strip_prefix('<').and_then(|l| l.strip_suffix('>')) else {
            continue;
        };
        assert!(
            normal_hints.contains(label) || normal_keys.iter().any(|k| k == key),
            "hint {label} only in read-only mode"
        );
    }
}

/// The keys in the first column of the Help screen's rows (`q/ctrl-c` is `q` and `ctrl-c`).
fn help_keys(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|line| line.split('│').nth(1)?.split_whitespace().next())
        .flat_map(|keys| match keys {
            "/" => vec![keys.to_owned()],
            _ => keys.split('/').map(str::to_owned).collect(),
        })
        .collect()
}
