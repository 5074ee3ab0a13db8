//! `spec.edna`: edna Pulse callback URLs (contract: `POST /api/callback/set`; no read, no delete).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::validation::{HTTPS_URL_MESSAGE, HTTPS_URL_RULE, PRINTABLE_ASCII_PATTERN};

/// The edna Pulse callback URLs this object owns, for one channel or (neither `subjectId` nor `subject` set) every
/// channel of the tenant. Each URL field is owned by one object per (account, channel); fields left out stay as they
/// are at edna. edna cannot read URLs back nor delete them: see docs/providers/edna.md.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!(has(self.subjectId) && has(self.subject))")
        .message("set at most one of subjectId and subject"),
    validation = Rule::new("has(self.statusCallbackUrl) || has(self.inMessageCallbackUrl) || has(self.messageMatcherCallbackUrl)")
        .message("set at least one of statusCallbackUrl, inMessageCallbackUrl and messageMatcherCallbackUrl")
)]
#[serde(rename_all = "camelCase")]
pub struct EdnaSpec {
    /// The channel's numeric id (edna's subjectId). Absent, together with `subject`, means every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub subject_id: Option<i64>,

    /// The channel's sender name, resolved to its subjectId through edna's channel list. A channel that is not
    /// active yet leaves the object `Ready=False` (reason ChannelNotActive) until it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub subject: Option<String>,

    /// Where edna posts delivery statuses: https, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PRINTABLE_ASCII_PATTERN), length(max = 500))]
    #[x_kube(validation = Rule::new(HTTPS_URL_RULE).message(HTTPS_URL_MESSAGE))]
    pub status_callback_url: Option<String>,

    /// Where edna posts incoming messages: https, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PRINTABLE_ASCII_PATTERN), length(max = 500))]
    #[x_kube(validation = Rule::new(HTTPS_URL_RULE).message(HTTPS_URL_MESSAGE))]
    pub in_message_callback_url: Option<String>,

    /// Where edna posts management events (template registration status): https, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = PRINTABLE_ASCII_PATTERN), length(max = 500))]
    #[x_kube(validation = Rule::new(HTTPS_URL_RULE).message(HTTPS_URL_MESSAGE))]
    pub message_matcher_callback_url: Option<String>,
}
