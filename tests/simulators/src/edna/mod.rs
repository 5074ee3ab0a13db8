//! edna Pulse callback URLs (`edna.md`): `POST /api/callback/set` and `GET /api/channel-profile`.
//!
//! Choices where the contract is silent:
//! - a missing/unknown key answers 401, a key without the method group 403; a malformed body or a
//!   non-string URL / non-integer `subjectId` answers 400 with code `bad-request` (all these bodies
//!   follow the [`EdnaErrorStyle`]: `{"code": ...}`, or a problem body in `Problem` style);
//! - checks run in this order: at least one URL, length (≤ 500), https, `subjectId`, `HEAD`;
//! - the `HEAD` check requires exactly 200 (redirects are not followed);
//! - in `Problem` style `detail` is `"<code>: <message>"`, `title` the code, `type` `about:blank`.

mod handlers;
mod model;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use model::{CallbackUrls, Channel};

use crate::common::{Classified, RequestView, Server, SimCore, header_str, impl_sim_controls, lock};

/// Provider name in request records.
pub const PROVIDER: &str = "edna";
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 500;

/// How an error code travels (the contract makes the client accept all three).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdnaErrorStyle {
    /// Default: HTTP 200 with `{"code": "<error code>"}`.
    #[default]
    Http200Code,
    /// HTTP 400 with `{"code": "<error code>"}`.
    Http400Code,
    /// HTTP 400, `application/problem+json` `{type, title, status, detail}` (RFC 7807).
    Problem,
}

/// What `set` does with URL fields the body leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdnaSetOmitted {
    /// Default (the contract's assumption): fields left out stay as they were.
    #[default]
    Keep,
    /// Other reading: fields left out are cleared.
    Clear,
}

/// Runtime-switchable behaviour. In JSON (`POST /_sim/switches`) every field is optional.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct EdnaSwitches {
    /// `HEAD` each URL before accepting it (default true).
    pub url_check: bool,
    pub error_style: EdnaErrorStyle,
    pub set_omitted: EdnaSetOmitted,
}

impl Default for EdnaSwitches {
    fn default() -> Self {
        EdnaSwitches {
            url_check: true,
            error_style: EdnaErrorStyle::default(),
            set_omitted: EdnaSetOmitted::default(),
        }
    }
}

/// Start-up configuration.
#[derive(Clone, Debug)]
pub struct EdnaConfig {
    /// `0` = ephemeral port.
    pub port: u16,
    /// Master keys, one account each.
    pub keys: Vec<String>,
    /// Channels as (key, channel).
    pub channels: Vec<(String, Channel)>,
    pub latency: Duration,
    /// Timeout of each `HEAD` check.
    pub probe_timeout: Duration,
    pub switches: EdnaSwitches,
}

