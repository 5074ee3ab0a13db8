//! DocStudio's HTTP methods (`/api/login`, `/api/v1/envelope/callback/{add,list,{id}/remove}`), the bearer token
//! on every call, and how DocStudio's answers are classified.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::auth::TokenCache;
use super::desired::RemoteCallback;
use super::EnvelopeProvider;
use super::auth::EnvelopeCredentials;
use super::response::{detail, failure, protocol_error, suffix};
use crate::providers::http::{HttpClient, Reply, common_failure, unreadable};
use crate::providers::{Account, Provider, ProviderError, SecretValue, redact};

const CALLBACK: &str = "api/v1/envelope/callback";

/// The DocStudio client: the shared HTTP client and the login-token cache.
#[derive(Clone)]
pub struct EnvelopeClient {
    http: HttpClient,
    tokens: Arc<TokenCache>,
}

/// The bearer used for one call, remembered so a 401 can drop exactly that token.
enum Bearer {
    Application(SecretValue),
    Login { key: String, token: SecretValue },
}

impl Bearer {
    fn token(&self) -> &SecretValue {
        match self {
            Bearer::Application(token) | Bearer::Login { token, .. } => token,
        }
    }
}

/// One call: method, path under the endpoint, optional JSON body and the secrets that body carries.
struct Call<'a> {
    op: &'static str,
    method: Method,
    path: String,
    body: Option<&'a Value>,
    secrets: &'a [&'a SecretValue],
}

impl EnvelopeClient {
    pub fn new(http: HttpClient) -> Self {
        Self {
            http,
            tokens: Arc::new(TokenCache::default()),
        }
    }

    /// Every callback of `mailbox`.
    pub async fn list(&self, account: &Account<EnvelopeCredentials>, mailbox: &str) -> Result<Vec<RemoteCallback>, ProviderError> {
        let call = Call {
            op: "callback/list",
            method: Method::GET,
            path: format!("{CALLBACK}/list"),
            body: None,
            secrets: &[],
        };
        let reply = self.send(account, mailbox, &call).await?;
        if !reply.status.is_success() {
            return Err(failure(&reply, call.op, &[]));
        }
        reply.json::<Vec<RemoteCallback>>().map_err(|err| {
            protocol_error(&format!(
                "callback/list answered without a readable list of callbacks: {}", unreadable(&err)
            ))
        })
    }

    /// Adds a callback. `body` carries the basic-auth password; `secrets` redact it from any provider message.
    /// A lost answer surfaces as a transient error: the caller's next list finds (and adopts) what was added.
    pub async fn add(
        &self,
        account: &Account<EnvelopeCredentials>,
        mailbox: &str,
        body: &Value,
        secrets: &[&SecretValue],
    ) -> Result<RemoteCallback, ProviderError> {
        let call = Call {
            op: "callback/add",
            method: Method::POST,
            path: format!("{CALLBACK}/add"),
            body: Some(body),
            secrets,
        };
        let reply = self.send(account, mailbox, &call).await?;
        if !reply.status.is_success() {
            return Err(failure(&reply, call.op, secrets));
        }
        reply
            .json::<RemoteCallback>()
            .map_err(|err| protocol_error(&format!("callback/add answered without a readable callback: {}", unreadable(&err))))
    }

    /// Removes callback `id` of `mailbox`: true when removed, false when it was already gone. 404 and 410 say so;
    /// whether DocStudio answers those for a gone id is not documented, so any other refusal that is not about
    /// credentials, access, plan or load is checked against the list: absent there means gone.
    pub async fn remove(&self, account: &Account<EnvelopeCredentials>, mailbox: &str, id: &str) -> Result<bool, ProviderError> {
        let call = Call {
            op: "callback/remove",
            method: Method::DELETE,
            path: format!("{CALLBACK}/{}/remove", urlencode(id)),
            body: None,
            secrets: &[],
        };
        let reply = self.send(account, mailbox, &call).await?;
        match reply.status {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(false),
            s if s.is_client_error() && !matches!(s.as_u16(), 401 | 402 | 403 | 425 | 429) => {
                let listed = self.list(account, mailbox).await?;
                if listed.iter().any(|c| c.id.eq_ignore_ascii_case(id)) {
                    Err(failure(&reply, call.op, &[]))
                } else {
                    Ok(false)
                }
            }
            _ => Err(failure(&reply, call.op, &[])),
        }
    }

