//! `spec.mail`: a Unisender Go webhook (contract: Web API v1 `webhook/set|get|list|delete`).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::validation::{HTTPS_URL_MESSAGE, HTTPS_URL_RULE, PRINTABLE_ASCII_PATTERN};

/// A Unisender Go webhook. The provider identifies it by `url` within the API key's scope.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailSpec {
    /// The receiver's https URL (ASCII; use punycode for international domains), at most 500 characters.
    /// Unisender Go sends it a GET when the webhook is activated and expects 200.
    #[schemars(regex(pattern = PRINTABLE_ASCII_PATTERN), length(max = 500))]
    #[x_kube(validation = Rule::new(HTTPS_URL_RULE).message(HTTPS_URL_MESSAGE))]
    pub url: String,

    /// `active` (the provider's default when absent) or `disabled`. The provider may itself set `stopped` after a
    /// day of failed deliveries; the operator re-activates it on the next resync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MailWebhookStatus>,

    /// `json_post` (the provider's default when absent) or `json_post_gzip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_format: Option<MailEventFormat>,

    /// Include delivery details (SMTP answer, user agent, …) in events. Absent means false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_info: Option<bool>,

    /// Send one event per request instead of batches (changes the payload shape). Absent means false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_event: Option<bool>,

    /// How many requests the provider may send in parallel, 5..100. Absent means the provider's default, 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 100))]
    pub max_parallel: Option<i32>,

    /// Which events are sent.
    pub events: MailEvents,
}

/// The events a mail webhook subscribes to.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailEvents {
    /// Email statuses to report, at least one: delivered, opened, clicked, unsubscribed, subscribed, soft_bounced,
    /// hard_bounced, spam (and sent).
    #[schemars(length(min = 1, max = 9))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub email_status: Vec<EmailStatus>,

    /// Also report spam blocks (the provider's `spam_block: ["*"]`). Absent means false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spam_block: Option<bool>,
}

/// The webhook status a user may ask for.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MailWebhookStatus {
    Active,
    Disabled,
}

/// How events are posted.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MailEventFormat {
    JsonPost,
    JsonPostGzip,
}

/// An email status event.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    Sent,
    Delivered,
    Opened,
    Clicked,
    Unsubscribed,
    Subscribed,
    SoftBounced,
    HardBounced,
    Spam,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Sent => "sent",
            EmailStatus::Delivered => "delivered",
            EmailStatus::Opened => "opened",
            EmailStatus::Clicked => "clicked",
            EmailStatus::Unsubscribed => "unsubscribed",
            EmailStatus::Subscribed => "subscribed",
            EmailStatus::SoftBounced => "soft_bounced",
            EmailStatus::HardBounced => "hard_bounced",
            EmailStatus::Spam => "spam",
        }
    }
}
