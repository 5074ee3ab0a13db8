//! edna Pulse callback URLs (`spec.edna`): `POST /api/callback/set`, and `GET /api/channel-profile` to resolve a
//! channel named by `subject`.
//!
//! edna has no read and no delete method. So `sync` never observes: it writes only when the desired state differs
//! from the applied hash in status, or when the re-assert interval has passed since the URLs were last written
//! (`plan`), and otherwise makes no call at all. `remove` cannot remove: it says which URLs stay registered.

mod channels;
mod desired;
mod plan;
mod response;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

pub use channels::{ChannelProfile, parse_channels, resolve};
pub use desired::{ChannelScope, EdnaDesired, UrlField, describe_subject};
pub use plan::{left_behind, plan};
pub use response::{Answer, parse_answer, set_result};

use super::http::{HttpClient, Reply, common_failure};
use super::{
    Account, Auth, Change, ChangeReason, DesiredError, Provider, ProviderError, Recorded, Removal, SecretSource,
    SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, ProviderKind, Registration};

/// The edna Pulse client.
#[derive(Clone)]
pub struct EdnaProvider {
    http: HttpClient,
    /// How often unchanged URLs are written again (edna cannot be read back, so drift is repaired blind).
    reassert_every: Duration,
}

impl EdnaProvider {
    pub fn new(http: HttpClient, reassert_every: Duration) -> Self {
        Self { http, reassert_every }
    }

    fn key<'a>(&self, account: &'a Account) -> Result<&'a super::SecretValue, ProviderError> {
        match &account.auth {
            Auth::ApiKey(key) => Ok(key),
            _ => Err(ProviderError::InvalidCredentials {
                message: "edna needs an apiKey in the credentials Secret".into(),
            }),
        }
    }

    /// `callback/set`; edna probes every URL with HEAD before answering.
    async fn set(&self, account: &Account, body: serde_json::Value) -> Result<(), ProviderError> {
        let request = self
            .http
            .raw()
            .post(format!("{}/api/callback/set", account.endpoint))
            .header("X-API-KEY", self.key(account)?.expose())
            .json(&body);
        let reply = self.http.send(ProviderKind::Edna, "callback/set", request).await?;
        set_result(&reply)
    }

    /// Every channel of the account (no `types` filter: a sender name is looked up across channel types).
    async fn channels(&self, account: &Account) -> Result<Vec<ChannelProfile>, ProviderError> {
        let op = "channel-profile";
        let request = self
            .http
            .raw()
            .get(format!("{}/api/channel-profile", account.endpoint))
            .header("X-API-KEY", self.key(account)?.expose());
        let reply = self.http.send(ProviderKind::Edna, op, request).await?;
        if reply.status.is_success() {
            return parse_channels(&reply.body).ok_or_else(|| {
                ProviderError::transient(
                    "ProviderProtocolError",
                    "edna Pulse channel-profile answered without a readable channel list",
                )
            });
        }
        Err(channels_failure(&reply, op))
    }

    /// The subjectId to send: the spec's, the one behind `subject`, or none (tenant-wide).
    async fn subject_id(&self, account: &Account, scope: &ChannelScope) -> Result<Option<i64>, ProviderError> {
        match scope {
            ChannelScope::Tenant => Ok(None),
            ChannelScope::SubjectId(id) => Ok(Some(*id)),
            ChannelScope::Subject(name) => resolve(name, &self.channels(account).await?).map(Some),
        }
    }
}

fn channels_failure(reply: &Reply, op: &str) -> ProviderError {
    let answer = parse_answer(&reply.body);
    let detail = answer.code.clone().unwrap_or_else(|| answer.message.clone());
    match common_failure(ProviderKind::Edna, op, reply, &detail) {
        Some(err) => response::with_group_hint(err, reply.status, "channels", op),
        None => response::unexpected(op, reply.status, &answer),
    }
}

fn registration(account: &Account, desired: &EdnaDesired, subject_id: Option<i64>) -> Registration {
    Registration {
        account: Some(account.id()),
        urls: desired.distinct_urls(),
        subject_id,
        ..Registration::default()
    }
}

fn change_message(reason: ChangeReason, desired: &EdnaDesired, subject_id: Option<i64>) -> String {
    let verb = match reason {
        ChangeReason::Reasserted => "re-asserted (edna cannot be read back)",
        _ => "set",
    };
    format!(
        "{verb} {} for {} at edna Pulse",
        desired.describe_fields(),
        describe_subject(subject_id)
    )
}

