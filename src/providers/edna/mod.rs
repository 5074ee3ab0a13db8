//! edna Pulse callback URLs (`spec.edna`): `POST /api/callback/set`, and `GET /api/channel-profile` to resolve a
//! channel named by `subject`.
//!
//! edna has no read and no delete method. So `sync` never observes: it writes only when the desired state differs
//! from the applied hash in status, or when the re-assert interval has passed since the URLs were last written
//! (`plan`), and otherwise makes no call at all. `remove` cannot remove: it says which URLs stay registered.
//!
//! A set without `subjectId` writes every channel of the tenant (the seed's reading): `layers.rs` keeps objects for
//! the same field at tenant and channel level exact (the per-channel owners are re-asserted after each tenant-wide
//! write; a deleted per-channel object hands its channel back to the tenant-wide URL).

mod channels;
mod client;
mod desired;
mod layers;
mod plan;
mod response;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use client::EdnaClient;
use desired::{ChannelScope, EdnaDesired, UrlField, describe_subject};
use layers::Layers;
use plan::{left_behind, plan};

use super::{
    Account, ApiKey, Change, DesiredError, Endpoints, Import, ImportScope, Imported, Observation, Provider,
    ProviderError, ProviderOptions, Recorded, Removal, SecretSource, SyncOutcome,
};
use crate::api::{CallbackRegistrationSpec, EdnaSpec, EventReason, Registration};

/// Why edna can be neither observed nor imported.
const UNREADABLE: &str = "edna Pulse cannot be read back (its API has callback/set only: no get, no list), so                           what it holds cannot be compared with the spec or listed";

/// The edna Pulse provider.
#[derive(Clone)]
pub struct EdnaProvider {
    client: EdnaClient,
    /// How often unchanged URLs are written again (edna cannot be read back, so drift is repaired blind).
    reassert_every: Duration,
    /// Who asks for which field tenant-wide and per channel (shared by every edna object).
    layers: Arc<Layers>,
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
            layers: Arc::new(Layers::default()),
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
        let account_id = account.id();
        let fields: Vec<UrlField> = desired.urls.keys().copied().collect();
        let mut reason = plan(desired_hash, recorded, Timestamp::now(), self.reassert_every);
        // A per-channel object whose channel a tenant-wide write overwrote since its own last write (one this
        // process could not re-assert at once, e.g. right after a restart) writes again now.
        let recorded_subject = recorded.registration.and_then(|r| r.subject_id);
        if let (None, Some(subject)) = (reason, recorded_subject) {
            let own = recorded.registration.and_then(|r| r.last_synced_time.as_ref()).map(|t| t.0);
            if self.layers.overwritten(&account_id, subject, &fields, own) {
                reason = Some(EventReason::Reasserted);
            }
        }
        let Some(reason) = reason else {
            // Nothing changed and a re-assert is not due: no call, and status stays byte for byte the same.
            if recorded.registration.is_some() && recorded.applied(desired_hash) {
                let scope = if desired.scope == ChannelScope::Tenant { None } else { recorded_subject };
                self.layers.register(&account_id, scope, desired, None);
            }
            let registration = recorded.registration.cloned().unwrap_or_default();
            return Ok(SyncOutcome {
                registration,
                changes: Vec::new(),
                repaired: None,
                observed_hash: None,
                corrected: Vec::new(),
            });
        };
        let subject_id = self.client.subject_id(account, &desired.scope).await?;
        // Known before the write, so a concurrent tenant-wide write re-asserts this channel after itself.
        self.layers.register(&account_id, subject_id, desired, recorded.registration);
        self.client
            .set(account, desired.set_body(subject_id))
            .await
            .map_err(|err| matcher_only_hint(err, desired))?;
        self.layers.written(&account_id, subject_id, fields.iter().copied(), Timestamp::now());

