//! `kube-guardian tui` as a user starts it, up to the point where it takes over the terminal:
//! `--print-paths`, and the errors it reports before drawing (bad config, unknown context). The
//! console in a real terminal is driven by the tmux end-to-end test.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tui(args: &[&str], home: &Path) -> Output {
    tui_with(args, home, |_| {})
}

/// [`tui`], its environment changed by `env`.
fn tui_with(args: &[&str], home: &Path, env: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kube-guardian"));
    env(&mut command);
    command
        .arg("tui")
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn print_paths_names_the_config_and_log_in_the_xdg_dirs_or_the_log_file_given() {
    let home = tempfile::tempdir().expect("temp dir");
    let out = tui(&["--print-paths"], home.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let config = home.path().join("config/kube-guardian/tui.toml");
    let log = home.path().join("state/kube-guardian/tui.log");
    assert!(
        stdout.contains(&format!("config: {}", config.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("log:    {}", log.display())),
        "{stdout}"
    );
    let edits = home.path().join("state/kube-guardian/edits");
    assert!(
        stdout.contains(&format!("edits:  {}", edits.display())),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "plain text, no terminal control: {stdout:?}"
    );

    let mine = home.path().join("elsewhere/console.log");
    let out = tui(
        &["--print-paths", "--log-file", &mine.display().to_string()],
        home.path(),
    );
    assert!(text(&out.stdout).contains(&format!("log:    {}", mine.display())));
}

/// `main` tunes the allocator for the console before it runs (`allocator::tune_for`): freed
/// pages go back at once (purge delay 0, not mimalloc's 1000 ms), unless the user set
/// `MIMALLOC_PURGE_DELAY`; `--print-paths` shows the effective setting.
#[test]
fn print_paths_shows_the_purge_delay_main_set_for_the_console_and_the_users_wins() {
    let home = tempfile::tempdir().expect("temp dir");
    let alloc = |env: Option<&str>| {
        let out = tui_with(&["--print-paths"], home.path(), |c| {
            c.env_remove("MIMALLOC_PURGE_DELAY");
            if let Some(delay) = env {
                c.env("MIMALLOC_PURGE_DELAY", delay);
            }
        });
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("alloc:  "));
        line.unwrap_or_else(|| panic!("no alloc line: {stdout}"))
            .to_owned()
    };
    if cfg!(feature = "system-allocator") {
        assert_eq!(alloc(None), "the system's (malloc)");
        return;
    }
    assert_eq!(alloc(None), "mimalloc, purge delay 0 ms");
    assert_eq!(alloc(Some("7")), "mimalloc, purge delay 7 ms");
}

#[test]
fn a_broken_config_is_reported_with_its_path_before_the_terminal_is_touched() {
    let home = tempfile::tempdir().expect("temp dir");
    let dir = home.path().join("config/kube-guardian");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config = dir.join("tui.toml");

    std::fs::write(&config, "[keys]\nquit = [\"ctrl-\"]\n").expect("config");
    let out = tui(&[], home.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown key \"ctrl-\""), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing drawn: {:?}",
        text(&out.stdout)
    );

    std::fs::write(&config, "readonly = yes\n").expect("config");
    let stderr = text(&tui(&[], home.path()).stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("line 1: string values must be quoted"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_context_is_named_in_the_error() {
    let home = tempfile::tempdir().expect("temp dir");
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: a, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: demo-a, context: {cluster: a, user: u}}]\n\
         current-context: demo-a\n",
    )
    .expect("kubeconfig");
    let out = tui(
        &[
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--contexts",
            "demo-a,demo-z",
        ],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("demo-z"), "{stderr}");
    assert_eq!(stderr.matches("demo-z").count(), 1, "said once: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing drawn: {:?}",
        text(&out.stdout)
    );
}
