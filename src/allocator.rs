//! Allocator settings that differ between the binary's faces.

use crate::cli::Command;

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 headers; libmimalloc-sys
/// does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes mimalloc for the face about to run, before it allocates much.
pub(crate) fn tune_for(command: &Command) {
    if let Command::Tui(_) = command {
        purge_freed_pages_at_once();
    }
}

/// The console builds its tables in bursts (a first sync of every cluster, a rebuild after new
/// data) and frees most of each burst at once; mimalloc keeps freed pages resident for a purge
/// delay (1 s, times 10 for arena pages) and a new burst starts before they go, so the freed
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
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads a plain option value; no other test touches this option.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
        }
    }

    fn tune(args: &[&str]) {
        let cli = Cli::try_parse_from(args).expect("the arguments parse");
        tune_for(&cli.command);
    }

    /// One test, in order: the option is process-wide, so parallel tests would race on it.
    #[test]
    fn the_console_purges_at_once_the_operator_keeps_the_default_and_the_environment_wins() {
        let default = purge_delay();
        assert_ne!(default, 0, "mimalloc's default purge delay is not 0");
        tune(&["kube-guardian", "operator"]);
        assert_eq!(
            purge_delay(),
            default,
            "the operator keeps mimalloc's default"
        );
        tune(&["kube-guardian", "check", "."]);
        assert_eq!(purge_delay(), default, "check keeps mimalloc's default");
        tune(&["kube-guardian", "tui"]);
        assert_eq!(purge_delay(), 0, "the console purges freed pages at once");
        // What mimalloc does with `MIMALLOC_PURGE_DELAY=7` in the environment at load.
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 7)
        };
        tune(&["kube-guardian", "tui"]);
        assert_eq!(purge_delay(), 7, "a delay the user set is kept");
    }
}
