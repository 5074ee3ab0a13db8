//! HTTP handlers of the edna simulator.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};

use super::set::do_set;
use super::{EdnaErrorStyle, EdnaInner, EdnaSwitches, SuccessShape};
use crate::common::{SimCore, header_str, lock, sim_middleware};

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
pub(super) struct EdnaError {
    http: StatusCode,
    code: &'static str,
    message: String,
}

impl EdnaError {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        EdnaError {
            http: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    pub(super) fn auth(http: StatusCode, code: &'static str, message: &str) -> Self {
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
pub(super) fn authenticate(inner: &EdnaInner, headers: &HeaderMap, group: &str) -> Result<String, EdnaError> {
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
    match do_set(&inner, &headers, &raw, &switches).await {
        Ok(()) => success(switches.success_shape),
        Err(e) => e.respond(switches.error_style),
    }
}

/// The answer of a `set` that succeeded, in the switched shape.
fn success(shape: SuccessShape) -> Response {
    match shape {
        SuccessShape::CodeOk => Json(json!({"code": "ok"})).into_response(),
        SuccessShape::EmptyBody => StatusCode::OK.into_response(),
        SuccessShape::EmptyObject => Json(json!({})).into_response(),
        SuccessShape::HtmlPage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><p>Saved.</p></body></html>",
        )
            .into_response(),
        SuccessShape::NoContent => StatusCode::NO_CONTENT.into_response(),
    }
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
