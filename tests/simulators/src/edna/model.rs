//! The channel and callback-URL types of the edna simulator.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A channel of an account, as listed by `channel-profile`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    /// Sender name.
    pub subject: String,
    /// Present once the channel is active and registered.
    pub subject_id: Option<i64>,
    pub active: bool,
    /// `WHATSAPP`, `VIBER`, `SMS`, ...
    pub channel_type: String,
}

impl Channel {
    /// An active, registered channel.
    pub fn active(id: i64, name: &str, subject: &str, subject_id: i64, channel_type: &str) -> Self {
        Channel {
            id,
            name: name.to_owned(),
            subject: subject.to_owned(),
            subject_id: Some(subject_id),
            active: true,
            channel_type: channel_type.to_owned(),
        }
    }

    /// A channel not active yet (no `subjectId`).
    pub fn pending(id: i64, name: &str, subject: &str, channel_type: &str) -> Self {
        Channel {
            id,
            name: name.to_owned(),
            subject: subject.to_owned(),
            subject_id: None,
            active: false,
            channel_type: channel_type.to_owned(),
        }
    }

    pub(crate) fn usable_subject_id(&self) -> Option<i64> {
        self.subject_id.filter(|_| self.active)
    }

    /// The API's JSON shape.
    pub fn to_api_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "subject": self.subject,
            "channelAttribute": self.subject,
            "active": self.active,
            "registrationStatus": if self.usable_subject_id().is_some() { "REGISTERED" } else { "IN_PROGRESS" },
            "type": self.channel_type,
        });
        if let Some(sid) = self.usable_subject_id() {
            v["subjectId"] = json!(sid);
        }
        v
    }
}

/// The callback URLs held for one (account, subjectId or tenant-wide) pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackUrls {
    pub status_callback_url: Option<String>,
    pub in_message_callback_url: Option<String>,
    pub message_matcher_callback_url: Option<String>,
}
