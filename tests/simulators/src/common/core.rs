//! [`SimCore`]: the request log, fault queue and latency shared by every simulator, the axum
//! middleware that applies them, and the generic part of the `/_sim/` admin API.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fault::{Fault, FaultQueue};
use super::log::{RequestLog, RequestRecord};
use super::server::{ConnInfo, Shutdown};

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
    faults: Mutex<FaultQueue>,
    latency: Mutex<Duration>,
    shutdown: Shutdown,
}

impl SimCore {
    pub fn new(provider: &'static str, classify: Classifier, latency: Duration) -> Arc<Self> {
        Arc::new(SimCore {
            provider,
            classify,
            log: Mutex::default(),
            faults: Mutex::default(),
            latency: Mutex::new(latency),
            shutdown: Shutdown::new(),
        })
    }

    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The signal that stops this simulator's server (and ends hanging requests).
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// All recorded calls, oldest first (at most [`LOG_CAPACITY`](super::LOG_CAPACITY)).
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).records()
    }

    /// Number of calls of `op` since start or the last [`clear_requests`](Self::clear_requests).
    pub fn count(&self, op: &str) -> u64 {
        lock(&self.log).count(op)
    }

    /// Number of calls of `op` made with `credential` (API key or bearer token).
    pub fn count_for(&self, credential: &str, op: &str) -> u64 {
        lock(&self.log).count_for(credential, op)
    }

    /// Forget recorded calls and counters.
    pub fn clear_requests(&self) {
        lock(&self.log).clear();
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

    fn record(&self, c: &Classified, method: &Method, path: &str, body: Value) -> RequestRecord {
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

    fn push(&self, mut record: RequestRecord, status: u16, fault: Option<&'static str>) {
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

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Middleware applying latency and faults and recording every non-admin call.
/// Install with `axum::middleware::from_fn_with_state(core, sim_middleware)`.
pub async fn sim_middleware(
    State(core): State<Arc<SimCore>>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/_sim/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let json_body = parse_body(&bytes);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let classified = (core.classify)(&RequestView {
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        body: &json_body,
    });
    let record = core.record(&classified, &parts.method, &path, json_body);
    let req = Request::from_parts(parts, Body::from(bytes));

    let latency = core.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = lock(&core.faults).take(&classified.op);
    let Some(fault) = fault else {
        let resp = next.run(req).await;
        core.push(record, resp.status().as_u16(), None);
        return resp;
    };
    let name = Some(fault.name());
    match fault {
        Fault::Status { status, body } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            core.push(record, code.as_u16(), name);
            (code, Json(body)).into_response()
        }
        Fault::RateLimited { retry_after_secs } => {
            core.push(record, 429, name);
            let body = json!({"status": "error", "code": 429, "message": "Too many requests"});
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Fault::Hang => {
            core.push(record, 0, name);
            hang(&core).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::HangAfterHandling => {
            let resp = next.run(req).await;
            core.push(record, 0, name);
            hang(&core).await;
            conn.kill.kill();
            resp
        }
        Fault::CrashAfterAdd => {
            let resp = next.run(req).await;
            core.push(record, 0, name);
            conn.kill.kill();
            resp
        }
    }
}

/// Holds a request open until the simulator shuts down or [`HANG_LIMIT`] passes (a client that
/// gives up first drops this future with its connection).
async fn hang(core: &SimCore) {
    let signal = core.shutdown_signal();
    tokio::select! {
        _ = signal.wait() => {}
        _ = tokio::time::sleep(HANG_LIMIT) => {}
    }
}
