//! The one keymap registry: which keys run which command on which screen, with help text. The
//! dispatcher, the hint bar and the Help screen all read it, so they cannot drift; the config
//! file rebinds commands by name; read-only mode drops write commands here and nowhere else.

mod keys;

use std::collections::BTreeMap;

use crossterm::event::{KeyEvent, KeyEventKind};

pub use self::keys::{Key, parse_key};
use crate::action::{Action, Command};
use crate::error::Error;
use crate::views::Screen;

/// One command with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub command: Command,
    pub keys: Vec<Key>,
    /// The screens it works on; empty: every screen.
    pub screens: Vec<Screen>,
    /// The Help screen's line.
    pub help: &'static str,
    /// The hint bar's label; `None`: only on the Help screen.
    pub hint: Option<&'static str>,
    /// Changes something in a cluster: absent in read-only mode.
    pub writes: bool,
}

impl Binding {
    fn new(command: Command, keys: &[&str], help: &'static str) -> Binding {
        Binding {
            command,
            keys: keys.iter().filter_map(|k| parse_key(k).ok()).collect(),
            screens: Vec::new(),
            help,
            hint: None,
            writes: false,
        }
    }

    fn hint(mut self, label: &'static str) -> Binding {
        self.hint = Some(label);
        self
    }

    /// Marks it a write: absent in read-only mode.
    fn writes(mut self) -> Binding {
        self.writes = true;
        self
    }

    fn on(mut self, screens: &[Screen]) -> Binding {
        self.screens = screens.to_vec();
        self
    }

    /// Whether it works on `screen`.
    pub fn applies(&self, screen: Screen) -> bool {
        self.screens.is_empty() || self.screens.contains(&screen)
    }

    /// The keys as the Help screen shows them: `j/down`, `1-9`.
    pub fn keys_label(&self) -> String {
        if self.command == Command::PickCluster {
            return hint_keys(self);
        }
        let keys: Vec<String> = self.keys.iter().map(Key::to_string).collect();
        keys.join("/")
    }
}

