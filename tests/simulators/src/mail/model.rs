//! The webhook object and the validation of `webhook/set.json` (mail.md, "The webhook object").

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::MailError;

/// Values accepted in `events.email_status` (`sent` only when the assumption switch allows it).
pub const EMAIL_STATUSES: [&str; 8] = [
    "delivered",
    "opened",
    "clicked",
    "unsubscribed",
    "subscribed",
    "soft_bounced",
    "hard_bounced",
    "spam",
];

/// A webhook as the simulator holds it; (de)serializes in the API's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Generated on first `set`, kept when the same url is set again.
    #[serde(default)]
    pub id: u64,
    pub url: String,
    /// `active`, `disabled`, or `stopped` (only the provider, i.e. a test, sets that).
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default = "default_event_format")]
    pub event_format: String,
    #[serde(default)]
    pub delivery_info: u8,
    #[serde(default)]
    pub single_event: u8,
    #[serde(default = "default_max_parallel")]
    pub max_parallel: u32,
    #[serde(default)]
    pub events: Events,
    /// `YYYY-MM-DD hh:mm:ss` UTC.
    #[serde(default)]
    pub updated_at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Events {
    #[serde(default)]
    pub email_status: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam_block: Option<Vec<String>>,
}

fn default_status() -> String {
    "active".to_owned()
}
fn default_event_format() -> String {
    "json_post".to_owned()
}
fn default_max_parallel() -> u32 {
    10
}

/// `updated_at` for "now".
pub(crate) fn now_stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Webhook {
    /// The API's JSON shape; `omit_flags` drops `delivery_info`/`single_event` (read-side switch).
    pub fn to_api_json(&self, omit_flags: bool) -> Value {
        let mut v = json!(self);
        if omit_flags && let Some(o) = v.as_object_mut() {
            o.remove("delivery_info");
            o.remove("single_event");
        }
        v
    }
}

/// Webhooks of one key, in creation order.
#[derive(Default)]
pub(crate) struct KeyHooks {
    pub(crate) by_id: BTreeMap<u64, Webhook>,
    pub(crate) by_url: HashMap<String, u64>,
}

impl KeyHooks {
    pub(crate) fn get(&self, url: &str) -> Option<&Webhook> {
        self.by_url.get(url).and_then(|id| self.by_id.get(id))
    }

    pub(crate) fn get_mut(&mut self, url: &str) -> Option<&mut Webhook> {
        let id = self.by_url.get(url)?;
        self.by_id.get_mut(id)
    }

    /// Insert or replace by url, keeping the id of a replaced webhook.
    pub(crate) fn upsert(&mut self, mut hook: Webhook, next_id: &mut u64) -> Webhook {
        if let Some(id) = self.by_url.get(&hook.url) {
            hook.id = *id;
        } else {
            if hook.id == 0 || self.by_id.contains_key(&hook.id) {
                *next_id += 1;
                hook.id = *next_id;
            }
            *next_id = (*next_id).max(hook.id);
            self.by_url.insert(hook.url.clone(), hook.id);
        }
        if hook.updated_at.is_empty() {
            hook.updated_at = now_stamp();
        }
        self.by_id.insert(hook.id, hook.clone());
        hook
    }

    pub(crate) fn remove(&mut self, url: &str) -> Option<Webhook> {
        let id = self.by_url.remove(url)?;
        self.by_id.remove(&id)
    }

    pub(crate) fn list(&self) -> Vec<Webhook> {
        self.by_id.values().cloned().collect()
    }
}

fn err(code: u32, message: &str) -> MailError {
    MailError::new(400, code, message)
}

/// `Some(value)` for a present, non-null field.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// Validate the url of a `set`/`get`/`delete` body: 305 when absent, 2701 when blank.
pub(crate) fn required_url(body: &Map<String, Value>) -> Result<String, MailError> {
    match field(body, "url") {
        None => Err(err(305, "URL not passed")),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(err(2701, "url is blank")),
    }
}

fn zero_one(body: &Map<String, Value>, name: &str, code: u32, keep: Option<u8>) -> Result<u8, MailError> {
    match field(body, name) {
        None => Ok(keep.unwrap_or(0)),
        Some(v) => match v.as_u64() {
            Some(n @ (0 | 1)) => Ok(n as u8),
            _ => Err(err(code, &format!("{name} must be 0 or 1"))),
        },
    }
}