impl Default for EdnaConfig {
    fn default() -> Self {
        EdnaConfig {
            port: 0,
            keys: Vec::new(),
            channels: Vec::new(),
            latency: Duration::ZERO,
            probe_timeout: Duration::from_secs(3),
            switches: EdnaSwitches::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
struct KeyInfo {
    account: String,
    /// `None`: master key (every method group).
    groups: Option<HashSet<String>>,
}

#[derive(Default, Serialize)]
struct Account {
    channels: Vec<Channel>,
    /// Keyed by subjectId; `None` = every channel of the tenant.
    callbacks: BTreeMap<Option<i64>, CallbackUrls>,
}

#[derive(Default)]
struct Store {
    keys: HashMap<String, KeyInfo>,
    accounts: HashMap<String, Account>,
}

impl Store {
    fn account_mut(&mut self, key: &str) -> Option<&mut Account> {
        let account = self.keys.get(key)?.account.clone();
        Some(self.accounts.entry(account).or_default())
    }

    fn account(&self, key: &str) -> Option<&Account> {
        self.accounts.get(&self.keys.get(key)?.account)
    }
}

pub(crate) struct EdnaInner {
    store: Mutex<Store>,
    switches: Mutex<EdnaSwitches>,
    probe: reqwest::Client,
}

impl EdnaInner {
    fn activate_channel(&self, key: &str, channel_id: i64, subject_id: i64) -> bool {
        let mut store = lock(&self.store);
        let channel = store
            .account_mut(key)
            .and_then(|a| a.channels.iter_mut().find(|c| c.id == channel_id));
        match channel {
            Some(c) => {
                c.active = true;
                c.subject_id = Some(subject_id);
                true
            }
            None => false,
        }
    }

    fn switches(&self) -> EdnaSwitches {
        lock(&self.switches).clone()
    }

    fn state_json(&self) -> Value {
        let store = lock(&self.store);
        let accounts: serde_json::Map<String, Value> = store
            .accounts
            .iter()
            .map(|(name, acc)| {
                let callbacks: serde_json::Map<String, Value> = acc
                    .callbacks
                    .iter()
                    .map(|(sid, urls)| (subject_label(*sid), json!(urls)))
                    .collect();
                let channels: Vec<Value> = acc.channels.iter().map(Channel::to_api_json).collect();
                (name.clone(), json!({"channels": channels, "callbacks": callbacks}))
            })
            .collect();
        json!({
            "provider": PROVIDER,
            "keys": store.keys,
            "accounts": accounts,
            "switches": self.switches(),
        })
    }
}

/// `"tenant"` for the tenant-wide entry, else the subjectId.
fn subject_label(subject_id: Option<i64>) -> String {
    subject_id.map_or_else(|| "tenant".to_owned(), |s| s.to_string())
}

fn classify(req: &RequestView<'_>) -> Classified {
    let op = match req.path {
        "/api/callback/set" => "callback/set",
        "/api/channel-profile" => "channel-profile",
        _ => "unknown",
    };
    Classified {
        op: op.to_owned(),
        credential: header_str(req.headers, "x-api-key"),
        scope: req.body.get("subjectId").map(|v| v.to_string()),
    }
}

/// Starts edna simulators.
pub struct EdnaSimulator;

impl EdnaSimulator {
    /// Bind `127.0.0.1:config.port` and serve until the last [`EdnaSim`] clone is dropped.
    pub async fn start(config: EdnaConfig) -> io::Result<EdnaSim> {
        let core = SimCore::new(PROVIDER, classify, config.latency);
        let inner = Arc::new(EdnaInner {
            store: Mutex::default(),
            switches: Mutex::new(config.switches.clone()),
            probe: crate::common::probe_client(config.probe_timeout),
        });
        let router = handlers::router(core.clone(), inner.clone());
        let server = crate::common::serve(router, config.port, core.shutdown_signal()).await?;
        let base_url = format!("http://{}", server.addr());
        let sim = EdnaSim {
            core,
            inner,
            server: Arc::new(server),
            base_url,
        };
        for key in &config.keys {
            sim.add_key(key);
        }
        for (key, channel) in config.channels {
            sim.add_channel(&key, channel);
        }
        Ok(sim)
    }
}

/// Handle to a running edna simulator (cheap to clone; the server stops with the last clone).
#[derive(Clone)]
pub struct EdnaSim {
    core: Arc<SimCore>,
    inner: Arc<EdnaInner>,
    server: Arc<Server>,
    base_url: String,
}

impl_sim_controls!(EdnaSim);

impl EdnaSim {
    /// A master key with its own account (idempotent).
    pub fn add_key(&self, key: &str) {
        let mut store = lock(&self.inner.store);
        store.keys.insert(
            key.to_owned(),
            KeyInfo {
                account: key.to_owned(),
                groups: None,
            },
        );
        store.accounts.entry(key.to_owned()).or_default();
    }

    /// An additional key of `master_key`'s account, limited to method `groups`
    /// (`"webhooks"` for `callback/set`, `"channels"` for `channel-profile`).
    pub fn add_additional_key(&self, key: &str, master_key: &str, groups: &[&str]) {
        let mut store = lock(&self.inner.store);
        let account = store
            .keys
            .get(master_key)
            .map_or_else(|| master_key.to_owned(), |k| k.account.clone());
        store.accounts.entry(account.clone()).or_default();
        store.keys.insert(
            key.to_owned(),
            KeyInfo {
                account,
                groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            },
        );
    }

    /// Forget a key (calls with it answer 401); the account's state stays.
    pub fn remove_key(&self, key: &str) {
        lock(&self.inner.store).keys.remove(key);
    }

    /// Add (or replace, by id) a channel of `key`'s account; adds `key` as a master key if unknown.
    pub fn add_channel(&self, key: &str, channel: Channel) {
        if !lock(&self.inner.store).keys.contains_key(key) {
            self.add_key(key);
        }
        let mut store = lock(&self.inner.store);
        let Some(account) = store.account_mut(key) else {
            return;
        };
        account.channels.retain(|c| c.id != channel.id);
        account.channels.push(channel);
    }

    /// Activate a channel and give it its `subjectId`. False when there is no such channel.
    pub fn activate_channel(&self, key: &str, channel_id: i64, subject_id: i64) -> bool {
        self.inner.activate_channel(key, channel_id, subject_id)
    }

    pub fn channels(&self, key: &str) -> Vec<Channel> {
        lock(&self.inner.store)
            .account(key)
            .map(|a| a.channels.clone())
            .unwrap_or_default()
    }

    /// Callback URLs of `key`'s account by subjectId (`None` = tenant-wide).
    pub fn state(&self, key: &str) -> BTreeMap<Option<i64>, CallbackUrls> {
        lock(&self.inner.store)
            .account(key)
            .map(|a| a.callbacks.clone())
            .unwrap_or_default()
    }

    /// Callback URLs of one (account, subjectId) pair.
    pub fn callback_urls(&self, key: &str, subject_id: Option<i64>) -> Option<CallbackUrls> {
        self.state(key).remove(&subject_id)
    }

    /// Overwrite the URLs of one pair behind the operator's back.
    pub fn put_callback_urls(&self, key: &str, subject_id: Option<i64>, urls: CallbackUrls) {
        if let Some(account) = lock(&self.inner.store).account_mut(key) {
            account.callbacks.insert(subject_id, urls);
        }
    }

    pub fn switches(&self) -> EdnaSwitches {
        self.inner.switches()
    }

    pub fn set_switches(&self, switches: EdnaSwitches) {
        *lock(&self.inner.switches) = switches;
    }

    /// Turn the `HEAD` check on or off.
    pub fn set_url_check(&self, on: bool) {
        lock(&self.inner.switches).url_check = on;
    }

    pub fn set_error_style(&self, style: EdnaErrorStyle) {
        lock(&self.inner.switches).error_style = style;
    }

    pub fn set_set_omitted(&self, mode: EdnaSetOmitted) {
        lock(&self.inner.switches).set_omitted = mode;
    }

    /// Everything held, as served by `GET /_sim/state`.
    pub fn state_json(&self) -> Value {
        self.inner.state_json()
    }
}
