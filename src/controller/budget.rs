//! The write budget: the last line against a write loop. Drift is judged against the provider's own echo
//! (`status.observedHash`), so a provider that reformats fields never causes a repeat write; but a provider that
//! answers differently every time, or something at the provider that keeps changing a field back, would still make
//! the operator write on every resync forever (Crossplane users know the endless update loop).
//!
//! So each registration may make at most [`LIMIT`] *corrective* writes — writes without a spec or Secret change;
//! edna's scheduled re-asserts are not corrective — within [`WINDOW`]. When one more is needed the provider
//! withholds it and the registration stalls with reason `DriftLoop` (one Warning Event, a metric). Reads continue,
//! so a drift that stops on its own makes it Ready again. A spec or Secret change (a new desired hash) resumes it at
//! once; otherwise it resumes, with a fresh budget, once [`WINDOW`] has passed since the first withheld write.
//!
//! The ledger is in memory: a restart grants a fresh budget (at most [`LIMIT`] more writes per restart), which
//! keeps status free of bookkeeping churn. Decisions are the plain functions on [`Ledger`], tested without IO.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Corrective writes allowed per registration within [`WINDOW`]. Legitimate corrections are rare and spread out
/// (someone edits the webhook by hand, the provider auto-stops it after a day of failures): three in an hour
/// already means something fights the operator.
pub const LIMIT: usize = 3;
/// The window the writes are counted in, and how long a tripped registration waits before it tries again. At the
/// default 10 min resync a loop trips after 30 min and then makes at most 3 writes per 1.5 h instead of 6 per hour.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// One registration's corrective writes for one desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ledger {
    /// The desired hash the writes were made for: a different one starts a fresh ledger.
    hash: String,
    writes: Vec<Instant>,
    /// When a write was first withheld.
    tripped: Option<Instant>,
}

impl Ledger {
    /// The ledger to use for `hash` at `now`: a fresh one after a spec or Secret change, or once a trip is older
    /// than the window; otherwise this one without writes older than the window.
    fn current(self, hash: &str, now: Instant, window: Duration) -> Ledger {
        let expired = |t: &Instant| now.saturating_duration_since(*t) >= window;
        if self.hash != hash || self.tripped.as_ref().is_some_and(expired) {
            return Ledger {
                hash: hash.to_string(),
                ..Ledger::default()
            };
        }
        Ledger {
            writes: self.writes.into_iter().filter(|t| !expired(t)).collect(),
            ..self
        }
    }

    /// Whether one more corrective write would exceed `limit`.
    fn spent(&self, limit: usize) -> bool {
        self.tripped.is_some() || self.writes.len() >= limit
    }
}

/// Every registration's ledger, keyed by `namespace/name`. Entries exist only for registrations that made a
/// corrective write, so 10,000 registrations at rest cost nothing here.
pub struct WriteBudget {
    limit: usize,
    window: Duration,
    ledgers: Mutex<HashMap<String, Ledger>>,
}

impl Default for WriteBudget {
    fn default() -> Self {
        Self::new(LIMIT, WINDOW)
    }
}

impl WriteBudget {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            ledgers: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(what was spent)` when no further corrective write is allowed for `key` at `hash`.
    pub fn spent(&self, key: &str, hash: &str, now: Instant) -> Option<String> {
        let mut ledgers = self.ledgers.lock().expect("budget lock");
        let ledger = ledgers.remove(key)?.current(hash, now, self.window);
        let spent = ledger.spent(self.limit).then(|| self.describe());
        ledgers.insert(key.to_string(), ledger);
        spent
    }

    /// Records a corrective write.
    pub fn record(&self, key: &str, hash: &str, now: Instant) {
        let mut ledgers = self.ledgers.lock().expect("budget lock");
        let ledger = ledgers.remove(key).unwrap_or_default().current(hash, now, self.window);
        let mut ledger = ledger;
        ledger.writes.push(now);
        ledgers.insert(key.to_string(), ledger);
    }

    /// Records that a write was withheld; true the first time for this ledger (count it once in the metric).
    pub fn trip(&self, key: &str, hash: &str, now: Instant) -> bool {
        let mut ledgers = self.ledgers.lock().expect("budget lock");
        let mut ledger = ledgers.remove(key).unwrap_or_default().current(hash, now, self.window);
        let first = ledger.tripped.is_none();
        ledger.tripped.get_or_insert(now);
        ledgers.insert(key.to_string(), ledger);
        first
    }

    /// Drops a deleted registration's ledger.
    pub fn forget(&self, key: &str) {
        self.ledgers.lock().expect("budget lock").remove(key);
    }

    fn describe(&self) -> String {
        format!("{} corrective writes within {}", self.limit, humantime(self.window))
    }
}

fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_budget_allows_limit_writes_then_is_spent() {
        let budget = WriteBudget::new(3, 60 * MIN);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(budget.spent("ns/a", "h", t0 + i * MIN), None, "write {i} allowed");
            budget.record("ns/a", "h", t0 + i * MIN);
        }
        assert_eq!(
            budget.spent("ns/a", "h", t0 + 3 * MIN).as_deref(),
            Some("3 corrective writes within 1h")
        );
        assert_eq!(budget.spent("ns/b", "h", t0 + 3 * MIN), None, "per registration");
    }

    #[test]
    fn a_spec_or_secret_change_resumes_at_once() {
        let budget = WriteBudget::new(2, 60 * MIN);
        let t0 = Instant::now();
        budget.record("ns/a", "h1", t0);
        budget.record("ns/a", "h1", t0);
        assert!(budget.spent("ns/a", "h1", t0).is_some());
        assert!(budget.trip("ns/a", "h1", t0));
        assert_eq!(
            budget.spent("ns/a", "h2", t0 + MIN),
            None,
            "a new desired hash, a fresh budget"
        );
    }

    #[test]
    fn a_trip_holds_for_a_whole_window_then_a_fresh_budget_starts() {
        let budget = WriteBudget::new(2, 60 * MIN);
        let t0 = Instant::now();
        budget.record("ns/a", "h", t0);
        budget.record("ns/a", "h", t0 + MIN);
        assert!(budget.trip("ns/a", "h", t0 + 2 * MIN), "first trip");
        assert!(!budget.trip("ns/a", "h", t0 + 3 * MIN), "counted once");
        // The first write left the window, but a tripped registration waits a whole window from the trip.
        assert!(budget.spent("ns/a", "h", t0 + 61 * MIN).is_some());
        assert_eq!(budget.spent("ns/a", "h", t0 + 62 * MIN), None);
        budget.record("ns/a", "h", t0 + 62 * MIN);
        assert_eq!(budget.spent("ns/a", "h", t0 + 62 * MIN), None, "fresh: one of two used");
    }

    #[test]
    fn writes_older_than_the_window_no_longer_count() {
        let budget = WriteBudget::new(2, 60 * MIN);
        let t0 = Instant::now();
        budget.record("ns/a", "h", t0);
        budget.record("ns/a", "h", t0 + 30 * MIN);
        assert!(budget.spent("ns/a", "h", t0 + 59 * MIN).is_some());
        assert_eq!(budget.spent("ns/a", "h", t0 + 60 * MIN), None);
    }

    #[test]
    fn forgetting_a_deleted_registration_drops_its_ledger() {
        let budget = WriteBudget::new(1, 60 * MIN);
        let t0 = Instant::now();
        budget.record("ns/a", "h", t0);
        budget.forget("ns/a");
        assert_eq!(budget.spent("ns/a", "h", t0), None);
    }
}
