//! DocStudio envelope callbacks (`envelope.md`): `POST /api/login` and
//! `/api/v1/envelope/callback/{add, list, {id}/remove, {id}/send}`.
//!
//! Choices where the contract is silent:
//! - every error body is `{"code": <http status>, "message": "..."}`;
//! - a missing `Mailbox` header answers 400; a mailbox the token does not own 403;
//! - bad login/password answers 401;
//! - the create `url` must be an absolute http(s) URL; unknown `filter` fields are refused (400);
//!   `successCode` must be in 100..599; a password without a login is refused (400);
//! - statuses are stored upper case, scopes lower case, dates as UTC with milliseconds
//!   (`...T..:..:...000Z`), so a client must compare sets as sets and dates as instants;
//! - `{id}/send` POSTs a test payload to the URL (with basic auth when set) and answers
//!   `{code, body}`; the filter `check` method is not simulated;
//! - the `EchoSecret` fault answers 400 `{"code":400,"message"}` with the bearer token, or on
//!   `/api/login` the password.
//!
//! Readings the contract leaves open are switches ([`EnvelopeSwitches`], `switches.rs`, which also
//! holds the handle's setters); the echo shaping they imply is in `echo.rs`.

mod echo;
mod handlers;
mod model;
mod switches;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

pub use model::{Callback, Filter, SCOPES, STATUSES};
// The handle's switch setters live in `switches.rs`.
pub use switches::{
    ALWAYS_DIFFERS_FIELDS, DateEcho, EnumCase, EnvelopeSwitches, KeyOrder, RemoveSuccess, RemovedAnswer,
    UnsetFilterFields,
};

use crate::common::{Classified, RequestView, SecretEcho, Server, SimCore, header_str, impl_sim_controls, lock};

/// Provider name in request records.
pub const PROVIDER: &str = "envelope";
/// Lifetime of a login token (simulated time).
pub const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// A login user.
#[derive(Clone, Debug)]
pub struct User {
    pub login: String,
    pub password: String,
    pub mailboxes: Vec<String>,
}

/// Start-up configuration.
#[derive(Clone, Debug)]
pub struct EnvelopeConfig {
    /// `0` = ephemeral port.
    pub port: u16,
    /// Application tokens as (token, mailboxes owned).
    pub tokens: Vec<(String, Vec<String>)>,
    pub users: Vec<User>,
    pub latency: Duration,
    pub login_token_ttl: Duration,
    pub switches: EnvelopeSwitches,
}

