//! A report deleted by someone else (by hand, or by a namespace cleanup tool) is written again at
//! once, not only when its namespace's content next changes.
//!
//! The leader watches the metadata of the reports it owns (named [`REPORT_NAME`] and labelled as
//! kube-guardian's, as the sweep lists them), from the start of each leadership term to its end:
//! only the leader writes, so a standby has nothing to do with a deletion and does not watch. It
//! answers a deletion by forgetting what it wrote there and handing the namespace's current body
//! to the writer. Only deletions count:
//! the writer's own writes (and the deletes of empty reports, which find no rows to write back)
//! start nothing, so they cannot loop.
//!
//! The watch selects by label, so a report relabelled as another tool's leaves it as a deletion
//! too: the leader looks the report up first and writes only when it is really gone.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::time::Instant;

use super::REPORT_NAME;
use super::api::{MANAGED_BY, MANAGED_BY_LABEL, report_resource};
use super::body::ReportBody;
use super::lookup_retries::LookupRetries;
use super::state::ReportState;
use super::writer::lost;
use crate::context::Context;

/// While this replica leads, watches the reports it owns and writes a deleted one again: the watch
/// starts with each leadership term and is dropped when the term ends. Runs until dropped.
pub async fn restore_deleted(ctx: Arc<Context>) {
    let mut leader = ctx.leader.clone();
    loop {
        if leader.wait_for(|l| *l).await.is_err() {
            return;
        }
        // `lost` ends once it saw the term over; the loop then waits for the next term, which
        // watches again from a new list (waiting for the term's end once more could miss a term
        // begun since).
        tokio::select! {
            () = watch_term(&ctx) => {}
            () = lost(leader.clone()) => {}
        }
    }
}

/// Watches the reports this operator owns and writes a deleted one again, for one term. Without
/// the PolicyReport CRD the watch keeps retrying with kube's backoff, quietly: the CRD may be
/// installed later, and its absence is said once elsewhere.
async fn watch_term(ctx: &Context) {
    // Metadata only: the bodies are not needed to see a deletion.
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::all_with(ctx.client.clone(), &report_resource());
    let config = watcher::Config::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"))
        .fields(&format!("metadata.name={REPORT_NAME}"));
    let events = watcher::watcher(api, config).default_backoff();
    let mut events = std::pin::pin!(events);
    let mut seen = Seen::default();
    let mut retries = LookupRetries::default();
    let mut health = WatchHealth::default();
    loop {
        // Each namespace keeps the deadline it was given: watch events do not put it off.
        let next_due = retries.next_due();
        let event = tokio::select! {
            event = events.next() => match event {
                Some(event) => event,
                None => return,
            },
            () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                for namespace in retries.due(Instant::now()) {
                    rewrite_if_gone(ctx, namespace, &mut retries).await;
                }
                continue;
            }
        };
        let event = match event {
            Ok(event) => {
                health.saw(&event);
                by_namespace(event)
            }
            Err(e) => {
                if health.refused(&e) {
                    tracing::warn!(error = %crate::error::chain(&e), "watching the PolicyReports kube-guardian owns was refused: a report deleted by hand is written again only with its namespace's next change; grant the operator watch on policyreports.wgpolicyk8s.io (the Helm chart's ClusterRole does)");
                } else {
                    tracing::debug!(error = %e, "watching the PolicyReports failed; retrying");
                }
                continue;
            }
        };
        for namespace in seen.deleted(event, || ctx.writer.written_namespaces()) {
            rewrite_if_gone(ctx, namespace, &mut retries).await;
        }
    }
}

/// The leader writes `namespace`'s report again if it is gone: a report that left the watch by
/// a relabelling (another tool's now) is left alone. A failed lookup is tried again later.
async fn rewrite_if_gone(ctx: &Context, namespace: String, retries: &mut LookupRetries) {
    // No rows there (the sweep deleted its empty report, say): nothing to write back, so no
    // lookup either.
    if !ctx.is_leader() || ctx.reports.lock().await.is_empty(&namespace) {
        retries.forget(&namespace);
        return;
    }
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &report_resource());
    let found = api.get_metadata_opt(REPORT_NAME).await;
    if found.is_ok() {
        retries.forget(&namespace);
    }
    match found {
        // Gone; or created again as kube-guardian's since (by someone else, or another
        // replica), its content unknown: written as this leader has it.
        Ok(None) => rewrite(ctx, &namespace).await,
        Ok(Some(report)) if claimed_by_us(&report.metadata) => rewrite(ctx, &namespace).await,
        Ok(Some(_)) => {
            tracing::debug!(namespace = %namespace, "a PolicyReport left kube-guardian's watch but exists under another owner's label: left alone");
        }
        Err(e) => {
            if retries.failed(&namespace, Instant::now()) {
                tracing::warn!(namespace = %namespace, error = %crate::error::chain(&e), "looking up a PolicyReport that left kube-guardian's watch failed; looking it up again, less often each time (said again only after a lookup there works)");
            } else {
                tracing::debug!(namespace = %namespace, error = %e, "looking up a PolicyReport that left kube-guardian's watch failed again");
            }
        }
    }
}

