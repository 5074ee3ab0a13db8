//! Reading DocStudio's answers: the provider's message, and how a failed call is classified.

use reqwest::StatusCode;
use serde_json::Value;

use super::EnvelopeProvider;
use crate::api::Reason;
use crate::providers::http::{Reply, common_failure};
use crate::providers::{Provider, ProviderError, SecretValue, redact};

/// Classifies a failed callback call. 403 is "no access to this mailbox": a fact about the spec's mailbox, not
/// about the Secret, so it stalls this object only instead of tripping the credential breaker for every object
/// sharing the Secret.
pub fn failure(reply: &Reply, op: &str, secrets: &[&SecretValue]) -> ProviderError {
    let detail = redact(&detail(reply), secrets);
    let status = reply.status.as_u16();
    match reply.status {
        StatusCode::FORBIDDEN => ProviderError::rejected(
            Reason::MailboxForbidden,
            format!(
                "DocStudio {op}: the credentials have no access to this mailbox (HTTP 403){}",
                suffix(&detail)
            ),
        ),
        StatusCode::PAYMENT_REQUIRED => ProviderError::rejected(
            Reason::PlanRestriction,
            format!(
                "DocStudio {op}: refused by the account's plan (HTTP 402){}",
                suffix(&detail)
            ),
        ),
        StatusCode::TOO_EARLY => ProviderError::transient(
            Reason::ProviderBusy,
            format!("DocStudio {op}: try again later (HTTP {status}){}", suffix(&detail)),
        ),
        _ => common_failure(EnvelopeProvider::NAME, op, reply, &detail).unwrap_or_else(|| {
            ProviderError::rejected(
                Reason::ProviderRejected,
                format!("DocStudio refused {op} (HTTP {status}){}", suffix(&detail)),
            )
        }),
    }
}

/// The provider's `message` (or the start of the body): what a human needs, redacted then capped
/// (`Reply::quote`: every credential the request carried, in every form).
pub fn detail(reply: &Reply) -> String {
    match reply
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
    {
        Some(message) => reply.quote(&message),
        None => reply.body_text(),
    }
}

pub fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

pub fn protocol_error(message: &str) -> ProviderError {
    ProviderError::transient(Reason::ProviderProtocolError, format!("DocStudio {message}"))
}
