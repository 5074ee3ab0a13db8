//! DocStudio envelope callbacks (`spec.envelope`): add / list / remove, no update, no get-by-id, no idempotency.
//!
//! Sync = list the mailbox, plan (pure, `plan.rs`), then add and remove. Because a repeated `add` makes a
//! duplicate, nothing is ever added without listing first: a callback whose `add` answer was lost, or whose id
//! never reached status because the operator died, is found by url on the next pass and adopted.

mod auth;
mod client;
mod desired;
mod filter;
mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

pub use auth::TokenCache;
pub use client::EnvelopeClient;
pub use desired::{BasicAuth, EnvelopeDesired, RemoteCallback, differing_fields};
pub use filter::{NormalFilter, instant};
pub use plan::{EnvelopePlan, Record, RemovalKind, plan};

use super::http::HttpClient;
use super::{
    Account, Change, ChangeReason, DesiredError, Provider, ProviderError, Recorded, Removal, SecretSource, SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, ProviderKind, Registration};

/// The DocStudio provider.
#[derive(Clone)]
pub struct EnvelopeProvider {
    client: EnvelopeClient,
}

impl EnvelopeProvider {
    pub fn new(http: HttpClient) -> Self {
        Self {
            client: EnvelopeClient::new(http),
        }
    }
}

impl Provider for EnvelopeProvider {
    type Desired = EnvelopeDesired;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Envelope
    }

    async fn desired(
        &self,
        spec: &CallbackRegistrationSpec,
        secrets: &impl SecretSource,
    ) -> Result<EnvelopeDesired, DesiredError> {
        let envelope = spec
            .envelope
            .as_ref()
            .ok_or_else(|| DesiredError::InvalidSpec("spec.envelope is missing".into()))?;
        let basic_auth = match &envelope.basic_auth_secret_ref {
            Some(reference) => {
                let values = secrets
                    .secret(&reference.name)
                    .await
                    .map_err(|err| DesiredError::Kube(err.to_string()))?;
                Some(desired::basic_auth_from(reference, values.as_ref()).map_err(DesiredError::SecretMissing)?)
            }
            None => None,
        };
        EnvelopeDesired::from_spec(envelope, basic_auth).map_err(DesiredError::InvalidSpec)
    }

    fn claims(spec: &CallbackRegistrationSpec) -> Vec<String> {
        spec.envelope
            .iter()
            .map(|e| format!("envelope {} {}", e.mailbox.to_ascii_lowercase(), e.url))
            .collect()
    }

    fn target(desired: &EnvelopeDesired) -> String {
        desired.url.clone()
    }

    async fn sync(
        &self,
        account: &Account,
        desired: &EnvelopeDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        let observed = self.client.list(account, &desired.mailbox).await?;
        let record = Record {
            registration: recorded.registration,
            applied_matches: recorded.applied_hash.map(|h| h == desired_hash),
        };
        let plan = plan(desired, &observed, record);
        let mut changes = Vec::new();
        if let Some(id) = &plan.adopted {
            changes.push(Change {
                reason: ChangeReason::Adopted,
                message: format!(
                    "adopted the existing callback {id} for {} in mailbox {} at DocStudio",
                    desired.url, desired.mailbox
                ),
            });
        }
        let mut held = plan.keep.clone();
        if let Some(add) = &plan.add {
            let created = self
                .client
                .add(account, &desired.mailbox, &desired.add_body(), &desired.secrets())
                .await?;
            changes.push(Change {
                reason: add.reason,
                message: add_message(add, &created.id, desired),
            });
            held = Some(created.id);
        }
        for removal in &plan.remove {
            let removed = self.client.remove(account, &removal.mailbox, &removal.id).await?;
            if let (true, Some(reason)) = (removed, removal.why.change_reason()) {
                changes.push(Change {
                    reason,
                    message: removal_message(removal),
                });
            }
        }
        Ok(SyncOutcome {
            registration: Registration {
                account: Some(account.id()),
                id: held,
                urls: vec![desired.url.clone()],
                mailbox: Some(desired.mailbox.clone()),
                ..Registration::default()
            },
            changes,
            repaired: None,
        })
    }

    async fn remove(
        &self,
        account: &Account,
        registration: Option<&Registration>,
        desired: Option<&EnvelopeDesired>,
    ) -> Result<Removal, ProviderError> {
        let mut changes = Vec::new();
        let mut handled = HashSet::new();
        let recorded = registration.and_then(|r| {
            let mailbox = r.mailbox.as_deref().or(desired.map(|d| d.mailbox.as_str()))?;
            Some((r.id.as_deref()?, mailbox, r.urls.first()))
        });
        if let Some((id, mailbox, url)) = recorded {
            if self.client.remove(account, mailbox, id).await? {
                changes.push(deleted(id, url.map(String::as_str), mailbox));
            }
            handled.insert(id.to_ascii_lowercase());
        }
        // When this object owns the identity, also remove what status never recorded: a lost `add` answer or a
        // crash before the status write leaves a callback only the url can find.
        if let Some(desired) = desired {
            let observed = self.client.list(account, &desired.mailbox).await?;
            for callback in observed
                .iter()
                .filter(|c| c.url == desired.url && !handled.contains(&c.id.to_ascii_lowercase()))
            {
                if self.client.remove(account, &desired.mailbox, &callback.id).await? {
                    changes.push(deleted(&callback.id, Some(&callback.url), &desired.mailbox));
                }
            }
        }
        Ok(Removal::Removed(changes))
    }
}

fn deleted(id: &str, url: Option<&str>, mailbox: &str) -> Change {
    Change {
        reason: ChangeReason::Deleted,
        message: format!(
            "removed callback {id}{} from mailbox {mailbox} at DocStudio",
            url.map(|u| format!(" ({u})")).unwrap_or_default()
        ),
    }
}

fn add_message(add: &plan::Add, id: &str, desired: &EnvelopeDesired) -> String {
    let place = format!("for {} in mailbox {} at DocStudio", desired.url, desired.mailbox);
    match (&add.replaces, add.reason) {
        (Some(old), _) => format!(
            "replaced callback {old} by {id} {place} ({} changed; DocStudio has no update)",
            add.because.join(", ")
        ),
        (None, ChangeReason::DriftCorrected) => {
            format!("re-created callback {id} {place}: the recorded callback had disappeared")
        }
        (None, _) => format!("created callback {id} {place}"),
    }
}

fn removal_message(removal: &plan::PlannedRemoval) -> String {
    let url = removal.url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
    match removal.why {
        RemovalKind::Duplicate => format!(
            "removed duplicate callback {}{url} from mailbox {} at DocStudio",
            removal.id, removal.mailbox
        ),
        _ => format!(
            "removed the previous callback {}{url} from mailbox {} at DocStudio",
            removal.id, removal.mailbox
        ),
    }
}
