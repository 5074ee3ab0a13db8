//! The one normal form a callback filter is compared in: lists as sets, uuids lower case, statuses upper case,
//! scopes lower case, dates as UTC instants. DocStudio echoes a filter in its own spelling (`WAITING`,
//! `...000Z`); normalising both sides the same way is what keeps a resync from replacing a callback that is
//! already right.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::EnvelopeFilter;

/// A callback filter in normal form. An empty set means "no restriction", the same as an absent field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NormalFilter {
    pub labels: BTreeSet<String>,
    pub statuses: BTreeSet<String>,
    pub subject: Option<String>,
    pub receive_date_from: Option<String>,
    pub receive_date_to: Option<String>,
    pub expire_date_from: Option<String>,
    pub expire_date_to: Option<String>,
    pub templates: BTreeSet<String>,
    pub senders: BTreeSet<String>,
    pub scopes: BTreeSet<String>,
}

impl NormalFilter {
    /// From the spec. A date that is not RFC 3339 is an error (the schema's `date-time` format should have
    /// refused it already).
    pub fn from_spec(filter: &EnvelopeFilter) -> Result<Self, String> {
        let uuids = |list: &Option<Vec<String>>| -> BTreeSet<String> {
            list.iter().flatten().map(|u| u.trim().to_ascii_lowercase()).collect()
        };
        let date = |field: &str, value: &Option<String>| -> Result<Option<String>, String> {
            value
                .as_deref()
                .map(|text| {
                    instant(text)
                        .ok_or_else(|| format!("spec.envelope.filter.{field}: {text:?} is not an RFC 3339 date-time"))
                })
                .transpose()
        };
        Ok(NormalFilter {
            labels: uuids(&filter.labels),
            statuses: filter
                .statuses
                .iter()
                .flatten()
                .map(|s| enum_text(s).to_ascii_uppercase())
                .collect(),
            subject: filter.subject.clone().filter(|s| !s.is_empty()),
            receive_date_from: date("receiveDateFrom", &filter.receive_date_from)?,
            receive_date_to: date("receiveDateTo", &filter.receive_date_to)?,
            expire_date_from: date("expireDateFrom", &filter.expire_date_from)?,
            expire_date_to: date("expireDateTo", &filter.expire_date_to)?,
            templates: uuids(&filter.templates),
            senders: uuids(&filter.senders),
            scopes: filter
                .scopes
                .iter()
                .flatten()
                .map(|s| enum_text(s).to_ascii_lowercase())
                .collect(),
        })
    }

    /// From a callback object's `filter` as DocStudio returns it (unset fields as `null`). Lenient: a value it
    /// cannot read is kept as text, so it compares unequal and the callback is replaced rather than trusted.
    pub fn from_remote(filter: &Value) -> Self {
        let empty = Map::new();
        let object = filter.as_object().unwrap_or(&empty);
        let texts = |name: &str| -> Vec<String> {
            match object.get(name) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            }
        };
        let set = |name: &str, case: fn(&str) -> String| -> BTreeSet<String> {
            texts(name).iter().map(|t| case(t.trim())).collect()
        };
        // A date may come back as RFC 3339 in any offset, or as epoch milliseconds (the form of DocStudio's
        // delivery payloads); both are read as the instant they name.
        let date = |name: &str| -> Option<String> {
            match object.get(name)? {
                Value::String(text) => Some(instant(text).unwrap_or_else(|| text.to_string())),
                Value::Number(n) => Some(
                    n.as_i64()
                        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                        .map_or_else(|| n.to_string(), |t| t.to_string()),
                ),
                _ => None,
            }
        };
        NormalFilter {
            labels: set("label", str::to_ascii_lowercase),
            statuses: set("status", str::to_ascii_uppercase),
            subject: object
                .get("subject")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            receive_date_from: date("receiveDateFrom"),
            receive_date_to: date("receiveDateTo"),
            expire_date_from: date("expireDateFrom"),
            expire_date_to: date("expireDateTo"),
            templates: set("template", str::to_ascii_lowercase),
            senders: set("sender", str::to_ascii_lowercase),
            scopes: set("scope", str::to_ascii_lowercase),
        }
    }

    /// The `filter` object of `callback/add`: only restricting fields (DocStudio requires the object, may be `{}`).
    pub fn to_body(&self) -> Value {
        let mut body = Map::new();
        let mut put_set = |name: &str, set: &BTreeSet<String>| {
            if !set.is_empty() {
                body.insert(name.to_string(), json!(set));
            }
        };
        put_set("label", &self.labels);
        put_set("status", &self.statuses);
        put_set("template", &self.templates);
        put_set("sender", &self.senders);
        put_set("scope", &self.scopes);
        let optional = [
            ("subject", &self.subject),
            ("receiveDateFrom", &self.receive_date_from),
            ("receiveDateTo", &self.receive_date_to),
            ("expireDateFrom", &self.expire_date_from),
            ("expireDateTo", &self.expire_date_to),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                body.insert(name.to_string(), json!(value));
            }
        }
        Value::Object(body)
    }
}

/// An RFC 3339 date-time as a UTC instant in one canonical spelling, so `+02:00` and `...000Z` compare equal.
pub fn instant(text: &str) -> Option<String> {
    text.trim().parse::<Timestamp>().ok().map(|t| t.to_string())
}

/// The wire spelling of a spec enum (its serde name).
fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_compare_as_instants_and_lists_as_sets() {
        assert_eq!(
            instant("2026-01-02T03:04:05+02:00"),
            instant("2026-01-02T01:04:05.000Z")
        );
        assert_ne!(instant("2026-01-02T03:04:05Z"), instant("2026-01-02T03:04:06Z"));
        assert_eq!(instant("not a date"), None);
        let a = NormalFilter::from_remote(&json!({"status": ["completed", "WAITING"]}));
        let b = NormalFilter::from_remote(&json!({"status": ["WAITING", "COMPLETED", "WAITING"]}));
        assert_eq!(a, b);
    }

    #[test]
    fn epoch_milliseconds_name_the_same_instant() {
        let millis = NormalFilter::from_remote(&json!({"receiveDateFrom": 1767315845000_i64}));
        let text = NormalFilter::from_remote(&json!({"receiveDateFrom": "2026-01-02T03:04:05+02:00"}));
        assert_eq!(millis, text);
    }

    #[test]
    fn an_empty_list_means_no_restriction_like_an_absent_one() {
        assert_eq!(
            NormalFilter::from_remote(&json!({"label": [], "scope": null})),
            NormalFilter::default()
        );
        assert_eq!(NormalFilter::default().to_body(), json!({}));
    }
}
