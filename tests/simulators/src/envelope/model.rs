//! The callback object and the validation of the create body (envelope.md, "Create body").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Accepted `filter.status` values (case-insensitive on input, upper case when stored).
pub const STATUSES: [&str; 4] = ["WAITING", "COMPLETED", "CANCELLED", "EXPIRED"];
/// Accepted `filter.scope` values (case-insensitive on input, lower case when stored); the newest
/// spec's `draft` and `shared` are accepted too.
pub const SCOPES: [&str; 4] = ["inbox", "outbox", "draft", "shared"];

/// A callback filter. Unset fields are `None` and serialize as `null`. Dates are stored
/// normalized to UTC with milliseconds (`2024-01-02T03:04:05.000Z`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    pub label: Option<Vec<Uuid>>,
    pub status: Option<Vec<String>>,
    pub subject: Option<String>,
    pub receive_date_from: Option<String>,
    pub receive_date_to: Option<String>,
    pub expire_date_from: Option<String>,
    pub expire_date_to: Option<String>,
    pub template: Option<Vec<Uuid>>,
    pub sender: Option<Vec<Uuid>>,
    pub scope: Option<Vec<String>>,
}

/// A callback as the simulator holds it, including the basic-auth pair (never returned by the API).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    pub id: Uuid,
    pub filter: Filter,
    pub url: String,
    pub retries: u32,
    /// Milliseconds.
    pub timeout: u32,
    pub success_code: u16,
    pub login: Option<String>,
    pub password: Option<String>,
}

impl Callback {
    /// `"BASIC"` when a login is set, else `"NONE"`.
    pub fn auth_type(&self) -> &'static str {
        if self.login.as_deref().is_some_and(|l| !l.is_empty()) {
            "BASIC"
        } else {
            "NONE"
        }
    }

    /// The API's JSON shape: `{id, filter, url, retries, timeout, successCode, authType}`.
    pub fn to_api_json(&self) -> Value {
        json!({
            "id": self.id,
            "filter": self.filter,
            "url": self.url,
            "retries": self.retries,
            "timeout": self.timeout,
            "successCode": self.success_code,
            "authType": self.auth_type(),
        })
    }
}

type Invalid = String;

fn int_in(body: &Map<String, Value>, name: &str, min: u64, max: u64) -> Result<Option<u64>, Invalid> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(format!("{name} must be an integer in {min}..{max}")),
        },
    }
}

fn opt_string(body: &Map<String, Value>, name: &str) -> Result<Option<String>, Invalid> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>, Invalid> {
    let items = v.as_array().ok_or_else(|| format!("filter.{name} must be an array"))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("filter.{name} must hold strings"))
        })
        .collect()
}

fn uuid_list(v: &Value, name: &str) -> Result<Vec<Uuid>, Invalid> {
    string_list(v, name)?
        .iter()
        .map(|s| Uuid::parse_str(s).map_err(|_| format!("filter.{name}: {s:?} is not a uuid")))
        .collect()
}

fn enum_list(v: &Value, name: &str, allowed: &[&str], upper: bool) -> Result<Vec<String>, Invalid> {
    string_list(v, name)?
        .into_iter()
        .map(|s| {
            let norm = if upper {
                s.to_ascii_uppercase()
            } else {
                s.to_ascii_lowercase()
            };
            if allowed.contains(&norm.as_str()) {
                Ok(norm)
            } else {
                Err(format!("filter.{name}: unsupported value {s:?}"))
            }
        })
        .collect()
}

fn date(v: &Value, name: &str) -> Result<String, Invalid> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("filter.{name} must be an RFC 3339 string"))?;
    let dt = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("filter.{name}: {s:?} is not an RFC 3339 date-time"))?;
    Ok(dt
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Validate a filter object; unknown fields are refused.
pub(crate) fn validate_filter(v: &Value) -> Result<Filter, Invalid> {
    let obj = v.as_object().ok_or("filter must be an object")?;
    let mut f = Filter::default();
    for (name, value) in obj {
        if value.is_null() {
            continue;
        }
        match name.as_str() {
            "label" => f.label = Some(uuid_list(value, name)?),
            "template" => f.template = Some(uuid_list(value, name)?),
            "sender" => f.sender = Some(uuid_list(value, name)?),
            "status" => f.status = Some(enum_list(value, name, &STATUSES, true)?),
            "scope" => f.scope = Some(enum_list(value, name, &SCOPES, false)?),
            "subject" => {
                let s = value.as_str().ok_or("filter.subject must be a string")?;
                f.subject = Some(s.to_owned());
            }
            "receiveDateFrom" => f.receive_date_from = Some(date(value, name)?),
            "receiveDateTo" => f.receive_date_to = Some(date(value, name)?),
            "expireDateFrom" => f.expire_date_from = Some(date(value, name)?),
            "expireDateTo" => f.expire_date_to = Some(date(value, name)?),
            other => return Err(format!("filter.{other} is not a filter field")),
        }
    }
    Ok(f)
}

/// Validate a create body. The returned callback has a fresh id, or the body's `id` when it
/// carries a valid one (only [`put_callback`](super::EnvelopeSim::put_callback) relies on that).
pub(crate) fn validate_create(body: &Value) -> Result<Callback, Invalid> {
    validate_create_with(body, false)
}

/// [`validate_create`], with the API spec's strict bounds when `strict`
/// (`0 < retries ≤ 10`, `100 < timeout < 60000`).
pub(crate) fn validate_create_with(body: &Value, strict: bool) -> Result<Callback, Invalid> {
    let body = body.as_object().ok_or("body must be a JSON object")?;
    let filter = match body.get("filter") {
        None | Some(Value::Null) => return Err("filter is required (it may be {})".into()),
        Some(v) => validate_filter(v)?,
    };
    let url = match body.get("url") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) => return Err("url is required".into()),
        Some(_) => return Err("url must be a non-empty string".into()),
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("url must be an absolute http(s) URL".into());
    }
    let (retries, timeout) = if strict {
        let retries = int_in(body, "retries", 1, 10)?.ok_or("retries is required (0 < retries <= 10)")?;
        let timeout = int_in(body, "timeout", 101, 59_999)?.ok_or("timeout is required (100 < timeout < 60000)")?;
        (retries, timeout)
    } else {
        let retries = int_in(body, "retries", 0, 10)?.ok_or("retries is required (0..10)")?;
        let timeout = int_in(body, "timeout", 100, 60_000)?.ok_or("timeout is required (100..60000)")?;
        (retries, timeout)
    };
    let success_code = int_in(body, "successCode", 100, 599)?.unwrap_or(200);
    let login = opt_string(body, "login")?.filter(|l| !l.is_empty());
    let password = opt_string(body, "password")?;
    if login.is_none() && password.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err("password given without login".into());
    }
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(Uuid::new_v4);
    Ok(Callback {
        id,
        filter,
        url,
        retries: retries as u32,
        timeout: timeout as u32,
        success_code: success_code as u16,
        password: login.as_ref().and(password),
        login,
    })
}
