//! The event loop. The UI thread owns the state; one forwarder task per cluster turns its
//! snapshots into rows and sends them as deltas over a bounded channel; the loop selects on
//! input, deltas, a 1 Hz tick and a redraw deadline, applies a batch, and draws at most ~60
//! times a second, only when something changed. The first frame is drawn before any network
//! call, so every cluster shows `Connecting` at once whatever the clusters do.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind};
use guardian_cluster::logging::{self, LogFormat, LogSettings};
use guardian_cluster::{ClusterOptions, ClusterSet};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::TuiArgs;
use crate::action::Action;
use crate::app::building::Job;
use crate::app::screens::ContextInfo;
use crate::app::{Mode, Request, State, prepare, update};
use crate::clients::Clients;
use crate::config::{Config, Paths};
use crate::edit::run::Editing;
use crate::error::Error;
use crate::fetch::Fetcher;
use crate::keymap::{Keymap, defaults};
use crate::tables::Tables;
use crate::terminal::{Input, Tui};
use crate::theme::Theme;
use crate::views::frame;

/// At most one frame per this long (~60 per second).
const FRAME: Duration = Duration::from_millis(16);
/// Deltas in flight per console; a forwarder waits when the UI is behind (its watch channel
/// keeps only the newest snapshot meanwhile, so waiting never piles up old data).
const DELTAS: usize = 64;
/// Actions applied before a frame is considered.
const BATCH: usize = 64;
/// Set, a worker task panics after the first frame (`caught`: one the code catches, like the
/// engine's): the panic hook's tests.
const TEST_PANIC: &str = "KUBE_GUARDIAN_TUI_TEST_PANIC";

pub fn run(args: TuiArgs) -> Result<(), Error> {
    let paths = Paths::resolve(args.log_file.as_deref())?;
    if args.print_paths {
        println!("config: {}", paths.config.display());
        println!("log:    {}", paths.log.display());
        println!("edits:  {}", paths.edits.display());
        return Ok(());
    }
    // The terminal is the screen: log lines go to the file only.
    let _logs = logging::init(&LogSettings {
        format: LogFormat::Text,
        stdout: false,
        file: Some(paths.log.clone()),
        ..LogSettings::default()
    })
    .map_err(Error::Logging)?;
    let config = Config::load(&paths.config)?;
    let keymap = Keymap::new(defaults(), &config.keys)?;
    let targets = guardian_cluster::kubeconfig::select(&args.clusters).map_err(Error::Clusters)?;
    let contexts: Vec<String> = targets.iter().map(|t| t.context.clone()).collect();
    tracing::info!(?contexts, readonly = args.readonly, "console starting");
    let readonly_contexts: BTreeSet<String> = config.readonly_contexts().into_iter().collect();
    let protected: BTreeSet<String> = config.protected_contexts().into_iter().collect();
    let mut state = State::new(
        &contexts,
        Timestamp::now(),
        Arc::new(keymap),
        &readonly_contexts,
    );
    state.readonly = args.readonly || config.readonly;
    state.protected = protected.clone();
    state.max_exception_days = config
        .max_exception_days
        .unwrap_or(crate::config::MAX_EXCEPTION_DAYS);
    state.screens.contexts = targets
        .iter()
        .map(|t| ContextInfo {
            server: t.server.clone(),
            user: t.user.clone(),
        })
        .collect();
    state.paths = Some(paths);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async move {
        let mut tui = Tui::enter()?;
        let result = main_loop(&mut tui, state, targets, protected).await;
        drop(tui);
        result
    })
}

