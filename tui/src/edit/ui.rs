//! The edit flow's part of the reducer: `e` on a policy or exception asks the loop to edit it,
//! and the modal that confirms a write (`y`, or the context's name typed when the context is
//! protected; `n` or Esc cancels) or reports an outcome until dismissed.

use std::sync::Arc;

use guardian_cluster::drift::DriftKind;
use guardian_cluster::write::ObjectKey;
use serde_json::Value;

use super::session::Session;
use crate::action::Action;
use crate::app::state::Request;
use crate::app::{State, Toast};
use crate::views::Screen;

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
        /// The context's name, when it is protected: typed to confirm instead of `y`.
        protected: Option<String>,
        typed: String,
        pending: Arc<Pending>,
    },
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
        }
    }
}

/// `e`: edit the selected policy or exception of the Policies screen.
pub fn edit_selected(state: &mut State) -> bool {
    if state.screen != Screen::Policies || state.is_readonly() {
        return false;
    }
    let Some(row) = crate::app::screens::visible(state, Screen::Policies)
        .get(state.cursor(Screen::Policies).selected)
        .and_then(|&i| state.screens.policies.get(i))
    else {
        return false;
    };
    let key = match row.kind {
        DriftKind::GuardianPolicy => ObjectKey::policy(&row.name),
        DriftKind::GuardianException => match row.name.split_once('/') {
            Some((ns, name)) => ObjectKey::exception(ns, name),
            None => return false,
        },
    };
    let Some(cluster) = state.clusters.iter().position(|c| c.context == row.cluster) else {
        return false;
    };
    state.requests.push(Request::Edit { cluster, key });
    false
}

/// A key while a modal is open (`Input`, `Erase`, `Submit`, `Cancel`); `None`: not the
/// modal's (the action goes on to the reducer).
pub fn modal_action(state: &mut State, action: &Action) -> Option<bool> {
    let modal = state.modal.as_mut()?;
    match (modal, action) {
        (Modal::Message { .. }, Action::Cancel | Action::Submit | Action::Input('q')) => {
            state.modal = None;
        }
        (Modal::Message { .. }, Action::Input(_) | Action::Erase) => return Some(false),
        (Modal::Confirm { pending, .. }, Action::Cancel)
        | (
            Modal::Confirm {
                protected: None,
                pending,
                ..
            },
            Action::Input('n'),
        ) => {
            let path = pending.session.path.display().to_string();
            state.modal = None;
            toast(state, format!("not applied; your edit is kept in {path}"));
        }
        (
            Modal::Confirm {
                protected: None,
                pending,
                ..
            },
            Action::Input('y'),
        ) => {
            let pending = Arc::clone(pending);
            state.modal = None;
            state.requests.push(Request::Apply(pending));
        }
        (
            Modal::Confirm {
                protected: Some(_),
                typed,
                ..
            },
            Action::Input(c),
        ) => typed.push(*c),
        (
            Modal::Confirm {
                protected: Some(_),
                typed,
                ..
            },
            Action::Erase,
        ) => {
            typed.pop();
        }
        (
            Modal::Confirm {
                protected: Some(context),
                typed,
                pending,
                ..
            },
            Action::Submit,
        ) => {
            if typed == context {
                let pending = Arc::clone(pending);
                state.modal = None;
                state.requests.push(Request::Apply(pending));
            } else {
                typed.clear();
            }
        }
        (Modal::Confirm { .. }, Action::Input(_) | Action::Erase | Action::Submit) => {
            return Some(false);
        }
        _ => return None,
    }
    Some(true)
}

fn toast(state: &mut State, text: String) {
    let until = state.now + k8s_openapi::jiff::SignedDuration::from_secs(10);
    state.toasts.push_back(Toast { text, until });
}

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
