//! The CallbackRegistration controller: one kube-rs `Controller` with a finalizer, a metadata-only Secret watch,
//! and per-object backoff. `reconcile.rs` reads top to bottom like the lifecycle.

mod backoff;
mod breaker;
mod change_filter;
mod conditions;
mod credentials;
mod duration;
mod events;
mod ownership;
mod reconcile;
mod recorder;
mod resync;
mod run;
mod secret_index;
mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::{ObjectRef, Store};

pub use run::{ControllerOptions, run_controller};

use crate::api::CallbackRegistration;
use crate::providers::edna::EdnaProvider;
use crate::providers::endpoint::EndpointPolicy;
use crate::providers::envelope::EnvelopeProvider;
use crate::providers::mail::MailProvider;
use crate::telemetry::Metrics;

/// Tunables, from flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Default resync interval (drift check) when the spec does not set one.
    pub resync_interval: Duration,
    /// How often edna's URLs are re-asserted (edna cannot be read back; each set costs the receiver a HEAD).
    pub edna_reassert_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub endpoints: EndpointPolicy,
}

/// The provider clients.
#[derive(Clone)]
pub struct Providers {
    pub mail: MailProvider,
    pub edna: EdnaProvider,
    pub envelope: EnvelopeProvider,
}

/// Shared by every reconciliation.
pub struct Context {
    pub client: kube::Client,
    pub recorder: recorder::EventRecorder,
    pub metrics: Metrics,
    pub providers: Providers,
    pub settings: Settings,
    pub store: Store<CallbackRegistration>,
    backoff: backoff::Backoff,
    breaker: breaker::CredentialBreaker,
    secret_index: Arc<secret_index::SecretIndex>,
    claims: Arc<ownership::ClaimIndex>,
    /// Re-triggers registrations waiting for an identity that was just released.
    retrigger: UnboundedSender<ObjectRef<CallbackRegistration>>,
    /// The periodic drift checks.
    resync: Arc<resync::ResyncQueue>,
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
    #[error("reading a Secret: {0}")]
    SecretRead(String),
    #[error("cleanup must be retried: {0}")]
    CleanupRetry(String, Option<Duration>),
}
