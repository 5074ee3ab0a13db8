//! Reading Unisender Go's answers: the webhook object, and the error envelope
//! `{"status":"error","code":N,"message":"..."}` classified into provider errors.

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::MailProvider;
use crate::api::Reason;
use crate::providers::http::{self, Reply, common_failure};
use crate::providers::{Provider, ProviderError};

/// Error code for "webhook with that URL not found": on get it means absent, on delete "already gone".
pub const CODE_NOT_FOUND: i64 = 304;

/// Every code the contract documents besides the receiver check (2713, an invented number): a refusal with one of
/// them is the provider's judgement of the request.
const DOCUMENTED_CODES: [i64; 18] = [
    101, 102, 105, 106, 114, 303, 304, 305, 2701, 2703, 2704, 2705, 2707, 2710, 2711, 2712, 2714, 2715,
];

/// A webhook as `webhook/get` (and `set`) return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, Default)]
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

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, Default)]
pub struct RemoteEvents {
    #[serde(default)]
    pub email_status: Vec<String>,
    #[serde(default)]
    pub spam_block: Option<Vec<String>>,
}

impl RemoteWebhook {
    /// The fingerprint of this answer for `status.observedHash` (what was read, in the provider's spelling;
    /// `updated_at` is not read, so a rewrite that changed nothing keeps the fingerprint).
    pub fn fingerprint(&self) -> String {
        crate::providers::fingerprint(&serde_json::to_value(self).unwrap_or_default())
    }

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

/// A refused `webhook/set`. An active webhook makes the provider check the receiver first (a `GET` that must
/// answer 200); the code of a failed check is undocumented, so any 4xx whose code is not one the contract documents
/// (or that has none) is taken for it: retryable with a reason that says so, since the receiver may come up later —
/// not a permanent stall on a guess.
pub fn set_failure(reply: &Reply, active: bool) -> ProviderError {
    let op = "webhook/set";
    let failure = Failure::of(reply);
    let plain_refusal = matches!(reply.status.as_u16(), 401 | 403 | 404 | 413 | 429);
    if active && reply.status.is_client_error() && !plain_refusal {
        let said = match &failure {
            Failure::Code(code, _) if DOCUMENTED_CODES.contains(code) => None,
            Failure::Code(code, message) => Some(format!("code {code}: {message}")),
            Failure::Other(text) => Some(format!("no code: {text}")),
        };
        if let Some(said) = said {
            return ProviderError::transient(
                Reason::ReceiverCheckFailed,
                format!(
                    "{} refused {op} (HTTP {}) with an undocumented code ({said}); most likely its check of the \
                     receiver failed (an active webhook's URL must answer GET with 200): retrying with backoff",
                    MailProvider::LABEL,
                    reply.status.as_u16()
                ),
            );
        }
    }
    failure.into_error(reply, op)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ErrorClass;
    use serde_json::json;

    fn reply(status: u16, body: Value) -> Reply {
        Reply::new(StatusCode::from_u16(status).unwrap(), body.to_string())
    }

    #[test]
    fn an_undocumented_code_on_set_of_an_active_webhook_is_a_retryable_receiver_check() {
        for r in [
            reply(400, json!({"status": "error", "code": 2713, "message": "domain not found"})),
            reply(422, json!({"status": "error", "code": 2799, "message": "url check failed"})),
            reply(400, json!({"status": "error", "message": "webhook url is not available"})),
        ] {
            let err = set_failure(&r, true);
            assert_eq!((err.reason(), err.class()), (Reason::ReceiverCheckFailed, ErrorClass::Transient), "{err}");
            assert!(err.to_string().contains("receiver"), "{err}");
        }
    }

    #[test]
    fn documented_validation_codes_and_inactive_webhooks_stay_permanent() {
        let err = set_failure(&reply(400, json!({"status": "error", "code": 2707, "message": "max_parallel"})), true);
        assert_eq!((err.reason(), err.class()), (Reason::ProviderRejected, ErrorClass::Permanent));
        let err = set_failure(&reply(422, json!({"status": "error", "code": 2799, "message": "?"})), false);
        assert_eq!(err.class(), ErrorClass::Permanent, "no receiver check for a disabled webhook");
        let err = set_failure(&reply(503, json!({"status": "error", "code": 2799})), true);
        assert_eq!(err.reason(), Reason::ProviderUnavailable);
    }
}
