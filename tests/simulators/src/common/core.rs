//! [`SimCore`]: the request log, fault queue and latency shared by every simulator, and the
//! generic part of the `/_sim/` admin API. The middleware applying them is in `middleware.rs`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fault::{Fault, FaultQueue};
use super::log::{RequestLog, RequestRecord};
use super::server::Shutdown;
use super::stream::LazyGenerator;

/// Longest a [`Fault::Hang`] keeps a request open (unless the simulator shuts down first).
pub const HANG_LIMIT: Duration = Duration::from_secs(600);
/// Largest request body a simulator accepts.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What a provider's classifier sees of a request.
pub struct RequestView<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a Value,
}

/// How a request is filed in the log and matched against faults.
pub struct Classified {
    pub op: String,
    pub credential: Option<String>,
    pub scope: Option<String>,
}

/// Provider-specific classification of a request.
pub type Classifier = fn(&RequestView<'_>) -> Classified;

/// How a provider answers [`Fault::EchoSecret`]: the credential a request carried, and the
/// provider's error body around a message.
#[derive(Clone, Copy)]
pub struct SecretEcho {
    /// What the request carried: (what to call it in the message, the secret). `None` when the
    /// request carried no credential (the message then says so).
    pub secret: fn(&RequestView<'_>) -> Option<(&'static str, String)>,
    /// The provider's error answer around `message`, a JSON string literal (quotes included,
    /// possibly with `\u` escapes that must reach the client as written): (HTTP status, content
    /// type, body text).
    pub answer: fn(message: &str) -> (u16, &'static str, String),
}

impl Default for SecretEcho {
    /// The classified credential, in a provider-neutral `400 {"message": ...}`.
    fn default() -> Self {
        SecretEcho {
            secret: |_| None,
            answer: |m| (400, "application/json", format!(r#"{{"message":{m}}}"#)),
        }
    }
}

/// Lock a std mutex, ignoring poisoning (a panicking test must not wedge the simulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Header value or `None`.
pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Log, faults and latency of one simulator.
pub struct SimCore {
    provider: &'static str,
    classify: Classifier,
    log: Mutex<RequestLog>,
    /// Calls per op counted when they arrive (the log records a call once it is answered): a test can tell a call
    /// is in flight.
    arrivals: Mutex<std::collections::HashMap<String, u64>>,
    faults: Mutex<FaultQueue>,
    latency: Mutex<Duration>,
    shutdown: Shutdown,
    pub(super) echo: SecretEcho,
    pub(super) generator: LazyGenerator,
}

impl SimCore {
    pub fn new(provider: &'static str, classify: Classifier, latency: Duration) -> Arc<Self> {
        Self::with_secret_echo(provider, classify, SecretEcho::default(), latency)
    }

    /// Like [`new`](Self::new), with the provider's [`SecretEcho`] (the classified credential is
    /// echoed when `echo.secret` finds none).
    pub fn with_secret_echo(
        provider: &'static str,
        classify: Classifier,
        echo: SecretEcho,
        latency: Duration,
    ) -> Arc<Self> {
        Arc::new(SimCore {
            provider,
            classify,
            log: Mutex::default(),
            arrivals: Mutex::default(),
            faults: Mutex::default(),
            latency: Mutex::new(latency),
            shutdown: Shutdown::new(),
            echo,
            generator: LazyGenerator::default(),
        })
    }

    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The signal that stops this simulator's server (and ends hanging requests).
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Bytes of generated bodies ([`Fault::HugeBody`](super::Fault::HugeBody), [`Fault::SlowDrip`](super::Fault::SlowDrip))
    /// written so far: a client that refuses a huge body without reading it leaves this far below the body's size.
    pub fn streamed_bytes(&self) -> u64 {
        self.generator.written()
    }

    /// All recorded calls, oldest first (at most [`LOG_CAPACITY`](super::LOG_CAPACITY)).
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).records()
    }

    /// Number of calls of `op` since start or the last [`clear_requests`](Self::clear_requests).
    pub fn count(&self, op: &str) -> u64 {
        lock(&self.log).count(op)
    }

    /// Number of calls of `op` that arrived, answered or not (since start or the last `clear_requests`).
    pub fn arrived(&self, op: &str) -> u64 {
        lock(&self.arrivals).get(op).copied().unwrap_or(0)
    }

    /// Number of calls of `op` made with `credential` (API key or bearer token).
    pub fn count_for(&self, credential: &str, op: &str) -> u64 {
        lock(&self.log).count_for(credential, op)
    }

    /// Forget recorded calls and counters.
    pub fn clear_requests(&self) {
        lock(&self.log).clear();
        lock(&self.arrivals).clear();
    }

    /// Queue `fault` for the next `times` calls of any op.
    pub fn inject(&self, fault: Fault, times: u32) {
        lock(&self.faults).push(None, fault, times);
    }

    /// Queue `fault` for the next `times` calls of `op` only.
    pub fn inject_for(&self, op: &str, fault: Fault, times: u32) {
        lock(&self.faults).push(Some(op.to_owned()), fault, times);
    }

    /// Drop every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Delay applied to every API call before it is handled (admin calls excluded).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    pub fn latency(&self) -> Duration {
        *lock(&self.latency)
    }

    pub(super) fn classify(&self, view: &RequestView<'_>) -> Classified {
        (self.classify)(view)
    }

    pub(super) fn take_fault(&self, op: &str) -> Option<Fault> {
        lock(&self.faults).take(op)
    }

    pub(super) fn record(&self, c: &Classified, method: &Method, path: &str, body: Value) -> RequestRecord {
        *lock(&self.arrivals).entry(c.op.clone()).or_default() += 1;
        RequestRecord {
            seq: 0,
            provider: self.provider,
            op: c.op.clone(),
            method: method.to_string(),
            path: path.to_owned(),
            status: 0,
            fault: None,
            credential: c.credential.clone(),
            scope: c.scope.clone(),
            at: SystemTime::now(),
            body,
        }
    }

    pub(super) fn push(&self, mut record: RequestRecord, status: u16, fault: Option<&'static str>) {
        record.status = status;
        record.fault = fault;
        lock(&self.log).push(record);
    }

    /// Generic admin routes: `GET /_sim/requests`, `GET|POST /_sim/faults`,
    /// `POST /_sim/faults/clear`, `POST /_sim/reset-requests`, `POST /_sim/latency`.
    /// The simulator adds `GET /_sim/state` itself.
    pub fn admin_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/_sim/requests", get(admin_requests))
            .route("/_sim/faults", get(admin_faults).post(admin_inject))
            .route("/_sim/faults/clear", post(admin_clear_faults))
            .route("/_sim/reset-requests", post(admin_reset))
            .route("/_sim/latency", post(admin_latency))
            .with_state(self.clone())
    }
}

