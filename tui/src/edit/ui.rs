//! The edit flow's part of the reducer: `e` on a policy or exception asks the loop to edit it,
//! and the modal that confirms a write (`y`, or the context's name typed when the context is
//! protected; `n` or Esc cancels) or reports an outcome until dismissed.

use std::path::PathBuf;

use guardian_cluster::drift::DriftKind;
use guardian_cluster::write::ObjectKey;
use guardian_core::crd::Enforcement;
use serde_json::Value;

use super::session::Session;
use crate::action::{Action, Command};
use crate::app::State;
use crate::app::state::Request;
use crate::views::Screen;

/// The enforcement chooser's lines, in order.
const CHOICES: [Enforcement; 3] = [Enforcement::Audit, Enforcement::Warn, Enforcement::Deny];

/// A change the user is asked to confirm.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The cluster's position.
    pub cluster: usize,
    pub session: Session,
    pub edited: Value,
}

/// A dialog over the screen; keys go to it until it closes.
#[derive(Debug, Clone)]
pub enum Modal {
    Confirm {
        title: String,
        lines: Vec<String>,
        /// The word typed to confirm instead of `y`: the context's name when it is protected,
        /// else `deny` for a switch to Deny (`d` and `y` are habitual keys on Policies).
        protected: Option<String>,
        typed: String,
        /// What `y` does.
        on_yes: Request,
        /// An edit's temp file, kept when the write is cancelled.
        kept: Option<PathBuf>,
    },
    /// `m`: which enforcement to switch a policy to, chosen with the arrows and Enter (no
    /// letters: a stray `d` or `y`, habitual on Policies, chooses nothing).
    Enforcement {
        cluster: usize,
        policy: String,
        /// The highlighted choice; it starts on the policy's enforcement now.
        choice: Enforcement,
        now: Option<Enforcement>,
    },
    /// Fields to fill in (an exception's owner, justification and expiry).
    Form(super::quick::Form),
    /// An outcome the user must see (an error, a kept temp file), until Esc or Enter.
    Message { title: String, lines: Vec<String> },
}

impl Modal {
    pub fn message(title: impl Into<String>, lines: Vec<String>) -> Modal {
        Modal::Message {
            title: title.into(),
            lines,
        }
    }

    /// The footer: what confirms and what cancels.
    pub fn prompt(&self) -> String {
        match self {
            Modal::Confirm {
                protected: Some(context),
                typed,
                ..
            } => format!("type {context} and Enter to apply, Esc cancels: {typed}"),
            Modal::Confirm { .. } => "y apply · n/Esc cancel".to_owned(),
            Modal::Message { .. } => "Esc/Enter close".to_owned(),
            Modal::Enforcement { .. } => "↑/↓ choose · Enter preview · Esc cancel".to_owned(),
            Modal::Form(form) => form.prompt(),
        }
    }

    /// The title and lines the dialog shows.
    pub fn view(&self) -> (String, Vec<String>) {
        match self {
            Modal::Confirm { title, lines, .. } | Modal::Message { title, lines } => {
                (title.clone(), lines.clone())
            }
            Modal::Enforcement {
                policy,
                choice,
                now,
                ..
            } => {
                let mut lines =
                    vec!["A preview of what it would stop comes before the switch.".to_owned()];
                lines.extend(CHOICES.iter().map(|c| {
                    let mark = if c == choice { ">" } else { " " };
                    let tag = if Some(*c) == *now { " (now)" } else { "" };
                    format!("{mark} {c:?}{tag}")
                }));
                (format!("Switch the enforcement of {policy}"), lines)
            }
            Modal::Form(form) => form.view(),
        }
    }
}

/// `e`: edit the selected policy or exception of the Policies screen.
pub fn edit_selected(state: &mut State) -> bool {
    if let Some(redraw) = super::quick::refused(state, Screen::Policies) {
        return redraw;
    }
    let Some((cluster, row)) = super::quick::selected_policy_row(state) else {
        return false;
    };
    let key = match row.kind {
        DriftKind::GuardianPolicy => ObjectKey::policy(&row.name),
        DriftKind::GuardianException => match row.name.split_once('/') {
            Some((ns, name)) => ObjectKey::exception(ns, name),
            None => return false,
        },
    };
    let context = row.cluster.clone();
    // One edit at a time: the read takes a while on a slow cluster, a second `e` meanwhile
    // would open a second editor.
    if let Some(reading) = state
        .reading
        .as_ref()
        .or(state.editor.as_ref().map(|o| &o.1.key))
    {
        let text =
            format!("still reading {reading} for the editor; it opens when the read is back");
        toast(state, text);
        return true;
    }
    let text = format!("reading {key} from {context}…");
    state.reading = Some(key.clone());
    state.requests.push(Request::Edit { cluster, key });
    toast(state, text);
    true
}

