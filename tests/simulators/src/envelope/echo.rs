//! How the envelope simulator echoes a stored callback (`add` answer, `list` items) under the
//! formatting switches, and writes the answer with the switched key order.

use serde_json::{Map, Value, json};

use super::model::{Callback, SCOPES, STATUSES};
use super::switches::{DateEcho, EnumCase, EnvelopeSwitches, KeyOrder, UnsetFilterFields};

const DATES: [&str; 4] = ["receiveDateFrom", "receiveDateTo", "expireDateFrom", "expireDateTo"];
const LISTS: [&str; 5] = ["label", "status", "template", "sender", "scope"];
/// The uuid `echo_always_differs` adds to uuid lists.
const OTHER_UUID: &str = "00000000-0000-4000-8000-0000000000ff";

/// The callback's API object as the switches show it; `sent` is the filter object as the client
/// sent it (for the as-sent readings).
pub(crate) fn api_json(cb: &Callback, sent: Option<&Value>, sw: &EnvelopeSwitches) -> Value {
    let mut v = cb.to_api_json();
    if let Some(filter) = v.get_mut("filter").and_then(Value::as_object_mut) {
        enum_case(filter, sent, sw.enum_case);
        dates(filter, sent, sw.date_echo);
        unset(filter, sw);
    }
    if let Some(field) = &sw.echo_always_differs {
        differ(&mut v, field);
    }
    v
}

fn enum_case(filter: &mut Map<String, Value>, sent: Option<&Value>, mode: EnumCase) {
    for (field, upper) in [("status", true), ("scope", false)] {
        let Some(Value::Array(items)) = filter.get_mut(field) else {
            continue;
        };
        match mode {
            EnumCase::Canonical => {}
            EnumCase::AsSent => {
                if let Some(raw) = sent.and_then(|s| s.get(field)).filter(|r| r.is_array()) {
                    *items = raw.as_array().cloned().unwrap_or_default();
                }
            }
            EnumCase::Lower | EnumCase::Upper => {
                let to_upper = mode == EnumCase::Upper;
                if to_upper != upper {
                    for item in items.iter_mut() {
                        let s = item.as_str().unwrap_or_default();
                        *item = json!(if to_upper {
                            s.to_ascii_uppercase()
                        } else {
                            s.to_ascii_lowercase()
                        });
                    }
                }
            }
        }
    }
}

fn dates(filter: &mut Map<String, Value>, sent: Option<&Value>, mode: DateEcho) {
    for field in DATES {
        let stored = filter.get(field).and_then(Value::as_str).map(str::to_owned);
        let echoed = match (mode, stored) {
            (DateEcho::Dropped, _) => {
                filter.remove(field);
                continue;
            }
            (DateEcho::Null, _) | (_, None) => Value::Null,
            (DateEcho::AsSent, Some(s)) => json!(s),
            (DateEcho::Verbatim, Some(s)) => sent.and_then(|f| f.get(field)).cloned().unwrap_or(json!(s)),
            (DateEcho::EpochMillis, Some(s)) => parse(&s).map_or(Value::Null, |d| json!(d.timestamp_millis())),
            (DateEcho::OffsetPlus3, Some(s)) => parse(&s).map_or(Value::Null, |d| {
                let plus3 = chrono::FixedOffset::east_opt(3 * 3600).expect("valid offset");
                json!(
                    d.with_timezone(&plus3)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
                )
            }),
        };
        filter.insert(field.to_owned(), echoed);
    }
}

fn parse(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}

/// Unset (null) fields under [`UnsetFilterFields`]; dates under a forcing [`DateEcho`] keep
/// what that switch made of them.
fn unset(filter: &mut Map<String, Value>, sw: &EnvelopeSwitches) {
    let dates_forced = matches!(sw.date_echo, DateEcho::Null | DateEcho::Dropped);
    let unset: Vec<String> = filter
        .iter()
        .filter(|(k, v)| v.is_null() && !(dates_forced && DATES.contains(&k.as_str())))
        .map(|(k, _)| k.clone())
        .collect();
    for field in unset {
        match sw.unset_filter_fields {
            UnsetFilterFields::Null => {}
            UnsetFilterFields::Absent => {
                filter.remove(&field);
            }
            UnsetFilterFields::EmptyLists => {
                if LISTS.contains(&field.as_str()) {
                    filter.insert(field, json!([]));
                }
            }
        }
    }
}

/// Replace `field` of the API object with a value that differs from the stored one.
fn differ(v: &mut Value, field: &str) {
    match field {
        "retries" | "timeout" | "successCode" => {
            let n = v[field].as_u64().unwrap_or(0);
            v[field] = json!(n + 1);
        }
        "authType" => {
            let other = if v["authType"] == "BASIC" { "NONE" } else { "BASIC" };
            v["authType"] = json!(other);
        }
        _ => {
            let Some(name) = field.strip_prefix("filter.") else {
                return;
            };
            let filter = &mut v["filter"];
            let current = filter.get(name).cloned().unwrap_or(Value::Null);
            filter[name] = differing_filter_value(name, &current);
        }
    }
}

fn differing_filter_value(name: &str, current: &Value) -> Value {
    match name {
        "subject" => json!(format!("{}~", current.as_str().unwrap_or(""))),
        "status" | "scope" => {
            let allowed: &[&str] = if name == "status" { &STATUSES } else { &SCOPES };
            let mut items = current.as_array().cloned().unwrap_or_default();
            let held = |a: &str| {
                items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case(a)))
            };
            match allowed.iter().find(|a| !held(a)) {
                Some(missing) => items.push(json!(missing)),
                None => {
                    items.pop();
                }
            }
            Value::Array(items)
        }
        "label" | "template" | "sender" => {
            let mut items = current.as_array().cloned().unwrap_or_default();
            items.push(json!(OTHER_UUID));
            Value::Array(items)
        }
        _ => match current {
            Value::String(s) => parse(s).map_or(Value::Null, |d| {
                let later = d + chrono::Duration::days(1);
                json!(later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }),
            Value::Number(n) => json!(n.as_i64().unwrap_or(0) + 86_400_000),
            _ => json!("2000-01-01T00:00:00.000Z"),
        },
    }
}

/// `v` as JSON text with object keys in `order`.
pub(crate) fn to_text(v: &Value, order: KeyOrder) -> String {
    if order == KeyOrder::Sorted {
        return v.to_string();
    }
    let mut out = String::new();
    write_reversed(v, &mut out);
    out
}

/// `v` as JSON text with the keys of every object in reverse alphabetical order.
fn write_reversed(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| b.0.cmp(a.0));
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_reversed(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_reversed(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
