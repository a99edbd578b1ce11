//! A thread's buffers for one object's violations, reused between objects: nothing is allocated
//! for a rule that passes, and a policy's findings are reserved at once.

use crate::governance::Violation;

/// One object's violations, kept per thread between objects (see `evaluate_policies`).
#[derive(Debug, Default)]
pub(super) struct Scratch {
    pub(super) violations: Vec<Violation>,
    /// The rules that found something, in order, each with where its violations end.
    pub(super) runs: Vec<Run>,
}

/// A rule's share of [`Scratch::violations`].
#[derive(Debug)]
pub(super) struct Run {
    /// The rule's index in its policy's `rules`.
    pub(super) rule: usize,
    pub(super) errored: bool,
    pub(super) end: usize,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            violations: Vec::new(),
            runs: Vec::new(),
        })
    };
}

/// The most violations (and runs) a thread's buffers keep between objects: well above an
/// ordinary object's (17.5 findings on average in the bench corpus), far below a huge one's.
pub(super) const KEPT: usize = 1024;

/// Puts the buffers back for this thread's next object, unless one huge object grew them: a
/// webhook or rayon thread then keeps `KEPT` entries' worth, not its largest object's forever.
pub(super) fn put_back(mut scratch: Scratch) {
    if scratch.violations.capacity() > KEPT {
        scratch.violations = Vec::new();
    }
    if scratch.runs.capacity() > KEPT {
        scratch.runs = Vec::new();
    }
    SCRATCH.set(scratch);
}

/// This thread's buffers, with the room the last objects left (the engine clears them before
/// each policy); give them back with [`put_back`].
pub(super) fn take() -> Scratch {
    SCRATCH.take()
}