/// A key while a modal is open (`Input`, `Erase`, `Submit`, `Cancel`, `Complete`); `None`:
/// not the modal's (the action goes on to the reducer).
pub fn modal_action(state: &mut State, action: &Action) -> Option<bool> {
    let modal = state.modal.as_mut()?;
    if !matches!(
        action,
        Action::Input(_)
            | Action::Erase
            | Action::Submit
            | Action::Cancel
            | Action::Complete
            | Action::Command(Command::Up | Command::Down)
    ) {
        return None;
    }
    // ↑/↓ scroll a long dialog (the diff, an impact list); the chooser uses them to choose.
    if let (Modal::Confirm { lines, .. } | Modal::Message { lines, .. }, Action::Command(c)) =
        (&*modal, action)
    {
        let last = lines.len().saturating_sub(1);
        state.dialog_scroll = match c {
            Command::Up => state.dialog_scroll.saturating_sub(1),
            _ => (state.dialog_scroll + 1).min(last),
        };
        return Some(true);
    }
    match modal {
        Modal::Message { .. } => {
            if matches!(action, Action::Cancel | Action::Submit | Action::Input('q')) {
                state.modal = None;
            }
        }
        Modal::Enforcement {
            cluster,
            policy,
            choice,
            now,
        } => {
            let at = CHOICES.iter().position(|c| c == choice).unwrap_or(0);
            match action {
                Action::Command(Command::Up) => *choice = CHOICES[at.saturating_sub(1)],
                Action::Command(Command::Down) => {
                    *choice = CHOICES[(at + 1).min(CHOICES.len() - 1)];
                }
                Action::Complete => *choice = CHOICES[(at + 1) % CHOICES.len()],
                Action::Cancel => state.modal = None,
                Action::Submit if Some(*choice) == *now => {
                    let text = format!("{policy} is already {choice:?}");
                    state.modal = None;
                    toast(state, text);
                }
                Action::Submit => {
                    let (cluster, policy, to) = (*cluster, policy.clone(), *choice);
                    state.modal = Some(super::quick::enforcement_confirm(
                        state, cluster, policy, to,
                    ));
                }
                _ => {}
            }
        }
        Modal::Form(form) => {
            if let Some(done) = form.key(action) {
                state.modal = done.map(|f| super::quick::exception_confirm(state, f));
            }
        }
        Modal::Confirm {
            protected,
            typed,
            on_yes,
            kept,
            ..
        } => {
            let yes = match (protected.as_deref(), action) {
                (_, Action::Cancel) | (None, Action::Input('n')) => Some(false),
                (None, Action::Input('y')) => Some(true),
                (Some(_), Action::Input(c)) => {
                    typed.push(*c);
                    None
                }
                (Some(_), Action::Erase) => {
                    typed.pop();
                    None
                }
                (Some(context), Action::Submit) if typed == context => Some(true),
                (Some(_), Action::Submit) => {
                    typed.clear();
                    None
                }
                _ => None,
            };
            match yes {
                Some(true) => {
                    let request = on_yes.clone();
                    state.modal = None;
                    state.requests.push(request);
                }
                Some(false) => {
                    let kept = kept.clone();
                    state.modal = None;
                    let text = match kept {
                        Some(path) => {
                            format!("not applied; your edit is kept in {}", path.display())
                        }
                        None => "cancelled; nothing written".to_owned(),
                    };
                    toast(state, text);
                }
                None => {}
            }
        }
    }
    Some(true)
}

pub(crate) use crate::app::update::toast;

/// Two pendings are the same edit when they write the same temp file.
impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        self.cluster == other.cluster && self.session.path == other.session.path
    }
}

impl Eq for Pending {}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
