//! Start-up reads that must survive an apiserver that is briefly away (restarting, rolling, a network blip): the
//! fingerprint key and joining the leader election. They are retried with backoff instead of ending the process,
//! because an operator that exits on the first connection error turns every control-plane restart into a crash
//! loop (soak seed 7: the operator, restarted two seconds before the apiserver, exited and reconciled nothing).
//! Errors a retry cannot change (a 4xx answer other than 408/429, a malformed key) end start-up at once; transient
//! ones are retried for at most [`STARTUP_PATIENCE`], then the error ends the process as before.

use std::future::Future;
use std::time::Duration;

use tracing::warn;

/// How long start-up keeps retrying transient errors before giving up.
pub const STARTUP_PATIENCE: Duration = Duration::from_secs(300);

/// Whether a retry may succeed: the error chain holds a kube error that is not a definite refusal.
pub fn is_transient(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<kube::Error>())
        .any(|kube_err| match kube_err {
            kube::Error::Api(status) => matches!(status.code, 408 | 429) || status.code >= 500,
            // Connection refused/reset, TLS handshakes cut short, timeouts: the apiserver is away, not refusing.
            kube::Error::HyperError(_) | kube::Error::Service(_) => true,
            _ => false,
        })
}

/// The delay before retry number `attempt` (0-based): 0.5 s doubling, at most 8 s.
pub fn delay(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)))
}

/// Runs `step` until it succeeds, fails for good, or transient failures have lasted [`STARTUP_PATIENCE`].
pub async fn retrying<T, F, Fut>(what: &str, mut step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(err) if is_transient(&err) && started.elapsed() < STARTUP_PATIENCE => {
                let wait = delay(attempt);
                warn!(step = what, error = %format!("{err:#}"), retry_in = ?wait, "start-up step failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16) -> anyhow::Error {
        anyhow::Error::new(kube::Error::Api(Box::new(Status::failure("m", "r").with_code(code))))
            .context("reading the fingerprint key Secret default/callback-operator-fingerprint-key")
    }

    #[test]
    fn the_apiserver_away_or_overloaded_is_transient_a_refusal_is_not() {
        for code in [500, 503, 429, 408] {
            assert!(is_transient(&api_error(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 422] {
            assert!(!is_transient(&api_error(code)), "{code}");
        }
        assert!(
            !is_transient(&anyhow::anyhow!("the key holds 3 bytes")),
            "not a kube error"
        );
    }

    #[test]
    fn the_delay_doubles_up_to_eight_seconds() {
        let delays: Vec<u64> = (0..7).map(|a| delay(a).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_is_retried_and_a_permanent_one_is_not() {
        let mut calls = 0;
        let value = retrying("test", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(api_error(503)) } else { Ok(n) } }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
        let mut calls = 0;
        let err = retrying("test", || {
            calls += 1;
            async { Err::<(), _>(api_error(403)) }
        })
        .await;
        assert!(err.is_err());
        assert_eq!(calls, 1);
    }
}
