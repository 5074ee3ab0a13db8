//! The axum middleware every simulator runs: it records each API call, applies latency, and
//! answers with a queued [`Fault`] instead of (or on top of) the handler.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::core::{HANG_LIMIT, MAX_BODY, RequestView, SimCore};
use super::fault::Fault;
use super::secret::SecretForm;
use super::server::ConnInfo;
use super::stream::Pace;

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
    let view = RequestView {
        method: &parts.method,
        path: parts.uri.path(),
        headers: &parts.headers,
        body: &json_body,
    };
    let classified = core.classify(&view);
    // What an `EchoSecret` fault would echo; cheap, so taken for every call.
    let secret = (core.echo.secret)(&view).or_else(|| classified.credential.clone().map(|c| ("credential", c)));
    let record = core.record(&classified, &parts.method, &path, json_body);
    let req = Request::from_parts(parts, Body::from(bytes));

    let latency = core.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = core.take_fault(&classified.op) else {
        let resp = next.run(req).await;
        core.push(record, resp.status().as_u16(), None);
        return resp;
    };
    let name = Some(fault.name());
    let resp = match fault {
        Fault::Status { status, body } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, Json(body)).into_response()
        }
        Fault::RateLimited { retry_after_secs } => {
            let body = json!({"status": "error", "code": 429, "message": "Too many requests"});
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Fault::Hang => {
            core.push(record, 0, name);
            hang(&core).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Fault::HangAfterHandling => {
            let resp = next.run(req).await;
            core.push(record, 0, name);
            hang(&core).await;
            conn.kill.kill();
            return resp;
        }
        Fault::CrashAfterAdd => {
            let resp = next.run(req).await;
            core.push(record, 0, name);
            conn.kill.kill();
            return resp;
        }
        Fault::Redirect { status, location } => redirect(status, &location),
        Fault::HugeBody { bytes } => generated(&core, bytes, Pace::Full).await,
        Fault::SlowDrip { bytes_per_sec, total } => generated(&core, total, Pace::Drip(bytes_per_sec)).await,
        Fault::NonJson => html_page(),
        Fault::NonUtf8 => non_utf8(),
        Fault::EchoSecret { form } => echo_secret(&core, &form, secret),
    };
    core.push(record, resp.status().as_u16(), name);
    resp
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

fn redirect(status: u16, location: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let mut resp = code.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn generated(core: &SimCore, total: u64, pace: Pace) -> Response {
    match core.generator.get(&core.shutdown_signal()).await {
        Ok(g) => g.answer(total, pace).await,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("generator: {e}")).into_response(),
    }
}

fn html_page() -> Response {
    let page = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
                <body><h1>Session expired</h1><p>Please <a href=\"/login\">sign in</a> again.</p></body></html>\n";
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// `{"status":"success","message":"<invalid UTF-8>"}` under `application/json`.
fn non_utf8() -> Response {
    let mut body = br#"{"status":"success","code":"ok","message":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]);
    body.extend_from_slice(br#""}"#);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn echo_secret(core: &SimCore, form: &SecretForm, secret: Option<(&'static str, String)>) -> Response {
    let message = match secret {
        Some((what, secret)) => form.message_literal(what, &secret),
        None => serde_json::Value::String("request refused: no credential was sent".into()).to_string(),
    };
    let (status, content_type, body) = (core.echo.answer)(&message);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (code, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
