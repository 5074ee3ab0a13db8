//! Providers behind one small trait. The controller never sees provider JSON: it hands a provider the desired state
//! and what status recorded, and gets back what the provider now holds and what was changed.

pub mod edna;
pub mod endpoint;
pub mod envelope;

mod error;
pub mod http;
pub mod mail;
mod secret;

use std::collections::BTreeMap;

use serde::Serialize;

pub use error::{ErrorClass, ProviderError};
pub use secret::{SecretValue, redact};

use crate::api::{CallbackRegistrationSpec, ProviderKind, Registration};

/// Where and as whom a provider is called: the base URL and the credential read from the Secret.
#[derive(Clone, Debug)]
pub struct Account {
    /// Base URL without a trailing slash.
    pub endpoint: String,
    pub auth: Auth,
}

/// The credential kinds the providers use.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `apiKey` (edna, mail).
    ApiKey(SecretValue),
    /// An application token (envelope).
    Token(SecretValue),
    /// A login and password exchanged for a 12-hour token (envelope).
    Login { login: SecretValue, password: SecretValue },
}

impl Account {
    /// "endpoint#fingerprint": identifies the account in status and in conflict checks without revealing the key.
    pub fn id(&self) -> String {
        let fingerprint = match &self.auth {
            Auth::ApiKey(v) | Auth::Token(v) => v.fingerprint(),
            Auth::Login { login, .. } => login.fingerprint(),
        };
        format!("{}#{}", self.endpoint, fingerprint)
    }

    /// Every secret value this account holds, for redaction.
    pub fn secrets(&self) -> Vec<&SecretValue> {
        match &self.auth {
            Auth::ApiKey(v) | Auth::Token(v) => vec![v],
            Auth::Login { login, password } => vec![login, password],
        }
    }
}

/// Reads Secret values in the registration's namespace at reconcile time (values are never cached).
#[allow(async_fn_in_trait)]
pub trait SecretSource {
    /// The Secret's data, or `None` when it does not exist.
    async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, SecretValue>>, kube::Error>;
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
}

/// A change made (or found) at the provider. Each becomes an Event; `wrote` changes bump `lastSyncedTime`.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub reason: ChangeReason,
    pub message: String,
}

/// Event reasons for provider-side mutations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeReason {
    Created,
    Updated,
    Adopted,
    DriftCorrected,
    Reactivated,
    Deleted,
    DuplicateRemoved,
    /// Written again unchanged because the provider cannot be read back (edna's periodic re-assert).
    Reasserted,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::Created => "Created",
            ChangeReason::Updated => "Updated",
            ChangeReason::Adopted => "Adopted",
            ChangeReason::DriftCorrected => "DriftCorrected",
            ChangeReason::Reactivated => "Reactivated",
            ChangeReason::Deleted => "Deleted",
            ChangeReason::DuplicateRemoved => "DuplicateRemoved",
            ChangeReason::Reasserted => "Reasserted",
        }
    }

    /// Whether this change wrote to the provider (Adopted only reads).
    pub fn wrote(self) -> bool {
        !matches!(self, ChangeReason::Adopted)
    }
}

/// The result of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    /// What the provider holds now (`lastSyncedTime` is set by the controller).
    pub registration: Registration,
    pub changes: Vec<Change>,
    /// Set when the provider state needed attention that the sync just repaired (e.g. mail's `StoppedByProvider`).
    pub repaired: Option<&'static str>,
}

/// The result of a removal.
#[derive(Clone, Debug, PartialEq)]
pub enum Removal {
    /// Removed, or already gone.
    Removed(Vec<Change>),
    /// The provider cannot delete: the message says what stays registered (edna).
    Unsupported(String),
}

/// One provider's client. `sync` reads the provider's state where it can, compares it with the desired state
/// through a pure planning function in the provider module, and applies only what differs.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// The provider's desired state. `Serialize` feeds `status.appliedHash`; secret values serialise as hashes.
    type Desired: Serialize + std::fmt::Debug;

    fn kind(&self) -> ProviderKind;

    /// Builds the desired state from the spec and any Secret it references (not the credentials).
    async fn desired(
        &self,
        spec: &CallbackRegistrationSpec,
        secrets: &impl SecretSource,
    ) -> Result<Self::Desired, DesiredError>;

    /// The identities this spec claims within an account: two objects of one account sharing a claim conflict.
    fn claims(spec: &CallbackRegistrationSpec) -> Vec<String>;

    /// The URL(s) shown in `kubectl get`.
    fn target(desired: &Self::Desired) -> String;

    /// How often to resync when the spec does not say (edna re-asserts on a long interval).
    fn default_resync(&self, operator_default: std::time::Duration) -> std::time::Duration {
        operator_default
    }

    /// Makes the provider hold `desired`.
    async fn sync(
        &self,
        account: &Account,
        desired: &Self::Desired,
        desired_hash: &str,
        recorded: Recorded<'_>,
    ) -> Result<SyncOutcome, ProviderError>;

    /// Removes what `registration` records; when nothing was recorded (a lost status write), `desired` names it.
    async fn remove(
        &self,
        account: &Account,
        registration: Option<&Registration>,
        desired: Option<&Self::Desired>,
    ) -> Result<Removal, ProviderError>;
}
