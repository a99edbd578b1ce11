//! Headless bench of the console (TestBackend 200x50, synthetic clusters): the first frame,
//! Violations draws at 10,000 and 100,000 rows, a filter keystroke and a sort at 10,000 rows,
//! and 20 clusters of 10,000 workloads (a filter keystroke and a reversed sort over 200,000 rows,
//! a delta with the table rebuilt on the UI thread, as before, and off it, as the console does
//! now; a filter keystroke there with its table built off the UI thread, as the console does
//! from `keyed::LARGE` rows on). Run: `cargo bench -p guardian-tui --bench render` (release); the console's memory by
//! part is the `memory` bench (its counting allocator would slow every timing here).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guardian_tui::action::{Action, Command, Delta};
use guardian_tui::app::{Deriver, State, prepare, update};
use guardian_tui::keymap::Keymap;
use guardian_tui::testing::{epoch, synthetic};
use guardian_tui::theme::Theme;
use guardian_tui::views::Screen;
use guardian_tui::views::frame;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;

fn terminal() -> Terminal<TestBackend> {
    match Terminal::new(TestBackend::new(WIDTH, HEIGHT)) {
        Ok(t) => t,
        Err(e) => match e {},
    }
}

fn draw(terminal: &mut Terminal<TestBackend>, state: &mut State, theme: &Theme) {
    prepare(state);
    let _ = terminal.draw(|f| frame::draw(f, state, theme));
}

/// p50 and p99 of the samples.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().unwrap_or_default()
    };
    (at(0.50), at(0.99))
}

