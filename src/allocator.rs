//! The global allocator, and the one thing the operator asks of it. Part of the binary, not the library: the library
//! forbids `unsafe`, and calling into the allocator is a foreign function call.
//!
//! mimalloc returns freed pages to the OS and fragments less than glibc's per-thread arenas under the burst of
//! short-lived allocations a large initial sync makes, which keeps resident memory close to the live heap.

use std::future::Future;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `operator` while freed memory is given back to the OS, also when the operator is idle.
///
/// Why: mimalloc returns a freed page to the OS a second after the free, but it only looks for returns that are due
/// when some thread next needs a fresh page or collects. An idle operator does neither, so what it freed after a
/// large sync stayed resident — ~4 MiB at rest with 10,000 registrations, freed in one step a few minutes after the
/// sync (by our reading, the watches' periodic restart dropping buffers grown during it; docs/benchmark.md, tenth
/// session). A collect every few seconds returns it; at rest it costs a walk over the calling thread's partly free
/// pages, microseconds.
#[cfg(feature = "mimalloc")]
pub async fn returning_freed_memory<T>(operator: impl Future<Output = T>) -> T {
    // Each thread keeps its own empty pages until it collects; the operator runs on one thread (`main.rs`), so the
    // collect runs beside it on that thread.
    tokio::select! {
        result = operator => result,
        never = collect_forever() => match never {},
    }
}

#[cfg(not(feature = "mimalloc"))]
pub async fn returning_freed_memory<T>(operator: impl Future<Output = T>) -> T {
    operator.await
}

#[cfg(feature = "mimalloc")]
async fn collect_forever() -> std::convert::Infallible {
    use std::time::Duration;
    use tokio::time::MissedTickBehavior;

    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // SAFETY: `mi_collect` takes no pointers and has no preconditions: it frees the calling thread's empty pages
        // and returns due pages to the OS, under the allocator's own locks.
        unsafe { libmimalloc_sys::mi_collect(false) };
    }
}
