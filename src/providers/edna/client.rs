//! edna Pulse's HTTP methods: `POST /api/callback/set` and `GET /api/channel-profile`, the key in `X-API-KEY`.

use super::EdnaProvider;
use super::channels::{ChannelProfile, parse_channels, resolve};
use super::desired::ChannelScope;
use super::response::{self, parse_answer, set_result};
use crate::api::Reason;
use crate::providers::http::{HttpClient, Reply, common_failure};
use crate::providers::{Account, ApiKey, Provider, ProviderError};

/// The edna Pulse client.
#[derive(Clone)]
pub struct EdnaClient {
    http: HttpClient,
}

impl EdnaClient {
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }

    /// `callback/set`; edna probes every URL with HEAD before answering.
    pub async fn set(&self, account: &Account<ApiKey>, body: serde_json::Value) -> Result<(), ProviderError> {
        let request = self
            .http
            .request(reqwest::Method::POST, &account.endpoint, "api/callback/set")?
            .header("X-API-KEY", account.credentials.0.expose())
            .json(&body);
        let reply = self.http.send(EdnaProvider::NAME, "callback/set", request).await?;
        set_result(&reply)
    }

    /// Every channel of the account (no `types` filter: a sender name is looked up across channel types).
    pub async fn channels(&self, account: &Account<ApiKey>) -> Result<Vec<ChannelProfile>, ProviderError> {
        let op = "channel-profile";
        let request = self
            .http
            .request(reqwest::Method::GET, &account.endpoint, "api/channel-profile")?
            .header("X-API-KEY", account.credentials.0.expose());
        let reply = self.http.send(EdnaProvider::NAME, op, request).await?;
        if reply.status.is_success() {
            return parse_channels(&reply.body).ok_or_else(|| {
                ProviderError::transient(
                    Reason::ProviderProtocolError,
                    format!(
                        "{} channel-profile answered without a readable channel list",
                        EdnaProvider::LABEL
                    ),
                )
            });
        }
        Err(channels_failure(&reply, op))
    }

    /// The subjectId to send: the spec's, the one behind `subject`, or none (tenant-wide).
    pub async fn subject_id(&self, account: &Account<ApiKey>, scope: &ChannelScope) -> Result<Option<i64>, ProviderError> {
        match scope {
            ChannelScope::Tenant => Ok(None),
            ChannelScope::SubjectId(id) => Ok(Some(*id)),
            ChannelScope::Subject(name) => resolve(name, &self.channels(account).await?).map(Some),
        }
    }
}

fn channels_failure(reply: &Reply, op: &str) -> ProviderError {
    let answer = parse_answer(&reply.body).quoted(reply);
    let detail = answer.code.clone().unwrap_or_else(|| answer.message.clone());
    match common_failure(EdnaProvider::NAME, op, reply, &detail) {
        Some(err) => response::with_group_hint(err, reply.status, "channels", op),
        None => response::unexpected(op, reply.status, &answer),
    }
}
