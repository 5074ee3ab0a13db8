//! The operator's own HTTP endpoints: `/metrics` (Prometheus text), `/livez` (`/healthz`), `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;

use crate::controller::Progress;
use crate::telemetry::Metrics;

/// Readiness, as named checks in the style of kube-apiserver's `/readyz`:
/// - `leader`: this replica holds the leader Lease (always passes without leader election);
/// - `sync`: the leader's CallbackRegistration cache has synced (a follower runs no controller: nothing to sync).
///
/// `/readyz` is 200 only on the synced leader. `/readyz?exclude=leader` is 200 on a healthy follower too: the
/// chart's readinessProbe uses it, because a Deployment whose standby replica never turns Ready never finishes a
/// rollout (`helm --wait`, Argo CD and Flux would wait forever).
#[derive(Clone, Default)]
pub struct Readiness {
    synced: Arc<AtomicBool>,
    leading: Arc<AtomicBool>,
    election: bool,
}

/// One named check's result.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub failure: Option<&'static str>,
}

impl Readiness {
    pub fn new(leader_election: bool) -> Self {
        Self {
            synced: Arc::default(),
            leading: Arc::new(AtomicBool::new(!leader_election)),
            election: leader_election,
        }
    }

    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::SeqCst);
    }

    /// A new term starts with an empty cache: leading again means syncing again.
    pub fn set_leading(&self, leading: bool) {
        self.synced.store(false, Ordering::SeqCst);
        self.leading.store(leading, Ordering::SeqCst);
    }

    #[cfg(test)]
    pub fn is_ready(&self) -> bool {
        report(&self.checks(), &[]).0
    }

    pub fn checks(&self) -> Vec<Check> {
        checks(
            self.synced.load(Ordering::SeqCst),
            self.leading.load(Ordering::SeqCst),
            self.election,
        )
    }
}

/// The readiness checks for a replica in the given state.
pub fn checks(synced: bool, leading: bool, election: bool) -> Vec<Check> {
    let leader = match (leading, election) {
        (true, _) => None,
        (false, true) => Some("standing by for the leader Lease"),
        (false, false) => Some("not running"),
    };
    let sync = (leading && !synced).then_some("waiting for the CallbackRegistration cache to sync");
    vec![
        Check {
            name: "leader",
            failure: leader,
        },
        Check {
            name: "sync",
            failure: sync,
        },
    ]
}

/// Whether every check not excluded passes, and a kube-apiserver style report (`[+]name ok` / `[-]name failed:`).
pub fn report(checks: &[Check], excluded: &[&str]) -> (bool, String) {
    let mut ok = true;
    let mut text = String::new();
    for check in checks {
        if excluded.contains(&check.name) {
            text.push_str(&format!("[+]{} excluded: ok\n", check.name));
            continue;
        }
        match check.failure {
            None => text.push_str(&format!("[+]{} ok\n", check.name)),
            Some(why) => {
                ok = false;
                text.push_str(&format!("[-]{} failed: {why}\n", check.name));
            }
        }
    }
    text.push_str(if ok {
        "readyz check passed\n"
    } else {
        "readyz check failed\n"
    });
    (ok, text)
}

/// The check names in `exclude=` query parameters (repeatable, or comma-separated).
pub fn excluded_checks(query: Option<&str>) -> Vec<&str> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("exclude="))
        .flat_map(|names| names.split(','))
        .filter(|name| !name.is_empty())
        .collect()
}

/// Liveness: the process serves HTTP, and its controller loop (when this replica runs one) has not stalled — no
/// reconciliation started or finished for `limit` while work waits (`controller/progress.rs`).
#[derive(Clone)]
pub struct Liveness {
    progress: Progress,
    limit: Duration,
}

impl Liveness {
    pub fn new(progress: Progress, limit: Duration) -> Self {
        Self { progress, limit }
    }

    /// `None` when alive; else why not.
    pub fn failure(&self) -> Option<String> {
        self.progress.stalled(self.limit).map(|idle| {
            format!(
                "the controller made no progress for {}s while work waits (limit {}s)",
                idle.as_secs(),
                self.limit.as_secs()
            )
        })
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
    liveness: Liveness,
}

pub fn router(metrics: Metrics, readiness: Readiness, liveness: Liveness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/livez", get(live))
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .with_state(AppState {
            metrics,
            readiness,
            liveness,
        })
}

async fn live(State(state): State<AppState>) -> (StatusCode, String) {
    match state.liveness.failure() {
        None => (StatusCode::OK, "ok".into()),
        Some(why) => {
            tracing::warn!(%why, "/livez failing");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("[-]controller failed: {why}\nlivez check failed\n"),
            )
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn ready(State(state): State<AppState>, RawQuery(query): RawQuery) -> (StatusCode, String) {
    let (ok, text) = report(&state.readiness.checks(), &excluded_checks(query.as_deref()));
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, text)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /livez, /readyz");
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synced_leader_is_ready() {
        assert!(report(&checks(true, true, true), &[]).0);
        assert!(
            report(&checks(true, true, false), &[]).0,
            "without election the process is its own leader"
        );
    }

    #[test]
    fn a_follower_is_not_ready_but_passes_when_leadership_is_excluded() {
        let follower = checks(false, false, true);
        let (ok, text) = report(&follower, &[]);
        assert!(!ok);
        assert!(
            text.contains("[-]leader failed: standing by for the leader Lease"),
            "{text}"
        );
        let (ok, text) = report(&follower, &["leader"]);
        assert!(ok, "{text}");
        assert!(text.contains("[+]sync ok"), "{text}");
    }

    #[test]
    fn a_new_leader_is_not_ready_until_its_cache_synced_even_with_leadership_excluded() {
        let (ok, text) = report(&checks(false, true, true), &["leader"]);
        assert!(!ok);
        assert!(text.contains("[-]sync failed"), "{text}");
    }

    #[test]
    fn becoming_leader_again_requires_a_fresh_sync() {
        let readiness = Readiness::new(true);
        readiness.set_leading(true);
        readiness.set_synced();
        assert!(readiness.is_ready());
        readiness.set_leading(true);
        assert!(!readiness.is_ready());
    }

    #[test]
    fn exclude_parameters_are_read_repeated_or_comma_separated() {
        assert_eq!(excluded_checks(Some("exclude=leader")), ["leader"]);
        assert_eq!(
            excluded_checks(Some("verbose&exclude=leader&exclude=sync")),
            ["leader", "sync"]
        );
        assert_eq!(excluded_checks(Some("exclude=leader,sync")), ["leader", "sync"]);
        assert!(excluded_checks(None).is_empty());
    }
}
