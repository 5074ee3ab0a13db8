//! HTTP handlers of the edna simulator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CallbackUrls, EdnaErrorStyle, EdnaInner, EdnaSetOmitted, EdnaSwitches, MAX_URL_LEN};
use crate::common::{SimCore, header_str, lock, probe, sim_middleware};

/// The URL fields of a `set` body, in the order they are checked.
const URL_FIELDS: [&str; 3] = ["statusCallbackUrl", "inMessageCallbackUrl", "messageMatcherCallbackUrl"];

pub(super) fn router(core: Arc<SimCore>, inner: Arc<EdnaInner>) -> Router {
    let state_inner = inner.clone();
    Router::new()
        .route("/api/callback/set", post(set))
        .route("/api/channel-profile", get(channel_profile))
        .route(
            "/_sim/state",
            get(move || async move { Json(state_inner.state_json()) }),
        )
        .route("/_sim/switches", post(admin_switches))
        .route("/_sim/activate-channel", post(admin_activate))
        .with_state(inner)
        .merge(core.admin_router())
        .layer(middleware::from_fn_with_state(core, sim_middleware))
}

/// An error answer, shaped by the current [`EdnaErrorStyle`].
struct EdnaError {
    http: StatusCode,
    code: &'static str,
    message: String,
}

impl EdnaError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        EdnaError {
            http: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    fn auth(http: StatusCode, code: &'static str, message: &str) -> Self {
        EdnaError {
            http,
            code,
            message: message.to_owned(),
        }
    }

    fn respond(self, style: EdnaErrorStyle) -> Response {
        let is_auth = self.http != StatusCode::BAD_REQUEST;
        match style {
            EdnaErrorStyle::Problem => {
                let body = json!({
                    "type": "about:blank",
                    "title": self.code,
                    "status": self.http.as_u16(),
                    "detail": format!("{}: {}", self.code, self.message),
                });
                (
                    self.http,
                    [(header::CONTENT_TYPE, "application/problem+json")],
                    body.to_string(),
                )
                    .into_response()
            }
            EdnaErrorStyle::Http200Code if !is_auth => {
                (StatusCode::OK, Json(json!({"code": self.code}))).into_response()
            }
            _ => (self.http, Json(json!({"code": self.code}))).into_response(),
        }
    }
}

/// Check the key and its method group; returns the key.
fn authenticate(inner: &EdnaInner, headers: &HeaderMap, group: &str) -> Result<String, EdnaError> {
    let Some(key) = header_str(headers, "x-api-key").filter(|k| !k.is_empty()) else {
        return Err(EdnaError::auth(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "X-API-KEY missing",
        ));
    };
    let store = lock(&inner.store);
    match store.keys.get(&key) {
        None => Err(EdnaError::auth(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown API key",
        )),
        Some(info) if info.groups.as_ref().is_some_and(|g| !g.contains(group)) => Err(EdnaError::auth(
            StatusCode::FORBIDDEN,
            "forbidden",
            "key lacks this method group",
        )),
        Some(_) => Ok(key),
    }
}

async fn set(State(inner): State<Arc<EdnaInner>>, headers: HeaderMap, raw: Bytes) -> Response {
    let switches = inner.switches();
    match do_set(&inner, &headers, &raw, switches.url_check, switches.set_omitted).await {
        Ok(()) => Json(json!({"code": "ok"})).into_response(),
        Err(e) => e.respond(switches.error_style),
    }
}

