//! The one place provider HTTP requests are sent: timeouts, metrics and the classification every provider shares
//! (transport failures, 429, 5xx, 401/403). Provider-specific bodies are read by the provider modules.
//!
//! Whatever an allowed endpoint answers is hostile input (a tenant chooses the endpoint): redirects are never
//! followed (a redirect is an error naming the target host, and no request — no API key — goes there); an answer
//! is read up to [`MAX_BODY`] and refused above it without reading the rest; the whole exchange, body included, is
//! bounded by the request timeout (a slow drip cannot hold a reconciliation); provider text reaches messages only
//! through [`Reply::quote`], which redacts every credential the request carried before it cuts.

use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_LENGTH, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};

use super::endpoint;
use super::redact::Redactor;
use super::{ProviderError, SecretValue};
use crate::api::Reason;
use crate::telemetry::Metrics;

/// Largest answer read from a provider: theirs are a few KiB at most (a list of callbacks, a channel list).
pub const MAX_BODY: usize = 1024 * 1024;

/// How much of a body is looked at when it is quoted. Redaction runs on all of it before the cut to
/// `PROVIDER_TEXT_MAX` characters, which lies far inside the window, so nothing near the window's edge is shown.
pub const QUOTE_WINDOW: usize = 16 * 1024;

/// A provider's HTTP answer, already read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// `Retry-After`, in either form (seconds or an HTTP date); the backoff clamps it to its ceiling.
    pub retry_after: Option<Duration>,
    pub body: bytes::Bytes,
    /// Every credential the request carried, for [`quote`](Self::quote).
    redactor: Redactor,
}

impl Reply {
    /// A reply built in memory (unit tests of response readers).
    #[cfg(test)]
    pub fn new(status: StatusCode, body: impl Into<bytes::Bytes>) -> Self {
        Reply {
            status,
            retry_after: None,
            body: body.into(),
            redactor: Redactor::default(),
        }
    }

    /// The body as JSON of type `T`. Callers decide what an unreadable body means (often a protocol error).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Provider-supplied `text` fit for a message: every credential of the request redacted in every form, then
    /// one line, capped.
    pub fn quote(&self, text: &str) -> String {
        self.redactor.quote(text)
    }

