//! DocStudio envelope callbacks (`spec.envelope`): add / list / remove, no update, no get-by-id, no idempotency.
//!
//! Sync = list the mailbox, plan (pure, `plan.rs`), then add and remove. Because a repeated `add` makes a
//! duplicate, nothing is ever added without listing first: a callback whose `add` answer was lost, or whose id
//! never reached status because the operator died, is found by url on the next pass and adopted.

mod auth;
mod client;
mod desired;
mod filter;
mod import;
mod plan;
mod response;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

pub use auth::EnvelopeCredentials;
use client::EnvelopeClient;
use desired::{EnvelopeDesired, RemoteCallback};
use plan::{Record, RemovalKind, observation, plan};

use super::{
    Account, Change, DesiredError, Endpoints, Import, ImportScope, Imported, Observation, Provider, ProviderError,
    ProviderOptions, Recorded, Removal, SecretSource, SyncOutcome, derived_name, drift_loop, same_url,
};
use crate::api::{CallbackRegistrationSpec, EnvelopeSpec, EventReason, Reason, Registration};

/// The DocStudio provider.
#[derive(Clone)]
pub struct EnvelopeProvider {
    client: EnvelopeClient,
}

impl Provider for EnvelopeProvider {
    const NAME: &'static str = "envelope";
    const LABEL: &'static str = "DocStudio";
    /// Any token with access to a mailbox sees and changes its one callback list.
    const IDENTITY_SPANS_ACCOUNTS: bool = true;
    /// DocStudio's public instance and the white-label hosts it documents.
    const ENDPOINTS: Endpoints = Endpoints {
        default: "https://api.docstudio.com",
        regional: &["https://api.centredo.com", "https://api.whitedoc.ua"],
    };

    type Spec = EnvelopeSpec;
    type Credentials = EnvelopeCredentials;
    type Desired = EnvelopeDesired;

    fn new(options: &ProviderOptions) -> Self {
        Self {
            client: EnvelopeClient::new(options.http.clone()),
        }
    }

    fn block(spec: &CallbackRegistrationSpec) -> Option<&EnvelopeSpec> {
        spec.envelope.as_deref()
    }

    /// The receiver's basic-auth pair lives in a Secret of its own.
    fn referenced_secrets(block: &EnvelopeSpec) -> Vec<String> {
        block.basic_auth_secret_ref.iter().map(|r| r.name.clone()).collect()
    }

    fn claims(block: &EnvelopeSpec) -> Vec<String> {
        vec![claim(&block.mailbox, &block.url)]
    }

    fn held_claims(registration: &Registration) -> Vec<String> {
        let Some(mailbox) = &registration.mailbox else {
            return Vec::new();
        };
        registration.urls.iter().map(|url| claim(mailbox, url)).collect()
    }

