//! `spec.envelope`: a DocStudio envelope callback (contract: add / list / remove; no update, no idempotency).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::validation::{HTTPS_URL_MESSAGE, HTTPS_URL_RULE, PRINTABLE_ASCII_PATTERN, UUID_PATTERN};

/// A DocStudio envelope callback in one mailbox, identified by (mailbox, url). A change is applied by adding the new
/// callback and then removing the old one, since DocStudio has no update.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeSpec {
    /// The mailbox (uuid) whose envelopes are reported; the credentials must belong to its owner.
    #[schemars(regex(pattern = UUID_PATTERN))]
    pub mailbox: String,

    /// The receiver's https URL, at most 500 characters.
    #[schemars(regex(pattern = PRINTABLE_ASCII_PATTERN), length(max = 500))]
    #[x_kube(validation = Rule::new(HTTPS_URL_RULE).message(HTTPS_URL_MESSAGE))]
    pub url: String,

    /// How many times DocStudio retries a failed delivery, 0..10 (0 means one attempt).
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,

    /// How long DocStudio waits for the receiver, in milliseconds, 100..60000.
    #[schemars(range(min = 100, max = 60000))]
    pub timeout_ms: i32,

    /// The HTTP status the receiver answers on success, 100..599. Absent means the provider's default, 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub success_code: Option<i32>,

    /// HTTP basic-auth credentials DocStudio sends to the receiver, from a Secret in this namespace. The password
    /// cannot be read back from DocStudio: the operator tracks a salted hash and replaces the callback when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_secret_ref: Option<BasicAuthSecretRef>,

    /// Which envelopes are reported. Absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<EnvelopeFilter>,
}

/// A Secret holding the basic-auth pair DocStudio sends to the receiver.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuthSecretRef {
    /// The Secret's name, in this object's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key holding the username. Absent means `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub username_key: Option<String>,
    /// The key holding the password. Absent means `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub password_key: Option<String>,
}

/// Envelope filter; every list is compared as a set, every date as an instant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeFilter {
    /// Only envelopes carrying one of these labels (uuids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = UUID_PATTERN)))]
    pub labels: Option<Vec<String>>,
    /// Only envelopes in one of these statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<EnvelopeStatus>>,
    /// Only envelopes whose subject contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub subject: Option<String>,
    /// Only envelopes received at or after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub receive_date_from: Option<String>,
    /// Only envelopes received at or before this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub receive_date_to: Option<String>,
    /// Only envelopes expiring at or after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expire_date_from: Option<String>,
    /// Only envelopes expiring at or before this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expire_date_to: Option<String>,
    /// Only envelopes made from one of these templates (uuids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = UUID_PATTERN)))]
    pub templates: Option<Vec<String>>,
    /// Only envelopes from one of these senders (uuids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = UUID_PATTERN)))]
    pub senders: Option<Vec<String>>,
    /// Only envelopes in one of these scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<EnvelopeScope>>,
}

/// An envelope status.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnvelopeStatus {
    Waiting,
    Completed,
    Cancelled,
    Expired,
}

/// An envelope scope.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EnvelopeScope {
    Inbox,
    Outbox,
    Draft,
    Shared,
}