    /// The start of the body as text, quoted (for answers that are not the expected JSON).
    pub fn body_text(&self) -> String {
        let head = &self.body[..self.body.len().min(QUOTE_WINDOW)];
        self.quote(String::from_utf8_lossy(head).trim())
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
    timeout: Duration,
}

impl HttpClient {
    pub fn new(timeout: Duration, metrics: Metrics) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("callback-operator/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            // A redirect would carry the API key (or a login body) to a host nobody allowed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            metrics,
            timeout,
        })
    }

    /// A request to `path` under `endpoint`; a path that would leave the endpoint (a provider-supplied id with
    /// dot segments) is a protocol error and nothing is sent.
    pub fn request(&self, method: Method, endpoint: &str, path: &str) -> Result<RequestBuilder, ProviderError> {
        let url = endpoint::join(endpoint, path)
            .map_err(|why| ProviderError::transient(Reason::ProviderProtocolError, why))?;
        Ok(self.client.request(method, url))
    }

    /// Sends `request`, records it, and turns transport errors into transient provider errors. Credentials in
    /// its headers (API key, bearer token, basic auth) are redacted from any quote of the answer.
    pub async fn send(
        &self,
        provider: &'static str,
        op: &'static str,
        request: RequestBuilder,
    ) -> Result<Reply, ProviderError> {
        self.send_carrying(provider, op, request, &[]).await
    }

    /// Like [`send`](Self::send), for a request whose body carries `secrets` (a login, a basic-auth pair).
    pub async fn send_carrying(
        &self,
        provider: &'static str,
        op: &'static str,
        request: RequestBuilder,
        secrets: &[&SecretValue],
    ) -> Result<Reply, ProviderError> {
        let request = request.build().map_err(|err| {
            ProviderError::transient(
                Reason::ProviderUnreachable,
                format!("{provider} {op}: the request could not be built: {}", error_chain(&err)),
            )
        })?;
        let mut redactor = Redactor::new(secrets.iter().copied());
        carried_credentials(request.headers(), &mut redactor);
        // reqwest's timeout covers the body too; this one bounds the whole exchange whatever the reader does.
        let exchange = self.exchange(provider, op, request, redactor);
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => {
                self.metrics.provider_request(provider, op, "timeout");
                Err(ProviderError::transient(
                    Reason::ProviderTimeout,
                    format!("{provider} {op} request timed out after {:?}", self.timeout),
                ))
            }
        }
    }

    async fn exchange(
        &self,
        provider: &'static str,
        op: &'static str,
        request: reqwest::Request,
        redactor: Redactor,
    ) -> Result<Reply, ProviderError> {
        let mut response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(err) => {
                let code = if err.is_timeout() { "timeout" } else { "error" };
                self.metrics.provider_request(provider, op, code);
                let (reason, what) = if err.is_timeout() {
                    (Reason::ProviderTimeout, "timed out")
                } else {
                    (Reason::ProviderUnreachable, "failed")
                };
                // reqwest's Display includes the URL, which carries no secret (the allow-list refuses userinfo and
                // queries; keys travel in headers and bodies).
                let message = redactor.quote(&format!("{provider} {op} request {what}: {}", error_chain(&err)));
                return Err(ProviderError::transient(reason, message));
            }
        };
        let status = response.status();
        self.metrics.provider_request(provider, op, status.as_str());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.metrics.provider_throttled(provider);
        }
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let target = redirect_target(response.url(), response.headers());
            return Err(ProviderError::rejected(
                Reason::ProviderRedirected,
                format!(
                    "{provider} {op}: the endpoint answered HTTP {} redirecting to {target}; redirects are not \
                     followed (no request was sent there): set the Secret's endpoint to the provider's base URL",
                    status.as_u16()
                ),
            ));
        }
        let retry_after = retry_after(response.headers(), SystemTime::now());
        let too_large = || {
            ProviderError::transient(
                Reason::ProviderResponseTooLarge,
                format!(
                    "{provider} {op}: the answer (HTTP {}) is larger than {} KiB and was not read; a provider's \
                     answers are small, so the endpoint may not be the provider",
                    status.as_u16(),
                    MAX_BODY / 1024
                ),
            )
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::with_capacity(declared.unwrap_or(0).min(64 * 1024) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        // Dropping the response closes the connection: the rest is never read.
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => {
                    let reason = if err.is_timeout() {
                        Reason::ProviderTimeout
                    } else {
                        Reason::ProviderUnreachable
                    };
                    let message = format!("{provider} {op}: reading the answer failed: {}", error_chain(&err));
                    return Err(ProviderError::transient(reason, redactor.quote(&message)));
                }
            }
        }
        Ok(Reply {
            status,
            retry_after,
            body: body.freeze(),
            redactor,
        })
    }
}

/// Adds the credentials a request's headers carry: `X-API-KEY`, bearer tokens, basic-auth pairs, and any header
/// marked sensitive.
fn carried_credentials(headers: &HeaderMap, redactor: &mut Redactor) {
    for (name, value) in headers {
        let credential = value.is_sensitive()
            || matches!(
                name.as_str(),
                "x-api-key" | "authorization" | "proxy-authorization" | "cookie"
            );
        let Some(text) = credential.then(|| value.to_str().ok()).flatten() else {
            continue;
        };
        redactor.add(text);
        if let Some(token) = text.strip_prefix("Bearer ") {
            redactor.add(token.trim());
        } else if let Some(encoded) = text.strip_prefix("Basic ") {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap_or_default();
            if let Some((user, password)) = String::from_utf8_lossy(&decoded).split_once(':') {
                redactor.add_pair(user, password);
            }
        }
    }
}

/// Where a redirect points, as `scheme://host[:port]` only (its path and query are the attacker's text).
fn redirect_target(from: &url::Url, headers: &HeaderMap) -> String {
    let location = headers.get(LOCATION).and_then(|v| v.to_str().ok());
    match location.and_then(|l| from.join(l).ok()) {
        Some(url) => {
            let host = url.host_str().unwrap_or("(no host)");
            let host = super::redact::cap(host, 100);
            match url.port() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            }
        }
        None => "an unreadable Location".to_string(),
    }
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past means now. Absurd values are
/// kept for the backoff to clamp at its ceiling.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(u32::MAX as u64)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error classes every provider shares: 429 and 5xx are transient, 401/403 are credential failures.
/// `detail` is the provider's own message (already quoted: redacted and capped). Returns `None` for statuses the
/// provider module must interpret itself.
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

#[cfg(test)]
mod tests;