/// Whether the report carries kube-guardian's `managed-by` label.
fn claimed_by_us(report: &kube::core::ObjectMeta) -> bool {
    report
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY)
}

/// Whether a refused watch is to be said: once, until the watch works again.
#[derive(Debug, Default)]
struct WatchHealth {
    refusal_said: bool,
}

impl WatchHealth {
    /// Follows a watch event. Only a finished list or a watched change shows the watch working:
    /// the watcher starts every retry of a refused list with `Init`.
    fn saw<K>(&mut self, event: &Event<K>) {
        if matches!(event, Event::InitDone | Event::Apply(_) | Event::Delete(_)) {
            self.refusal_said = false;
        }
    }

    /// Whether `error` is a refusal (401, 403) not said since the watch last worked.
    fn refused(&mut self, error: &watcher::Error) -> bool {
        let status = match error {
            watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            | watcher::Error::WatchFailed(kube::Error::Api(s))
            | watcher::Error::WatchError(s) => s,
            _ => return false,
        };
        if !matches!(status.code, 401 | 403) || self.refusal_said {
            return false;
        }
        self.refusal_said = true;
        true
    }
}

/// The event with each report as its namespace.
fn by_namespace(event: Event<PartialObjectMeta<DynamicObject>>) -> Event<String> {
    let ns = |meta: PartialObjectMeta<DynamicObject>| meta.metadata.namespace.unwrap_or_default();
    match event {
        Event::Apply(meta) => Event::Apply(ns(meta)),
        Event::Delete(meta) => Event::Delete(ns(meta)),
        Event::Init => Event::Init,
        Event::InitApply(meta) => Event::InitApply(ns(meta)),
        Event::InitDone => Event::InitDone,
    }
}

/// The leader writes `namespace`'s report again, as the report state holds it now.
async fn rewrite(ctx: &Context, namespace: &str) {
    if !ctx.is_leader() {
        return;
    }
    let report = {
        let mut state = ctx.reports.lock().await;
        let Some(report) = restored(&mut state, namespace) else {
            return;
        };
        // Under the report lock: a pass deciding what is unwritten sees the deletion.
        ctx.writer.forget(namespace);
        report
    };
    if let Some(report) = report {
        tracing::info!(namespace = %namespace, "a PolicyReport kube-guardian owns was deleted; writing it again");
        ctx.writer.submit(report);
    }
}

/// What the deletion of `namespace`'s report calls for. `None` when no policy has results there:
/// the report was, or was to be, deleted (the sweep's own delete, say), so what was written there
/// stays as it is (forgetting it would have the next pass delete it again). Else what was written
/// there is forgotten, and the body written back, unless a pass holds reports back (the pass
/// writes it, as nothing counts as written there any more).
fn restored(state: &mut ReportState, namespace: &str) -> Option<Option<ReportBody>> {
    if state.is_empty(namespace) {
        return None;
    }
    Some((!state.in_pass()).then(|| state.report(namespace)))
}

/// The namespaces holding an owned report, as the watch has shown them.
#[derive(Debug, Default)]
struct Seen {
    present: BTreeSet<String>,
    /// A relist in progress: the namespaces listed so far.
    listing: BTreeSet<String>,
}

