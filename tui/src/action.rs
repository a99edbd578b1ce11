//! What the reducer acts on: user commands (named in the keymap), text typed into the filter or
//! palette, cluster deltas and the clock. Everything that changes [`crate::app::State`] is one.

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::app::{ClusterRows, ObjectText};
use crate::views::Screen;

/// A user command: what a key does. The names (snake_case) are the keymap config's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Quit,
    Help,
    Palette,
    Filter,
    /// Esc: closes the detail pane or clears the filter, else goes back.
    Back,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    /// Enter: drills down (Fleet: scope to the cluster; Violations: the detail pane).
    Select,
    /// `0`: every cluster.
    AllClusters,
    /// `1`–`9`: one cluster, by its position (the digit comes with the key).
    PickCluster,
    /// Cycles the grouping of the Violations table (none, cluster, policy, namespace, rule).
    GroupBy,
    /// Cycles the sort column of the current table (ascending).
    SortNext,
    /// Reverses the current table's sort (its column stays).
    SortReverse,
    SortSeverity,
    SortCluster,
    SortName,
    SortPolicy,
    SortAge,
    /// `d`: describe the selected object in a pane.
    Describe,
    /// `y`: the selected object's YAML in a pane.
    Yaml,
    /// `Ctrl-z` on Reconcile: failed policies only, or all again.
    FailuresOnly,
    /// Jumps to a screen (each screen has a key).
    Show(Screen),
    /// `e` on Policies: edit the selected policy or exception in `$EDITOR` (a write).
    Edit,
    /// `m` on Policies: switch the selected policy's enforcement (a write).
    Enforcement,
    /// `x` on Violations: create an exception for the selected violation (a write).
    CreateException,
    /// `+` on Policies: extend the selected exception (a write).
    ExtendException,
    /// `Ctrl-d` on Policies: revoke the selected exception (a write).
    RevokeException,
}

/// Everything the reducer handles.
#[derive(Debug, Clone)]
pub enum Action {
    Command(Command),
    /// `1`–`9`: the digit of [`Command::PickCluster`].
    PickCluster(usize),
    /// A character typed into the filter or palette line.
    Input(char),
    /// Backspace in the filter or palette line.
    Erase,
    /// Tab in the palette: complete the screen name.
    Complete,
    /// Enter in the filter or palette line.
    Submit,
    /// Esc in the filter or palette line.
    Cancel,
    /// A cluster's new snapshot with its rows, formatted off the UI thread.
    Delta(Box<Delta>),
    /// The Violations table rebuilt off the UI thread after new data.
    Table(Box<crate::app::building::Built>),
    /// A Violations table's build panicked (the loop ends the console with this message).
    TableFailed(String),
    /// The clock (ages, stale counters): once a second, and before each frame in tests.
    Tick(Timestamp),
    /// The terminal gained (true) or lost focus.
    Focus(bool),
    /// The terminal's new size.
    Resize {
        width: u16,
        height: u16,
    },
    /// A message for the user about an action they started (never for background errors).
    Toast(String),
    /// An object the detail pane asked for, read from its cluster.
    Object(Box<ObjectText>),
    /// A dialog from the edit flow: confirm a write, or an outcome to read.
    Modal(Box<crate::edit::ui::Modal>),
    /// A policy edit's confirm dialog with its impact computed.
    Impact(Box<crate::edit::ui::Modal>),
    /// `e` could not read its object (why, in a dialog); `e` works again.
    NotEditable(Box<crate::edit::ui::Modal>),
    /// An edit read and ready (or to reopen after a conflict): the loop opens the editor.
    OpenEditor(Box<(usize, crate::edit::Session)>),
}

/// One cluster's new state, tagged with its snapshot generation: an older delta arriving after
/// a newer one is dropped.
#[derive(Debug, Clone)]
pub struct Delta {
    /// The cluster's position in the selection.
    pub cluster: usize,
    pub rows: Arc<ClusterRows>,
}
