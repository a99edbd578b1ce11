//! This thread's CPU time, for benches that time one step of a loop: a bench preempted on a
//! loaded machine is not charged for the wait, as a wall clock would charge it.

use std::time::Duration;

use nix::time::{ClockId, clock_gettime};

/// Objects unpacked per timed batch: few enough that their trees (about 78 KB each on the
/// corpus) stay in a core's 1 MiB L2 cache, enough that reading the clock (a system call, well
/// under a microsecond) is noise next to the batch's ~30 µs.
pub const BATCH: usize = 8;

/// CPU time this thread has used so far.
pub fn thread_cpu_time() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// The CPU time `step` takes over all `items`, `iterations` times, each batch of [`BATCH`]
/// prepared by `prepare` right before it, untimed: as a caller unpacks an object and evaluates it.
pub fn batched<I, T>(
    iterations: u64,
    items: &[I],
    prepare: impl Fn(&I) -> T,
    mut step: impl FnMut(&[T]),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        for batch in items.chunks(BATCH) {
            let prepared: Vec<T> = batch.iter().map(&prepare).collect();
            let start = thread_cpu_time();
            step(&prepared);
            total += thread_cpu_time().saturating_sub(start);
        }
    }
    total
}