        let mut message = change_message(reason, desired, subject_id);
        if let Some(note) = left_behind(desired, subject_id, &account.id(), recorded.registration) {
            message = format!("{message}; {note}");
        }
        let mut changes = vec![Change { reason, message }];
        if subject_id.is_none() {
            changes.extend(self.reassert_channels(account, &fields).await?);
        }
        Ok(SyncOutcome {
            registration: registration(account, desired, subject_id),
            changes,
            repaired: None,
            observed_hash: None,
            corrected: Vec::new(),
        })
    }

    /// edna has no delete method: nothing is called, and the note names what stays registered.
    /// edna cannot be read: the observation says so, and lists the write `sync` would make judging by status alone.
    async fn observe(
        &self,
        _account: &Account<ApiKey>,
        desired: &EdnaDesired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<Observation, ProviderError> {
        let due = plan(desired_hash, recorded, Timestamp::now(), self.reassert_every);
        let urls: Vec<String> = desired.urls.values().cloned().collect();
        Ok(Observation {
            found: None,
            observed_hash: None,
            adopt: false,
            diff: Vec::new(),
            writes: due
                .map(|reason| {
                    let why = match reason {
                        EventReason::Created => "never written by this object",
                        EventReason::Updated => "the spec or credentials changed since the last write",
                        _ => "the periodic re-assert is due",
                    };
                    vec![format!("set callback URLs {} ({why})", urls.join(", "))]
                })
                .unwrap_or_default(),
            unreadable: Some(UNREADABLE.to_string()),
        })
    }

    /// Nothing can be listed: a template to fill in instead.
    async fn import(
        &self,
        _account: &Account<ApiKey>,
        credentials: &str,
        _scope: &ImportScope,
    ) -> Result<Import, ProviderError> {
        let template = Imported {
            name: "edna-callbacks".into(),
            spec: CallbackRegistrationSpec {
                edna: Some(Box::new(EdnaSpec {
                    subject_id: None,
                    subject: Some("REPLACE-with-the-channel-subject".into()),
                    status_callback_url: Some("https://REPLACE.example/edna/status".into()),
                    in_message_callback_url: Some("https://REPLACE.example/edna/in".into()),
                    message_matcher_callback_url: None,
                })),
                ..CallbackRegistrationSpec::with_credentials(credentials)
            },
            notes: vec![
                "fill in the channel (subject or subjectId; omit both for every channel of the tenant) and the URLs                  the edna console shows; applying it makes the operator write them (edna cannot be observed)"
                    .into(),
            ],
        };
        Ok(Import::Unreadable {
            why: UNREADABLE.to_string(),
            template,
        })
    }

    async fn remove(
        &self,
        account: &Account<ApiKey>,
        registration: Option<&Registration>,
        desired: Option<&EdnaDesired>,
    ) -> Result<Removal, ProviderError> {
        let mut note = removal_note(&account.endpoint, registration, desired);
        let subject = registration.and_then(|r| r.subject_id);
        if let Some(desired) = desired {
            self.layers.forget(&account.id(), subject, desired);
            if let Some(handed) = self.hand_back(account, subject, desired).await? {
                note = format!("{note}; {handed}");
            }
        }
        Ok(Removal::Unsupported(note))
    }
}

impl EdnaProvider {
    /// After a tenant-wide write of `fields`: writes each per-channel owner's URLs for its channel again, so the
    /// channel ends with what its own object asks for. A failure fails this pass (the tenant-wide write is what
    /// overwrote the channel, so it is not done until the channel is restored) and the pass is retried.
    async fn reassert_channels(&self, account: &Account<ApiKey>, fields: &[UrlField]) -> Result<Vec<Change>, ProviderError> {
        let account_id = account.id();
        let mut changes = Vec::new();
        for (subject, urls) in self.layers.channel_owners(&account_id, fields) {
            let owned = EdnaDesired {
                scope: ChannelScope::SubjectId(subject),
                urls,
            };
            self.client
                .set(account, owned.set_body(Some(subject)))
                .await
                .map_err(|err| {
                    err.map_message(|m| {
                        format!(
                            "re-asserting {} for subjectId {subject} (owned per channel) after the tenant-wide set \
                             failed: {m}",
                            owned.describe_fields()
                        )
                    })
                })?;
            self.layers
                .written(&account_id, Some(subject), owned.urls.keys().copied(), Timestamp::now());
            changes.push(Change {
                reason: EventReason::Reasserted,
                message: format!(
                    "re-asserted {} for subjectId {subject} (owned per channel by another object) after the \
                     tenant-wide set wrote every channel",
                    owned.describe_fields()
                ),
            });
        }
        Ok(changes)
    }

    /// A deleted per-channel object's channel goes back to what the tenant-wide object asks for (the tenant-wide
    /// set would write it there at its next re-assert anyway). Returns what was handed back, for the note.
    async fn hand_back(
        &self,
        account: &Account<ApiKey>,
        subject: Option<i64>,
        desired: &EdnaDesired,
    ) -> Result<Option<String>, ProviderError> {
        let (Some(subject), false) = (subject, desired.scope == ChannelScope::Tenant) else {
            return Ok(None);
        };
        let account_id = account.id();
        let urls: std::collections::BTreeMap<UrlField, String> = desired
            .urls
            .keys()
            .filter_map(|field| Some((*field, self.layers.tenant_url(&account_id, *field)?)))
            .collect();
        if urls.is_empty() {
            return Ok(None);
        }
        let tenant = EdnaDesired {
            scope: ChannelScope::SubjectId(subject),
            urls,
        };
        self.client.set(account, tenant.set_body(Some(subject))).await?;
        Ok(Some(format!(
            "handed subjectId {subject} back to the tenant-wide URLs ({}) another object asks for",
            tenant.describe_fields()
        )))
    }
}

/// edna's code table reads `url-not-specified` as "statusCallbackUrl or inMessageCallbackUrl is required": a body
/// with only `messageMatcherCallbackUrl` may be refused with it. Say so instead of quoting the bare code.
fn matcher_only_hint(err: ProviderError, desired: &EdnaDesired) -> ProviderError {
    let matcher_only = desired.urls.keys().all(|f| *f == UrlField::MessageMatcher);
    if matcher_only && err.to_string().contains(response::CODE_URL_NOT_SPECIFIED) {
        return err.map_message(|m| {
            format!(
                "{m} — edna requires statusCallbackUrl or inMessageCallbackUrl alongside messageMatcherCallbackUrl \
                 (its code table); set one of them in this object too"
            )
        });
    }
    err
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
