//! Work whose panics the caller catches and survives (the engine on a blocking thread: the
//! previous evaluation stays). A process-wide panic hook — the console's, which gives the
//! terminal back and ends the console — asks [`is_caught`] to tell these panics from the rest.

use std::cell::Cell;

thread_local! {
    static CAUGHT: Cell<bool> = const { Cell::new(false) };
}

/// True on a thread running [`catching`] work: a panic here is caught and survived.
pub fn is_caught() -> bool {
    CAUGHT.with(Cell::get)
}

/// Runs `work` marked as caught; the mark goes when it returns or unwinds.
pub fn catching<R>(work: impl FnOnce() -> R) -> R {
    struct Unmark(bool);
    impl Drop for Unmark {
        fn drop(&mut self) {
            CAUGHT.with(|c| c.set(self.0));
        }
    }
    let _unmark = Unmark(CAUGHT.with(|c| c.replace(true)));
    work()
}

/// `tokio::task::spawn_blocking` for work whose panic the caller handles (the `JoinError`).
pub fn spawn_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> tokio::task::JoinHandle<R> {
    tokio::task::spawn_blocking(move || catching(work))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_caught_work_is_marked_while_it_runs_and_the_mark_goes_after() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let during = std::sync::Arc::clone(&seen);
        let joined = spawn_blocking(move || {
            during.store(is_caught(), std::sync::atomic::Ordering::SeqCst);
            panic!("the engine panics")
        })
        .await;
        assert!(joined.is_err_and(|e| e.is_panic()));
        assert!(seen.load(std::sync::atomic::Ordering::SeqCst));
        let after = std::panic::catch_unwind(|| catching(|| panic!("again")));
        assert!(after.is_err());
        assert!(!is_caught());
        assert!(!tokio::task::spawn_blocking(is_caught).await.expect("joins"));
    }
}
