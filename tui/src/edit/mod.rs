//! Editing GuardianPolicies and GuardianExceptions from the console: the user's `$EDITOR` on a
//! private temp file, validated with the same loader as `check`, a diff to confirm, a
//! server-side dry run and a write guarded by the resourceVersion; no edit is ever lost.

pub mod access;
pub mod dialogs;
pub mod diff;
pub mod editor;
pub mod file;
pub mod preview;
pub mod quick;
pub mod run;
pub mod selection;
pub mod session;
pub mod ui;
pub mod validate;
pub mod yaml;

pub use editor::{CommandEditor, Editor};
pub use session::{Applied, Edited, Server, Session};
