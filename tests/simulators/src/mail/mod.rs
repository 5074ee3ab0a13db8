//! Unisender Go transactional-email webhooks (`mail.md`): `webhook/set|get|list|delete.json`.
//!
//! Choices where the contract is silent (all documented in the crate README too):
//! - a failed activation `GET` (no answer or not 200) answers HTTP 400, code **2713** (the only
//!   listed code about the URL's reachability);
//! - a malformed JSON body answers HTTP 400, code 100; an unknown method HTTP 404, code 404;
//! - `status` not a string → 2714, an unknown status value → 2715;
//! - a url that is not `http(s)://host…` (scheme in lower case), has a non-ASCII host or a host
//!   under `.invalid` → 2713;
//! - the `EchoSecret` fault answers HTTP 400, code 100, the key in `message`.
//!
//! Readings the contract leaves open are switches ([`MailSwitches`], `switches.rs`); the read-side
//! shaping they imply is in `echo.rs`.

mod echo;
mod handlers;
mod model;
mod switches;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use model::KeyHooks;
pub use model::{EMAIL_STATUSES, Events, Webhook};
pub use switches::{
    ALWAYS_DIFFERS_FIELDS, EmailStatusOrder, MailSwitches, ReceiverCheckFailure, SetOmitted, StoppedWord,
};

use crate::common::{
    Classified, RequestView, SecretEcho, Server, SimCore, UrlNormalisation, header_str, impl_sim_controls, lock,
};

/// Provider name in request records.
pub const PROVIDER: &str = "mail";
/// Path prefix of the API (`base_url()` ends with it).
pub const API_PREFIX: &str = "/ru/transactional/api/v1";

/// How a key answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKeyState {
    Active,
    /// The account lives in the other data centre: 401, code 114.
    WrongDatacenter,
    /// 403, code 105.
    ApiDisabled,
    /// 403, code 106.
    UserInactive,
}

/// Start-up configuration.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `0` = ephemeral port.
    pub port: u16,
    /// Valid keys.
    pub keys: Vec<String>,
    /// Keys of accounts in the other data centre (answer 401, code 114).
    pub wrong_datacenter_keys: Vec<String>,
    /// Delay applied to every API call.
    pub latency: Duration,
    /// Timeout of the activation `GET`.
    pub probe_timeout: Duration,
    pub switches: MailSwitches,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            port: 0,
            keys: Vec::new(),
            wrong_datacenter_keys: Vec::new(),
            latency: Duration::ZERO,
            probe_timeout: Duration::from_secs(3),
            switches: MailSwitches::default(),
        }
    }
}

/// An error answer: HTTP status + `{"status":"error","code":N,"message":"..."}` (code `0` =
/// no `code` field, see [`MailError::without_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailError {
    pub http: u16,
    pub code: u32,
    pub message: String,
}

impl MailError {
    pub fn new(http: u16, code: u32, message: &str) -> Self {
        MailError {
            http,
            code,
            message: message.to_owned(),
        }
    }

    /// `{"status":"error","message":"..."}` with no `code`.
    pub fn without_code(http: u16, message: &str) -> Self {
        Self::new(http, 0, message)
    }
}

impl IntoResponse for MailError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http).unwrap_or(StatusCode::BAD_REQUEST);
        let body = if self.code == 0 {
            json!({"status": "error", "message": self.message})
        } else {
            json!({"status": "error", "code": self.code, "message": self.message})
        };
        (status, Json(body)).into_response()
    }
}

#[derive(Default)]
struct Store {
    keys: HashMap<String, MailKeyState>,
    hooks: HashMap<String, KeyHooks>,
    next_id: u64,
}

pub(crate) struct MailInner {
    store: Mutex<Store>,
    switches: Mutex<MailSwitches>,
    probe: reqwest::Client,
}

impl MailInner {
    fn switches(&self) -> MailSwitches {
        lock(&self.switches).clone()
    }

    fn set_webhook_status(&self, key: &str, url: &str, status: &str) -> bool {
        let mut store = lock(&self.store);
        match store.hooks.get_mut(key).and_then(|h| h.get_mut(url)) {
            Some(hook) => {
                hook.status = status.to_owned();
                hook.updated_at = model::now_stamp();
                true
            }
            None => false,
        }
    }

