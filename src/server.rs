//! The operator's own HTTP endpoints: `/metrics` (Prometheus text), `/livez` (`/healthz`), `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::telemetry::Metrics;

/// Readiness: the CallbackRegistration store has synced and, with leader election, this replica leads.
#[derive(Clone, Default)]
pub struct Readiness {
    synced: Arc<AtomicBool>,
    leading: Arc<AtomicBool>,
    election: bool,
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

    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst) && self.leading.load(Ordering::SeqCst)
    }

    fn describe(&self) -> String {
        let synced = self.synced.load(Ordering::SeqCst);
        let leading = self.leading.load(Ordering::SeqCst);
        match (synced, leading, self.election) {
            (true, true, _) => "ok".into(),
            (_, false, true) => "not leading: standing by for the leader Lease".into(),
            _ => "waiting for the CallbackRegistration cache to sync".into(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/livez", get(|| async { "ok" }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(AppState { metrics, readiness })
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

async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    let text = state.readiness.describe();
    if state.readiness.is_ready() {
        (StatusCode::OK, text)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, text)
    }
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
