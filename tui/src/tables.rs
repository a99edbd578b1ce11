//! The loop's table builder: builds the Violations tables the reducer asks for, one at a time
//! on a blocking thread. One job waits at most: a newer one replaces it unbuilt (latest wins;
//! the reducer also drops a built table older than the one shown). A job is taken when its
//! build starts, so no old rows stay held here.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};

use crate::action::Action;

/// The builder's handle: [`Tables::build`] hands it a job.
#[derive(Debug)]
pub(crate) struct Tables<J> {
    waiting: Arc<Mutex<Option<J>>>,
    wake: Arc<Notify>,
}

impl<J: Send + 'static> Tables<J> {
    /// Starts the builder: `build` turns a job into the action sent to the loop, with what it
    /// keeps from one build to the next (`M`, the last filtered table's rows: a word typed on
    /// filters only those). A job `stale` says a newer table was shown since (a small table a
    /// key built at once) is dropped unbuilt. A build that panics sends [`Action::TableFailed`].
    pub(crate) fn start<M, S, B>(tables: mpsc::Sender<Action>, stale: S, build: B) -> Tables<J>
    where
        M: Default + Send + 'static,
        S: Fn(&J) -> bool + Send + 'static,
        B: Fn(J, &mut M) -> Action + Send + Sync + 'static,
    {
        let waiting: Arc<Mutex<Option<J>>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let (next, woken) = (Arc::clone(&waiting), Arc::clone(&wake));
        let build = Arc::new(build);
        tokio::spawn(async move {
            let mut memo = M::default();
            loop {
                woken.notified().await;
                let job = next.lock().ok().and_then(|mut job| job.take());
                let Some(job) = job.filter(|job| !stale(job)) else {
                    continue;
                };
                let build = Arc::clone(&build);
                let building = move || {
                    let action = build(job, &mut memo);
                    (action, memo)
                };
                let action = match tokio::task::spawn_blocking(building).await {
                    Ok((action, kept)) => {
                        memo = kept;
                        action
                    }
                    Err(error) => {
                        memo = M::default();
                        Action::TableFailed(error.to_string())
                    }
                };
                if tables.send(action).await.is_err() {
                    return;
                }
            }
        });
        Tables { waiting, wake }
    }

    /// Builds `job` next, replacing one still waiting.
    pub(crate) fn build(&self, job: J) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = Some(job);
        }
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use super::*;

    /// What the test builder sends: the job's number as a toast.
    fn built(action: Option<Action>) -> String {
        match action {
            Some(Action::Toast(number)) => number,
            other => panic!("a built job, not {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_asked_for_during_a_build_coalesce_into_one_build_of_the_newest() {
        let (sender, mut built_tables) = mpsc::channel(16);
        // Job 1's build blocks until released; every build is recorded.
        let (started, builds) = std_mpsc::channel::<u64>();
        let (release, released) = std_mpsc::channel::<()>();
        let released = Mutex::new(released);
        let started = Mutex::new(started);
        let tables = Tables::start(
            sender,
            |_: &u64| false,
            move |job: u64, _: &mut ()| {
                let _ = started.lock().expect("a lock").send(job);
                if job == 1 {
                    let _ = released.lock().expect("a lock").recv();
                }
                Action::Toast(job.to_string())
            },
        );
        tables.build(1);
        let first = tokio::task::spawn_blocking(move || {
            let first = builds.recv_timeout(Duration::from_secs(60));
            (first, builds)
        });
        let (first, builds) = first.await.expect("the wait");
        assert_eq!(first, Ok(1), "job 1's build started");
        for job in 2..=6 {
            tables.build(job);
        }
        release.send(()).expect("job 1 waits");
        let within = Duration::from_secs(60);
        let sent = tokio::time::timeout(within, built_tables.recv()).await;
        assert_eq!(built(sent.expect("job 1 built")), "1");
        let sent = tokio::time::timeout(within, built_tables.recv()).await;
        assert_eq!(built(sent.expect("the newest built")), "6");
        // No other build ran or runs: one more job is built next, nothing in between.
        tables.build(7);
        let sent = tokio::time::timeout(within, built_tables.recv()).await;
        assert_eq!(built(sent.expect("job 7 built")), "7");
        let builds: Vec<u64> = builds.try_iter().collect();
        assert_eq!(builds, [6, 7]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_build_that_panics_is_reported_to_the_loop() {
        let (sender, mut built_tables) = mpsc::channel(16);
        let tables = Tables::start(
            sender,
            |_: &u64| false,
            |job: u64, _: &mut ()| {
                assert_ne!(job, 1, "job 1 fails");
                Action::Toast(job.to_string())
            },
        );
        tables.build(1);
        let sent = tokio::time::timeout(Duration::from_secs(60), built_tables.recv()).await;
        match sent.expect("an answer") {
            Some(Action::TableFailed(message)) => assert!(message.contains("panic"), "{message}"),
            other => panic!("the failure, not {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_older_than_the_table_shown_is_dropped_unbuilt() {
        let (sender, mut built_tables) = mpsc::channel(16);
        // Jobs up to 4 are stale (a newer table is shown); each check is reported.
        let (checked, checks) = std_mpsc::channel::<u64>();
        let checked = Mutex::new(checked);
        let stale = move |job: &u64| {
            let _ = checked.lock().expect("a lock").send(*job);
            *job <= 4
        };
        let tables = Tables::start(sender, stale, |job: u64, _: &mut ()| {
            Action::Toast(job.to_string())
        });
        tables.build(3);
        let check = tokio::task::spawn_blocking(move || {
            let check = checks.recv_timeout(Duration::from_secs(60));
            (check, checks)
        });
        let (check, checks) = check.await.expect("the wait");
        assert_eq!(check, Ok(3), "job 3 checked");
        tables.build(5);
        let sent = tokio::time::timeout(Duration::from_secs(60), built_tables.recv()).await;
        assert_eq!(built(sent.expect("an answer")), "5", "3 was not built");
        assert_eq!(checks.try_iter().collect::<Vec<_>>(), [5]);
    }
}