fn validate_events(body: &Map<String, Value>, keep: Option<&Events>, accept_sent: bool) -> Result<Events, MailError> {
    let events = match field(body, "events") {
        None => {
            return match keep {
                Some(e) => Ok(e.clone()),
                None => Err(err(2710, "events.email_status is missing")),
            };
        }
        Some(Value::Object(o)) => o,
        Some(_) => return Err(err(2710, "events.email_status is missing")),
    };
    if let Some(other) = events.keys().find(|k| *k != "email_status" && *k != "spam_block") {
        return Err(err(303, &format!("unsupported event: {other}")));
    }
    let email_status = match field(events, "email_status") {
        None => match keep {
            Some(e) => e.email_status.clone(),
            None => return Err(err(2710, "events.email_status is missing")),
        },
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(err(2710, "events.email_status is empty"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let ok = item
                    .as_str()
                    .filter(|s| EMAIL_STATUSES.contains(s) || (accept_sent && *s == "sent"));
                match ok {
                    Some(s) => out.push(s.to_owned()),
                    None => return Err(err(2711, &format!("bad email_status value: {item}"))),
                }
            }
            out
        }
        Some(_) => return Err(err(2711, "events.email_status must be an array")),
    };
    let spam_block = match field(events, "spam_block") {
        None => keep.and_then(|e| e.spam_block.clone()),
        Some(v) if *v == json!(["*"]) => Some(vec!["*".to_owned()]),
        Some(_) => return Err(err(2712, "events.spam_block must be [\"*\"]")),
    };
    Ok(Events {
        email_status,
        spam_block,
    })
}

/// Build the webhook a `set` body describes. `keep` is the stored webhook whose values fill
/// omitted fields (the "keep" reading); `None` means omitted fields take their defaults.
pub(crate) fn validate_set(
    body: &Map<String, Value>,
    keep: Option<&Webhook>,
    accept_sent: bool,
) -> Result<Webhook, MailError> {
    let url = required_url(body)?;
    let status = match field(body, "status") {
        None => keep.map_or_else(default_status, |k| {
            // A webhook the provider stopped is re-activated by a `set` that omits status.
            if k.status == "stopped" || k.status == "inactive" {
                default_status()
            } else {
                k.status.clone()
            }
        }),
        Some(Value::String(s)) if s == "active" || s == "disabled" => s.clone(),
        Some(Value::String(s)) => return Err(err(2715, &format!("bad status value: {s}"))),
        Some(_) => return Err(err(2714, "status must be a string")),
    };
    let event_format = match field(body, "event_format") {
        None => keep.map_or_else(default_event_format, |k| k.event_format.clone()),
        Some(Value::String(s)) if s == "json_post" || s == "json_post_gzip" => s.clone(),
        Some(_) => return Err(err(2703, "bad event_format")),
    };
    let delivery_info = zero_one(body, "delivery_info", 2704, keep.map(|k| k.delivery_info))?;
    let single_event = zero_one(body, "single_event", 2705, keep.map(|k| k.single_event))?;
    let max_parallel = match field(body, "max_parallel") {
        None => keep.map_or_else(default_max_parallel, |k| k.max_parallel),
        Some(v) => match v.as_u64() {
            Some(n @ 5..=100) => n as u32,
            _ => return Err(err(2707, "max_parallel must be in 5..100")),
        },
    };
    let events = validate_events(body, keep.map(|k| &k.events), accept_sent)?;
    if !resolvable(&url) {
        return Err(err(2713, "webhook domain not found in DNS"));
    }
    Ok(Webhook {
        id: 0,
        url,
        status,
        event_format,
        delivery_info,
        single_event,
        max_parallel,
        events,
        updated_at: String::new(),
    })
}

/// The simulator's stand-in for the provider's DNS check: the url must be http(s) with an ASCII
/// (punycode) host that does not end in the reserved `.invalid` TLD.
fn resolvable(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    !host.is_empty() && host.is_ascii() && !host.ends_with(".invalid")
}
