//! HTTP handlers of the envelope simulator.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::echo::{api_json, to_text};
use super::model::validate_create_with;
use super::{EnvelopeInner, EnvelopeSwitches, KeyOrder, RemoveSuccess, Token};
use crate::common::{SimCore, header_str, lock, sim_middleware};

const CALLBACK: &str = "/api/v1/envelope/callback";

pub(super) fn router(core: Arc<SimCore>, inner: Arc<EnvelopeInner>) -> Router {
    let state_inner = inner.clone();
    Router::new()
        .route("/api/login", post(login))
        .route(&format!("{CALLBACK}/add"), post(add))
        .route(&format!("{CALLBACK}/list"), get(list))
        .route(&format!("{CALLBACK}/{{id}}/remove"), delete(remove))
        .route(&format!("{CALLBACK}/{{id}}/send"), get(send))
        .route(
            "/_sim/state",
            get(move || async move { Json(state_inner.state_json()) }),
        )
        .route("/_sim/switches", post(admin_switches))
        .route("/_sim/advance-clock", post(admin_advance_clock))
        .route("/_sim/revoke-tokens", post(admin_revoke))
        .with_state(inner)
        .merge(core.admin_router())
        .layer(middleware::from_fn_with_state(core, sim_middleware))
}

/// An error answer: `{"code": <status>, "message": ...}` under that status.
struct ApiError {
    status: u16,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({"code": self.status, "message": self.message});
        (code, Json(body)).into_response()
    }
}

fn err(status: u16, message: &str) -> ApiError {
    ApiError {
        status,
        message: message.to_owned(),
    }
}

fn error(status: u16, message: &str) -> Response {
    err(status, message).into_response()
}

fn parse(raw: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(raw).map_err(|_| err(400, "body is not valid JSON"))
}

/// Check the bearer token and the `Mailbox` header; returns the mailbox.
fn authorize(inner: &EnvelopeInner, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = header_str(headers, "authorization")
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
        })
        .ok_or_else(|| err(401, "bearer token missing"))?;
    let mut store = lock(&inner.store);
    let now = store.now();
    let info: Token = match store.tokens.get(&token) {
        None => return Err(err(401, "token invalid")),
        Some(t) if t.expires.is_some_and(|e| e <= now) => {
            store.tokens.remove(&token);
            return Err(err(401, "token expired"));
        }
        Some(t) => t.clone(),
    };
    let mailbox = header_str(headers, "mailbox")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| err(400, "Mailbox header missing"))?;
    if !info.mailboxes.contains(&mailbox) {
        return Err(err(403, "no access to the mailbox"));
    }
    Ok(mailbox)
}

async fn login(State(inner): State<Arc<EnvelopeInner>>, raw: Bytes) -> Response {
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (Some(login), Some(password)) = (
        body.get("login").and_then(Value::as_str),
        body.get("password").and_then(Value::as_str),
    ) else {
        return error(400, "login and password are required");
    };
    let mut store = lock(&inner.store);
    let Some(user) = store.users.get(login).filter(|u| u.password == password).cloned() else {
        return error(401, "bad login or password");
    };
    let token = format!("login-{}", Uuid::new_v4().simple());
    let expires = store.now() + inner.token_ttl;
    store.tokens.insert(
        token.clone(),
        Token {
            mailboxes: user.mailboxes.into_iter().collect(),
            expires: Some(expires),
            login: Some(user.login),
        },
    );
    inner.logins.fetch_add(1, Ordering::SeqCst);
    Json(json!({"token": token})).into_response()
}

async fn add(State(inner): State<Arc<EnvelopeInner>>, headers: HeaderMap, raw: Bytes) -> Response {
    let mailbox = match authorize(&inner, &headers) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let body = match parse(&raw) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let switches = inner.switches();
    let mut callback = match validate_create_with(&body, switches.strict_bounds) {
        Ok(c) => c,
        Err(msg) => return error(400, &msg),
    };
    // The API always generates the id; no idempotency: the same body twice makes two callbacks.
    callback.id = Uuid::new_v4();
    callback.url = switches.url_normalisation.apply(&callback.url);
    let sent_filter = body.get("filter").cloned().unwrap_or(Value::Null);
    let answer = api_json(&callback, Some(&sent_filter), &switches);
    {
        let mut store = lock(&inner.store);
        store.sent_filters.insert(callback.id, sent_filter);
        store.callbacks.entry(mailbox).or_default().push(callback);
    }
    let status = StatusCode::from_u16(switches.add_success_status).unwrap_or(StatusCode::CREATED);
    json_text(status, &answer, switches.key_order)
}

