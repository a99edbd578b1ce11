//! Headless bench of the Policies, Reconcile, Leases and Events screens (TestBackend 200x50,
//! synthetic clusters): draws with 20 clusters of 10,000 workloads, and a delta (drift and rows
//! rebuilt once before the frame) with 20 clusters of 200 policies each.
//! Run: `cargo bench -p guardian-tui --bench views` (release).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guardian_core::crd::Enforcement;
use guardian_tui::action::{Action, Command, Delta};
use guardian_tui::app::{Deriver, State, prepare, update};
use guardian_tui::keymap::Keymap;
use guardian_tui::testing::{epoch, policy, synced, synthetic};
use guardian_tui::theme::Theme;
use guardian_tui::views::{Screen, frame};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or_default()
    };
    println!(
        "{name:<52} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} samples)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

fn feed(state: &mut State, cluster: usize, snapshot: guardian_cluster::ClusterSnapshot) {
    let rows = Deriver::default().derive(Arc::new(snapshot), epoch());
    update(
        state,
        Action::Delta(Box::new(Delta {
            cluster,
            rows: Arc::new(rows),
        })),
    );
}

fn state(snapshots: Vec<guardian_cluster::ClusterSnapshot>) -> State {
    let contexts: Vec<String> = snapshots.iter().map(|s| s.context.clone()).collect();
    let mut state = State::new(
        &contexts,
        epoch(),
        Arc::new(Keymap::standard()),
        &BTreeSet::new(),
    );
    for (i, snapshot) in snapshots.into_iter().enumerate() {
        feed(&mut state, i, snapshot);
    }
    update(
        &mut state,
        Action::Resize {
            width: 200,
            height: 50,
        },
    );
    state
}

fn draws(name: &str, state: &mut State, screen: Screen, frames: usize) {
    let theme = Theme { color: true };
    let mut terminal = match Terminal::new(TestBackend::new(200, 50)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    update(state, Action::Command(Command::Show(screen)));
    let mut samples = Vec::with_capacity(frames);
    for _ in 0..frames {
        update(state, Action::Command(Command::Down));
        let start = Instant::now();
        prepare(state);
        let _ = terminal.draw(|f| frame::draw(f, state, &theme));
        samples.push(start.elapsed());
    }
    report(name, samples);
}

/// `count` policies, every other one enforced differently in odd clusters (drift).
fn policies(context: &str, index: usize, count: usize) -> guardian_cluster::ClusterSnapshot {
    let mut snapshot = synced(context);
    snapshot.policies = (0..count)
        .map(|p| {
            let enforcement = if p % 2 == 1 && index % 2 == 1 {
                Enforcement::Warn
            } else {
                Enforcement::Deny
            };
            policy(&format!("policy-{p:03}"), enforcement, Some(epoch()))
        })
        .collect();
    snapshot
}

fn main() {
    let mut fleet = state(
        (0..20)
            .map(|i| synthetic(&format!("cluster-{i:02}"), 10_000, 1))
            .collect(),
    );
    for screen in [
        Screen::Policies,
        Screen::Reconcile,
        Screen::Leases,
        Screen::Events,
    ] {
        let name = format!("20 clusters x 10,000 workloads: {} draw", screen.name());
        draws(&name, &mut fleet, screen, 200);
    }

    let snapshots: Vec<_> = (0..20)
        .map(|i| policies(&format!("cluster-{i:02}"), i, 200))
        .collect();
    let mut many = state(snapshots.clone());
    draws(
        "20 clusters x 200 policies: policies draw",
        &mut many,
        Screen::Policies,
        200,
    );
    // A delta while Policies shows: drift across the 20 clusters and the rows rebuilt once.
    let theme = Theme { color: true };
    let mut terminal = match Terminal::new(TestBackend::new(200, 50)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    let mut samples = Vec::new();
    for g in 0..50 {
        let mut snapshot = snapshots[3].clone();
        snapshot.generation = 10 + g;
        feed(&mut many, 3, snapshot);
        let start = Instant::now();
        prepare(&mut many);
        let _ = terminal.draw(|f| frame::draw(f, &many, &theme));
        samples.push(start.elapsed());
    }
    report(
        "20 clusters x 200 policies: delta + rebuild + draw",
        samples,
    );
}
