//! edna Pulse callback URLs (`edna.md`): `POST /api/callback/set` and `GET /api/channel-profile`.
//!
//! Choices where the contract is silent:
//! - a missing/unknown key answers 401, a key without the method group 403; a malformed body or a
//!   non-string URL / non-integer `subjectId` answers 400 with code `bad-request` (all these bodies
//!   follow the [`EdnaErrorStyle`]: `{"code": ...}`, or a problem body in `Problem` style);
//! - checks run in this order: at least one URL, length (≤ 500), https, `subjectId`, `HEAD`;
//! - the `HEAD` check requires exactly 200 (redirects are not followed);
//! - in `Problem` style `detail` is `"<code>: <message>"`, `title` the code, `type` `about:blank`;
//! - a channel's effective URL for a field is its own, else the tenant-wide one;
//! - the `EchoSecret` fault answers a 400 problem body with the key in `detail`.
//!
//! Readings the contract leaves open are switches ([`EdnaSwitches`], `switches.rs`). Note
//! [`TenantWideScope`]: the default is the seed's reading, `AllChannels`.

mod handlers;
mod model;
mod set;
mod switches;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

pub use model::{CallbackUrls, Channel};
pub use switches::{EdnaErrorStyle, EdnaSetOmitted, EdnaSwitches, SuccessShape, TenantWideScope};

use crate::common::{Classified, RequestView, SecretEcho, Server, SimCore, header_str, impl_sim_controls, lock};

/// Provider name in request records.
pub const PROVIDER: &str = "edna";
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 500;

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
    /// Keyed by subjectId; `None` = the tenant-wide entry.
    callbacks: BTreeMap<Option<i64>, CallbackUrls>,
}

impl Account {
    /// What the channel with `subject_id` effectively holds, per field: its own URL, else the
    /// tenant-wide one (under either [`TenantWideScope`] reading).
    fn effective(&self, subject_id: i64) -> CallbackUrls {
        let own = self.callbacks.get(&Some(subject_id)).cloned().unwrap_or_default();
        let tenant = self.callbacks.get(&None).cloned().unwrap_or_default();
        CallbackUrls {
            status_callback_url: own.status_callback_url.or(tenant.status_callback_url),
            in_message_callback_url: own.in_message_callback_url.or(tenant.in_message_callback_url),
            message_matcher_callback_url: own.message_matcher_callback_url.or(tenant.message_matcher_callback_url),
        }
    }

    /// Effective URLs of every channel with a `subjectId`, by subjectId.
    fn effective_all(&self) -> BTreeMap<i64, CallbackUrls> {
        self.channels
            .iter()
            .filter_map(Channel::usable_subject_id)
            .map(|sid| (sid, self.effective(sid)))
            .collect()
    }
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
                let effective: serde_json::Map<String, Value> = acc
                    .channels
                    .iter()
                    .filter_map(|c| Some((c.id, c.usable_subject_id()?)))
                    .map(|(channel_id, sid)| {
                        let mut urls = json!(acc.effective(sid));
                        urls["channelId"] = json!(channel_id);
                        (sid.to_string(), urls)
                    })
                    .collect();
                let account = json!({"channels": channels, "callbacks": callbacks, "effective": effective});
                (name.clone(), account)
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

/// `EchoSecret` answers: the `X-API-KEY` in a `400 application/problem+json` whose `detail`
/// carries the message (edna's `{"code": ...}` body has no text field).
const SECRET_ECHO: SecretEcho = SecretEcho {
    secret: |req| header_str(req.headers, "x-api-key").map(|k| ("API key", k)),
    answer: |message| {
        let body = format!(r#"{{"type":"about:blank","title":"bad-request","status":400,"detail":{message}}}"#);
        (400, "application/problem+json", body)
    },
};

/// Starts edna simulators.
pub struct EdnaSimulator;

impl EdnaSimulator {
    /// Bind `127.0.0.1:config.port` and serve until the last [`EdnaSim`] clone is dropped.
    pub async fn start(config: EdnaConfig) -> io::Result<EdnaSim> {
        let core = SimCore::with_secret_echo(PROVIDER, classify, SECRET_ECHO, config.latency);
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

    /// What the channel with `subject_id` effectively holds, per field: its own URL, else the
    /// tenant-wide one. All `None` for an unknown key or subjectId without URLs.
    pub fn effective_callbacks(&self, key: &str, subject_id: i64) -> CallbackUrls {
        lock(&self.inner.store)
            .account(key)
            .map(|a| a.effective(subject_id))
            .unwrap_or_default()
    }

    /// [`effective_callbacks`](Self::effective_callbacks) of every channel of `key`'s account
    /// that has a `subjectId`, by subjectId.
    pub fn effective_state(&self, key: &str) -> BTreeMap<i64, CallbackUrls> {
        lock(&self.inner.store)
            .account(key)
            .map(Account::effective_all)
            .unwrap_or_default()
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

    /// What a `set` without `subjectId` writes (default `AllChannels`, the seed's reading).
    pub fn set_tenant_wide_scope(&self, scope: TenantWideScope) {
        lock(&self.inner.switches).tenant_wide_scope = scope;
    }

    /// Refuse a `set` with only `messageMatcherCallbackUrl` (`url-not-specified`).
    pub fn set_require_status_or_in_message(&self, on: bool) {
        lock(&self.inner.switches).require_status_or_in_message = on;
    }

    /// The answer of a successful `set` (default `{"code":"ok"}`).
    pub fn set_success_shape(&self, shape: SuccessShape) {
        lock(&self.inner.switches).success_shape = shape;
    }

    /// Everything held, as served by `GET /_sim/state`.
    pub fn state_json(&self) -> Value {
        self.inner.state_json()
    }
}