    async fn desired(
        &self,
        envelope: &EnvelopeSpec,
        secrets: &impl SecretSource,
    ) -> Result<EnvelopeDesired, DesiredError> {
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

    fn target(desired: &EnvelopeDesired) -> String {
        desired.url.clone()
    }

    async fn sync(
        &self,
        account: &Account<EnvelopeCredentials>,
        desired: &EnvelopeDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError> {
        let observed = self.client.list(account, &desired.mailbox).await?;
        let plan = plan(desired, &observed, record_of(desired_hash, recorded));
        if let (false, Some(spent)) = (plan.corrected.is_empty(), recorded.corrections_spent) {
            return Err(drift_loop(Self::LABEL, &plan.corrected, spent));
        }
        let mut changes = Vec::new();
        if let Some(id) = &plan.adopted {
            changes.push(Change {
                reason: EventReason::Adopted,
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
                .await
                .map_err(|err| bounds_hint(err, desired))?;
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
        // The fingerprint is of the callback as `list` shows it (the `add` answer may be spelled differently). After
        // an add there is none until the next pass lists it: the plan trusts the recorded id meanwhile (no update at
        // DocStudio, so that id cannot hold anything else), which saves a second list per new registration.
        let shown = match (&plan.add, &held) {
            (None, Some(id)) => observed.iter().find(|c| c.id.eq_ignore_ascii_case(id)).cloned(),
            _ => None,
        };
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
            // A callback this object added and has trusted by its id since keeps no fingerprint: recording the
            // list's spelling of it now would be one status write per registration at its first resync, for nothing
            // (the id cannot name anything else). Adopted or replaced callbacks are fingerprinted as listed.
            observed_hash: match (&plan.add, &plan.adopted, recorded.observed_hash) {
                (None, None, None) => None,
                _ => shown.as_ref().map(RemoteCallback::fingerprint),
            },
            corrected: plan.corrected,
        })
    }

    async fn observe(
        &self,
        account: &Account<EnvelopeCredentials>,
        desired: &EnvelopeDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<Observation, ProviderError> {
        let observed = self.client.list(account, &desired.mailbox).await?;
        let plan = plan(desired, &observed, record_of(desired_hash, recorded));
        Ok(observation(desired, &observed, &plan, &account.id()))
    }

    async fn import(
        &self,
        account: &Account<EnvelopeCredentials>,
        credentials: &str,
        scope: &ImportScope,
    ) -> Result<Import, ProviderError> {
        let Some(mailbox) = scope.mailbox.as_deref() else {
            return Err(ProviderError::rejected(
                Reason::InvalidSpec,
                "DocStudio lists callbacks one mailbox at a time: name it with --mailbox UUID",
            ));
        };
        let imported = self
            .client
            .list(account, mailbox)
            .await?
            .iter()
            .map(|remote| {
                let (envelope, notes) = import::spec_of(remote, mailbox);
                // Named from the Secret, mailbox and url, never from keyed fingerprints: stable across runs.
                let identity = format!("{credentials} {} {}", mailbox.to_ascii_lowercase(), remote.url);
                Imported {
                    name: derived_name(Self::NAME, &remote.url, &identity),
                    spec: CallbackRegistrationSpec {
                        envelope: Some(Box::new(envelope)),
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
        account: &Account<EnvelopeCredentials>,
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
                .filter(|c| same_url(&c.url, &desired.url) && !handled.contains(&c.id.to_ascii_lowercase()))
            {
                if self.client.remove(account, &desired.mailbox, &callback.id).await? {
                    changes.push(deleted(&callback.id, Some(&callback.url), &desired.mailbox));
                }
            }
        }
        Ok(Removal::Removed(changes))
    }
}

/// What status says, in the planner's terms.
fn record_of<'r>(desired_hash: &str, recorded: Recorded<'r>) -> Record<'r> {
    Record {
        registration: recorded.registration,
        applied_matches: recorded.applied_hash.map(|h| h == desired_hash),
        observed_hash: recorded.observed_hash,
    }
}

/// A refused `add` of a spec on DocStudio's bounds: the API spec words them as strict (`0 < retries`,
/// `100 < timeout < 60000`) while the seed allows them, so the refusal names the likely cause. The spec's values are
/// the user's intent and are not nudged.
fn bounds_hint(err: ProviderError, desired: &EnvelopeDesired) -> ProviderError {
    let values = desired.boundary_values();
    match err {
        ProviderError::Rejected { reason, message } if !values.is_empty() => ProviderError::Rejected {
            reason,
            message: format!(
                "{message} (the spec uses {}: DocStudio's API spec reads its bounds as strict, 0 < retries and \
                 100 < timeout < 60000; use a value inside them)",
                values.join(" and ")
            ),
        },
        other => other,
    }
}

fn deleted(id: &str, url: Option<&str>, mailbox: &str) -> Change {
    Change {
        reason: EventReason::Deleted,
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
        (None, EventReason::DriftCorrected) => {
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

/// A DocStudio callback's identity: its mailbox and URL.
fn claim(mailbox: &str, url: &str) -> String {
    format!("envelope {} {url}", mailbox.to_ascii_lowercase())
}