async fn admin_requests(State(core): State<Arc<SimCore>>) -> Json<Value> {
    Json(json!(core.requests()))
}

async fn admin_faults(State(core): State<Arc<SimCore>>) -> Json<Value> {
    Json(json!(lock(&core.faults).pending()))
}

#[derive(Deserialize)]
struct InjectBody {
    fault: Fault,
    #[serde(default = "one")]
    times: u32,
    #[serde(default)]
    op: Option<String>,
}

fn one() -> u32 {
    1
}

async fn admin_inject(State(core): State<Arc<SimCore>>, Json(b): Json<InjectBody>) -> StatusCode {
    lock(&core.faults).push(b.op, b.fault, b.times);
    StatusCode::NO_CONTENT
}

async fn admin_clear_faults(State(core): State<Arc<SimCore>>) -> StatusCode {
    core.clear_faults();
    StatusCode::NO_CONTENT
}

async fn admin_reset(State(core): State<Arc<SimCore>>) -> StatusCode {
    core.clear_requests();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LatencyBody {
    ms: u64,
}

async fn admin_latency(State(core): State<Arc<SimCore>>, Json(b): Json<LatencyBody>) -> StatusCode {
    core.set_latency(Duration::from_millis(b.ms));
    StatusCode::NO_CONTENT
}
