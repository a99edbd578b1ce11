//! The console's own memory per finding, by part (rows, orders, first-seen, table), counted by
//! a counting global allocator: its own bench binary, so the render bench's timings pay no
//! counting. Run: `cargo bench -p guardian-tui --bench memory` (release).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use guardian_cluster::ClusterSnapshot;
use guardian_tui::action::{Action, Command, Delta};
use guardian_tui::app::order::Orders;
use guardian_tui::app::{ClusterRows, Deriver, State, ViolationRow, prepare, update};
use guardian_tui::keymap::Keymap;
use guardian_tui::testing::{epoch, synthetic};
use guardian_tui::views::Screen;

/// The system allocator, counting the bytes live: where the console's memory goes, exactly and
/// without the allocator's and the page cache's noise that `VmRSS` has.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// A global allocator is unsafe by contract; this one only forwards to `System` and counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, forwarded unchanged.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc` and `dealloc`: the caller's pointer, layout and size unchanged.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        // A failed realloc leaves the old block as it was: counted only on success.
        if !moved.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated and not freed.
fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes a part frees when dropped, per finding.
fn freed(findings: usize, part: impl FnOnce()) -> f64 {
    let before = live();
    part();
    before.saturating_sub(live()) as f64 / findings.max(1) as f64
}

/// Bytes `part`'s result holds, per cluster (beyond the `Vec` that holds one per cluster).
fn per_cluster<T>(clusters: usize, part: impl FnOnce() -> Vec<T>) -> f64 {
    let before = live();
    let held = part();
    let bytes = live()
        .saturating_sub(before)
        .saturating_sub(held.capacity() * std::mem::size_of::<T>());
    drop(black_box(held));
    bytes as f64 / clusters.max(1) as f64
}

/// The console's own bytes per finding for `clusters` × `workloads` × `per` findings (counted
/// by the bench's allocator, beyond the snapshots, which the cluster layer holds), and where
/// they go: each part measured by the bytes it frees when dropped.
fn memory(clusters: usize, workloads: usize, per: usize) {
    let contexts: Vec<String> = (0..clusters).map(|i| format!("cluster-{i:02}")).collect();
    let start = live();
    let snapshots: Vec<Arc<ClusterSnapshot>> = contexts
        .iter()
        .map(|c| Arc::new(synthetic(c, workloads, per)))
        .collect();
    let findings: usize = snapshots
        .iter()
        .flat_map(|s| &s.evaluations)
        .map(|e| e.findings.len())
        .sum();
    let snapshot = (live() - start) as f64 / findings as f64;

    // The parts, from rows derived as the console's forwarder tasks derive them.
    let mut derivers: Vec<Deriver> = (0..clusters).map(|_| Deriver::default()).collect();
    let derive = |derivers: &mut Vec<Deriver>| -> Vec<ClusterRows> {
        snapshots
            .iter()
            .zip(derivers.iter_mut())
            .map(|(s, d)| d.derive(Arc::clone(s), epoch()))
            .collect()
    };
    let mut rows = derive(&mut derivers);
    // Keeping a cluster's rows for a Lease renewal (the forwarder's `kept`), against copying
    // them as it did before they were shared.
    let kept = per_cluster(clusters, || {
        rows.iter()
            .map(|r| r.kept(Arc::clone(&r.snapshot)))
            .collect::<Vec<_>>()
    });
    let copied = per_cluster(clusters, || {
        rows.iter()
            .map(|r| {
                let orders: &Orders = &r.orders;
                (
                    Vec::clone(&r.violations),
                    orders.clone(),
                    Vec::clone(&r.policies),
                )
            })
            .collect::<Vec<_>>()
    });
    println!(
        "a Lease renewal keeps each cluster's rows ({} findings): {kept:.0} B allocated a \
         cluster (a copy of its rows, orders and policy rows: {copied:.0} B)",
        findings / clusters.max(1)
    );
    let take = |rows: &mut Vec<ClusterRows>, part: fn(&mut ClusterRows)| {
        freed(findings, || rows.iter_mut().for_each(part))
    };
    let orders = take(&mut rows, |r| drop(std::mem::take(&mut r.orders)));
    let violations = take(&mut rows, |r| drop(std::mem::take(&mut r.violations)));
    let policies = take(&mut rows, |r| drop(std::mem::take(&mut r.policies)));
    let other = freed(findings, || drop(rows));
    let first_seen = freed(findings, || drop(derivers));

    // The whole: rows fed to a state (the derivers kept, as the console keeps one a cluster),
    // the Violations table built.
    let start = live();
    let mut derivers: Vec<Deriver> = (0..clusters).map(|_| Deriver::default()).collect();
    let rows = derive(&mut derivers);
    let mut state = State::new(
        &contexts,
        epoch(),
        Arc::new(Keymap::standard()),
        &BTreeSet::new(),
    );
    for (cluster, rows) in rows.into_iter().enumerate() {
        let rows = Arc::new(rows);
        update(&mut state, Action::Delta(Box::new(Delta { cluster, rows })));
    }
    update(
        &mut state,
        Action::Command(Command::Show(Screen::Violations)),
    );
    prepare(&mut state);
    state.retired.clear();
    let total = (live() - start) as f64 / findings as f64;
    let table = freed(findings, || {
        drop(std::mem::take(&mut state.violations.table));
    });
    println!(
        "console state, {clusters} x {workloads} x {per} findings ({findings}): {total:.0} B a \
         finding beyond the snapshot's {snapshot:.0} B (rows {violations:.0} of {} B each, \
         orders {orders:.0}, first-seen {first_seen:.0}, table {table:.0}, policies \
         {policies:.1}, other {other:.1})",
        std::mem::size_of::<ViolationRow>()
    );
    black_box(&state);
}

fn main() {
    // 3 clusters of 10,000 workloads with 3 findings each, and with 11 each, as the built-in
    // policy sets find in the three-cluster run of `tui_memory`.
    memory(3, 10_000, 3);
    memory(3, 10_000, 11);
}