    fn state_json(&self) -> Value {
        let store = lock(&self.store);
        let hooks: serde_json::Map<String, Value> =
            store.hooks.iter().map(|(k, h)| (k.clone(), json!(h.list()))).collect();
        json!({
            "provider": PROVIDER,
            "keys": store.keys,
            "webhooks": hooks,
            "switches": self.switches(),
        })
    }
}

fn classify(req: &RequestView<'_>) -> Classified {
    let op = req
        .path
        .split_once("/transactional/api/v1/")
        .map(|(_, m)| m.trim_end_matches(".json").to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let credential = header_str(req.headers, "x-api-key")
        .or_else(|| req.body.get("api_key").and_then(Value::as_str).map(str::to_owned));
    Classified {
        op,
        credential,
        scope: None,
    }
}

/// `EchoSecret` answers: the key (header or body) in `400 {"status":"error","code":100,"message":...}`.
const SECRET_ECHO: SecretEcho = SecretEcho {
    secret: |req| classify(req).credential.map(|k| ("API key", k)),
    answer: |message| {
        let body = format!(r#"{{"status":"error","code":100,"message":{message}}}"#);
        (400, "application/json", body)
    },
};

/// Starts mail simulators.
pub struct MailSimulator;

impl MailSimulator {
    /// Bind `127.0.0.1:config.port` and serve until the last [`MailSim`] clone is dropped.
    pub async fn start(config: MailConfig) -> io::Result<MailSim> {
        config.switches.validate().map_err(io::Error::other)?;
        let core = SimCore::with_secret_echo(PROVIDER, classify, SECRET_ECHO, config.latency);
        let mut store = Store::default();
        for k in &config.keys {
            store.keys.insert(k.clone(), MailKeyState::Active);
        }
        for k in &config.wrong_datacenter_keys {
            store.keys.insert(k.clone(), MailKeyState::WrongDatacenter);
        }
        let inner = Arc::new(MailInner {
            store: Mutex::new(store),
            switches: Mutex::new(config.switches.clone()),
            probe: crate::common::probe_client(config.probe_timeout),
        });
        let router = handlers::router(core.clone(), inner.clone());
        let server = crate::common::serve(router, config.port, core.shutdown_signal()).await?;
        let base_url = format!("http://{}{}", server.addr(), API_PREFIX);
        Ok(MailSim {
            core,
            inner,
            server: Arc::new(server),
            base_url,
        })
    }
}

/// Handle to a running mail simulator (cheap to clone; the server stops with the last clone).
#[derive(Clone)]
pub struct MailSim {
    core: Arc<SimCore>,
    inner: Arc<MailInner>,
    server: Arc<Server>,
    base_url: String,
}

impl_sim_controls!(MailSim);

impl MailSim {
    pub fn add_key(&self, key: &str) {
        self.set_key_state(key, MailKeyState::Active);
    }

    /// A key of an account in the other data centre: every call answers 401, code 114.
    pub fn add_wrong_datacenter_key(&self, key: &str) {
        self.set_key_state(key, MailKeyState::WrongDatacenter);
    }

    pub fn set_key_state(&self, key: &str, state: MailKeyState) {
        lock(&self.inner.store).keys.insert(key.to_owned(), state);
    }

    /// Forget a key (calls with it answer 401, code 102); its webhooks stay.
    pub fn remove_key(&self, key: &str) {
        lock(&self.inner.store).keys.remove(key);
    }

    /// Webhooks of `key`, in creation order.
    pub fn webhooks(&self, key: &str) -> Vec<Webhook> {
        lock(&self.inner.store)
            .hooks
            .get(key)
            .map(KeyHooks::list)
            .unwrap_or_default()
    }

    pub fn webhook(&self, key: &str, url: &str) -> Option<Webhook> {
        lock(&self.inner.store).hooks.get(key).and_then(|h| h.get(url).cloned())
    }

    /// Store a webhook behind the operator's back, without validation. `obj` is in the API's shape;
    /// omitted fields take defaults, `id`/`updated_at` are generated when absent.
    pub fn put_webhook(&self, key: &str, obj: Value) -> Result<Webhook, String> {
        let hook: Webhook = serde_json::from_value(obj).map_err(|e| e.to_string())?;
        let mut store = lock(&self.inner.store);
        let store = &mut *store;
        let hooks = store.hooks.entry(key.to_owned()).or_default();
        Ok(hooks.upsert(hook, &mut store.next_id))
    }

    /// Set a webhook's status (e.g. `"stopped"`, as the provider's auto-stop does).
    /// Returns false when there is no such webhook.
    pub fn set_webhook_status(&self, key: &str, url: &str, status: &str) -> bool {
        self.inner.set_webhook_status(key, url, status)
    }

    /// Delete a webhook behind the operator's back. Returns false when there was none.
    pub fn remove_webhook(&self, key: &str, url: &str) -> bool {
        lock(&self.inner.store)
            .hooks
            .get_mut(key)
            .and_then(|h| h.remove(url))
            .is_some()
    }

    pub fn switches(&self) -> MailSwitches {
        self.inner.switches()
    }

    /// Replace every switch. Panics when `echo_always_differs` names an unknown field.
    pub fn set_switches(&self, switches: MailSwitches) {
        if let Err(e) = switches.validate() {
            panic!("{e}");
        }
        *lock(&self.inner.switches) = switches;
    }

    /// Turn the activation `GET` on or off.
    pub fn set_activation_check(&self, on: bool) {
        lock(&self.inner.switches).activation_check = on;
    }

    pub fn set_set_omitted(&self, mode: SetOmitted) {
        lock(&self.inner.switches).set_omitted = mode;
    }

    /// HTTP status of error 304 (400 by default, or 404).
    pub fn set_not_found_http_status(&self, status: u16) {
        lock(&self.inner.switches).not_found_http_status = status;
    }

    pub fn set_accept_sent_event(&self, on: bool) {
        lock(&self.inner.switches).accept_sent_event = on;
    }

    pub fn set_omit_delivery_flags_on_read(&self, on: bool) {
        lock(&self.inner.switches).omit_delivery_flags_on_read = on;
    }

    /// What reads show for a webhook the provider stopped: `stopped` (default) or `inactive`.
    pub fn set_disabled_status_word(&self, word: StoppedWord) {
        lock(&self.inner.switches).disabled_status_word = word;
    }

    /// The error of a failed activation `GET` (default HTTP 400, code 2713).
    pub fn set_receiver_check_failure_code(&self, failure: ReceiverCheckFailure) {
        lock(&self.inner.switches).receiver_check_failure_code = failure;
    }

    /// How `set` stores urls (default exactly as sent); `get`/`delete` match the stored form exactly.
    pub fn set_url_normalisation(&self, mode: UrlNormalisation) {
        lock(&self.inner.switches).url_normalisation = mode;
    }

    /// Order of echoed `events.email_status` (default as sent).
    pub fn set_email_status_order(&self, order: EmailStatusOrder) {
        lock(&self.inner.switches).email_status_order = order;
    }

    /// Cap on objects per `list` page, whatever `limit` asks (default none).
    pub fn set_list_page_cap(&self, cap: Option<usize>) {
        lock(&self.inner.switches).list_page_cap = cap;
    }

    /// TEST ONLY: echo `field` (one of [`ALWAYS_DIFFERS_FIELDS`]) with a value that always differs
    /// from the stored one; `None` turns it off. Panics on an unknown field.
    pub fn set_echo_always_differs(&self, field: Option<&str>) {
        let mut switches = self.switches();
        switches.echo_always_differs = field.map(str::to_owned);
        self.set_switches(switches);
    }

    /// TEST ONLY: with `echo_always_differs`, echo a different differing value on every answer.
    pub fn set_echo_varies(&self, on: bool) {
        let mut switches = self.switches();
        switches.echo_varies = on;
        self.set_switches(switches);
    }

    /// Everything held, as served by `GET /_sim/state`.
    pub fn state_json(&self) -> Value {
        self.inner.state_json()
    }
}
