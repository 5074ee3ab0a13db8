//! Unisender Go's HTTP methods: `POST <endpoint>/webhook/{get,set,delete}.json` with the key in `X-API-KEY`.

use serde_json::{Value, json};

use super::desired::MailDesired;
use super::response::{CODE_NOT_FOUND, Failure, RemoteWebhook, object, set_failure};
use super::MailProvider;
use crate::providers::http::{HttpClient, Reply};
use crate::providers::{Account, ApiKey, Provider, ProviderError};

/// The Unisender Go client.
#[derive(Clone)]
pub struct MailClient {
    http: HttpClient,
}

impl MailClient {
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    async fn call(&self, account: &Account<ApiKey>, method: &'static str, body: Value) -> Result<Reply, ProviderError> {
        let request = self
            .http
            .request(reqwest::Method::POST, &account.endpoint, &format!("{method}.json"))?
            .header("X-API-KEY", account.credentials.0.expose())
            .json(&body);
        self.http.send(MailProvider::NAME, method, request).await
    }

    /// The webhook registered for `url`, or `None` (error 304).
    pub async fn get(&self, account: &Account<ApiKey>, url: &str) -> Result<Option<RemoteWebhook>, ProviderError> {
        let op = "webhook/get";
        let reply = self.call(account, op, json!({ "url": url })).await?;
        if reply.status.is_success() {
            return object(&reply, op)?.map(Some).ok_or_else(|| {
                ProviderError::transient(
                    crate::api::Reason::ProviderProtocolError,
                    format!("{} {op} answered without a readable object", MailProvider::LABEL),
                )
            });
        }
        match Failure::of(&reply) {
            Failure::Code(CODE_NOT_FOUND, _) => Ok(None),
            other => Err(other.into_error(&reply, op)),
        }
    }

    /// Creates or replaces the webhook keyed by its URL; the provider's echo of it when the answer carries one.
    pub async fn set(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
    ) -> Result<Option<RemoteWebhook>, ProviderError> {
        let op = "webhook/set";
        let reply = self.call(account, op, desired.set_body()).await?;
        if reply.status.is_success() {
            return object(&reply, op);
        }
        Err(set_failure(&reply, desired.status == "active"))
    }

    /// The webhook whose url is `url` in any spelling (the provider may store it normalised), from
    /// `webhook/list.json`.
    pub async fn find(&self, account: &Account<ApiKey>, url: &str) -> Result<Option<RemoteWebhook>, ProviderError> {
        let mut found = None;
        self.pages(account, |page| {
            found = page.iter().find(|w| crate::providers::same_url(&w.url, url)).cloned();
            found.is_none()
        })
        .await?;
        Ok(found)
    }

    /// Every webhook of the account (`callback-operator import`).
    pub async fn list(&self, account: &Account<ApiKey>) -> Result<Vec<RemoteWebhook>, ProviderError> {
        let mut all = Vec::new();
        self.pages(account, |page| {
            all.extend_from_slice(page);
            true
        })
        .await?;
        Ok(all)
    }

    /// Hands `webhook/list.json` pages to `more` until it answers false or a page is empty. Pages until an empty
    /// page: a server-side cap may make a page shorter than asked without it being the last.
    async fn pages(
        &self,
        account: &Account<ApiKey>,
        mut more: impl FnMut(&[RemoteWebhook]) -> bool,
    ) -> Result<(), ProviderError> {
        const LIMIT: usize = 50;
        const MAX_PAGES: usize = 400;
        let op = "webhook/list";
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let reply = self.call(account, op, json!({ "limit": LIMIT, "offset": offset })).await?;
            if !reply.status.is_success() {
                return Err(Failure::of(&reply).into_error(&reply, op));
            }
            let page: Vec<RemoteWebhook> = reply
                .json::<serde_json::Value>()
                .ok()
                .and_then(|v| serde_json::from_value(v.get("objects")?.clone()).ok())
                .ok_or_else(|| {
                    ProviderError::transient(
                        crate::api::Reason::ProviderProtocolError,
                        format!("{} {op} answered without a readable list", MailProvider::LABEL),
                    )
                })?;
            if page.is_empty() || !more(&page) {
                break;
            }
            offset += page.len();
        }
        Ok(())
    }

    /// Deletes `url`; true when it existed, false when the provider says it was already gone (304).
    pub async fn delete(&self, account: &Account<ApiKey>, url: &str) -> Result<bool, ProviderError> {
        let op = "webhook/delete";
        let reply = self.call(account, op, json!({ "url": url })).await?;
        if reply.status.is_success() {
            return Ok(true);
        }
        match Failure::of(&reply) {
            Failure::Code(CODE_NOT_FOUND, _) => Ok(false),
            other => Err(other.into_error(&reply, op)),
        }
    }
}
