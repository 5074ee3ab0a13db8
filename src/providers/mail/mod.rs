//! Unisender Go webhooks (`spec.mail`): `webhook/set|get|delete.json`, keyed by URL.
//!
//! Sync = `get` the URL (in the spelling the provider answered last time; skipped before the first write), plan
//! (pure, `plan.rs`), then `set` the full object and `delete` URLs this object registered before. `set` is
//! create-or-replace by URL, so a lost status write can never duplicate a webhook. Drift is judged against the fingerprint of what the provider
//! answered after the last write (`status.observedHash`): however it spells, drops or normalises fields, an unchanged
//! answer is never written again.

mod client;
mod desired;
mod import;
mod plan;
mod response;
#[cfg(test)]
mod tests;

use client::MailClient;
use desired::MailDesired;
use plan::{Record, observation, plan};
use response::{RemoteWebhook, stopped_by_provider};

use super::{
    Account, ApiKey, Change, DesiredError, Endpoints, Import, ImportScope, Imported, Observation, Provider,
    ProviderError, ProviderOptions, Recorded, Removal, SecretSource, SyncOutcome, derived_name, drift_loop, same_url,
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
        vec![claim(&block.url)]
    }

    fn held_claims(registration: &Registration) -> Vec<String> {
        registration.urls.iter().map(|url| claim(url)).collect()
    }

    async fn desired(&self, block: &MailSpec, _secrets: &impl SecretSource) -> Result<MailDesired, DesiredError> {
        Ok(MailDesired::from_spec(block))
    }

    fn target(desired: &MailDesired) -> String {
        desired.url.clone()
    }

    fn first_write_without_reading(desired: &MailDesired) -> Option<String> {
        Some(format!(
            "set webhook {} (never synced: written without reading first; a webhook already at that url is replaced)",
            desired.url
        ))
    }

    async fn sync(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        // A registration that never synced writes at once: `set` is create-or-replace keyed by url, so a read first
        // could only turn the write into an adoption, and Full management makes the webhook the spec either way (a
        // crash before the status write repeats the same `set`, never a second webhook). Taking over a webhook
        // without writing is what `managementPolicy: Observe` is for; once Observe recorded it, this reads first.
        let (observed, record) = if recorded.never_synced() {
            (None, Record::default())
        } else {
            self.read(account, desired, desired_hash, recorded).await?
        };
        let plan = plan(desired, observed.as_ref(), record);
        if let (true, Some(spent)) = (plan.corrective, recorded.corrections_spent) {
            return Err(drift_loop(Self::LABEL, &plan.differing, spent));
        }
        let mut changes = Vec::new();
        let mut held = observed;

        if let Some(reason) = plan.set {
            let mut echo = self.client.set(account, desired).await.map_err(|err| {
                if plan.stopped_by_provider {
                    stopped_by_provider(err)
                } else {
                    err
                }
            })?;
            // Whether `set` resets omitted fields is undocumented; spam_block is the one field the full object
            // omits to clear it. If the provider kept it, delete and set again.
            if echo
                .as_ref()
                .is_some_and(|w| w.events.spam_block.as_ref().is_some_and(|v| !v.is_empty()))
                && !desired.spam_block
            {
                self.client.delete(account, &echo.as_ref().map_or(desired.url.clone(), |w| w.url.clone())).await?;
                echo = self.client.set(account, desired).await?;
            }
            changes.push(Change {
                reason,
                message: change_message(reason, desired, &plan.differing),
            });
            // The fingerprint is of the `set` answer, which carries the stored object. A `get` may spell it
            // otherwise (leave out the delivery flags, reorder statuses); the next pass then compares field by field,
            // and finding nothing different records the `get`'s spelling. Only a corrective write reads back at once:
            // it follows a difference no field comparison could excuse, and the provider's own spelling of the
            // result is what keeps an unknown normalisation from being corrected again and again.
            held = if plan.corrective {
                self.read_back(account, desired, echo).await?
            } else {
                echo
            };
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
                // The url in the provider's own spelling: later gets and deletes match it exactly.
                urls: vec![held.as_ref().map_or(desired.url.clone(), |w| w.url.clone())],
                provider_status,
                ..Registration::default()
            },
            changes,
            repaired: plan.stopped_by_provider.then_some(Reason::StoppedByProvider),
            observed_hash: match (plan.set, recorded.observed_hash) {
                // Nothing written and no field differs: the recorded fingerprint stays even when this read spells
                // the webhook otherwise than the `set` answered it (a `get` without the delivery flags) — a new one
                // would be a status write at rest for nothing, and the fields are compared again next time anyway.
                (None, Some(recorded)) if plan.differing.is_empty() => Some(recorded.to_string()),
                _ => held.as_ref().map(RemoteWebhook::fingerprint),
            },
            corrected: if plan.corrective { plan.differing.clone() } else { Vec::new() },
        })
    }

    async fn observe(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<Observation, ProviderError> {
        let (observed, record) = self.read(account, desired, desired_hash, recorded).await?;
        let plan = plan(desired, observed.as_ref(), record);
        Ok(observation(desired, observed.as_ref(), &plan, &account.id()))
    }

    async fn import(
        &self,
        account: &Account<ApiKey>,
        credentials: &str,
        _scope: &ImportScope,
    ) -> Result<Import, ProviderError> {
        let imported = self
            .client
            .list(account)
            .await?
            .iter()
            .map(|remote| {
                let (mail, notes) = import::spec_of(remote);
                Imported {
                    // Named from the Secret and the url, never from keyed fingerprints: stable across runs.
                    name: derived_name(Self::NAME, &remote.url, &format!("{credentials} {}", remote.url)),
                    spec: CallbackRegistrationSpec {
                        mail: Some(Box::new(mail)),
                        ..CallbackRegistrationSpec::with_credentials(credentials)
                    },
                    notes,
                }
            })
            .collect();
        Ok(Import::Found(imported))
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
        if let Some(d) = desired.filter(|d| !urls.iter().any(|u| same_url(u, &d.url))) {
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

impl MailProvider {
    /// The webhook with the desired url and what status says about it: the read both `sync` and `observe` start
    /// from.
    async fn read<'r>(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
        desired_hash: &str,
        recorded: Recorded<'r>,
    ) -> Result<(Option<RemoteWebhook>, Record<'r>), ProviderError> {
        // The provider may store the url normalised: look it up by the form it answered last time first.
        let stored_url = recorded
            .registration
            .and_then(|r| r.urls.iter().find(|u| same_url(u, &desired.url)))
            .cloned()
            .unwrap_or_else(|| desired.url.clone());
        let mut observed = self.client.get(account, &stored_url).await?;
        if observed.is_none() && stored_url != desired.url {
            observed = self.client.get(account, &desired.url).await?;
        }
        let fingerprint = observed.as_ref().map(RemoteWebhook::fingerprint);
        let record = Record {
            registration: recorded.registration,
            applied: recorded.applied(desired_hash),
            spec_changed: recorded.applied_hash.is_some_and(|h| h != desired_hash),
            settled: fingerprint.is_some() && fingerprint.as_deref() == recorded.observed_hash,
        };
        Ok((observed, record))
    }

    /// What a later `get` will answer after a `set`: the observed fingerprint must be of the read's shape (a `get`
    /// may leave out fields the `set` answer carries). Looked up by the url the provider echoed; when neither that
    /// nor the spec's url finds it, the list is searched for any spelling of it.
    async fn read_back(
        &self,
        account: &Account<ApiKey>,
        desired: &MailDesired,
        echo: Option<RemoteWebhook>,
    ) -> Result<Option<RemoteWebhook>, ProviderError> {
        let url = echo.as_ref().map_or(desired.url.clone(), |w| w.url.clone());
        if let Some(found) = self.client.get(account, &url).await? {
            return Ok(Some(found));
        }
        Ok(self.client.find(account, &desired.url).await?.or(echo))
    }
}

fn change_message(reason: EventReason, desired: &MailDesired, differing: &[&str]) -> String {
    let what = format!("{} webhook {} at {}", verb(reason), desired.url, MailProvider::LABEL);
    match reason {
        EventReason::DriftCorrected | EventReason::Updated if !differing.is_empty() && differing != ["presence"] => {
            format!("{what} ({} differed)", differing.join(", "))
        }
        _ => what,
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

/// A mail webhook's identity within an account: its URL.
fn claim(url: &str) -> String {
    format!("mail url {url}")
}
