//! Providers, each a slice of its own: one folder holds everything one provider knows — where its block sits in
//! the spec, which Secret keys make its credentials, which Secrets it references, its identity claims, its public
//! endpoints, and how it syncs and removes. The controller sees only the `Provider` trait and the registry below;
//! it never sees provider JSON. `docs/providers/adding.md` lists the steps to add one.

mod account;
mod endpoint;
mod error;
mod http;
mod import;
mod observation;
mod redact;
mod registry;
mod secret;
mod url_form;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

pub use account::{Account, AccountError, ApiKey, Credentials, SecretValues};
pub use endpoint::{EndpointPolicy, Endpoints};
pub use error::{ErrorClass, ProviderError};
pub use http::HttpClient;
pub use import::{Import, ImportScope, Imported, derived_name};
pub use observation::{FieldDiff, Intent, Observation};
pub use redact::cap_bytes;
use registry::register_providers;
pub use registry::{NamedTask, ProviderTask};
pub use secret::{MIN_KEY_LEN, SecretValue, redact, set_fingerprint_key};
pub use url_form::same_url;

use crate::api::{CallbackRegistrationSpec, EventReason, Registration};

// The providers. Adding one: its folder, and one line here.
register_providers! {
    edna: edna::EdnaProvider,
    envelope: envelope::EnvelopeProvider,
    mail: mail::MailProvider,
}

/// What every provider client is built from.
#[derive(Clone)]
pub struct ProviderOptions {
    pub http: HttpClient,
    /// How often a provider that cannot be read back writes its unchanged state again (drift is repaired blind).
    pub reassert_interval: Duration,
}

/// Options for tests: the crypto provider installed (reqwest is built without one), a short timeout.
#[cfg(test)]
pub fn test_options() -> ProviderOptions {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ProviderOptions {
        http: HttpClient::new(Duration::from_secs(3), crate::telemetry::Metrics::new()).expect("an HTTP client"),
        reassert_interval: Duration::from_secs(3600),
    }
}

/// Reads Secret values in the registration's namespace at reconcile time.
pub trait SecretSource: Sync {
    /// The Secret's data, or `None` when it does not exist.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Option<SecretValues>, kube::Error>> + Send;
}

/// Why the desired state cannot be built; surfaces as a condition.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum DesiredError {
    /// The spec is invalid in a way the schema could not catch: stall until it changes.
    #[error("{0}")]
    InvalidSpec(String),
    /// A Secret the spec references (other than the credentials) is missing or lacks a key: wait for it.
    #[error("{0}")]
    SecretMissing(String),
    #[error("reading a Secret failed: {0}")]
    Kube(String),
}

/// What status recorded last time; providers use it to find what they registered before.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recorded<'a> {
    pub registration: Option<&'a Registration>,
    pub applied_hash: Option<&'a str>,
    /// `status.observedHash`: the fingerprint of the provider's answer after the last write (see [`fingerprint`]).
    pub observed_hash: Option<&'a str>,
    /// Set when the write budget is spent (`controller/budget.rs`): a write without a spec or Secret change must
    /// not be made; the provider answers [`drift_loop`] instead. The text says how much was spent.
    pub corrections_spent: Option<&'a str>,
    /// The user asked for a reconcile now (a new `reconcile.fluxcd.io/requestedAt` value): a provider that cannot be
    /// read back re-asserts instead of waiting for its interval. Readable providers read on every pass anyway.
    pub reconcile_requested: bool,
}

impl Recorded<'_> {
    /// Whether status says exactly `desired_hash` was applied: a write now would only correct the provider.
    pub fn applied(&self, desired_hash: &str) -> bool {
        self.applied_hash == Some(desired_hash)
    }

    /// Nothing says this object ever wrote or adopted anything: no recorded registration, no applied state.
    pub fn never_synced(&self) -> bool {
        self.registration.is_none() && self.applied_hash.is_none()
    }
}

/// A fingerprint of what a provider answered (its JSON, keys sorted), for `status.observedHash`: two answers with
/// the same fingerprint hold the same thing, however the provider chose to spell it.
pub fn fingerprint(answer: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    let canonical = canonical_json(answer);
    hex::encode(&Sha256::digest(canonical.as_bytes())[..12])
}

fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The error a provider answers instead of a corrective write once the write budget is spent: it stalls the
/// registration with reason `DriftLoop`, naming the fields that keep differing.
pub fn drift_loop(label: &str, fields: &[&str], spent: &str) -> ProviderError {
    let fields = if fields.is_empty() {
        "its state".to_string()
    } else {
        fields.join(", ")
    };
    ProviderError::rejected(
        crate::api::Reason::DriftLoop,
        format!(
            "{label} keeps differing in {fields} after {spent} without a spec or Secret change: further writes are \
             withheld until the spec or a Secret changes, or the window passes (something at the provider keeps \
             changing it back, or it answers differently each time)"
        ),
    )
}

/// A change made (or found) at the provider. Each becomes an Event; changes that wrote bump `lastSyncedTime`.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub reason: EventReason,
    pub message: String,
}

