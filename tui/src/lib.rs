//! kube-guardian's console: live governance across several clusters in the terminal.
//!
//! The UI thread owns [`app::State`] and changes it only through [`app::update`]; each cluster's
//! forwarder task turns its snapshots into formatted rows off that thread and sends them as
//! generation-tagged deltas over a bounded channel ([`runtime`]). One keymap registry
//! ([`keymap`]) feeds the dispatcher, the hint bar and the Help screen. Screens are in [`views`].

pub mod action;
pub mod app;
mod args;
pub mod clients;
pub mod config;
pub mod edit;
pub mod error;
pub mod fetch;
mod forward;
pub mod keymap;
pub mod runtime;
mod tables;
pub mod terminal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod theme;
pub mod views;

pub use args::TuiArgs;
pub use error::Error;

/// Runs the console until the user quits (`kube-guardian tui`).
pub fn run(args: TuiArgs) -> Result<(), Error> {
    runtime::run(args)
}