fn report(name: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let (p50, p99) = percentiles(samples);
    println!(
        "{name:<52} p50 {:>8.3} ms   p99 {:>8.3} ms   ({n} samples)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

/// A state following `clusters` synthetic clusters of `workloads` × `per` findings each.
fn state(clusters: usize, workloads: usize, per: usize) -> State {
    let contexts: Vec<String> = (0..clusters).map(|i| format!("cluster-{i:02}")).collect();
    let mut state = State::new(
        &contexts,
        epoch(),
        Arc::new(Keymap::standard()),
        &BTreeSet::new(),
    );
    for (i, context) in contexts.iter().enumerate() {
        let rows = Deriver::default().derive(Arc::new(synthetic(context, workloads, per)), epoch());
        update(
            &mut state,
            Action::Delta(Box::new(Delta {
                cluster: i,
                rows: Arc::new(rows),
            })),
        );
    }
    update(
        &mut state,
        Action::Resize {
            width: WIDTH,
            height: HEIGHT,
        },
    );
    // The console's loop drops replaced rows off the UI thread; here they just go.
    state.retired.clear();
    state
}

fn first_frame(theme: &Theme) {
    let mut samples = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let contexts: Vec<String> = (0..5).map(|i| format!("cluster-{i}")).collect();
        let mut state = State::new(
            &contexts,
            epoch(),
            Arc::new(Keymap::standard()),
            &BTreeSet::new(),
        );
        update(
            &mut state,
            Action::Resize {
                width: WIDTH,
                height: HEIGHT,
            },
        );
        let mut terminal = terminal();
        draw(&mut terminal, &mut state, theme);
        samples.push(start.elapsed());
        black_box(&terminal);
    }
    report("first frame (5 clusters Connecting)", samples);
}

/// Draws `frames` frames of the Violations screen, the cursor moving a line each frame.
fn violations_draws(name: &str, state: &mut State, theme: &Theme, frames: usize) {
    update(state, Action::Command(Command::Show(Screen::Violations)));
    let mut terminal = terminal();
    let mut samples = Vec::with_capacity(frames);
    for i in 0..frames {
        let command = if i % 100 == 50 {
            Command::PageDown
        } else {
            Command::Down
        };
        update(state, Action::Command(command));
        let start = Instant::now();
        draw(&mut terminal, state, theme);
        samples.push(start.elapsed());
    }
    report(name, samples);
}

/// Typing `team-07 app` into the Violations filter and erasing it, `rounds` times, each
/// keystroke timed (the table rebuilt on the UI thread, as a key rebuilds it).
fn filter_keystrokes(name: &str, state: &mut State, rounds: usize) {
    let mut samples = Vec::new();
    update(state, Action::Command(Command::Filter));
    for _ in 0..rounds {
        for c in "team-07 app".chars() {
            let start = Instant::now();
            update(state, Action::Input(c));
            samples.push(start.elapsed());
        }
        for _ in 0.."team-07 app".len() {
            let start = Instant::now();
            update(state, Action::Erase);
            samples.push(start.elapsed());
        }
    }
    update(state, Action::Cancel);
    report(name, samples);
}

/// As the console types into the filter of a large table: the keystroke and the frame after
/// it on the UI thread (the table shown stays, its rebuild asked for), the table built (off
/// the UI thread in the console, here untimed on this thread), then swapped in and drawn.
fn keystrokes_off_the_ui_thread(
    state: &mut State,
    terminal: &mut Terminal<TestBackend>,
    theme: &Theme,
    rounds: usize,
) {
    state.violations.background = true;
    let (mut ui, mut built, mut swap) = (Vec::new(), Vec::new(), Vec::new());
    // As the loop's builder keeps it: a word typed on filters the last table's rows.
    let mut memo = guardian_tui::app::narrow::Memo::default();
    update(state, Action::Command(Command::Filter));
    let keys = "team-07 app".chars().map(Action::Input);
    let erases = std::iter::repeat_n(Action::Erase, "team-07 app".len());
    for _ in 0..rounds {
        for key in keys.clone().chain(erases.clone()) {
            let start = Instant::now();
            update(state, key);
            draw(terminal, state, theme);
            ui.push(start.elapsed());
            let Some(job) = state.violations.job.take() else {
                panic!("a key on a large table asks for its table");
            };
            let start = Instant::now();
            let table = job.build_after(&mut memo);
            built.push(start.elapsed());
            let start = Instant::now();
            update(state, Action::Table(Box::new(table)));
            draw(terminal, state, theme);
            swap.push(start.elapsed());
            drop(std::mem::take(&mut state.retired));
        }
    }
    update(state, Action::Cancel);
    if let Some(job) = state.violations.job.take() {
        update(state, Action::Table(Box::new(job.build())));
    }
    state.violations.background = false;
    report("20 x 10,000: filter keystroke + draw, UI thread", ui);
    let name = format!(
        "20 x 10,000: its table built off the UI thread ({} of {} narrowed)",
        memo.narrowed,
        built.len()
    );
    report(&name, built);
    report(
        "20 x 10,000: built table swapped in + draw, UI thread",
        swap,
    );
}

/// A column's sort pressed again (reversed: the runs of equal keys come in reverse order),
/// each reversal timed, `rounds` times over five columns.
fn reversed_sorts(name: &str, state: &mut State, rounds: usize) {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        for command in [
            Command::SortName,
            Command::SortPolicy,
            Command::SortAge,
            Command::SortCluster,
            Command::SortSeverity,
        ] {
            update(state, Action::Command(command));
            let start = Instant::now();
            update(state, Action::Command(command));
            samples.push(start.elapsed());
        }
    }
    update(state, Action::Command(Command::SortSeverity));
    report(name, samples);
}

