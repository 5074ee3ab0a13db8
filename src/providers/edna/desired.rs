//! What an edna registration wants: the channel scope and the URL fields this object owns. Pure.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::EdnaSpec;
use crate::providers::DesiredError;

/// The three callback URL fields of `callback/set`, in the order edna documents them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum UrlField {
    #[serde(rename = "statusCallbackUrl")]
    Status,
    #[serde(rename = "inMessageCallbackUrl")]
    InMessage,
    #[serde(rename = "messageMatcherCallbackUrl")]
    MessageMatcher,
}

impl UrlField {
    /// The field name in edna's API and in the spec.
    pub fn name(self) -> &'static str {
        match self {
            UrlField::Status => "statusCallbackUrl",
            UrlField::InMessage => "inMessageCallbackUrl",
            UrlField::MessageMatcher => "messageMatcherCallbackUrl",
        }
    }
}

/// Which channels the URLs are set for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChannelScope {
    /// Neither `subjectId` nor `subject`: every channel of the tenant (no `subjectId` in the request).
    Tenant,
    /// `spec.edna.subjectId`.
    SubjectId(i64),
    /// `spec.edna.subject`: a sender name, resolved to its subjectId through `channel-profile` when setting.
    Subject(String),
}

impl ChannelScope {
    /// The scope part of an ownership claim. A channel named by `subject` claims by name: the id behind a name is
    /// only known after asking edna, and claims are computed from the spec alone (see docs/providers/edna.md).
    fn claim_scope(&self) -> String {
        match self {
            ChannelScope::Tenant => "tenant".into(),
            ChannelScope::SubjectId(id) => format!("subject {id}"),
            ChannelScope::Subject(name) => format!("subject-name {name}"),
        }
    }
}

/// The state this object wants at edna. `Serialize` feeds `status.appliedHash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EdnaDesired {
    pub scope: ChannelScope,
    /// Only the fields this object owns; the others are left alone at edna.
    pub urls: BTreeMap<UrlField, String>,
}

impl EdnaDesired {
    pub fn from_spec(spec: &EdnaSpec) -> Result<Self, DesiredError> {
        let scope = match (spec.subject_id, spec.subject.as_deref().map(str::trim)) {
            (Some(_), Some(_)) => {
                return Err(DesiredError::InvalidSpec(
                    "set at most one of spec.edna.subjectId and spec.edna.subject".into(),
                ));
            }
            (Some(id), None) => ChannelScope::SubjectId(id),
            (None, Some("")) => {
                return Err(DesiredError::InvalidSpec("spec.edna.subject is empty".into()));
            }
            (None, Some(name)) => ChannelScope::Subject(name.to_string()),
            (None, None) => ChannelScope::Tenant,
        };
        let urls: BTreeMap<UrlField, String> = [
            (UrlField::Status, &spec.status_callback_url),
            (UrlField::InMessage, &spec.in_message_callback_url),
            (UrlField::MessageMatcher, &spec.message_matcher_callback_url),
        ]
        .into_iter()
        .filter_map(|(field, url)| url.clone().map(|u| (field, u)))
        .collect();
        if urls.is_empty() {
            return Err(DesiredError::InvalidSpec(
                "set at least one of statusCallbackUrl, inMessageCallbackUrl and messageMatcherCallbackUrl".into(),
            ));
        }
        Ok(EdnaDesired { scope, urls })
    }

    /// The `callback/set` body: the owned URL fields, and `subjectId` unless tenant-wide.
    pub fn set_body(&self, subject_id: Option<i64>) -> Value {
        let mut body = Map::new();
        for (field, url) in &self.urls {
            body.insert(field.name().to_string(), json!(url));
        }
        if let Some(id) = subject_id {
            body.insert("subjectId".into(), json!(id));
        }
        Value::Object(body)
    }

