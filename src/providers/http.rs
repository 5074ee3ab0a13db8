//! The one place provider HTTP requests are sent: timeouts, metrics and the classification every provider shares
//! (transport failures, 429, 5xx, 401/403). Provider-specific bodies are read by the provider modules.

use crate::api::Reason;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode, header::RETRY_AFTER};

use super::ProviderError;
use crate::telemetry::Metrics;

/// A provider's HTTP answer, already read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as JSON of type `T`. Callers decide what an unreadable body means (often a protocol error).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Where and how a body failed to parse as the expected JSON, without quoting the body (a provider's text may
/// echo anything, secrets included; serde's own message quotes values).
pub fn unreadable(err: &serde_json::Error) -> String {
    let kind = match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of an unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} (line {}, column {})", err.line(), err.column())
}

/// Shared HTTP client for every provider (one connection pool, one rustls provider).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    metrics: Metrics,
}

impl HttpClient {
    pub fn new(timeout: Duration, metrics: Metrics) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("callback-operator/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self { client, metrics })
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request`, records it, and turns transport errors into transient provider errors.
    /// Every HTTP status is returned to the caller, which knows what the provider's codes mean.
    pub async fn send(
        &self,
        provider: &'static str,
        op: &'static str,
        request: RequestBuilder,
    ) -> Result<Reply, ProviderError> {
        let outcome = request.send().await;
        let response = match outcome {
            Ok(response) => response,
            Err(err) => {
                let code = if err.is_timeout() { "timeout" } else { "error" };
                self.metrics.provider_request(provider, op, code);
                let what = if err.is_timeout() { "timed out" } else { "failed" };
                // reqwest's Display includes the URL, which carries no secret (keys travel in headers/bodies).
                return Err(ProviderError::transient(
                    if err.is_timeout() {
                        Reason::ProviderTimeout
                    } else {
                        Reason::ProviderUnreachable
                    },
                    format!("{} {op} request {what}: {}", provider, error_chain(&err)),
                ));
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        self.metrics.provider_request(provider, op, status.as_str());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.metrics.provider_throttled(provider);
        }
        let body = response.bytes().await.map_err(|err| {
            ProviderError::transient(
                Reason::ProviderUnreachable,
                format!("{} {op}: reading the answer failed: {}", provider, error_chain(&err)),
            )
        })?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// The error classes every provider shares: 429 and 5xx are transient, 401/403 are credential failures.
/// `detail` is the provider's own message (already free of secrets). Returns `None` for statuses the provider
/// module must interpret itself.
pub fn common_failure(provider: &'static str, op: &str, reply: &Reply, detail: &str) -> Option<ProviderError> {
    let status = reply.status;
    let name = provider;
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(ProviderError::Transient {
            reason: Reason::RateLimited,
            message: format!("{name} {op} was rate limited (HTTP 429){}", suffix(detail)),
            retry_after: reply.retry_after,
        });
    }
    if status.is_server_error() {
        return Some(ProviderError::Transient {
            reason: Reason::ProviderUnavailable,
            message: format!("{name} {op} failed with HTTP {}{}", status.as_u16(), suffix(detail)),
            retry_after: reply.retry_after,
        });
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Some(ProviderError::InvalidCredentials {
            message: format!(
                "{name} rejected the credentials on {op} (HTTP {}){}",
                status.as_u16(),
                suffix(detail)
            ),
        });
    }
    None
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