impl Seen {
    /// Follows one watch event; returns the namespaces whose report it shows deleted. A list
    /// (the first, or a relist after a watch gap) counts as deleted every report it no longer
    /// holds and every one `written` (the namespaces this replica wrote, read as the list ends)
    /// that it does not hold: a report written and deleted before the list was served has no
    /// event of its own (a new leader's pass writes while its first list is on its way). A
    /// write landing after the list was served is taken for a deletion too: one unchanged
    /// write more, which nothing deletes, so it cannot loop.
    fn deleted(
        &mut self,
        event: Event<String>,
        written: impl FnOnce() -> Vec<String>,
    ) -> Vec<String> {
        match event {
            Event::Apply(ns) => {
                self.present.insert(ns);
                Vec::new()
            }
            Event::Delete(ns) => {
                self.present.remove(&ns);
                vec![ns]
            }
            Event::Init => {
                self.listing.clear();
                Vec::new()
            }
            Event::InitApply(ns) => {
                self.listing.insert(ns);
                Vec::new()
            }
            Event::InitDone => {
                let listed = std::mem::take(&mut self.listing);
                let mut gone: BTreeSet<String> =
                    self.present.difference(&listed).cloned().collect();
                // Cost, per list (the first or a relist): one GET, in turn, per report written
                // between the list's snapshot and its end (and per one deleted, as for an event).
                gone.extend(written().into_iter().filter(|ns| !listed.contains(ns)));
                self.present = listed;
                gone.into_iter().collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::tests::{results, row};

    #[test]
    fn deletions_are_seen_by_their_event_and_across_a_relist() {
        let mut seen = Seen::default();
        let ns = |s: &str| s.to_owned();
        let none = Vec::new;
        assert!(seen.deleted(Event::Init, none).is_empty());
        assert!(seen.deleted(Event::InitApply(ns("a")), none).is_empty());
        assert!(seen.deleted(Event::InitApply(ns("b")), none).is_empty());
        assert!(
            seen.deleted(Event::InitDone, none).is_empty(),
            "the first list"
        );
        // Its own writes change nothing.
        assert!(seen.deleted(Event::Apply(ns("a")), none).is_empty());
        assert!(seen.deleted(Event::Apply(ns("c")), none).is_empty());
        assert_eq!(seen.deleted(Event::Delete(ns("a")), none), ["a"]);
        // A watch gap hid the deletion of "b", and "d" was written and deleted within it. "e"
        // was written after the list was served: written once more, unchanged.
        seen.deleted(Event::Init, || vec![ns("c"), ns("d")]);
        seen.deleted(Event::InitApply(ns("c")), none);
        let written = || vec![ns("c"), ns("d"), ns("e")];
        assert_eq!(seen.deleted(Event::InitDone, written), ["b", "d", "e"]);
        assert_eq!(seen.present, BTreeSet::from([ns("c")]));
    }

    #[test]
    fn a_report_written_and_deleted_while_the_first_list_is_on_its_way_is_seen_deleted() {
        // A new leader: its watch starts listing with nothing written yet; its pass writes "a",
        // which is deleted by hand before the list is served: no event shows it.
        let mut seen = Seen::default();
        let nothing_yet = Vec::new;
        assert!(seen.deleted(Event::Init, nothing_yet).is_empty());
        assert!(
            seen.deleted(Event::InitApply("b".to_owned()), nothing_yet)
                .is_empty()
        );
        let written = || vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(seen.deleted(Event::InitDone, written), ["a"]);
    }

    #[test]
    fn only_a_report_labelled_as_kube_guardian_s_is_written_over() {
        let labelled = |value: &str| kube::core::ObjectMeta {
            labels: Some([(MANAGED_BY_LABEL.to_owned(), value.to_owned())].into()),
            ..Default::default()
        };
        assert!(claimed_by_us(&labelled(MANAGED_BY)));
        assert!(!claimed_by_us(&labelled("other-tool")));
        assert!(!claimed_by_us(&kube::core::ObjectMeta::default()));
    }

    #[test]
    fn a_refused_watch_is_said_once_until_it_works_again() {
        let api = |code: u16| {
            let status = kube::core::Status::failure("refused", "Forbidden").with_code(code);
            watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)))
        };
        let mut health = WatchHealth::default();
        assert!(!health.refused(&api(500)), "not a refusal");
        assert!(health.refused(&api(403)));
        assert!(!health.refused(&watcher::Error::WatchError(Box::new(
            kube::core::Status::failure("refused", "Forbidden").with_code(403)
        ))));
        // A refused list: the watcher starts each retry from Init, which is no sign of working.
        health.saw(&Event::<String>::Init);
        assert!(!health.refused(&api(403)), "said once");
        health.saw(&Event::<String>::Init);
        assert!(!health.refused(&api(403)), "said once");
        health.saw(&Event::InitDone::<String>);
        assert!(health.refused(&api(401)), "refused again after working");
    }

    #[test]
    fn a_deleted_report_is_written_back_with_its_rows_outside_a_pass_only() {
        let mut state = ReportState::default();
        state.set_policy("p", results("a", vec![row("p", "x", "r")]));
        // The pass writes every report itself; what was written is forgotten all the same.
        assert!(matches!(restored(&mut state, "a"), Some(None)));
        state.pass.finish();
        let report = restored(&mut state, "a").flatten().expect("a's report");
        assert_eq!(report.body, state.body("a"));
        assert!(!report.empty);
        // No results there (the sweep deleted its empty report): nothing to write back, and
        // nothing to forget.
        assert!(restored(&mut state, "b").is_none());
    }
}

#[cfg(test)]
#[path = "restore_tests.rs"]
mod term_tests;
