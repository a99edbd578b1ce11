//! What bounds one CEL evaluation at run time: a budget of steps and an optional deadline, both
//! checked cooperatively at every step, so a runaway expression stops with an error and gives
//! its thread back.
//!
//! Bytes built are metered too ([`MEMORY_BUDGET`], see [`super::memory`]).
//!
//! A step is one comprehension iteration (see [`super::instrument`]) or one read of `object`.
//! Between two steps an evaluation runs only the nodes of the expression (at most 4 KiB of it)
//! on values it already holds, so steps count the work that grows with the size of the input;
//! what they cannot count is one operation's own cost (`contains` scans a whole string, `in` a
//! whole list), which the deadline bounds: it is checked at every step too.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

/// Steps one evaluation may take: comprehension iterations (nested ones multiply) plus reads of
/// `object`. A step of a plain nested comprehension takes about 0.5 µs in a release build, so the
/// budget is about half a second of work.
pub const STEP_BUDGET: u64 = 1_000_000;

/// Bytes one evaluation may build: strings, lists and maps made by `+`, and the elements `map`
/// and `filter` keep (see [`super::memory`]). Counted cumulatively, so it also bounds what the
/// evaluation holds at any moment; per evaluation slot, not per process.
pub const MEMORY_BUDGET: u64 = 16 * 1024 * 1024;

/// The clock is read every this many steps (the cancellation flag at every one), which keeps its
/// cost out of sight while a deadline is still seen within a few dozen steps.
const CLOCK_EVERY: u64 = 32;

/// When CEL evaluations must stop whatever budget they have left: a point in time, a
/// cancellation flag, or both. The default never passes.
#[derive(Debug, Clone, Default)]
pub struct Deadline {
    at: Option<Instant>,
    cancelled: Option<Arc<AtomicBool>>,
}

impl Deadline {
    /// A deadline that passes at `at`.
    pub fn at(at: Instant) -> Self {
        Deadline {
            at: Some(at),
            cancelled: None,
        }
    }

    /// This deadline, which also passes as soon as `flag` is set (say, by the request that waits
    /// for the evaluation when it is abandoned).
    pub fn or_cancelled(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = Some(flag);
        self
    }

    /// Whether the deadline has passed (reads the clock).
    pub fn passed(&self) -> bool {
        self.cancelled_flag() || self.at.is_some_and(|at| Instant::now() >= at)
    }

    fn cancelled_flag(&self) -> bool {
        self.cancelled
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// Runs `f` with this deadline bounding every CEL evaluation it makes on this thread (the
    /// innermost `run` applies). Rules evaluated after the deadline report an error at once.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        // Restored on unwind too, so a panicking evaluation leaves no deadline on a pool thread.
        let _restore = Restore(previous);
        f()
    }

    /// The deadline of the innermost `run` on this thread, if any.
    fn current() -> Deadline {
        CURRENT.with(|current| current.borrow().clone().unwrap_or_default())
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Deadline>> = const { RefCell::new(None) };
    /// The meter of the evaluation running on this thread, for `@tick`: an `Env` function is a
    /// plain `fn`, and one registered per evaluation in the `Context` costs as much as a step.
    static METERING: RefCell<Option<Arc<Meter>>> = const { RefCell::new(None) };
}

struct Restore(Option<Deadline>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

struct RestoreMeter(Option<Arc<Meter>>);

impl Drop for RestoreMeter {
    fn drop(&mut self) {
        let previous = self.0.take();
        METERING.with(|metering| *metering.borrow_mut() = previous);
    }
}

/// Why an evaluation was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The budget, in steps, was spent.
    Budget(u64),
    /// The budget, in bytes built, was spent.
    Memory(u64),
    Deadline,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Budget(steps) => write!(
                f,
                "evaluation stopped after {steps} steps (comprehension iterations and reads of \
                 object): budget exceeded; iterate over fewer or smaller lists"
            ),
            Stop::Memory(bytes) => write!(
                f,
                "evaluation stopped after building {bytes} bytes (strings and lists made by `+`, \
                 elements kept by map and filter): budget exceeded; build smaller values"
            ),
            Stop::Deadline => write!(
                f,
                "evaluation stopped: its deadline passed (the admission request timed out or was \
                 abandoned)"
            ),
        }
    }
}

const RUNNING: u8 = 0;
const STOPPED_BUDGET: u8 = 1;
const STOPPED_DEADLINE: u8 = 2;
const STOPPED_MEMORY: u8 = 3;

/// The steps of one evaluation. Shared by the `@tick` function and the variable resolver (both
/// must be `Send + Sync`, hence atomics; one thread uses it, so `Relaxed` suffices).
#[derive(Debug)]
pub(super) struct Meter {
    steps: AtomicU64,
    budget: u64,
    bytes: AtomicU64,
    stopped: AtomicU8,
    deadline: Deadline,
}

impl Meter {
    /// A meter of `budget` steps, bound by the deadline of the innermost [`Deadline::run`] on
    /// this thread.
    pub fn new(budget: u64) -> Self {
        Meter {
            steps: AtomicU64::new(0),
            budget,
            bytes: AtomicU64::new(0),
            stopped: AtomicU8::new(RUNNING),
            deadline: Deadline::current(),
        }
    }