/// The result of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    /// What the provider holds now (`lastSyncedTime` is set by the controller).
    pub registration: Registration,
    pub changes: Vec<Change>,
    /// Set when the provider state needed attention that the sync just repaired (e.g. mail's `StoppedByProvider`).
    pub repaired: Option<crate::api::Reason>,
    /// The fingerprint of the provider's answer for `status.observedHash` (`None`: it cannot be read back).
    pub observed_hash: Option<String>,
    /// The fields a write without a spec or Secret change corrected (empty: no such write). It spends the write
    /// budget.
    pub corrected: Vec<&'static str>,
}

#[cfg(test)]
impl SyncOutcome {
    /// What status records after this sync applied `applied_hash`: the next pass's `Recorded`.
    pub fn recorded<'a>(&'a self, applied_hash: &'a str) -> Recorded<'a> {
        Recorded {
            registration: Some(&self.registration),
            applied_hash: Some(applied_hash),
            observed_hash: self.observed_hash.as_deref(),
            ..Recorded::default()
        }
    }
}

/// The result of a removal.
#[derive(Clone, Debug, PartialEq)]
pub enum Removal {
    /// Removed, or already gone.
    Removed(Vec<Change>),
    /// The provider cannot delete: the message says what stays registered (edna).
    Unsupported(String),
}

/// One provider: everything the controller needs to know about it. `sync` reads the provider's state where it
/// can, compares it with the desired state through a pure planning function in the provider's folder, and applies
/// only what differs.
pub trait Provider: Clone + Send + Sync + 'static {
    /// The name in `status.provider`, metrics labels and ownership claims (`mail`).
    const NAME: &'static str;
    /// The name people know the service by, for messages and Events (`Unisender Go`).
    const LABEL: &'static str;
    /// Where its API lives when the Secret names no `endpoint`, and the hosts it documents besides.
    const ENDPOINTS: Endpoints;

    /// The provider's block of the spec (`spec.mail`).
    type Spec: Send + Sync;
    /// The credentials it reads from the Secret.
    type Credentials: Credentials;
    /// The provider's desired state. `Serialize` feeds `status.appliedHash`; secret values serialise as hashes.
    type Desired: Serialize + std::fmt::Debug + Send + Sync;

    fn new(options: &ProviderOptions) -> Self;

    /// This provider's block of `spec`, if it is the one set.
    fn block(spec: &CallbackRegistrationSpec) -> Option<&Self::Spec>;

    /// Secrets the block references besides the credentials (a change to them re-triggers the object).
    fn referenced_secrets(_block: &Self::Spec) -> Vec<String> {
        Vec::new()
    }

    /// Whether its identities are one namespace for every account: a claim then conflicts with the same claim of
    /// any account (DocStudio: a mailbox holds one callback list whichever token reads or writes it).
    const IDENTITY_SPANS_ACCOUNTS: bool = false;

    /// The identities this block claims within an account: two objects of one account sharing a claim conflict.
    fn claims(block: &Self::Spec) -> Vec<String>;

    /// The identities a recorded registration still holds at the provider — what a URL change or cleanup will
    /// remove — in the same form as [`claims`](Self::claims). Other objects see an object claim them until its status
    /// no longer records them, so a claimant waiting for one is woken after the removal, not before it: woken at
    /// the spec change, it found the old owner's webhook still there, adopted it, and lost it a moment later to the
    /// owner's removal (soak seed 7). Providers that never remove anything (edna) hold nothing.
    fn held_claims(_registration: &Registration) -> Vec<String> {
        Vec::new()
    }

    /// Builds the desired state from the block and any Secret it references (not the credentials).
    fn desired(
        &self,
        block: &Self::Spec,
        secrets: &impl SecretSource,
    ) -> impl Future<Output = Result<Self::Desired, DesiredError>> + Send;

    /// The URL(s) shown in `kubectl get`.
    fn target(desired: &Self::Desired) -> String;

    /// How often to resync when the spec does not say (a provider that cannot be read back re-asserts rarely).
    fn default_resync(&self, operator_default: Duration) -> Duration {
        operator_default
    }

    /// Makes the provider hold `desired`.
    fn sync(
        &self,
        account: &Account<Self::Credentials>,
        desired: &Self::Desired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> impl Future<Output = Result<SyncOutcome, ProviderError>> + Send;

    /// The one write `sync` makes, without reading first, for a registration that never synced (`None`: it reads
    /// first). `callback-operator plan` shows it where it would otherwise show an adoption without a write.
    fn first_write_without_reading(_desired: &Self::Desired) -> Option<String> {
        None
    }

    /// Reads the provider and says what `sync` would do now, writing nothing: `managementPolicy: Observe` and
    /// `callback-operator plan`. Built from the same planning function as `sync`.
    fn observe(
        &self,
        account: &Account<Self::Credentials>,
        desired: &Self::Desired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> impl Future<Output = Result<Observation, ProviderError>> + Send;

    /// Lists what the account holds as registrations using Secret `credentials` (`callback-operator import`).
    fn import(
        &self,
        account: &Account<Self::Credentials>,
        credentials: &str,
        scope: &ImportScope,
    ) -> impl Future<Output = Result<Import, ProviderError>> + Send;

    /// Removes what `registration` records; when nothing was recorded (a lost status write), `desired` names it.
    fn remove(
        &self,
        account: &Account<Self::Credentials>,
        registration: Option<&Registration>,
        desired: Option<&Self::Desired>,
    ) -> impl Future<Output = Result<Removal, ProviderError>> + Send;
}