    /// The distinct URLs, in field order (for status and `kubectl get`).
    pub fn distinct_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for url in self.urls.values() {
            if !out.contains(url) {
                out.push(url.clone());
            }
        }
        out
    }

    /// "statusCallbackUrl=https://…, inMessageCallbackUrl=https://…", for Events.
    pub fn describe_fields(&self) -> String {
        self.urls
            .iter()
            .map(|(field, url)| format!("{}={url}", field.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One claim per owned field per channel: two objects of one account conflict only when they set the same field
/// of the same channel; different fields of one channel coexist.
pub fn claims(spec: &EdnaSpec) -> Vec<String> {
    let Ok(desired) = EdnaDesired::from_spec(spec) else {
        return Vec::new();
    };
    let scope = desired.scope.claim_scope();
    desired
        .urls
        .keys()
        .map(|field| format!("edna {scope} {}", field.name()))
        .collect()
}

/// "subjectId 42" or "every channel of the tenant", for messages.
pub fn describe_subject(subject_id: Option<i64>) -> String {
    match subject_id {
        Some(id) => format!("subjectId {id}"),
        None => "every channel of the tenant".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        subject_id: Option<i64>,
        subject: Option<&str>,
        status: Option<&str>,
        in_message: Option<&str>,
    ) -> EdnaSpec {
        EdnaSpec {
            subject_id,
            subject: subject.map(str::to_string),
            status_callback_url: status.map(str::to_string),
            in_message_callback_url: in_message.map(str::to_string),
            message_matcher_callback_url: None,
        }
    }

    #[test]
    fn absent_subject_means_tenant_wide_and_the_body_has_no_subject_id() {
        let d = EdnaDesired::from_spec(&spec(None, None, Some("https://a/s"), None)).unwrap();
        assert_eq!(d.scope, ChannelScope::Tenant);
        assert_eq!(d.set_body(None), json!({"statusCallbackUrl": "https://a/s"}));
    }

    #[test]
    fn the_body_carries_only_owned_fields_and_the_subject_id() {
        let d = EdnaDesired::from_spec(&spec(Some(42), None, Some("https://a/s"), Some("https://a/i"))).unwrap();
        assert_eq!(
            d.set_body(Some(42)),
            json!({"statusCallbackUrl": "https://a/s", "inMessageCallbackUrl": "https://a/i", "subjectId": 42})
        );
    }

    #[test]
    fn no_url_or_both_subject_forms_are_invalid() {
        assert!(EdnaDesired::from_spec(&spec(Some(1), None, None, None)).is_err());
        assert!(EdnaDesired::from_spec(&spec(Some(1), Some("shop"), Some("https://a"), None)).is_err());
        assert!(EdnaDesired::from_spec(&spec(None, Some(" "), Some("https://a"), None)).is_err());
    }

    #[test]
    fn claims_are_one_per_owned_field_per_channel() {
        assert_eq!(
            claims(&spec(Some(42), None, Some("https://a/s"), Some("https://a/i"))),
            vec![
                "edna subject 42 statusCallbackUrl".to_string(),
                "edna subject 42 inMessageCallbackUrl".to_string()
            ]
        );
        assert_eq!(
            claims(&spec(None, None, Some("https://a/s"), None)),
            vec!["edna tenant statusCallbackUrl".to_string()]
        );
        assert_eq!(
            claims(&spec(None, Some("shop_wa"), None, Some("https://a/i"))),
            vec!["edna subject-name shop_wa inMessageCallbackUrl".to_string()]
        );
    }

    #[test]
    fn the_hash_input_changes_with_scope_and_urls() {
        let a = EdnaDesired::from_spec(&spec(Some(1), None, Some("https://a/s"), None)).unwrap();
        let b = EdnaDesired::from_spec(&spec(Some(2), None, Some("https://a/s"), None)).unwrap();
        let c = EdnaDesired::from_spec(&spec(Some(1), None, None, Some("https://a/s"))).unwrap();
        let json = |d: &EdnaDesired| serde_json::to_string(d).unwrap();
        assert_ne!(json(&a), json(&b));
        assert_ne!(json(&a), json(&c), "moving a URL to another field is a change");
    }

    #[test]
    fn the_same_url_in_two_fields_is_listed_once() {
        let d = EdnaDesired::from_spec(&spec(None, None, Some("https://a/x"), Some("https://a/x"))).unwrap();
        assert_eq!(d.distinct_urls(), vec!["https://a/x".to_string()]);
        assert_eq!(
            d.describe_fields(),
            "statusCallbackUrl=https://a/x, inMessageCallbackUrl=https://a/x"
        );
    }
}