impl Default for EnvelopeConfig {
    fn default() -> Self {
        EnvelopeConfig {
            port: 0,
            tokens: Vec::new(),
            users: Vec::new(),
            latency: Duration::ZERO,
            login_token_ttl: LOGIN_TOKEN_TTL,
            switches: EnvelopeSwitches::default(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    mailboxes: HashSet<String>,
    /// `None`: application token (never expires). Simulated time.
    expires: Option<Instant>,
    login: Option<String>,
}

#[derive(Default)]
struct Store {
    tokens: HashMap<String, Token>,
    users: HashMap<String, User>,
    /// Callbacks per mailbox, in creation order.
    callbacks: HashMap<String, Vec<Callback>>,
    /// The `filter` object of each callback as the client sent it (for the as-sent readings).
    sent_filters: HashMap<Uuid, Value>,
    removed: HashSet<Uuid>,
    /// Added to the real clock by `advance_clock`.
    clock_offset: Duration,
}

impl Store {
    fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }
}

pub(crate) struct EnvelopeInner {
    store: Mutex<Store>,
    switches: Mutex<EnvelopeSwitches>,
    token_ttl: Duration,
    logins: AtomicU64,
    probe: reqwest::Client,
}

impl EnvelopeInner {
    fn advance_clock(&self, by: Duration) {
        lock(&self.store).clock_offset += by;
    }

    fn revoke_tokens(&self) {
        lock(&self.store).tokens.retain(|_, t| t.expires.is_none());
    }

    fn switches(&self) -> EnvelopeSwitches {
        lock(&self.switches).clone()
    }

    fn state_json(&self) -> Value {
        let store = lock(&self.store);
        let now = store.now();
        let callbacks: serde_json::Map<String, Value> = store
            .callbacks
            .iter()
            .map(|(mb, list)| (mb.clone(), json!(list)))
            .collect();
        let tokens: Vec<Value> = store
            .tokens
            .iter()
            .map(|(t, info)| {
                json!({
                    "token": t,
                    "kind": if info.expires.is_some() { "login" } else { "application" },
                    "login": info.login,
                    "mailboxes": info.mailboxes,
                    "expires_in_secs": info.expires.map(|e| e.saturating_duration_since(now).as_secs()),
                })
            })
            .collect();
        let users: Vec<Value> = store
            .users
            .values()
            .map(|u| json!({"login": u.login, "mailboxes": u.mailboxes}))
            .collect();
        json!({
            "provider": PROVIDER,
            "callbacks": callbacks,
            "tokens": tokens,
            "users": users,
            "logins": self.logins.load(Ordering::SeqCst),
            "clock_offset_secs": store.clock_offset.as_secs(),
            "switches": self.switches(),
        })
    }
}

fn classify(req: &RequestView<'_>) -> Classified {
    let path = req.path;
    let op = if path == "/api/login" {
        "login".to_owned()
    } else if let Some(rest) = path.strip_prefix("/api/v1/envelope/callback/") {
        match rest.rsplit_once('/') {
            Some((_, action)) => format!("callback/{action}"),
            None => format!("callback/{rest}"),
        }
    } else {
        "unknown".to_owned()
    };
    let credential = if op == "login" {
        req.body.get("login").and_then(Value::as_str).map(str::to_owned)
    } else {
        header_str(req.headers, "authorization").map(|v| v.strip_prefix("Bearer ").map(str::to_owned).unwrap_or(v))
    };
    Classified {
        op,
        credential,
        scope: header_str(req.headers, "mailbox"),
    }
}

/// The bearer token of a call, or the password of a login body.
fn secret(req: &RequestView<'_>) -> Option<(&'static str, String)> {
    if req.path == "/api/login" {
        return req
            .body
            .get("password")
            .and_then(Value::as_str)
            .map(|p| ("password", p.to_owned()));
    }
    let auth = header_str(req.headers, "authorization")?;
    let token = auth.split_once(' ').map_or(auth.as_str(), |(_, t)| t.trim());
    Some(("token", token.to_owned()))
}

/// `EchoSecret` answers: the token or login password in `400 {"code":400,"message":...}`.
const SECRET_ECHO: SecretEcho = SecretEcho {
    secret,
    answer: |message| {
        let body = format!(r#"{{"code":400,"message":{message}}}"#);
        (400, "application/json", body)
    },
};

/// Starts envelope simulators.
pub struct EnvelopeSimulator;

impl EnvelopeSimulator {
    /// Bind `127.0.0.1:config.port` and serve until the last [`EnvelopeSim`] clone is dropped.
    pub async fn start(config: EnvelopeConfig) -> io::Result<EnvelopeSim> {
        config.switches.validate().map_err(io::Error::other)?;
        let core = SimCore::with_secret_echo(PROVIDER, classify, SECRET_ECHO, config.latency);
        let inner = Arc::new(EnvelopeInner {
            store: Mutex::default(),
            switches: Mutex::new(config.switches.clone()),
            token_ttl: config.login_token_ttl,
            logins: AtomicU64::new(0),
            probe: crate::common::probe_client(Duration::from_secs(60)),
        });
        let router = handlers::router(core.clone(), inner.clone());
        let server = crate::common::serve(router, config.port, core.shutdown_signal()).await?;
        let base_url = format!("http://{}", server.addr());
        let sim = EnvelopeSim {
            core,
            inner,
            server: Arc::new(server),
            base_url,
        };
        for (token, mailboxes) in &config.tokens {
            let mailboxes: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
            sim.add_token(token, &mailboxes);
        }
        for u in &config.users {
            let mailboxes: Vec<&str> = u.mailboxes.iter().map(String::as_str).collect();
            sim.add_user(&u.login, &u.password, &mailboxes);
        }
        Ok(sim)
    }
}

/// Handle to a running envelope simulator (cheap to clone; the server stops with the last clone).
#[derive(Clone)]
pub struct EnvelopeSim {
    core: Arc<SimCore>,
    inner: Arc<EnvelopeInner>,
    server: Arc<Server>,
    base_url: String,
}

impl_sim_controls!(EnvelopeSim);

impl EnvelopeSim {
    /// An application token (never expires) owning `mailboxes`.
    pub fn add_token(&self, token: &str, mailboxes: &[&str]) {
        lock(&self.inner.store).tokens.insert(
            token.to_owned(),
            Token {
                mailboxes: mailboxes.iter().map(|m| (*m).to_owned()).collect(),
                expires: None,
                login: None,
            },
        );
    }

    /// Invalidate one token (application or login).
    pub fn remove_token(&self, token: &str) {
        lock(&self.inner.store).tokens.remove(token);
    }

    /// A user for `POST /api/login`, owning `mailboxes`.
    pub fn add_user(&self, login: &str, password: &str, mailboxes: &[&str]) {
        lock(&self.inner.store).users.insert(
            login.to_owned(),
            User {
                login: login.to_owned(),
                password: password.to_owned(),
                mailboxes: mailboxes.iter().map(|m| (*m).to_owned()).collect(),
            },
        );
    }

    /// Move the simulated clock forward (login tokens expire 12 h after issue, simulated).
    pub fn advance_clock(&self, by: Duration) {
        self.inner.advance_clock(by);
    }

    /// Invalidate every token issued by `/api/login` (application tokens stay).
    pub fn revoke_tokens(&self) {
        self.inner.revoke_tokens();
    }

    /// Successful logins so far.
    pub fn login_count(&self) -> u64 {
        self.inner.logins.load(Ordering::SeqCst)
    }

    /// Callbacks of `mailbox` in creation order, including `login`/`password` (for assertions).
    pub fn callbacks(&self, mailbox: &str) -> Vec<Callback> {
        lock(&self.inner.store)
            .callbacks
            .get(mailbox)
            .cloned()
            .unwrap_or_default()
    }

    /// Add a callback behind the operator's back. `obj` is a create body (validated the same
    /// way), optionally with an `id`. Duplicates are allowed, as with the API.
    pub fn put_callback(&self, mailbox: &str, obj: Value) -> Result<Callback, String> {
        let cb = model::validate_create(&obj)?;
        let mut store = lock(&self.inner.store);
        if let Some(filter) = obj.get("filter") {
            store.sent_filters.insert(cb.id, filter.clone());
        }
        store.callbacks.entry(mailbox.to_owned()).or_default().push(cb.clone());
        Ok(cb)
    }

    /// Remove a callback behind the operator's back. False when there was none.
    pub fn remove_callback(&self, mailbox: &str, id: Uuid) -> bool {
        let mut store = lock(&self.inner.store);
        let Some(list) = store.callbacks.get_mut(mailbox) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.id != id);
        let removed = list.len() != before;
        if removed {
            store.removed.insert(id);
            store.sent_filters.remove(&id);
        }
        removed
    }

    /// Everything held, as served by `GET /_sim/state` (passwords included: test tooling).
    pub fn state_json(&self) -> Value {
        self.inner.state_json()
    }
}
