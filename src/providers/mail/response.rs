//! Reading Unisender Go's answers: the webhook object, and the error envelope
//! `{"status":"error","code":N,"message":"..."}` classified into provider errors.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::MailProvider;
use crate::api::Reason;
use crate::providers::http::{self, Reply, common_failure};
use crate::providers::{Provider, ProviderError};

/// Error code for "webhook with that URL not found": on get it means absent, on delete "already gone".
pub const CODE_NOT_FOUND: i64 = 304;

/// A webhook as `webhook/get` (and `set`) return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
pub struct RemoteWebhook {
    #[serde(default)]
    pub id: Option<Value>,
    pub url: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub event_format: Option<String>,
    /// Optional on read: when absent it cannot be compared.
    #[serde(default)]
    pub delivery_info: Option<i64>,
    #[serde(default)]
    pub single_event: Option<i64>,
    #[serde(default)]
    pub max_parallel: Option<i64>,
    #[serde(default)]
    pub events: RemoteEvents,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Default)]
pub struct RemoteEvents {
    #[serde(default)]
    pub email_status: Vec<String>,
    #[serde(default)]
    pub spam_block: Option<Vec<String>>,
}

impl RemoteWebhook {
    pub fn id_string(&self) -> Option<String> {
        self.id.as_ref().map(|id| match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// The `object` of a success answer: `Ok(None)` when the answer has none, an error when it is unreadable.
pub fn object(reply: &Reply, op: &str) -> Result<Option<RemoteWebhook>, ProviderError> {
    let unreadable = |what: String| {
        ProviderError::transient(
            Reason::ProviderProtocolError,
            format!("{} {op} answered without a readable object: {what}", MailProvider::LABEL),
        )
    };
    let body: Value = reply.json().map_err(|err| unreadable(http::unreadable(&err)))?;
    match body.get("object") {
        None | Some(Value::Null) => Ok(None),
        Some(object) => serde_json::from_value(object.clone())
            .map(Some)
            .map_err(|err| unreadable(http::unreadable(&err))),
    }
}

/// A failed answer, before classification.
pub enum Failure {
    /// `{"status":"error","code":N,"message":"..."}`
    Code(i64, String),
    Other(String),
}

impl Failure {
    pub fn of(reply: &Reply) -> Failure {
        let body: Option<Value> = reply.json().ok();
        match body.as_ref().and_then(|b| b.get("code")).and_then(Value::as_i64) {
            Some(code) => Failure::Code(
                code,
                reply.quote(
                    body.as_ref()
                        .and_then(|b| b.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
            ),
            None => Failure::Other(reply.body_text()),
        }
    }

    pub fn into_error(self, reply: &Reply, op: &str) -> ProviderError {
        let detail = match &self {
            Failure::Code(code, message) => format!("code {code}: {message}"),
            Failure::Other(text) => text.clone(),
        };
        if let Some(err) = common_failure(MailProvider::NAME, op, reply, &detail) {
            return err;
        }
        let label = MailProvider::LABEL;
        match self {
            // Wrong data centre answers 114 with HTTP 401 (handled above); be sure if it ever comes as 400.
            Failure::Code(code @ (101 | 102 | 105 | 106 | 114), message) => ProviderError::InvalidCredentials {
                message: format!("{label} rejected the credentials on {op}: code {code}: {message}"),
            },
            Failure::Code(code, message) => ProviderError::rejected(
                Reason::ProviderRejected,
                format!(
                    "{label} refused {op} (HTTP {}): code {code}: {message}",
                    reply.status.as_u16()
                ),
            ),
            Failure::Other(text) if reply.status == StatusCode::NOT_FOUND => ProviderError::rejected(
                Reason::ProviderRejected,
                format!("{label} has no method {op} at this endpoint (HTTP 404): {text}"),
            ),
            Failure::Other(text) => ProviderError::rejected(
                Reason::ProviderRejected,
                format!("{label} refused {op} (HTTP {}): {text}", reply.status.as_u16()),
            ),
        }
    }
}

/// The provider stopped the webhook and re-activating it failed: report that, and keep retrying (the receiver
/// the provider checks may come back) unless the credentials are the problem.
pub fn stopped_by_provider(err: ProviderError) -> ProviderError {
    match err {
        ProviderError::InvalidCredentials { .. } => err,
        other => ProviderError::Transient {
            reason: Reason::StoppedByProvider,
            message: format!(
                "{} stopped the webhook and re-activating it failed: {other}",
                MailProvider::LABEL
            ),
            retry_after: other.retry_after(),
        },
    }
}