    /// Counts one step. Once the budget is spent or the deadline passed, this and every later
    /// step fails, so the evaluation unwinds instead of running on.
    pub fn step(&self) -> Result<(), Stop> {
        if let Some(stop) = self.stopped() {
            return Err(stop);
        }
        // One thread steps a meter: a plain load and store, no locked add.
        let n = self.steps.load(Ordering::Relaxed);
        self.steps.store(n + 1, Ordering::Relaxed);
        let stop = if n >= self.budget {
            Some(Stop::Budget(self.budget))
        } else if self.deadline.cancelled_flag()
            || (n.is_multiple_of(CLOCK_EVERY) && self.deadline.passed())
        {
            Some(Stop::Deadline)
        } else {
            None
        };
        match stop {
            None => Ok(()),
            Some(stop) => {
                self.stop(stop);
                Err(stop)
            }
        }
    }

    /// Counts `bytes` built. Once [`MEMORY_BUDGET`] is exceeded, this and every later step or
    /// charge fails.
    pub fn charge(&self, bytes: u64) -> Result<(), Stop> {
        if let Some(stop) = self.stopped() {
            return Err(stop);
        }
        let total = self.bytes.load(Ordering::Relaxed).saturating_add(bytes);
        self.bytes.store(total, Ordering::Relaxed);
        if total > MEMORY_BUDGET {
            let stop = Stop::Memory(MEMORY_BUDGET);
            self.stop(stop);
            return Err(stop);
        }
        Ok(())
    }

    fn stop(&self, stop: Stop) {
        let code = match stop {
            Stop::Budget(_) => STOPPED_BUDGET,
            Stop::Memory(_) => STOPPED_MEMORY,
            Stop::Deadline => STOPPED_DEADLINE,
        };
        self.stopped.store(code, Ordering::Relaxed);
    }

    /// Runs `f` with `meter` counting the `@tick`s of what it evaluates on this thread.
    pub fn metering<R>(meter: &Arc<Meter>, f: impl FnOnce() -> R) -> R {
        let previous = METERING.with(|metering| metering.replace(Some(meter.clone())));
        let _restore = RestoreMeter(previous);
        f()
    }

    /// One step of the meter of the innermost [`Meter::metering`] on this thread, if any.
    pub fn step_current() -> Result<(), Stop> {
        METERING.with(|metering| metering.borrow().as_ref().map_or(Ok(()), |m| m.step()))
    }

    /// Charges `bytes` to the meter of the innermost [`Meter::metering`] on this thread, if any.
    pub fn charge_current(bytes: u64) -> Result<(), Stop> {
        METERING.with(|metering| {
            metering
                .borrow()
                .as_ref()
                .map_or(Ok(()), |m| m.charge(bytes))
        })
    }

    /// Why the evaluation was stopped, if it was: an expression may swallow the error of a
    /// stopped step (`error || true` is `true`), so the result is discarded after the fact.
    pub fn stopped(&self) -> Option<Stop> {
        match self.stopped.load(Ordering::Relaxed) {
            STOPPED_BUDGET => Some(Stop::Budget(self.budget)),
            STOPPED_DEADLINE => Some(Stop::Deadline),
            STOPPED_MEMORY => Some(Stop::Memory(MEMORY_BUDGET)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_budget_stops_the_step_after_it_and_every_later_one() {
        let meter = Meter::new(STEP_BUDGET);
        for _ in 0..STEP_BUDGET {
            assert_eq!(meter.step(), Ok(()));
        }
        assert_eq!(meter.step(), Err(Stop::Budget(STEP_BUDGET)));
        assert_eq!(meter.step(), Err(Stop::Budget(STEP_BUDGET)));
        assert_eq!(meter.stopped(), Some(Stop::Budget(STEP_BUDGET)));
    }

    #[test]
    fn the_memory_budget_stops_the_charge_over_it_and_every_later_step() {
        let meter = Meter::new(STEP_BUDGET);
        assert_eq!(meter.charge(MEMORY_BUDGET), Ok(()));
        assert_eq!(meter.charge(1), Err(Stop::Memory(MEMORY_BUDGET)));
        assert_eq!(meter.step(), Err(Stop::Memory(MEMORY_BUDGET)));
        assert_eq!(meter.stopped(), Some(Stop::Memory(MEMORY_BUDGET)));
    }

    #[test]
    fn a_deadline_applies_inside_run_only_and_is_restored_after() {
        let passed = Deadline::at(Instant::now());
        let later = Deadline::at(Instant::now() + Duration::from_secs(3600));
        passed.run(|| {
            assert_eq!(Meter::new(STEP_BUDGET).step(), Err(Stop::Deadline));
            later.run(|| assert_eq!(Meter::new(STEP_BUDGET).step(), Ok(())));
            assert_eq!(Meter::new(STEP_BUDGET).step(), Err(Stop::Deadline));
        });
        assert_eq!(Meter::new(STEP_BUDGET).step(), Ok(()));
    }

    #[test]
    fn a_cancelled_flag_stops_the_next_step() {
        let flag = Arc::new(AtomicBool::new(false));
        Deadline::default().or_cancelled(flag.clone()).run(|| {
            let meter = Meter::new(STEP_BUDGET);
            assert_eq!(meter.step(), Ok(()));
            assert_eq!(meter.step(), Ok(()));
            flag.store(true, Ordering::Relaxed);
            assert_eq!(meter.step(), Err(Stop::Deadline));
            assert_eq!(meter.stopped(), Some(Stop::Deadline));
        });
    }

    #[test]
    fn a_deadline_passing_mid_evaluation_is_seen_within_a_clock_period() {
        Deadline::at(Instant::now() + Duration::from_millis(20)).run(|| {
            let meter = Meter::new(STEP_BUDGET);
            assert_eq!(meter.step(), Ok(()));
            std::thread::sleep(Duration::from_millis(30));
            let stopped_after = (0..=CLOCK_EVERY).position(|_| meter.step().is_err());
            assert!(stopped_after.is_some(), "the deadline was never seen");
        });
    }
}
