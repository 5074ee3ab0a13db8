//! Unisender Go webhooks (`spec.mail`): `webhook/set|get|delete.json`, keyed by URL.
//!
//! Sync = `get` the desired URL, plan (pure, `plan.rs`), then `set` the full object and `delete` URLs this object
//! registered before. `set` is create-or-replace by URL, so a lost status write can never duplicate a webhook.

mod client;
mod desired;
mod plan;
mod response;
#[cfg(test)]
mod tests;

use client::MailClient;
use desired::MailDesired;
use plan::plan;
use response::{RemoteWebhook, stopped_by_provider};

use super::{
    Account, ApiKey, Change, DesiredError, Endpoints, Provider, ProviderError, ProviderOptions, Recorded, Removal,
    SecretSource, SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, EventReason, MailSpec, Reason, Registration};

/// The Unisender Go provider.
#[derive(Clone)]
pub struct MailProvider {
    client: MailClient,
}

impl Provider for MailProvider {
    const NAME: &'static str = "mail";
    const LABEL: &'static str = "Unisender Go";
    /// The account lives in one data centre (go1 or go2); UniOne runs the same API.
    const ENDPOINTS: Endpoints = Endpoints {
        default: "https://go1.unisender.ru/ru/transactional/api/v1",
        regional: &[
            "https://go2.unisender.ru/ru/transactional/api/v1",
            "https://api.unione.io/en/transactional/api/v1",
        ],
    };

    type Spec = MailSpec;
    type Credentials = ApiKey;
    type Desired = MailDesired;

    fn new(options: &ProviderOptions) -> Self {
        Self {
            client: MailClient::new(options.http.clone()),
        }
    }

    fn block(spec: &CallbackRegistrationSpec) -> Option<&MailSpec> {
        spec.mail.as_deref()
    }

    fn claims(block: &MailSpec) -> Vec<String> {
        vec![format!("mail url {}", block.url)]
    }

    async fn desired(&self, block: &MailSpec, _secrets: &impl SecretSource) -> Result<MailDesired, DesiredError> {
        Ok(MailDesired::from_spec(block))
    }

    fn target(desired: &MailDesired) -> String {
        desired.url.clone()
    }

    async fn sync(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        let observed = self.client.get(account, &desired.url).await?;
        let spec_changed = recorded.applied_hash.is_some_and(|h| h != desired_hash);
        let plan = plan(desired, observed.as_ref(), recorded.registration, spec_changed);
        let mut changes = Vec::new();
        let mut held = observed;

        if let Some(reason) = plan.set {
            let mut after = self.client.set(account, desired).await.map_err(|err| {
                if plan.stopped_by_provider {
                    stopped_by_provider(err)
                } else {
                    err
                }
            })?;
            // Whether `set` resets omitted fields is undocumented; spam_block is the one field the full object
            // omits to clear it. If the provider kept it, delete and set again.
            if after
                .as_ref()
                .is_some_and(|w| w.events.spam_block.as_ref().is_some_and(|v| !v.is_empty()))
                && !desired.spam_block
            {
                self.client.delete(account, &desired.url).await?;
                after = self.client.set(account, desired).await?;
            }
            changes.push(Change {
                reason,
                message: format!("{} webhook {} at {}", verb(reason), desired.url, Self::LABEL),
            });
            held = after.or(held);
        } else if plan.adopt {
            changes.push(Change {
                reason: EventReason::Adopted,
                message: format!("adopted the existing webhook {} at {}", desired.url, Self::LABEL),
            });
        }
        for old in &plan.delete {
            if self.client.delete(account, old).await? {
                changes.push(Change {
                    reason: EventReason::Deleted,
                    message: format!("deleted the previous webhook {old} at {}", Self::LABEL),
                });
            }
        }
        let provider_status = if plan.set.is_some() {
            Some(desired.status.clone())
        } else {
            held.as_ref()
                .and_then(|w| w.status.clone())
                .or(Some(desired.status.clone()))
        };
        Ok(SyncOutcome {
            registration: Registration {
                account: Some(account.id()),
                id: held.as_ref().and_then(RemoteWebhook::id_string),
                urls: vec![desired.url.clone()],
                provider_status,
                ..Registration::default()
            },
            changes,
            repaired: plan.stopped_by_provider.then_some(Reason::StoppedByProvider),
        })
    }

    async fn remove(
        &self,
        account: &Account<ApiKey>,
        registration: Option<&Registration>,
        desired: Option<&MailDesired>,
    ) -> Result<Removal, ProviderError> {
        // What status recorded, plus the desired URL: a status write lost after a `set` must not leak a webhook.
        // Deleting an absent URL is harmless (304), and `desired` is only given when this object owns the URL.
        let mut urls: Vec<String> = registration.map(|r| r.urls.clone()).unwrap_or_default();
        if let Some(d) = desired.filter(|d| !urls.contains(&d.url)) {
            urls.push(d.url.clone());
        }
        let mut changes = Vec::new();
        for url in urls {
            if self.client.delete(account, &url).await? {
                changes.push(Change {
                    reason: EventReason::Deleted,
                    message: format!("deleted webhook {url} at {}", Self::LABEL),
                });
            }
        }
        Ok(Removal::Removed(changes))
    }
}

fn verb(reason: EventReason) -> &'static str {
    match reason {
        EventReason::Created => "created",
        EventReason::Reactivated => "re-activated the stopped",
        EventReason::DriftCorrected => "repaired drift of",
        _ => "updated",
    }
}
