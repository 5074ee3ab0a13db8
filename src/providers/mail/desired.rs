//! The webhook as the operator wants it, with Unisender Go's defaults filled in (so comparisons are exact), and
//! the `webhook/set.json` body built from it. Pure.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{MailEventFormat, MailSpec, MailWebhookStatus};

/// The desired webhook. `Serialize` feeds `status.appliedHash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailDesired {
    pub url: String,
    pub status: String,
    pub event_format: String,
    pub delivery_info: bool,
    pub single_event: bool,
    pub max_parallel: i64,
    pub email_status: BTreeSet<String>,
    pub spam_block: bool,
}

impl MailDesired {
    pub fn from_spec(spec: &MailSpec) -> Self {
        MailDesired {
            url: spec.url.clone(),
            status: match spec.status.unwrap_or(MailWebhookStatus::Active) {
                MailWebhookStatus::Active => "active",
                MailWebhookStatus::Disabled => "disabled",
            }
            .to_string(),
            event_format: match spec.event_format.unwrap_or(MailEventFormat::JsonPost) {
                MailEventFormat::JsonPost => "json_post",
                MailEventFormat::JsonPostGzip => "json_post_gzip",
            }
            .to_string(),
            delivery_info: spec.delivery_info.unwrap_or(false),
            single_event: spec.single_event.unwrap_or(false),
            max_parallel: i64::from(spec.max_parallel.unwrap_or(10)),
            email_status: spec
                .events
                .email_status
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            spam_block: spec.events.spam_block.unwrap_or(false),
        }
    }

    /// The `webhook/set.json` body: always the full object.
    pub fn set_body(&self) -> Value {
        let mut events = json!({ "email_status": self.email_status });
        if self.spam_block {
            events["spam_block"] = json!(["*"]);
        }
        json!({
            "url": self.url,
            "status": self.status,
            "event_format": self.event_format,
            "delivery_info": u8::from(self.delivery_info),
            "single_event": u8::from(self.single_event),
            "max_parallel": self.max_parallel,
            "events": events,
        })
    }
}

#[cfg(test)]
pub(super) fn example() -> MailDesired {
    MailDesired {
        url: "https://hooks.example/u".into(),
        status: "active".into(),
        event_format: "json_post".into(),
        delivery_info: false,
        single_event: false,
        max_parallel: 10,
        email_status: ["delivered".to_string(), "spam".to_string()].into(),
        spam_block: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_body_carries_the_full_object() {
        let body = example().set_body();
        assert_eq!(body["events"]["spam_block"], json!(["*"]));
        assert_eq!(body["delivery_info"], json!(0));
        assert_eq!(body["max_parallel"], json!(10));
        let mut d = example();
        d.spam_block = false;
        assert!(d.set_body()["events"].get("spam_block").is_none());
    }
}
