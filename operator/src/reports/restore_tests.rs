//! The restore watch runs only while this replica leads, and sees a report deleted before its
//! list was served: against fake API servers that record each request and hold each watch open.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::restore_deleted;
use crate::context::Context;
use crate::fake_api::{self, Reply, answer};
use crate::reports::Settled;
use crate::reports::tests::{results, row};

/// What a fake API server saw.
#[derive(Debug, Default)]
struct Seen {
    /// The request line of each request.
    requests: Vec<String>,
    /// Watches whose connection the client closed.
    watches_closed: usize,
}

impl Seen {
    fn watches(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.contains("watch="))
            .count()
    }

    /// The lists of every namespace's reports.
    fn lists(&self) -> usize {
        self.count(|r| r.starts_with("GET") && !r.contains("watch=") && !r.contains("/namespaces/"))
    }

    /// The lookups of one report.
    fn lookups(&self) -> usize {
        self.count(|r| r.starts_with("GET") && r.contains("/namespaces/"))
    }

    /// The report writes (server-side applies).
    fn writes(&self) -> usize {
        self.count(|r| r.starts_with("PATCH"))
    }

    fn count(&self, what: impl Fn(&str) -> bool) -> usize {
        self.requests.iter().filter(|r| what(r)).count()
    }
}

/// The request line of `request`, noted in `seen`.
fn note(seen: &Mutex<Seen>, request: &str) -> String {
    let line = request.lines().next().unwrap_or_default().to_owned();
    seen.lock().expect("seen").requests.push(line.clone());
    line
}

/// A context whose API server lists no reports and holds every watch open without an event; it
/// leads while the returned sender says so.
async fn context(leading: bool) -> (Arc<Context>, Arc<Mutex<Seen>>, watch::Sender<bool>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorded = seen.clone();
    let (ctx, leader) = fake_api::context(leading, move |request| {
        let line = note(&recorded, &request);
        let seen = recorded.clone();
        async move {
            if line.contains("watch=") {
                Reply::Watch(Some(Box::new(move || {
                    seen.lock().expect("seen").watches_closed += 1;
                })))
            } else {
                answer("200 OK", EMPTY_LIST)
            }
        }
    })
    .await;
    (ctx, seen, leader)
}

const EMPTY_LIST: &str = r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"1"},"items":[]}"#;

/// A leading context whose API server holds each list of the reports until `lists` gives a
/// permit, then finds none; finds no report when one is looked up; takes every write; and holds
/// every watch open without an event.
async fn held_list_context(
    lists: Arc<Semaphore>,
) -> (Arc<Context>, Arc<Mutex<Seen>>, watch::Sender<bool>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorded = seen.clone();
    let (ctx, leader) = fake_api::context(true, move |request| {
        let line = note(&recorded, &request);
        let lists = lists.clone();
        async move {
            if line.contains("watch=") {
                Reply::Watch(None)
            } else if line.starts_with("PATCH") {
                answer(
                    "200 OK",
                    r#"{"apiVersion":"wgpolicyk8s.io/v1alpha2","kind":"PolicyReport","metadata":{"name":"kube-guardian","namespace":"a"}}"#,
                )
            } else if line.contains("/namespaces/") {
                answer(
                    "404 Not Found",
                    r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"policyreports.wgpolicyk8s.io \"kube-guardian\" not found","reason":"NotFound","details":{"name":"kube-guardian","group":"wgpolicyk8s.io","kind":"policyreports"},"code":404}"#,
                )
            } else {
                if let Ok(permit) = lists.acquire().await {
                    permit.forget();
                }
                answer("200 OK", EMPTY_LIST)
            }
        }
    })
    .await;
    (ctx, seen, leader)
}

/// Polls `done` until it holds, for up to 60 s.
async fn until(what: &str, seen: &Mutex<Seen>, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&seen.lock().expect("seen")) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_watches_its_reports_from_each_term_to_its_end() {
    let (standby, standby_seen, standby_leads) = context(false).await;
    let (leader, leader_seen, _leads) = context(true).await;
    let tasks = [
        tokio::spawn(restore_deleted(standby)),
        tokio::spawn(restore_deleted(leader)),
    ];
    until("the leader's watch", &leader_seen, |s| s.watches() >= 1).await;
    assert!(
        standby_seen.lock().expect("seen").requests.is_empty(),
        "a standby neither lists nor watches: {:?}",
        standby_seen.lock().expect("seen").requests
    );

    // A term: the replica lists and watches, and stops watching when it ends.
    standby_leads.send_replace(true);
    until("the new leader's watch", &standby_seen, |s| {
        s.watches() == 1
    })
    .await;
    standby_leads.send_replace(false);
    until("the watch to end with the term", &standby_seen, |s| {
        s.watches_closed == 1
    })
    .await;
    // The next term watches again, from a new list.
    let lists = standby_seen.lock().expect("seen").lists();
    standby_leads.send_replace(true);
    until("the next term's watch", &standby_seen, |s| s.watches() == 2).await;
    assert!(standby_seen.lock().expect("seen").lists() > lists);
    tasks.iter().for_each(tokio::task::JoinHandle::abort);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_written_and_deleted_while_the_term_s_first_list_is_on_its_way_is_written_again() {
    let lists = Arc::new(Semaphore::new(0));
    let (ctx, seen, _leads) = held_list_context(lists.clone()).await;
    {
        let mut state = ctx.reports.lock().await;
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        state.pass.finish();
    }
    let task = tokio::spawn(restore_deleted(ctx.clone()));
    // The term's watch has begun its list, which the server holds...
    until("the term's list", &seen, |s| s.lists() == 1).await;
    // ...while the new leader's pass writes a's report, which is deleted by hand before the
    // list is served: the list does not hold it, and no event shows its deletion.
    let report = ctx.reports.lock().await.report("a");
    ctx.writer.submit(report);
    let settled = ctx.writer.settled(&["a".to_owned()]).await;
    assert!(matches!(settled, Settled::Idle), "{settled:?}");
    lists.add_permits(1);
    until("a's report looked up and written again", &seen, |s| {
        s.lookups() == 1 && s.writes() == 2
    })
    .await;
    task.abort();
    ctx.writer.stop();
}
