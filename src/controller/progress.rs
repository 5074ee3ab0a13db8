//! Whether the controller loop is making progress, for `/livez`: a controller whose reconciliations hang, or whose
//! queue is no longer served, should be restarted by the kubelet rather than sit there Ready.
//!
//! Two signals, both cheap: the time since the oldest trigger that no reconciliation start or finish has followed
//! (the queue is not served), and the reconciliations in flight with the time since any of them last started or
//! finished (they hang). Either beyond the limit (`--livez-stall-timeout`) makes `/livez` fail. Every provider call
//! and Kubernetes request is bounded by its own timeout, so a healthy reconciliation ends well within the limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    /// The first trigger not yet followed by any progress.
    waiting_since: Option<Instant>,
    in_flight: u32,
    last_progress: Option<Instant>,
}

/// Shared by the controller (which reports) and the HTTP server (which asks).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    state: Arc<Mutex<State>>,
}

impl Progress {
    /// Work was handed to the controller.
    pub fn queued(&self) {
        let mut state = self.lock();
        state.waiting_since.get_or_insert_with(Instant::now);
    }

    /// A reconciliation started.
    pub fn started(&self) {
        let mut state = self.lock();
        state.in_flight += 1;
        progressed(&mut state);
    }

    /// A reconciliation finished (whatever its result).
    pub fn finished(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        progressed(&mut state);
    }

    /// How long the controller has made no progress while work waits, if longer than `limit`.
    pub fn stalled(&self, limit: Duration) -> Option<Duration> {
        let state = self.lock();
        stalled(
            state.waiting_since,
            state.in_flight,
            state.last_progress,
            Instant::now(),
            limit,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("progress lock")
    }
}

fn progressed(state: &mut State) {
    state.waiting_since = None;
    state.last_progress = Some(Instant::now());
}

/// Pure: the stall, if work waits (a trigger unserved, or reconciliations in flight) and nothing moved for `limit`.
pub fn stalled(
    waiting_since: Option<Instant>,
    in_flight: u32,
    last_progress: Option<Instant>,
    now: Instant,
    limit: Duration,
) -> Option<Duration> {
    let unserved = waiting_since.map(|since| now.duration_since(since));
    let hanging = (in_flight > 0)
        .then_some(last_progress)
        .flatten()
        .map(|at| now.duration_since(at));
    [unserved, hanging]
        .into_iter()
        .flatten()
        .max()
        .filter(|idle| *idle > limit)
}

/// Counts a reconciliation from start to finish, also when its future is dropped.
pub struct InFlight(Progress);

impl InFlight {
    pub fn start(progress: &Progress) -> Self {
        progress.started();
        InFlight(progress.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_controller_is_never_stalled() {
        let now = Instant::now();
        let limit = Duration::from_secs(60);
        assert_eq!(stalled(None, 0, None, now, limit), None);
        assert_eq!(
            stalled(None, 0, Some(now), now + Duration::from_secs(3600), limit),
            None
        );
    }

    #[test]
    fn unserved_work_or_hanging_reconciliations_beyond_the_limit_are_a_stall() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(60);
        assert_eq!(stalled(Some(t0), 0, None, t0 + Duration::from_secs(30), limit), None);
        assert_eq!(
            stalled(Some(t0), 0, None, t0 + Duration::from_secs(61), limit),
            Some(Duration::from_secs(61))
        );
        assert_eq!(
            stalled(None, 2, Some(t0), t0 + Duration::from_secs(90), limit),
            Some(Duration::from_secs(90)),
            "reconciliations in flight that never finish"
        );
        assert_eq!(stalled(None, 2, Some(t0), t0 + Duration::from_secs(59), limit), None);
    }

    #[test]
    fn a_start_or_finish_counts_as_progress() {
        let progress = Progress::default();
        progress.queued();
        let running = InFlight::start(&progress);
        assert_eq!(progress.lock().waiting_since, None);
        assert_eq!(progress.lock().in_flight, 1);
        drop(running);
        assert_eq!(progress.lock().in_flight, 0);
        assert_eq!(progress.stalled(Duration::ZERO), None, "nothing waits");
    }
}
