use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use super::*;

fn policy(name: &str, generation: i64) -> Arc<GuardianPolicy> {
    Arc::new(
        serde_json::from_value(json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": { "name": name, "uid": format!("uid-{name}"), "generation": generation },
            "spec": { "profiles": ["pss-baseline"] }
        }))
        .expect("policy"),
    )
}

fn names(snapshot: &PolicySnapshot) -> Vec<String> {
    snapshot.set.policies().map(|p| p.name.to_owned()).collect()
}

#[test]
fn the_caches_are_read_only_after_a_change_and_compiled_only_when_their_content_changed() {
    let (tracker, store) = (BuildTracker::default(), PolicyStore::new());
    let reads = AtomicUsize::new(0);
    let read = |cached: Cached| {
        let reads = &reads;
        move || {
            reads.fetch_add(1, Ordering::SeqCst);
            cached
        }
    };
    tracker.note_change();
    let first = tracker.fresh(&store, read((vec![policy("base", 1)], vec![])));
    assert!(first.rebuilt);
    assert_eq!(names(&first.snapshot), ["base"]);
    // No change since: every workload change asks, none reads or fingerprints the caches.
    for _ in 0..3 {
        let again = tracker.fresh(&store, read((vec![], vec![])));
        assert!(!again.rebuilt);
        assert_eq!(again.inputs, first.inputs);
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // A change that leaves the set as it was (a status write): read, not compiled.
    tracker.note_change();
    let same = tracker.fresh(&store, read((vec![policy("base", 1)], vec![])));
    assert!(!same.rebuilt);
    assert_eq!(same.snapshot.version, first.snapshot.version);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    tracker.note_change();
    let edited = tracker.fresh(&store, read((vec![policy("base", 2)], vec![])));
    assert!(edited.rebuilt);
    assert_ne!(edited.inputs, first.inputs);
}

#[test]
fn a_caller_that_read_the_caches_before_a_newer_build_never_installs_the_older_set() {
    let tracker = Arc::new(BuildTracker::default());
    let store = Arc::new(PolicyStore::new());
    let (reading_tx, reading_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    // A: reads the caches while they hold the older set, and stays in the read.
    tracker.note_change();
    let older = std::thread::spawn({
        let (tracker, store) = (tracker.clone(), store.clone());
        move || {
            tracker.fresh(&store, move || {
                reading_tx.send(()).expect("test waits");
                release_rx.recv().expect("test releases");
                (vec![policy("old", 1)], vec![])
            })
        }
    });
    reading_rx.recv().expect("A reads");
    // The caches move on; B asks for the set.
    tracker.note_change();
    let (done_tx, done_rx) = mpsc::channel();
    let newer = std::thread::spawn({
        let (tracker, store) = (tracker.clone(), store.clone());
        move || {
            let fresh = tracker.fresh(&store, || (vec![policy("new", 1)], vec![]));
            let _ = done_tx.send(());
            fresh
        }
    });
    // Not a synchronisation: B waits for A's read to end, so this only gives a B that did not
    // wait (the bug) the time to install its set before A does.
    let _ = done_rx.recv_timeout(Duration::from_millis(500));
    release_tx.send(()).expect("A waits");
    older.join().expect("A");
    newer.join().expect("B");
    assert_eq!(names(&store.snapshot()), ["new"]);
    let current = tracker.fresh(&store, || {
        panic!("no change since: the caches are not read")
    });
    assert_eq!(names(&current.snapshot), ["new"]);
}