/// `VmRSS` of this process in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let theme = Theme { color: true };
    first_frame(&theme);

    // Memory of the console's own state: 3 clusters of 10,000 workloads with 3 findings each
    // (snapshots, rows and the table; the cluster layer's watch caches are not part of it).
    let before = rss_mib();
    let mut three = state(3, 10_000, 3);
    update(
        &mut three,
        Action::Command(Command::Show(Screen::Violations)),
    );
    prepare(&mut three);
    println!(
        "{:<52} {:>8.1} MiB ({} rows; process {:.1} MiB)",
        "state RSS, 3 clusters x 10,000 workloads",
        rss_mib() - before,
        three.violations.table.shown,
        rss_mib()
    );
    drop(three);

    // 5,000 workloads with 2 findings: 10,000 rows.
    let mut ten = state(1, 5_000, 2);
    violations_draws("violations draw, 10,000 rows", &mut ten, &theme, 500);
    let mut hundred = state(1, 50_000, 2);
    violations_draws("violations draw, 100,000 rows", &mut hundred, &theme, 500);

    filter_keystrokes("filter keystroke, 10,000 rows", &mut ten, 20);
    // Where a key's rebuild goes off the UI thread (`keyed::LARGE`): built here, as below it.
    let mut twenty = state(1, 10_000, 2);
    update(
        &mut twenty,
        Action::Command(Command::Show(Screen::Violations)),
    );
    filter_keystrokes(
        "filter keystroke, 20,000 rows, on the UI thread",
        &mut twenty,
        10,
    );
    drop(twenty);
    filter_keystrokes(
        "filter keystroke, 100,000 rows, on the UI thread",
        &mut hundred,
        2,
    );
    drop(hundred);

    let mut samples = Vec::new();
    for _ in 0..20 {
        for command in [
            Command::SortName,
            Command::SortPolicy,
            Command::SortAge,
            Command::SortCluster,
            Command::SortSeverity,
        ] {
            let start = Instant::now();
            update(&mut ten, Action::Command(command));
            samples.push(start.elapsed());
        }
    }
    report("sort, 10,000 rows", samples);
    reversed_sorts("reversed sort, 10,000 rows", &mut ten, 20);

    // 20 clusters × 10,000 workloads with one finding each: 200,000 rows.
    let start = Instant::now();
    let mut fleet = state(20, 10_000, 1);
    println!(
        "{:<52} {:>8.0} ms (rows formatted off the UI thread in the console)",
        "20 clusters x 10,000 workloads: derive + feed",
        start.elapsed().as_secs_f64() * 1e3
    );
    let mut terminal = terminal();
    let mut samples = Vec::new();
    for _ in 0..200 {
        update(&mut fleet, Action::Command(Command::Down));
        let start = Instant::now();
        draw(&mut terminal, &mut fleet, &theme);
        samples.push(start.elapsed());
    }
    report("20 clusters x 10,000 workloads: fleet draw", samples);
    violations_draws(
        "20 clusters x 10,000 workloads: violations draw",
        &mut fleet,
        &theme,
        300,
    );
    filter_keystrokes("20 x 10,000: filter keystroke, 200,000 rows", &mut fleet, 2);
    keystrokes_off_the_ui_thread(&mut fleet, &mut terminal, &theme, 2);
    reversed_sorts("20 x 10,000: reversed sort, 200,000 rows", &mut fleet, 2);
    // One cluster's new snapshot while the Violations screen shows. As the console did before:
    // the delta applied and the table rebuilt before the next frame, all on the UI thread.
    let delta = |i: u64| {
        let mut rows =
            Deriver::default().derive(Arc::new(synthetic("cluster-03", 10_000, 1)), epoch());
        let mut snapshot = (*rows.snapshot).clone();
        snapshot.generation = 100 + i;
        rows.snapshot = Arc::new(snapshot);
        Action::Delta(Box::new(Delta {
            cluster: 3,
            rows: Arc::new(rows),
        }))
    };
    let mut samples = Vec::new();
    for i in 0..20 {
        let delta = delta(i);
        let start = Instant::now();
        update(&mut fleet, delta);
        draw(&mut terminal, &mut fleet, &theme);
        samples.push(start.elapsed());
        drop(std::mem::take(&mut fleet.retired));
    }
    report(
        "20 x 10,000: delta + draw, rebuilt on the UI thread",
        samples,
    );
    // As the console does: the delta's frame draws the table shown and asks for a new one, built
    // off the UI thread (here, untimed on this thread), then swapped in for the next frame.
    fleet.violations.background = true;
    let (mut ui, mut swap, mut built) = (Vec::new(), Vec::new(), Vec::new());
    for i in 20..40 {
        let delta = delta(i);
        let start = Instant::now();
        update(&mut fleet, delta);
        draw(&mut terminal, &mut fleet, &theme);
        ui.push(start.elapsed());
        let Some(job) = fleet.violations.job.take() else {
            panic!("the delta asks for a table");
        };
        let start = Instant::now();
        let table = job.build();
        built.push(start.elapsed());
        let start = Instant::now();
        update(&mut fleet, Action::Table(Box::new(table)));
        draw(&mut terminal, &mut fleet, &theme);
        swap.push(start.elapsed());
        drop(std::mem::take(&mut fleet.retired));
    }
    report("20 x 10,000: delta + draw, UI thread", ui);
    report("20 x 10,000: table built off the UI thread", built);
    report(
        "20 x 10,000: built table swapped in + draw, UI thread",
        swap,
    );
}
