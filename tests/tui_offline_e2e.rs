//! The console in a real terminal (tmux) with no cluster to reach, so no control plane is
//! needed: the first frame shows at once and the console stays up, retrying, when every cluster
//! is unreachable; a panic gives the terminal back, prints its message there and ends the process;
//! `NO_COLOR` set to something turns every colour off (set empty, it does not: no-color.org).

use std::path::{Path, PathBuf};
use std::time::Duration;

use guardian_testenv::tmux::{Exit, Tmux};

const BIN: &str = env!("CARGO_BIN_EXE_kube-guardian");
/// Generous: a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// A kubeconfig whose contexts point nowhere: `closed` at a local port nothing listens on,
/// `blackhole` at 192.0.2.1 (TEST-NET-1, RFC 5737: never routed, connections time out).
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    // A port that was free a moment ago: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let cluster = |name: &str, server: &str| {
        format!(
            "- name: {name}\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n"
        )
    };
    let context =
        |name: &str| format!("- name: {name}\n  context:\n    cluster: {name}\n    user: nobody\n");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: closed\nclusters:\n{}{}contexts:\n{}{}\
         users:\n- name: nobody\n  user:\n    token: none\n",
        cluster("closed", &format!("https://127.0.0.1:{port}")),
        cluster("blackhole", "https://192.0.2.1:6443"),
        context("closed"),
        context("blackhole"),
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write the kubeconfig");
    path
}

/// The console in tmux through `sh`, which prints `NO_COLOR` as it had it, its status and the
/// terminal's modes after it exits, with its config and state in `dir` (never the user's).
fn start_console(dir: &Path, env: &[(&str, &str)]) -> Tmux {
    start_console_with(dir, env, &[])
}