/// `v` as an `application/json` answer with object keys in `order`.
fn json_text(status: StatusCode, v: &Value, order: KeyOrder) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], to_text(v, order)).into_response()
}

async fn list(State(inner): State<Arc<EnvelopeInner>>, headers: HeaderMap) -> Response {
    let mailbox = match authorize(&inner, &headers) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let switches = inner.switches();
    let store = lock(&inner.store);
    let items: Vec<Value> = store
        .callbacks
        .get(&mailbox)
        .map(|l| {
            l.iter()
                .map(|c| api_json(c, store.sent_filters.get(&c.id), &switches))
                .collect()
        })
        .unwrap_or_default();
    drop(store);
    json_text(StatusCode::OK, &Value::Array(items), switches.key_order)
}

async fn remove(State(inner): State<Arc<EnvelopeInner>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mailbox = match authorize(&inner, &headers) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return error(404, "callback not found");
    };
    let switches = inner.switches();
    let mut store = lock(&inner.store);
    let list = store.callbacks.entry(mailbox).or_default();
    if let Some(pos) = list.iter().position(|c| c.id == id) {
        list.remove(pos);
        store.removed.insert(id);
        store.sent_filters.remove(&id);
        return match switches.remove_success {
            RemoveSuccess::EmptyOk => StatusCode::OK.into_response(),
            RemoveSuccess::NoContent => StatusCode::NO_CONTENT.into_response(),
            RemoveSuccess::JsonObject => Json(json!({})).into_response(),
        };
    }
    if store.removed.contains(&id) {
        return match switches.removed_answer {
            status @ (200 | 204) => StatusCode::from_u16(status).unwrap_or(StatusCode::OK).into_response(),
            status => error(status, "callback was removed"),
        };
    }
    error(404, "callback not found")
}

async fn send(State(inner): State<Arc<EnvelopeInner>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mailbox = match authorize(&inner, &headers) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let found = Uuid::parse_str(&id).ok().and_then(|id| {
        lock(&inner.store)
            .callbacks
            .get(&mailbox)
            .and_then(|l| l.iter().find(|c| c.id == id).cloned())
    });
    let Some(cb) = found else {
        return error(404, "callback not found");
    };
    let mut req = inner
        .probe
        .post(&cb.url)
        .timeout(Duration::from_millis(cb.timeout.into()))
        .json(&json!({"test": true, "callbackId": cb.id, "mailboxUuid": mailbox}));
    if let Some(login) = &cb.login {
        req = req.basic_auth(login, cb.password.as_deref());
    }
    // No lock is held across this await.
    match req.send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            Json(json!({"code": code, "body": body})).into_response()
        }
        Err(e) => Json(json!({"code": 0, "body": e.to_string()})).into_response(),
    }
}

async fn admin_switches(State(inner): State<Arc<EnvelopeInner>>, Json(switches): Json<EnvelopeSwitches>) -> Response {
    if let Err(e) = switches.validate() {
        return (StatusCode::BAD_REQUEST, e).into_response();
    }
    *lock(&inner.switches) = switches;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Advance {
    secs: u64,
}

/// `{"secs": N}`: move the simulated clock forward.
async fn admin_advance_clock(State(inner): State<Arc<EnvelopeInner>>, Json(b): Json<Advance>) -> StatusCode {
    inner.advance_clock(Duration::from_secs(b.secs));
    StatusCode::NO_CONTENT
}

async fn admin_revoke(State(inner): State<Arc<EnvelopeInner>>) -> StatusCode {
    inner.revoke_tokens();
    StatusCode::NO_CONTENT
}