async fn do_set(
    inner: &EdnaInner,
    headers: &HeaderMap,
    raw: &[u8],
    url_check: bool,
    set_omitted: EdnaSetOmitted,
) -> Result<(), EdnaError> {
    let key = authenticate(inner, headers, "webhooks")?;
    let body: Map<String, Value> =
        serde_json::from_slice(raw).map_err(|_| EdnaError::new("bad-request", "body is not a JSON object"))?;

    let mut urls: [Option<String>; 3] = [None, None, None];
    for (slot, field) in urls.iter_mut().zip(URL_FIELDS) {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => *slot = Some(s.clone()),
            Some(_) => {
                return Err(EdnaError::new("bad-request", format!("{field} must be a string")));
            }
        }
    }
    let sent: Vec<&String> = urls.iter().flatten().collect();
    if sent.is_empty() {
        return Err(EdnaError::new("url-not-specified", "no callback URL in the body"));
    }
    if sent.iter().any(|u| u.chars().count() > MAX_URL_LEN) {
        return Err(EdnaError::new(
            "error-callback-url-max-length",
            format!("a callback URL is longer than {MAX_URL_LEN} characters"),
        ));
    }
    if !sent.iter().all(|u| is_https(u)) {
        return Err(EdnaError::new(
            "error-callback-url-not-https",
            "a callback URL is not https",
        ));
    }

    let subject_id = match body.get("subjectId") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(id) => Some(id),
            None => {
                return Err(EdnaError::new("bad-request", "subjectId must be an integer"));
            }
        },
    };
    if let Some(sid) = subject_id {
        let store = lock(&inner.store);
        let known = store
            .account(&key)
            .is_some_and(|a| a.channels.iter().any(|c| c.usable_subject_id() == Some(sid)));
        if !known {
            return Err(EdnaError::new(
                "error-subject-unknown",
                format!("no channel with subjectId {sid}"),
            ));
        }
    }

    if url_check {
        let mut checked: Vec<&String> = Vec::new();
        for url in sent {
            if checked.contains(&url) {
                continue;
            }
            checked.push(url);
            // No lock is held across this await.
            let answer = probe(&inner.probe, Method::HEAD, url).await;
            if answer != Ok(200) {
                let why = match answer {
                    Ok(s) => format!("HEAD {url} answered {s}"),
                    Err(e) => format!("HEAD {url} failed: {e}"),
                };
                return Err(EdnaError::new("error-callback-url-not-available", why));
            }
        }
    }

    let mut store = lock(&inner.store);
    let account = store
        .account_mut(&key)
        .ok_or_else(|| EdnaError::auth(StatusCode::UNAUTHORIZED, "unauthorized", "key was removed"))?;
    let entry = account.callbacks.entry(subject_id).or_default();
    let [status, in_message, matcher] = urls;
    apply(&mut entry.status_callback_url, status, set_omitted);
    apply(&mut entry.in_message_callback_url, in_message, set_omitted);
    apply(&mut entry.message_matcher_callback_url, matcher, set_omitted);
    if *entry == CallbackUrls::default() {
        account.callbacks.remove(&subject_id);
    }
    Ok(())
}

fn apply(slot: &mut Option<String>, sent: Option<String>, mode: EdnaSetOmitted) {
    match (sent, mode) {
        (Some(url), _) => *slot = Some(url),
        (None, EdnaSetOmitted::Clear) => *slot = None,
        (None, EdnaSetOmitted::Keep) => {}
    }
}

/// `https://` followed by a non-empty host.
fn is_https(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

async fn channel_profile(
    State(inner): State<Arc<EdnaInner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let style = inner.switches().error_style;
    let key = match authenticate(&inner, &headers, "channels") {
        Ok(k) => k,
        Err(e) => return e.respond(style),
    };
    let types: Vec<String> = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == "types")
        .flat_map(|(_, v)| {
            v.replace("%2C", ",")
                .replace("%2c", ",")
                .split([',', '+'])
                .map(|t| t.trim().to_ascii_uppercase())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let store = lock(&inner.store);
    let channels: Vec<Value> = store
        .account(&key)
        .map(|a| {
            a.channels
                .iter()
                .filter(|c| types.is_empty() || types.contains(&c.channel_type.to_ascii_uppercase()))
                .map(|c| c.to_api_json())
                .collect()
        })
        .unwrap_or_default();
    Json(Value::Array(channels)).into_response()
}

async fn admin_switches(State(inner): State<Arc<EdnaInner>>, Json(switches): Json<EdnaSwitches>) -> StatusCode {
    *lock(&inner.switches) = switches;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Activate {
    key: String,
    channel_id: i64,
    subject_id: i64,
}

/// `{"key","channel_id","subject_id"}`: activate a pending channel.
async fn admin_activate(State(inner): State<Arc<EdnaInner>>, Json(b): Json<Activate>) -> StatusCode {
    if inner.activate_channel(&b.key, b.channel_id, b.subject_id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}
