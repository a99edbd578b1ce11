//! Everything the screens draw from. Owned by the UI thread; changed only by
//! [`super::update`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;
use guardian_core::model::ResourceRef;
use k8s_openapi::jiff::Timestamp;

use super::filter::Filter;
use super::rows::ClusterRows;
use super::violations::{GroupBy, Sort, Table};
use crate::config::Paths;
use crate::keymap::Keymap;
use crate::views::Screen;

/// Score points kept per cluster for the Fleet sparkline.
pub const HISTORY: usize = 120;
/// Entries kept in the Errors screen's ring.
pub const ERRORS: usize = 500;
/// Seconds between age updates while the terminal is not focused.
pub const UNFOCUSED_TICK: i64 = 5;
/// How long a toast stays.
pub const TOAST_SECONDS: i64 = 5;

/// One followed cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The kubeconfig context.
    pub context: String,
    pub rows: Arc<ClusterRows>,
    /// Its compliance score after each change since the console started, oldest first.
    pub history: VecDeque<u8>,
    /// Read-only by the config (`[contexts.NAME] readonly = true`).
    pub readonly: bool,
}

impl Cluster {
    pub fn snapshot(&self) -> &ClusterSnapshot {
        &self.rows.snapshot
    }
}

/// Which clusters the screens show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    /// One cluster, by position.
    One(usize),
}

impl Scope {
    pub fn includes(self, cluster: usize) -> bool {
        match self {
            Scope::All => true,
            Scope::One(one) => one == cluster,
        }
    }
}

/// Where typed keys go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Typing the `/` filter (applied as typed).
    Filter { input: String },
    /// Typing a `:` screen name.
    Palette { input: String },
}

/// A table's selected line and first shown line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

/// A short message about an action the user started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub until: Timestamp,
}

/// A background error, for the Errors screen (never a toast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    pub at: Timestamp,
    pub cluster: String,
    /// What the console was doing: `connect`, `watch`.
    pub operation: &'static str,
    pub message: String,
}

/// A work item for the loop, queued by the reducer (which does no I/O itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Read this object for the detail pane.
    Object {
        cluster: usize,
        resource: Arc<ResourceRef>,
    },
    /// Read this object fresh for an edit (then [`Request::OpenEditor`]).
    Edit {
        cluster: usize,
        key: guardian_cluster::write::ObjectKey,
    },
    /// Open the editor on an edit's temp file (the loop owns the terminal).
    OpenEditor(Box<(usize, crate::edit::Session)>),
    /// Compute a policy edit's impact for its confirm dialog (then [`crate::action::Action::Impact`]).
    Impact(Box<crate::edit::preview::ImpactJob>),
    /// Write a confirmed edit.
    Apply(Arc<crate::edit::ui::Pending>),
    /// Switch a policy's enforcement.
    SetEnforcement {
        cluster: usize,
        policy: String,
        to: guardian_core::crd::Enforcement,
    },
    /// Create an exception for a violation.
    CreateException {
        cluster: usize,
        exception: guardian_cluster::write::quick::NewException,
    },
    /// Move an exception's expiry.
    ExtendException {
        cluster: usize,
        key: guardian_cluster::write::ObjectKey,
        expires_at: Timestamp,
    },
    /// Delete an exception.
    RevokeException {
        cluster: usize,
        key: guardian_cluster::write::ObjectKey,
    },
}

/// An object read from its cluster, as YAML, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectText {
    pub cluster: usize,
    pub resource: Arc<ResourceRef>,
    pub text: Result<String, String>,
}

impl ObjectText {
    pub fn is_of(&self, cluster: usize, resource: &ResourceRef) -> bool {
        self.cluster == cluster && *self.resource == *resource
    }
}

/// The Violations screen's own state.
#[derive(Debug, Clone, Default)]
pub struct ViolationsState {
    pub sort: Sort,
    pub group: GroupBy,
    /// Whether the detail pane is open.
    pub detail: bool,
    pub table: Table,
    /// New data arrived since the table was built (see [`super::update::prepare`]).
    pub outdated: bool,
    /// The object the detail pane asked for, and its text once read.
    pub requested: Option<(usize, Arc<ResourceRef>)>,
    pub object: Option<ObjectText>,
    /// Tables asked for so far, and the number of the one shown (see [`super::building`]).
    pub asked: u64,
    pub shown: u64,
    /// Whether new data's tables are built by the loop off the UI thread (the console), or
    /// here before the next frame (tests that do not play the loop's part).
    pub background: bool,
    /// A table for the loop to build; a newer one replaces it until the loop takes it.
    pub job: Option<Box<super::building::Job>>,
    /// The newest table a key asked the loop for (see [`super::keyed`]).
    pub pending: Option<super::keyed::Pending>,
    /// Tables numbered from this one on go in with the selection on their first line (a
    /// filter changed); 0 for none.
    pub top: u64,
    /// The finding the open detail showed, gone from the data (followed until it returns or
    /// the user moves).
    pub gone: Option<super::follow::Followed>,
}