    /// Sends `call` with the bearer token and the `Mailbox` header. A login token that gets 401 is dropped and
    /// the call repeated once with a fresh login; a second 401 is left to the caller (invalid credentials).
    async fn send(&self, account: &Account<EnvelopeCredentials>, mailbox: &str, call: &Call<'_>) -> Result<Reply, ProviderError> {
        let bearer = self.bearer(account).await?;
        let reply = self.send_as(account, mailbox, call, bearer.token()).await?;
        let Bearer::Login { key, token } = bearer else {
            return Ok(reply);
        };
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        self.tokens.invalidate(&key, &token).await;
        let fresh = self.bearer(account).await?;
        self.send_as(account, mailbox, call, fresh.token()).await
    }

    async fn send_as(
        &self,
        account: &Account<EnvelopeCredentials>,
        mailbox: &str,
        call: &Call<'_>,
        token: &SecretValue,
    ) -> Result<Reply, ProviderError> {
        // The bearer header is marked sensitive by reqwest: the login token is redacted from any quote of the answer.
        let mut request = self
            .http
            .request(call.method.clone(), &account.endpoint, &call.path)?
            .bearer_auth(token.expose())
            .header("Mailbox", mailbox);
        if let Some(body) = call.body {
            request = request.json(body);
        }
        self.http.send_carrying(EnvelopeProvider::NAME, call.op, request, call.secrets).await
    }

    async fn bearer(&self, account: &Account<EnvelopeCredentials>) -> Result<Bearer, ProviderError> {
        match &account.credentials {
            EnvelopeCredentials::Token(token) => Ok(Bearer::Application(token.clone())),
            EnvelopeCredentials::Login { login, password } => {
                let key = TokenCache::key(&account.endpoint, login, password);
                let token = self
                    .tokens
                    .token(&key, || self.login(&account.endpoint, login, password))
                    .await?;
                Ok(Bearer::Login { key, token })
            }
        }
    }

    /// `POST /api/login`. Any refusal other than 429/5xx means the login or password is wrong.
    async fn login(
        &self,
        endpoint: &str,
        login: &SecretValue,
        password: &SecretValue,
    ) -> Result<SecretValue, ProviderError> {
        let request = self
            .http
            .request(Method::POST, endpoint, "api/login")?
            .json(&json!({"login": login.expose(), "password": password.expose()}));
        let reply = self
            .http
            .send_carrying(EnvelopeProvider::NAME, "login", request, &[login, password])
            .await?;
        if reply.status.is_success() {
            return reply
                .json::<Value>()
                .ok()
                .and_then(|v| v.get("token").and_then(Value::as_str).map(SecretValue::new))
                .filter(|t| !t.expose().is_empty())
                .ok_or_else(|| protocol_error("login answered without a token"));
        }
        let detail = redact(&detail(&reply), &[login, password]);
        if reply.status == StatusCode::TOO_MANY_REQUESTS || reply.status.is_server_error() {
            return Err(common_failure(EnvelopeProvider::NAME, "login", &reply, &detail)
                .unwrap_or_else(|| protocol_error("login failed")));
        }
        Err(ProviderError::InvalidCredentials {
            message: format!(
                "DocStudio refused the login and password of the credentials Secret (HTTP {}){}",
                reply.status.as_u16(),
                suffix(&detail)
            ),
        })
    }
}

/// Ids are uuids; anything else is escaped so it stays one path segment.
fn urlencode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
