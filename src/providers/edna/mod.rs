//! edna Pulse callback URLs (`spec.edna`): `POST /api/callback/set`, and `GET /api/channel-profile` to resolve a
//! channel named by `subject`.
//!
//! edna has no read and no delete method. So `sync` never observes: it writes only when the desired state differs
//! from the applied hash in status, or when the re-assert interval has passed since the URLs were last written
//! (`plan`), and otherwise makes no call at all. `remove` cannot remove: it says which URLs stay registered.

mod channels;
mod client;
mod desired;
mod plan;
mod response;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use client::EdnaClient;
use desired::{ChannelScope, EdnaDesired, describe_subject};
use plan::{left_behind, plan};

use super::{
    Account, ApiKey, Change, DesiredError, Endpoints, Provider, ProviderError, ProviderOptions, Recorded, Removal,
    SecretSource, SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, EdnaSpec, EventReason, Registration};

/// The edna Pulse provider.
#[derive(Clone)]
pub struct EdnaProvider {
    client: EdnaClient,
    /// How often unchanged URLs are written again (edna cannot be read back, so drift is repaired blind).
    reassert_every: Duration,
}

fn registration(account: &Account<ApiKey>, desired: &EdnaDesired, subject_id: Option<i64>) -> Registration {
    Registration {
        account: Some(account.id()),
        urls: desired.distinct_urls(),
        subject_id,
        ..Registration::default()
    }
}

fn change_message(reason: EventReason, desired: &EdnaDesired, subject_id: Option<i64>) -> String {
    let verb = match reason {
        EventReason::Reasserted => "re-asserted (edna cannot be read back)",
        _ => "set",
    };
    format!(
        "{verb} {} for {} at edna Pulse",
        desired.describe_fields(),
        describe_subject(subject_id)
    )
}

impl Provider for EdnaProvider {
    const NAME: &'static str = "edna";
    const LABEL: &'static str = "edna Pulse";
    const ENDPOINTS: Endpoints = Endpoints {
        default: "https://app.edna.io",
        regional: &["https://app.edna.ru", "https://app.edna.by"],
    };

    type Spec = EdnaSpec;
    type Credentials = ApiKey;
    type Desired = EdnaDesired;

    fn new(options: &ProviderOptions) -> Self {
        Self {
            client: EdnaClient::new(options.http.clone()),
            reassert_every: options.reassert_interval,
        }
    }

    fn block(spec: &CallbackRegistrationSpec) -> Option<&EdnaSpec> {
        spec.edna.as_deref()
    }

    fn claims(block: &EdnaSpec) -> Vec<String> {
        desired::claims(block)
    }

    async fn desired(&self, block: &EdnaSpec, _secrets: &impl SecretSource) -> Result<EdnaDesired, DesiredError> {
        EdnaDesired::from_spec(block)
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
        account: &Account<ApiKey>,
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
        let subject_id = self.client.subject_id(account, &desired.scope).await?;
        self.client.set(account, desired.set_body(subject_id)).await?;

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
        account: &Account<ApiKey>,
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