/// The console's whole state.
#[derive(Debug, Clone)]
pub struct State {
    /// The clock every age on screen is measured against (injected in tests).
    pub now: Timestamp,
    pub clusters: Vec<Cluster>,
    pub screen: Screen,
    /// Screens to go back to.
    pub nav: Vec<Screen>,
    pub scope: Scope,
    pub mode: Mode,
    pub filters: BTreeMap<Screen, Filter>,
    pub cursors: BTreeMap<Screen, Cursor>,
    pub violations: ViolationsState,
    /// Policies, Reconcile, Leases, Events, Errors and Contexts.
    pub screens: super::screens::Screens,
    pub toasts: VecDeque<Toast>,
    pub errors: VecDeque<ErrorEntry>,
    /// Read-only for every cluster (`--readonly`, or the config's global `readonly`).
    pub readonly: bool,
    pub keymap: Arc<Keymap>,
    pub paths: Option<Paths>,
    /// Table lines one page holds (from the terminal's height).
    pub page: usize,
    pub quit: bool,
    /// Work for the loop (reads), drained after each action.
    pub requests: Vec<Request>,
    /// Rows deltas replaced, for the loop to drop off the UI thread: a cluster's old rows and
    /// the snapshot they hold are hundreds of thousands of allocations to free.
    pub retired: Vec<Arc<ClusterRows>>,
    /// Whether the terminal has focus (terminals that do not report focus stay focused).
    pub focused: bool,
    /// The edit flow's dialog; keys go to it while open.
    pub modal: Option<crate::edit::ui::Modal>,
    /// Dialogs waiting for the open one to close (see [`crate::edit::dialogs`]).
    pub dialogs: VecDeque<crate::edit::ui::Modal>,
    /// The first line the open dialog shows (↑/↓); back to 0 when it closes.
    pub dialog_scroll: usize,
    /// The selected row the last frame showed; write keys act only on it.
    pub seen: Option<crate::edit::selection::Seen>,
    /// The object `e` is reading for the editor (a second `e` meanwhile is refused).
    pub reading: Option<guardian_cluster::write::ObjectKey>,
    /// An edit read and ready, waiting for the dialogs to close before the editor opens.
    pub editor: Option<Box<(usize, crate::edit::Session)>>,
    /// Contexts whose writes need their name typed (`[contexts.NAME] protected = true`).
    pub protected: BTreeSet<String>,
    /// The longest an exception made here may last, in days (`max_exception_days`).
    pub max_exception_days: u32,
}

impl State {
    /// Every cluster `Connecting`, on the Fleet screen.
    pub fn new(
        contexts: &[String],
        now: Timestamp,
        keymap: Arc<Keymap>,
        readonly_contexts: &BTreeSet<String>,
    ) -> State {
        let clusters = contexts
            .iter()
            .map(|context| Cluster {
                context: context.clone(),
                rows: Arc::new(ClusterRows {
                    snapshot: Arc::new(ClusterSnapshot::connecting(context.clone(), now)),
                    tally: Default::default(),
                    violations: Arc::default(),
                    orders: Arc::default(),
                    widths: [0; 4],
                    policies: Arc::default(),
                }),
                history: VecDeque::new(),
                readonly: readonly_contexts.contains(context),
            })
            .collect();
        State {
            now,
            clusters,
            screen: Screen::Fleet,
            nav: Vec::new(),
            scope: Scope::All,
            mode: Mode::Normal,
            filters: BTreeMap::new(),
            cursors: BTreeMap::new(),
            violations: ViolationsState::default(),
            screens: Default::default(),
            toasts: VecDeque::new(),
            errors: VecDeque::new(),
            readonly: false,
            keymap,
            paths: None,
            page: 20,
            quit: false,
            requests: Vec::new(),
            retired: Vec::new(),
            focused: true,
            modal: None,
            dialogs: VecDeque::new(),
            seen: None,
            dialog_scroll: 0,
            reading: None,
            editor: None,
            protected: BTreeSet::new(),
            max_exception_days: crate::config::MAX_EXCEPTION_DAYS,
        }
    }

    /// Whether writes are off for what is in scope: globally, or for a cluster in scope.
    pub fn is_readonly(&self) -> bool {
        self.readonly
            || self
                .clusters
                .iter()
                .enumerate()
                .any(|(i, c)| c.readonly && self.scope.includes(i))
    }

    pub fn cursor(&self, screen: Screen) -> Cursor {
        self.cursors.get(&screen).copied().unwrap_or_default()
    }

    pub fn filter(&self, screen: Screen) -> Option<&Filter> {
        self.filters.get(&screen).filter(|f| !f.is_empty())
    }

    /// The scope's name for the header: `all clusters` or the context.
    pub fn scope_name(&self) -> &str {
        match self.scope {
            Scope::All => "all clusters",
            Scope::One(i) => self.clusters.get(i).map_or("?", |c| c.context.as_str()),
        }
    }

    /// How many lines the screen's table has (for moving the cursor).
    pub fn lines(&self, screen: Screen) -> usize {
        match screen {
            Screen::Fleet => self.clusters.len(),
            Screen::Violations => self.violations.table.lines.len(),
            Screen::Help => self.keymap.active(self.is_readonly()).count(),
            Screen::Leases => super::leases::shown(self).len(),
            other => super::screens::visible(self, other).len(),
        }
    }
}