impl Provider for EdnaProvider {
    type Desired = EdnaDesired;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Edna
    }

    async fn desired(
        &self,
        spec: &CallbackRegistrationSpec,
        _secrets: &impl SecretSource,
    ) -> Result<EdnaDesired, DesiredError> {
        let edna = spec
            .edna
            .as_ref()
            .ok_or_else(|| DesiredError::InvalidSpec("spec.edna is missing".into()))?;
        EdnaDesired::from_spec(edna)
    }

    fn claims(spec: &CallbackRegistrationSpec) -> Vec<String> {
        spec.edna.as_deref().map(desired::claims).unwrap_or_default()
    }

    fn target(desired: &EdnaDesired) -> String {
        desired.distinct_urls().join(", ")
    }

    /// edna objects wake on the re-assert interval, not the operator's drift-check interval: between re-asserts a
    /// wake-up could only find nothing to do.
    fn default_resync(&self, _operator_default: Duration) -> Duration {
        self.reassert_every
    }

    async fn sync(
        &self,
        account: &Account,
        desired: &EdnaDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        let Some(reason) = plan(desired_hash, recorded, Timestamp::now(), self.reassert_every) else {
            // Nothing changed and a re-assert is not due: no call, and status stays byte for byte the same.
            let registration = recorded.registration.cloned().unwrap_or_default();
            return Ok(SyncOutcome {
                registration,
                changes: Vec::new(),
                repaired: None,
            });
        };
        let subject_id = self.subject_id(account, &desired.scope).await?;
        self.set(account, desired.set_body(subject_id)).await?;

        let mut message = change_message(reason, desired, subject_id);
        if let Some(note) = left_behind(desired, subject_id, &account.id(), recorded.registration) {
            message = format!("{message}; {note}");
        }
        Ok(SyncOutcome {
            registration: registration(account, desired, subject_id),
            changes: vec![Change { reason, message }],
            repaired: None,
        })
    }

    /// edna has no delete method: nothing is called, and the note names what stays registered.
    async fn remove(
        &self,
        account: &Account,
        registration: Option<&Registration>,
        desired: Option<&EdnaDesired>,
    ) -> Result<Removal, ProviderError> {
        Ok(Removal::Unsupported(removal_note(
            &account.endpoint,
            registration,
            desired,
        )))
    }
}

/// What a deleted object leaves at edna, in words.
pub fn removal_note(endpoint: &str, registration: Option<&Registration>, desired: Option<&EdnaDesired>) -> String {
    const HOW: &str = "to stop the callbacks, point those fields at other URLs (another CallbackRegistration) or \
                       change them in the edna Pulse account settings";
    match (registration.filter(|r| !r.urls.is_empty()), desired) {
        (Some(r), _) => format!(
            "edna Pulse has no delete method: {} stay registered for {} at {endpoint}; {HOW}",
            r.urls.join(", "),
            describe_subject(r.subject_id)
        ),
        (None, Some(d)) => format!(
            "edna Pulse has no delete method: no successful set was recorded, but if {} was set ({}) it stays \
             registered at {endpoint}; {HOW}",
            d.distinct_urls().join(", "),
            match &d.scope {
                ChannelScope::Tenant => "every channel of the tenant".to_string(),
                ChannelScope::SubjectId(id) => format!("subjectId {id}"),
                ChannelScope::Subject(name) => format!("channel {name:?}"),
            }
        ),
        (None, None) => format!(
            "edna Pulse has no delete method; this object recorded no URL set at {endpoint}, so nothing is known to stay"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removal_note_names_every_url_that_stays_and_the_channel() {
        let r = Registration {
            urls: vec!["https://a/s".into(), "https://a/i".into()],
            subject_id: Some(42),
            ..Registration::default()
        };
        let note = removal_note("https://app.edna.io", Some(&r), None);
        assert!(
            note.contains("https://a/s, https://a/i") && note.contains("subjectId 42") && note.contains("no delete"),
            "{note}"
        );
        let tenant = Registration {
            urls: vec!["https://a/s".into()],
            ..Registration::default()
        };
        assert!(removal_note("e", Some(&tenant), None).contains("every channel of the tenant"));
    }

    #[test]
    fn the_change_message_says_which_fields_were_set_where() {
        let d = EdnaDesired::from_spec(&crate::api::EdnaSpec {
            subject_id: None,
            subject: Some("shop_wa".into()),
            status_callback_url: Some("https://a/s".into()),
            in_message_callback_url: None,
            message_matcher_callback_url: None,
        })
        .unwrap();
        assert_eq!(
            change_message(ChangeReason::Created, &d, Some(1001)),
            "set statusCallbackUrl=https://a/s for subjectId 1001 at edna Pulse"
        );
        assert!(change_message(ChangeReason::Reasserted, &d, None).starts_with("re-asserted"));
    }
}
