//! Allocator settings that differ between the binary's faces.

use crate::cli::Command;

/// mimalloc's `mi_option_purge_delay`: libmimalloc-sys does not name it; it comes just before
/// `mi_option_use_numa_nodes` in mimalloc's v2 and v3 option enums (the test checks its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Tunes mimalloc for the face about to run, before it allocates much.
pub(crate) fn tune_for(command: &Command) {
    if let Command::Tui(_) = command {
        purge_freed_pages_at_once();
    }
}

/// What `kube-guardian tui --print-paths` says of the allocator: its effective settings, so a
/// user (and the tests) can see what [`tune_for`] and the environment made of them.
pub(crate) fn describe() -> String {
    if cfg!(feature = "system-allocator") {
        "the system's (malloc)".to_owned()
    } else {
        format!("mimalloc, purge delay {} ms", purge_delay())
    }
}

/// mimalloc's purge delay now, in milliseconds.
fn purge_delay() -> std::ffi::c_long {
    // SAFETY: reads a plain option value (mimalloc reads the environment into it on first use).
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
    }
}

/// The console builds its tables in bursts (a first sync of every cluster, a rebuild after new
/// data) and frees most of each burst at once; mimalloc (v3, as built here) keeps freed pages
/// resident for a purge delay (1000 ms) and a new burst starts before they go, so the freed
/// pages of several bursts stay resident: 30–40 MiB over 3 clusters of 10,000 objects on a
/// quiet machine (302–315 MiB, 273 with the delay off), which put the console over its 300 MiB
/// goal. Purging at once costs a few more page faults on the
/// next burst, which the console's UI thread never waits on. The operator keeps the default (its
/// memory figures were measured with it). A `MIMALLOC_PURGE_DELAY` the user set wins: mimalloc
/// reads the environment at load, and a default never overrides what it read.
fn purge_freed_pages_at_once() {
    // SAFETY: mimalloc's options are plain values; this runs on the main thread before the
    // console starts any other thread, so nothing reads the option while it changes.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command as Process;

    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    /// mimalloc v3's default purge delay (options.c), which only option 15 has: the index is right.
    const DEFAULT: &str = "1000";
    /// The probe's arguments, one a line (set by the test below for its child process).
    const ARGS: &str = "GUARDIAN_ALLOCATOR_PROBE_ARGS";

    /// In the child process the test below starts (the option is process-wide, read by every
    /// allocating thread, so each case runs alone in a process of its own): tunes for the
    /// arguments given and prints the purge delay.
    fn probe(args: &str) {
        let cli = Cli::try_parse_from(args.lines()).expect("the arguments parse");
        tune_for(&cli.command);
        println!("purge_delay={}", purge_delay());
    }

    /// The purge delay a child process of this test binary ends with, for `args` and the
    /// user's `MIMALLOC_PURGE_DELAY` (`None`: unset).
    fn delay_after(args: &[&str], env: Option<&str>) -> String {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Process::new(exe);
        child
            .args(["--exact", NAME])
            .args(["--nocapture", "--test-threads=1"])
            .env(ARGS, args.join("\n"))
            .env_remove("MIMALLOC_PURGE_DELAY");
        if let Some(env) = env {
            child.env("MIMALLOC_PURGE_DELAY", env);
        }
        let out = child.output().expect("the probe runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        // The harness prints the test's name before it on the same line.
        let delay = stdout.lines().find_map(|l| l.split_once("purge_delay="));
        let delay = delay.map(|(_, delay)| delay.trim());
        delay.expect("the probe printed the delay").to_owned()
    }

    const NAME: &str = "allocator::tests::the_console_purges_at_once_the_operator_keeps_the_default_and_the_environment_wins";

    #[test]
    fn the_console_purges_at_once_the_operator_keeps_the_default_and_the_environment_wins() {
        if let Ok(args) = std::env::var(ARGS) {
            return probe(&args);
        }
        let operator = ["kube-guardian", "operator"];
        let check = ["kube-guardian", "check", "."];
        let tui = ["kube-guardian", "tui"];
        assert_eq!(delay_after(&operator, None), DEFAULT, "the operator's");
        assert_eq!(delay_after(&check, None), DEFAULT, "check's");
        assert_eq!(delay_after(&tui, None), "0", "the console's");
        assert_eq!(delay_after(&tui, Some("7")), "7", "the user's wins");
        assert_eq!(delay_after(&operator, Some("7")), "7");
    }
}
