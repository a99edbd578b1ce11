//! One dialog at a time: a background result (a write's outcome, a read that failed) never
//! replaces the dialog the user is answering, it waits its turn; the editor, which takes the
//! whole terminal, opens only when no dialog is open and nothing is being typed.

use super::ui::Modal;
use crate::app::State;
use crate::app::state::{Mode, Request};

/// Shows `modal` now if no dialog is open, else after the open ones.
pub fn show(state: &mut State, modal: Modal) {
    if state.modal.is_none() {
        state.modal = Some(modal);
    } else {
        state.dialogs.push_back(modal);
    }
}

/// After each action: the next waiting dialog once the open one closed, then a waiting editor.
pub fn settle(state: &mut State) {
    if state.modal.is_some() {
        return;
    }
    state.dialog_scroll = 0;
    if let Some(next) = state.dialogs.pop_front() {
        state.modal = Some(next);
        return;
    }
    if state.mode == Mode::Normal
        && let Some(opened) = state.editor.take()
    {
        state.requests.push(Request::OpenEditor(opened));
    }
}

#[cfg(test)]
#[path = "dialogs_tests.rs"]
mod tests;
