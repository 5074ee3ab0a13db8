//! Per-object exponential backoff with jitter (kube-runtime has none built in), honouring `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// Retry delays per object key.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempts: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next attempt for `key`; grows with each consecutive failure.
    pub fn next_delay(&self, key: &str, retry_after: Option<Duration>) -> Duration {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("backoff lock");
            let n = attempts.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let jitter = rand::rng().random_range(0.8..1.2);
        delay(self.base, self.max, attempt, jitter, retry_after)
    }

    /// Forgets failures after a success or when the object is gone.
    pub fn reset(&self, key: &str) {
        self.attempts.lock().expect("backoff lock").remove(key);
    }
}

/// `base * 2^(attempt-1)` capped at `max`, times `jitter`, never shorter than what the provider asked for — up to
/// `max`: a provider (or a hostile endpoint) cannot park an object for days with a huge `Retry-After`.
pub fn delay(base: Duration, max: Duration, attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
    let exponential = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)));
    let jittered = exponential.min(max).mul_f64(jitter);
    match retry_after {
        Some(wait) => jittered.max(wait.min(max)),
        None => jittered,
    }
}

/// Spreads periodic resyncs so objects created together do not resync in lockstep: ±10%.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.9..1.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_caps() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        assert_eq!(delay(base, max, 1, 1.0, None), Duration::from_secs(1));
        assert_eq!(delay(base, max, 3, 1.0, None), Duration::from_secs(4));
        assert_eq!(delay(base, max, 30, 1.0, None), Duration::from_secs(60));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let d = delay(
            Duration::from_secs(1),
            Duration::from_secs(60),
            1,
            1.0,
            Some(Duration::from_secs(7)),
        );
        assert_eq!(d, Duration::from_secs(7));
    }

    #[test]
    fn retry_after_is_clamped_to_the_ceiling() {
        let max = Duration::from_secs(60);
        let d = delay(
            Duration::from_secs(1),
            max,
            1,
            1.0,
            Some(Duration::from_secs(86_400 * 30)),
        );
        assert_eq!(d, max);
    }

    #[test]
    fn attempts_grow_per_key_and_reset() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(100));
        let first = b.next_delay("a", None);
        let second = b.next_delay("a", None);
        let other = b.next_delay("b", None);
        assert!(second > first && other < second);
        b.reset("a");
        assert!(b.next_delay("a", None) < Duration::from_millis(1300));
    }
}