/// The name of a command in the config file (`quit`, `page_down`, `screen_violations`).
pub fn command_name(command: Command) -> String {
    match command {
        Command::Show(screen) => format!("screen_{}", screen.name()),
        other => {
            // serde gives every plain command its snake_case name.
            let json = toml::Value::try_from(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            json.unwrap_or_default()
        }
    }
}

/// The built-in bindings, in the order the hint bar and the Help screen list them.
pub fn defaults() -> Vec<Binding> {
    use Command::*;
    let tables = [Screen::Violations];
    let mut all =
        vec![
        Binding::new(Help, &["?"], "this help").hint("help"),
        Binding::new(Quit, &["q", "ctrl-c"], "quit").hint("quit"),
        Binding::new(
            Select,
            &["enter"],
            "drill down: scope to the cluster, show the detail, a drift's diff or a timeline",
        )
        .hint("open"),
        Binding::new(
            Palette,
            &[":"],
            "command palette: go to a screen by name (tab completes)",
        )
        .hint("views"),
        Binding::new(
            Filter,
            &["/"],
            "filter rows: text, !text excludes, @cluster scopes",
        )
        .hint("filter"),
        Binding::new(AllClusters, &["0"], "scope: all clusters").hint("all"),
        Binding::new(
            PickCluster,
            &["1", "2", "3", "4", "5", "6", "7", "8", "9"],
            "scope: the cluster at this position",
        )
        .hint("cluster"),
        Binding::new(
            GroupBy,
            &["b"],
            "group by none, cluster, policy, namespace or rule",
        )
        .on(&[Screen::Violations])
        .hint("group"),
        Binding::new(SortNext, &["o"], "sort by the next column")
            .on(&tables)
            .hint("sort"),
        Binding::new(SortReverse, &["O"], "reverse the sort").on(&tables),
        Binding::new(SortSeverity, &["S"], "sort by severity (again: reverse)").on(&tables),
        Binding::new(SortCluster, &["C"], "sort by cluster (again: reverse)").on(&tables),
        Binding::new(SortName, &["N"], "sort by name (again: reverse)").on(&tables),
        Binding::new(SortPolicy, &["P"], "sort by policy (again: reverse)").on(&tables),
        Binding::new(SortAge, &["A"], "sort by age (again: reverse)").on(&tables),
        Binding::new(
            Back,
            &["esc"],
            "close the detail, clear the filter, then go back",
        )
        .hint("back"),
        Binding::new(Up, &["k", "up"], "move up"),
        Binding::new(Down, &["j", "down"], "move down"),
        Binding::new(Top, &["g", "home"], "first row"),
        Binding::new(Bottom, &["G", "end"], "last row"),
        Binding::new(PageUp, &["pgup", "ctrl-b"], "page up"),
        Binding::new(PageDown, &["pgdown", "ctrl-f"], "page down"),
        Binding::new(
            Describe,
            &["d"],
            "describe the selected policy or exception",
        )
        .on(&[Screen::Policies])
        .hint("describe"),
        Binding::new(Yaml, &["y"], "the selected policy's or exception's YAML")
            .on(&[Screen::Policies])
            .hint("yaml"),
        Binding::new(
            Edit,
            &["e"],
            "edit the selected policy or exception in $EDITOR (diff, confirm, dry run, then write)",
        )
        .on(&[Screen::Policies])
        .writes()
        .hint("edit"),
        Binding::new(
            Enforcement,
            &["m"],
            "switch the selected policy's enforcement (Audit/Warn/Deny), with what it would stop",
        )
        .on(&[Screen::Policies])
        .writes()
        .hint("enforce"),
        Binding::new(
            ExtendException,
            &["+"],
            "extend the selected exception's expiry",
        )
        .on(&[Screen::Policies])
        .writes(),
        Binding::new(RevokeException, &["ctrl-d"], "revoke (delete) the selected exception")
            .on(&[Screen::Policies])
            .writes(),
        Binding::new(
            CreateException,
            &["x"],
            "create an exception for the selected violation (owner, justification, expiry)",
        )
        .on(&[Screen::Violations])
        .writes()
        .hint("exception"),
        Binding::new(
            FailuresOnly,
            &["ctrl-z"],
            "failed reconciles only, or all again",
        )
        .on(&[Screen::Reconcile])
        .hint("failures"),
    ];
    for screen in Screen::ALL {
        if let Some(key) = screen.key() {
            all.push(Binding::new(Show(screen), &[key], screen.help()));
        }
    }
    all
}

/// The active keymap: the defaults with the config's overrides. Read-only mode is applied
/// here and nowhere else: [`Keymap::active`] leaves write commands out of dispatch, hints and
/// help alike.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

impl Keymap {
    /// `overrides`: command name → keys, from the config file's `[keys]`.
    pub fn new(
        mut bindings: Vec<Binding>,
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<Keymap, Error> {
        for (name, keys) in overrides {
            let binding = bindings
                .iter_mut()
                .find(|b| command_name(b.command) == *name)
                .ok_or_else(|| Error::Config {
                    what: format!(
                        "unknown command {name:?} in [keys]; the Help screen (?) lists them"
                    ),
                })?;
            binding.keys = keys
                .iter()
                .map(|k| parse_key(k))
                .collect::<Result<_, _>>()?;
        }
        Ok(Keymap { bindings })
    }

    /// The built-in bindings.
    pub fn standard() -> Keymap {
        Keymap {
            bindings: defaults(),
        }
    }

    /// The bindings in force: every one, less write commands when `readonly`.
    pub fn active(&self, readonly: bool) -> impl Iterator<Item = &Binding> {
        self.bindings
            .iter()
            .filter(move |b| !(readonly && b.writes))
    }

    /// What a key press does on `screen`; repeats and releases do nothing.
    pub fn dispatch(&self, screen: Screen, event: &KeyEvent, readonly: bool) -> Option<Action> {
        if event.kind != KeyEventKind::Press {
            return None;
        }
        let key = Key::from_event(event);
        // A screen's own binding wins over a global one with the same key.
        let found = self
            .active(readonly)
            .filter(|b| b.applies(screen) && b.keys.contains(&key))
            .min_by_key(|b| b.screens.is_empty())?;
        Some(match found.command {
            Command::PickCluster => Action::PickCluster(key.digit()?),
            command => Action::Command(command),
        })
    }

    /// Whether `event` quits with a line or a dialog open too: a key bound to quit that types
    /// nothing there (`q` is text in the filter line; Ctrl-C is not, unless rebound away).
    pub fn quits_anywhere(&self, event: &KeyEvent) -> bool {
        let key = Key::from_event(event);
        let types = matches!(key.code, crossterm::event::KeyCode::Char(_)) && !key.ctrl && !key.alt;
        !types
            && self
                .bindings
                .iter()
                .any(|b| b.command == Command::Quit && b.keys.contains(&key))
    }

    /// The hint bar of `screen`: `(keys, label)` for every hinted binding, the screen's own
    /// first (a narrow terminal cuts the bar's end, and the global keys are in the help).
    pub fn hints(&self, screen: Screen, readonly: bool) -> Vec<(String, &'static str)> {
        let mut bindings: Vec<&Binding> = self
            .active(readonly)
            .filter(|b| b.applies(screen) && !b.keys.is_empty() && b.hint.is_some())
            .collect();
        bindings.sort_by_key(|b| b.screens.is_empty());
        bindings
            .into_iter()
            .filter_map(|b| Some((hint_keys(b), b.hint?)))
            .collect()
    }
}

/// `1-9` for the digit row, else the first key.
fn hint_keys(binding: &Binding) -> String {
    if binding.command == Command::PickCluster && binding.keys.len() > 1 {
        let first = binding.keys.first().map(Key::to_string).unwrap_or_default();
        let last = binding.keys.last().map(Key::to_string).unwrap_or_default();
        return format!("{first}-{last}");
    }
    binding.keys.first().map(Key::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests;
