//! HTTP handlers of the mail simulator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::echo::api_json;
use super::model::{required_url, validate_set};
use super::{API_PREFIX, MailError, MailInner, MailKeyState, MailSwitches, ReceiverCheckFailure, SetOmitted};
use crate::common::{SimCore, header_str, lock, probe, sim_middleware};

pub(super) fn router(core: Arc<SimCore>, inner: Arc<MailInner>) -> Router {
    let state_inner = inner.clone();
    let api = Router::new()
        .route(&format!("{API_PREFIX}/{{*method}}"), post(dispatch))
        .route("/en/transactional/api/v1/{*method}", post(dispatch))
        .route(
            "/_sim/state",
            get(move || async move { Json(state_inner.state_json()) }),
        )
        .route("/_sim/switches", post(admin_switches))
        .route("/_sim/webhook-status", post(admin_webhook_status))
        .with_state(inner);
    api.merge(core.admin_router())
        .layer(middleware::from_fn_with_state(core, sim_middleware))
}

fn success(extra: Value) -> Response {
    let mut body = json!({"status": "success"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    Json(body).into_response()
}

async fn dispatch(
    State(inner): State<Arc<MailInner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let parsed: Result<Map<String, Value>, ()> = if raw.iter().all(u8::is_ascii_whitespace) {
        Ok(Map::new())
    } else {
        serde_json::from_slice(&raw).map_err(|_| ())
    };
    let key = match authenticate(&inner, &headers, parsed.as_ref().ok()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let Ok(body) = parsed else {
        return MailError::new(400, 100, "request body is not a JSON object").into_response();
    };
    let result = match method.as_str() {
        "webhook/set.json" => set(&inner, &key, &body).await,
        "webhook/get.json" => get_one(&inner, &key, &body),
        "webhook/list.json" => list(&inner, &key, &body),
        "webhook/delete.json" => delete(&inner, &key, &body),
        _ => Err(MailError::new(404, 404, "unknown API method")),
    };
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Key from the `X-API-KEY` header, else the body's `api_key`.
fn authenticate(
    inner: &MailInner,
    headers: &HeaderMap,
    body: Option<&Map<String, Value>>,
) -> Result<String, MailError> {
    let key = header_str(headers, "x-api-key").or_else(|| {
        body.and_then(|b| b.get("api_key"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(MailError::new(401, 101, "API key is missing"));
    };
    match lock(&inner.store).keys.get(&key) {
        None => Err(MailError::new(401, 102, "invalid API key")),
        Some(MailKeyState::WrongDatacenter) => Err(MailError::new(401, 114, "user not found")),
        Some(MailKeyState::ApiDisabled) => Err(MailError::new(403, 105, "API access is disabled")),
        Some(MailKeyState::UserInactive) => Err(MailError::new(403, 106, "user is inactive")),
        Some(MailKeyState::Active) => Ok(key),
    }
}

async fn set(inner: &MailInner, key: &str, body: &Map<String, Value>) -> Result<Response, MailError> {
    let switches = inner.switches();
    let keep = match switches.set_omitted {
        SetOmitted::Reset => None,
        SetOmitted::Keep => {
            let url = switches.url_normalisation.apply(&required_url(body)?);
            lock(&inner.store).hooks.get(key).and_then(|h| h.get(&url).cloned())
        }
    };
    let mut hook = validate_set(body, keep.as_ref(), switches.accept_sent_event)?;
    if hook.status == "active" && switches.activation_check {
        // No lock is held across this await.
        let why = match probe(&inner.probe, Method::GET, &hook.url).await {
            Ok(200) => None,
            Ok(status) => Some(format!("webhook url check failed: GET answered {status}, expected 200")),
            Err(e) => Some(format!("webhook url check failed: {e}")),
        };
        if let Some(why) = why {
            return Err(receiver_check_failed(switches.receiver_check_failure_code, &why));
        }
    }
    hook.url = switches.url_normalisation.apply(&hook.url);
    let stored = {
        let mut store = lock(&inner.store);
        let store = &mut *store;
        let hooks = store.hooks.entry(key.to_owned()).or_default();
        hooks.upsert(hook, &mut store.next_id)
    };
    Ok(success(json!({"object": api_json(&stored, &switches, false)})))
}

fn receiver_check_failed(mode: ReceiverCheckFailure, why: &str) -> MailError {
    match mode {
        ReceiverCheckFailure::Code2713 => MailError::new(400, 2713, why),
        ReceiverCheckFailure::Code { http, code } => MailError::new(http, code, why),
        ReceiverCheckFailure::NoCode { http } => MailError::without_code(http, why),
    }
}

fn not_found(inner: &MailInner) -> MailError {
    let http = inner.switches().not_found_http_status;
    MailError::new(http, 304, "webhook with that URL not found")
}

fn get_one(inner: &MailInner, key: &str, body: &Map<String, Value>) -> Result<Response, MailError> {
    let url = required_url(body)?;
    let switches = inner.switches();
    let found = lock(&inner.store).hooks.get(key).and_then(|h| h.get(&url).cloned());
    match found {
        Some(h) => Ok(success(json!({"object": api_json(&h, &switches, true)}))),
        None => Err(not_found(inner)),
    }
}

fn list(inner: &MailInner, key: &str, body: &Map<String, Value>) -> Result<Response, MailError> {
    let switches = inner.switches();
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(50) as usize;
    let limit = switches.list_page_cap.map_or(limit, |cap| limit.min(cap));
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let objects: Vec<Value> = lock(&inner.store)
        .hooks
        .get(key)
        .map(|h| {
            h.by_id
                .values()
                .skip(offset)
                .take(limit)
                .map(|w| api_json(w, &switches, true))
                .collect()
        })
        .unwrap_or_default();
    Ok(success(json!({"objects": objects})))
}

fn delete(inner: &MailInner, key: &str, body: &Map<String, Value>) -> Result<Response, MailError> {
    let url = required_url(body)?;
    let removed = lock(&inner.store).hooks.get_mut(key).and_then(|h| h.remove(&url));
    match removed {
        Some(_) => Ok(success(json!({}))),
        None => Err(not_found(inner)),
    }
}

async fn admin_switches(State(inner): State<Arc<MailInner>>, Json(switches): Json<MailSwitches>) -> Response {
    if let Err(e) = switches.validate() {
        return (StatusCode::BAD_REQUEST, e).into_response();
    }
    *lock(&inner.switches) = switches;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct WebhookStatus {
    key: String,
    url: String,
    status: String,
}

/// `{"key","url","status"}`: e.g. flip a webhook to `stopped` as the provider's auto-stop does.
async fn admin_webhook_status(State(inner): State<Arc<MailInner>>, Json(b): Json<WebhookStatus>) -> StatusCode {
    if inner.set_webhook_status(&b.key, &b.url, &b.status) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