/// [`start_console`], the console started through `prefix` (`env -u NAME`: the variable unset,
/// whatever the test's own environment holds).
fn start_console_with(dir: &Path, env: &[(&str, &str)], prefix: &[&str]) -> Tmux {
    let kubeconfig = unreachable_kubeconfig(dir);
    let mut builder = Tmux::reporting_exit(r#"echo "NO_COLOR=[${NO_COLOR-unset}]";"#)
        .args(prefix)
        .args([BIN, "tui", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--contexts", "closed,blackhole", "--log-file"])
        .arg(dir.join("console.log"))
        .env("XDG_CONFIG_HOME", &dir.join("config").display().to_string())
        .env("XDG_STATE_HOME", &dir.join("state").display().to_string());
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    builder.start().expect("tmux starts the console")
}

fn fleet_row<'a>(screen: &'a str, cluster: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let start = line.trim_start_matches(|c: char| !c.is_alphanumeric());
        start.split_whitespace().next() == Some(cluster)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_cluster_unreachable_the_fleet_shows_at_once_and_the_console_keeps_retrying() {
    let dir = tempfile::tempdir().expect("temp dir");
    let term = start_console(dir.path(), &[]);
    // The first frame comes before any network call: both clusters listed while connecting.
    term.wait_for("the Fleet with both clusters", DEADLINE, |s| {
        fleet_row(s, "closed").is_some() && fleet_row(s, "blackhole").is_some()
    })
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    // The closed port refuses at once; the black hole times out. Both end up Unreachable with
    // their next try on the chips, and the console stays up meanwhile.
    let screen = term
        .wait_for("both Unreachable, retrying", DEADLINE * 2, |s| {
            let header = s.lines().next().unwrap_or_default();
            ["closed", "blackhole"]
                .iter()
                .all(|c| fleet_row(s, c).is_some_and(|row| row.contains("Unreachable")))
                && header.contains("retry in")
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // The pane's `sh` lives on after the console (it waits for Enter): the console is still up
    // while `sh` has not printed its status.
    assert!(!screen.contains("console exited"), "{screen}");
    // 20 s later it is still there, still retrying (the chips say when the next try is).
    let later = std::time::Instant::now() + Duration::from_secs(20);
    let screen = term
        .wait_for("20 s more", DEADLINE, |_| {
            std::time::Instant::now() >= later
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // The pane's `sh` lives on after the console (it waits for Enter): the console is still up
    // while `sh` has not printed its status.
    assert!(!screen.contains("console exited"), "{screen}");
    assert!(term.alternate_screen().expect("tmux"), "{screen}");
    term.wait_for("the next try on a chip", DEADLINE, |s| {
        s.lines().next().is_some_and(|h| h.contains("retry in"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    quit(&term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_worker_task_restores_the_terminal_prints_and_exits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let term = start_console(
        dir.path(),
        // No backtrace: the message stays on the 48-line screen.
        &[
            ("KUBE_GUARDIAN_TUI_TEST_PANIC", "1"),
            ("RUST_BACKTRACE", "0"),
        ],
    );
    let report = term
        .wait_for_exit_report(DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let screen = &report.screen;
    // The panic's message on the normal screen, then the console's own error and status as the
    // loop returned (so the log's guard flushed on the way out).
    assert!(screen.contains("a worker task panics"), "{screen}");
    assert!(screen.contains("error: the console panicked"), "{screen}");
    assert_eq!(report.status, Some(2), "{screen}");
    assert!(!term.alternate_screen().expect("tmux"), "{screen}");
    assert!(report.cooked, "cooked mode not restored:\n{screen}");
    term.send_keys(&["Enter"]).expect("keys");
    let exit = term.wait_for_exit(DEADLINE).await.expect("the shell exits");
    assert_eq!(exit, Exit::Code(2), "{screen}");
    let log = std::fs::read_to_string(dir.path().join("console.log")).expect("the log");
    assert!(log.contains("the console panicked"), "{log}");
}

/// A panic the code catches and survives (the engine's in a cluster task, on the same
/// `guardian_cluster::caught::spawn_blocking`) goes to the log; the console runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caught_panic_leaves_the_console_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let term = start_console(dir.path(), &[("KUBE_GUARDIAN_TUI_TEST_PANIC", "caught")]);
    let log = dir.path().join("console.log");
    term.wait_for("the caught panic in the log", DEADLINE, |_| {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("a caught panic"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    // Still drawing: the Fleet's clock moves on and the keys work.
    term.send_keys(&["?"]).expect("keys");
    let screen = term
        .wait_for("the help over the console", DEADLINE, |s| {
            s.contains("reverse")
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!screen.contains("console exited"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
    assert!(term.alternate_screen().expect("tmux"), "{screen}");
    // Apart: Escape then q at once reads as Alt-q.
    term.send_keys(&["Escape"]).expect("keys");
    term.wait_for("the help closed", DEADLINE, |s| !s.contains("reverse"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    quit(&term).await;
}

/// The colour codes among the SGR escape sequences of `styled` (foreground and background, the
/// 16 named colours, 256 colours and RGB; the defaults 39 and 49 are not colours).
fn colour_codes(styled: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for sequence in styled.split("\u{1b}[").skip(1) {
        let Some(end) = sequence.find(|c: char| !(c.is_ascii_digit() || c == ';')) else {
            continue;
        };
        if !sequence[end..].starts_with('m') {
            continue;
        }
        let params = &sequence[..end];
        let colour = params.split(';').any(|p| {
            matches!(
                p.parse::<u16>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        if colour {
            codes.push(params.to_owned());
        }
    }
    codes
}

/// The console's first frame as tmux holds it, with its styles, and the screen after it quit.
async fn first_frame(term: &Tmux) -> (String, String) {
    term.wait_for("the Fleet with both clusters", DEADLINE, |s| {
        fleet_row(s, "closed").is_some() && fleet_row(s, "blackhole").is_some()
    })
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let styled = term.capture_styled().expect("tmux");
    let after = quit(term).await;
    (styled, after)
}

/// `q`: the console exits with status 0 (then the shell, after Enter, with the same status);
/// returns the screen the shell's exit report was on.
async fn quit(term: &Tmux) -> String {
    term.send_keys(&["q"]).expect("keys");
    let report = term
        .wait_for_exit_report(DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let screen = report.screen;
    assert_eq!(report.status, Some(0), "{screen}");
    term.send_keys(&["Enter"]).expect("keys");
    let exit = term.wait_for_exit(DEADLINE).await.expect("the shell exits");
    assert_eq!(exit, Exit::Code(0), "{screen}");
    screen
}

/// The SGR parameters in effect where `text` starts in `styled` (the last sequence before it).
fn style_before<'a>(styled: &'a str, text: &str) -> Option<&'a str> {
    let before = &styled[..styled.find(text)?];
    let sequence = &before[before.rfind("\u{1b}[")? + 2..];
    sequence.split_once('m').map(|(params, _)| params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_set_turns_every_colour_off_and_unset_or_empty_it_does_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Read-only (from the config file): the header's badge is black on yellow in colour,
    // reversed without.
    let config = dir.path().join("config/kube-guardian");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(config.join("tui.toml"), "readonly = true\n").expect("config");
    let badge = "READ-ONLY";
    // Unset (whatever this test's environment holds): the chips, keys and badge are coloured,
    // the badge not reversed.
    let unset = start_console_with(dir.path(), &[], &["env", "-u", "NO_COLOR"]);
    let (styled, _) = first_frame(&unset).await;
    assert!(!colour_codes(&styled).is_empty(), "colours: {styled:?}");
    let style = style_before(&styled, badge).unwrap_or_default();
    assert!(!style.split(';').any(|p| p == "7"), "{style:?}: {styled:?}");
    // Set to something: no colour at all, which crossterm does on its own when NO_COLOR is set
    // (it drops every colour it is asked to write); the console's own part is its theme: the
    // badge told apart without colour, reversed.
    let set = start_console(dir.path(), &[("NO_COLOR", "1")]);
    let (styled, after) = first_frame(&set).await;
    assert!(after.contains("NO_COLOR=[1]"), "{after}");
    assert_eq!(colour_codes(&styled), Vec::<String>::new(), "{styled:?}");
    let style = style_before(&styled, badge).unwrap_or_default();
    assert!(style.split(';').any(|p| p == "7"), "{style:?}: {styled:?}");
    // Set but empty (and it reached the console): colour stays, the badge not reversed
    // (https://no-color.org: "present and not an empty string").
    let empty = start_console(dir.path(), &[("NO_COLOR", "")]);
    let (styled, after) = first_frame(&empty).await;
    assert!(after.contains("NO_COLOR=[]"), "{after}");
    assert!(!colour_codes(&styled).is_empty(), "colours: {styled:?}");
    let style = style_before(&styled, badge).unwrap_or_default();
    assert!(!style.split(';').any(|p| p == "7"), "{style:?}: {styled:?}");
}
