//! The CallbackRegistration controller: one kube-rs `Controller` with a finalizer, a metadata-only Secret watch,
//! and per-object backoff. `reconcile.rs` reads top to bottom like the lifecycle.

mod backoff;
mod breaker;
mod budget;
mod cached;
mod change_filter;
mod cleanup;
mod conditions;
mod decode;
mod event_queue;
mod events;
mod gates;
mod guard;
mod indexes;
mod object_key;
mod observe;
mod ownership;
mod preview;
mod progress;
mod reconcile;
mod reconcile_request;
mod recorder;
mod relist;
mod resync;
mod run;
mod secret_cache;
mod secret_index;
mod secrets;
mod shard;
mod status;
mod trigger_queue;
mod uid;
mod written_copies;

use std::sync::Arc;
use std::time::Duration;

pub use preview::{Preview, preview};
pub use progress::Progress;
pub use run::{ControllerOptions, run_controller};
pub use secrets::{NamespaceSecrets, SecretSelector};
pub use shard::shard_selector;

use crate::providers::{EndpointPolicy, Providers};
use crate::telemetry::Metrics;

/// Tunables, from flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Default resync interval (drift check) when the spec does not set one.
    pub resync_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long after its deletion a registration's cleanup may keep failing before it is abandoned.
    pub cleanup_deadline: Duration,
    pub endpoints: EndpointPolicy,
    /// Label opt-in mode: only Secrets carrying these labels are read.
    pub secret_selector: Option<SecretSelector>,
}

/// Shared by every reconciliation.
pub struct Context {
    pub client: kube::Client,
    /// Events, posted in the background.
    pub events: event_queue::EventQueue,
    pub metrics: Metrics,
    pub providers: Providers,
    pub settings: Settings,
    backoff: backoff::Backoff,
    breaker: breaker::CredentialBreaker,
    /// Claims and Secret references, fed by the watch.
    indexes: Arc<indexes::Indexes>,
    /// The periodic drift checks.
    resync: Arc<resync::ResyncQueue>,
    /// Corrective writes per registration (`budget.rs`): stalls a write loop with reason DriftLoop.
    budget: budget::WriteBudget,
    /// Namespace-scoped installs: keeps the operator's RoleBinding while a namespace holds registrations.
    guard: Option<Arc<guard::BindingGuard>>,
    /// What `/livez` reads: reconciliations in flight, work waiting.
    progress: Progress,
    /// Copies a pass just wrote the finalizer or status from, so a second pass over one does not write again.
    written: Arc<written_copies::WrittenCopies>,
    /// Where triggers wait for a slot (`trigger_queue.rs`): told when a pass starts.
    triggers: Arc<trigger_queue::TriggerQueue>,
}

/// Errors that end a reconciliation early; provider errors never get here (they become conditions).
#[derive(thiserror::Error, Debug)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("object has no namespace")]
    NoNamespace,
    #[error(transparent)]
    Unpack(#[from] cached::UnpackError),
    #[error("reading a Secret: {0}")]
    SecretRead(String),
    #[error("hashing the desired state: {0}")]
    DesiredHash(#[from] serde_json::Error),
    /// A cleanup to retry: why, the provider's Retry-After, and the time left before its deadline.
    #[error("cleanup must be retried: {0}")]
    CleanupRetry(String, Option<Duration>, Duration),
}