async fn main_loop(
    tui: &mut Tui,
    mut state: State,
    targets: Vec<guardian_cluster::Target>,
    protected: BTreeSet<String>,
) -> Result<(), Error> {
    let theme = Theme::from_env();
    let size = tui.terminal.size().map_err(|source| Error::Terminal {
        what: "reading its size",
        source,
    })?;
    update(
        &mut state,
        Action::Resize {
            width: size.width,
            height: size.height,
        },
    );
    draw(tui, &mut state, &theme)?;
    // For tests/tui_offline_e2e.rs: a worker task panics once the first frame is up.
    match std::env::var(TEST_PANIC).as_deref() {
        // Like the engine's panic in a cluster task: caught, the console runs on.
        Ok("caught") => drop(guardian_cluster::caught::spawn_blocking(|| {
            panic!("{TEST_PANIC}=caught: a caught panic")
        })),
        Ok(_) => drop(tokio::spawn(async {
            panic!("{TEST_PANIC} is set: a worker task panics")
        })),
        Err(_) => {}
    }

    let (deltas, mut incoming) = mpsc::channel(DELTAS);
    let clients = Clients::new(targets.clone());
    let fetcher = Fetcher::new(clients.clone(), deltas.clone());
    // Never a shared fallback like /tmp: edits hold what the user typed.
    let edits = state.paths.as_ref().ok_or(Error::NoHome)?.edits.clone();
    let editing = Editing::new(clients, edits, protected.clone(), deltas.clone());
    // The number of the table shown, for the builder to skip a job a newer table overtook.
    let shown = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&shown);
    let tables = Tables::<Box<Job>>::start(
        deltas.clone(),
        move |job| job.number <= seen.load(Ordering::Relaxed),
        |job, memo| Action::Table(Box::new(job.build_after(memo))),
    );
    state.violations.background = true;
    let set = ClusterSet::start(targets, ClusterOptions::default());
    for (cluster, receiver) in set.subscribe().into_iter().enumerate() {
        tokio::spawn(crate::forward::forward(cluster, receiver, deltas.clone()));
    }
    drop(deltas);

    let mut input = Input::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut dirty = false;
    let mut last_draw = Instant::now();
    while !state.quit {
        tokio::select! {
            event = input.next() => match event {
                Some(Ok(event)) => {
                    for action in actions(&state, event) {
                        dirty |= apply(&mut state, action)?;
                    }
                }
                Some(Err(source)) => return Err(Error::Terminal { what: "reading input", source }),
                None => break,
            },
            Some(first) = incoming.recv() => {
                dirty |= apply(&mut state, first)?;
                // Drain what else is waiting, then draw once for the whole batch.
                for _ in 1..BATCH {
                    match incoming.try_recv() {
                        Ok(action) => dirty |= apply(&mut state, action)?,
                        Err(_) => break,
                    }
                }
            }
            () = crate::terminal::panic_reported() => return Err(Error::Panicked),
            _ = tick.tick() => dirty |= update(&mut state, Action::Tick(Timestamp::now())),
            () = tokio::time::sleep_until(last_draw + FRAME), if dirty => {
                draw(tui, &mut state, &theme)?;
                dirty = false;
                last_draw = Instant::now();
            }
        }
        // Answers may ask for more (an edit's confirm dialog asks for its impact): until none.
        loop {
            let requests = std::mem::take(&mut state.requests);
            if requests.is_empty() {
                break;
            }
            for request in requests {
                let answers = match request {
                    Request::Object { cluster, resource } => {
                        fetcher.request(cluster, resource);
                        continue;
                    }
                    // The editor owns the terminal meanwhile; its outcome comes back as actions.
                    Request::OpenEditor(opened) => {
                        let (cluster, session) = *opened;
                        editing.edit(tui, &mut input, cluster, session)
                    }
                    Request::Edit { cluster, key } => {
                        // A handled `e`, for the log (the read-only e2e test looks for it).
                        tracing::info!(cluster, object = %key, "edit requested");
                        editing.start(cluster, key);
                        continue;
                    }
                    Request::Impact(job) => {
                        editing.impact(job);
                        continue;
                    }
                    Request::Apply(pending) => {
                        editing.apply(pending);
                        continue;
                    }
                    quick => {
                        editing.quick(quick);
                        continue;
                    }
                };
                for action in answers {
                    update(&mut state, action);
                }
                dirty = true;
            }
        }
        shown.store(state.violations.shown, Ordering::Relaxed);
        if let Some(job) = state.violations.job.take() {
            tables.build(job);
        }
        if !state.retired.is_empty() {
            let retired = std::mem::take(&mut state.retired);
            tokio::task::spawn_blocking(move || drop(retired));
        }
    }
    set.shutdown();
    Ok(())
}

/// [`update`], except that a table build that panicked ends the console with an error: the
/// panic hook restored the terminal already, so the frame cannot go on.
fn apply(state: &mut State, action: Action) -> Result<bool, Error> {
    if let Action::TableFailed(message) = action {
        return Err(Error::TableBuild { message });
    }
    Ok(update(state, action))
}

fn draw(tui: &mut Tui, state: &mut State, theme: &Theme) -> Result<(), Error> {
    // Not into the screen the panic hook restored and printed on.
    if crate::terminal::panicked() {
        return Err(Error::Panicked);
    }
    prepare(state);
    tui.terminal
        .draw(|f| frame::draw(f, state, theme))
        .map_err(|source| Error::Terminal {
            what: "drawing",
            source,
        })?;
    crate::edit::selection::drawn(state);
    Ok(())
}

/// What a terminal event does: keys through the keymap (or into the filter or palette line),
/// resizes; other events (mouse, focus, paste) nothing.
pub fn actions(state: &State, event: Event) -> Vec<Action> {
    match event {
        Event::Key(key) if key.kind == KeyEventKind::Press => {
            key_action(state, &key).into_iter().collect()
        }
        Event::Resize(width, height) => vec![Action::Resize { width, height }],
        Event::FocusGained => vec![Action::Focus(true)],
        Event::FocusLost => vec![Action::Focus(false)],
        _ => Vec::new(),
    }
}

fn key_action(state: &State, key: &KeyEvent) -> Option<Action> {
    if state.mode == Mode::Normal && state.modal.is_none() {
        return state
            .keymap
            .dispatch(state.screen, key, state.is_readonly());
    }
    match key.code {
        // Dialogs choose and scroll with the arrows.
        KeyCode::Up if state.modal.is_some() => Some(Action::Command(crate::action::Command::Up)),
        KeyCode::Down if state.modal.is_some() => {
            Some(Action::Command(crate::action::Command::Down))
        }
        KeyCode::Esc => Some(Action::Cancel),
        KeyCode::Enter => Some(Action::Submit),
        KeyCode::Backspace => Some(Action::Erase),
        KeyCode::Tab => Some(Action::Complete),
        // Ctrl-C (or what quit is bound to, if not a plain character) quits with a line or a
        // dialog open too (Esc cancels those).
        _ if state.keymap.quits_anywhere(key) => {
            Some(Action::Command(crate::action::Command::Quit))
        }
        // Ctrl or Alt with a letter types nothing.
        KeyCode::Char(c)
            if !key.modifiers.intersects(
                crossterm::event::KeyModifiers::CONTROL | crossterm::event::KeyModifiers::ALT,
            ) =>
        {
            Some(Action::Input(c))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
