//! Provider errors, classified once: what the reconciler does next depends only on the class.

use std::time::Duration;

use crate::api::Reason;

/// What an error means for the reconciler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, 5xx, 429, a receiver not up yet: retry with per-object exponential backoff.
    Transient,
    /// 401/403: stall, and stop calling the provider with this Secret until the Secret changes.
    Credentials,
    /// The provider refused the request as invalid: stall until the spec changes.
    Permanent,
}

/// An error from a provider call. Messages never contain secrets (callers redact provider text).
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ProviderError {
    /// Worth retrying: the provider or the network had a moment, or something the user does not control yet.
    #[error("{message}")]
    Transient {
        reason: Reason,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider rejected the credentials.
    #[error("{message}")]
    InvalidCredentials { message: String },
    /// The provider refused the request; retrying the same request cannot succeed.
    #[error("{message}")]
    Rejected { reason: Reason, message: String },
}

impl ProviderError {
    pub fn transient(reason: Reason, message: impl Into<String>) -> Self {
        ProviderError::Transient {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn rejected(reason: Reason, message: impl Into<String>) -> Self {
        ProviderError::Rejected {
            reason,
            message: message.into(),
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            ProviderError::Transient { .. } => ErrorClass::Transient,
            ProviderError::InvalidCredentials { .. } => ErrorClass::Credentials,
            ProviderError::Rejected { .. } => ErrorClass::Permanent,
        }
    }

    /// The CamelCase condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            ProviderError::Transient { reason, .. } | ProviderError::Rejected { reason, .. } => *reason,
            ProviderError::InvalidCredentials { .. } => Reason::InvalidCredentials,
        }
    }

    /// The same error (class, reason, `Retry-After`) with its message rewritten, to add what the caller knows.
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            ProviderError::Transient {
                reason,
                message,
                retry_after,
            } => ProviderError::Transient {
                reason,
                message: f(&message),
                retry_after,
            },
            ProviderError::InvalidCredentials { message } => ProviderError::InvalidCredentials { message: f(&message) },
            ProviderError::Rejected { reason, message } => ProviderError::Rejected {
                reason,
                message: f(&message),
            },
        }
    }

    /// How long the provider asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
