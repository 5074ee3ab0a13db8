//! What a reconciliation of one object would do, without any provider write: the same gates as `reconcile.rs`
//! (credentials read the same way, the same ownership rule over the registrations the caller listed), then the
//! provider's `observe`. `callback-operator plan` prints it.

use std::future::Future;
use std::pin::Pin;

use super::Error;
use super::gates::{Admitted, Gatekeeper, admit};
use super::ownership::{Claimant, conflicting_owner};
use super::reconcile::desired_hash;
use super::secrets::NamespaceSecrets;
use crate::api::{CallbackRegistration, ManagementPolicy, Reason};
use crate::providers::{
    EndpointPolicy, Observation, Provider, ProviderTask, Providers, Recorded, SecretSource, SecretValues, redact,
};

/// What the operator would do with the object.
#[derive(Debug)]
pub enum Preview {
    /// A gate holds before the provider is called (`Conflict`: another object owns the identity).
    Blocked { reason: Reason, message: String },
    /// Reading the provider failed.
    Failed { reason: Reason, message: String },
    /// The provider was read (or could not be, for a provider without reads: the observation says so).
    Observed {
        provider: &'static str,
        label: &'static str,
        target: String,
        observation: Box<Observation>,
        /// `managementPolicy: Observe`: the operator writes nothing whatever the observation says.
        observe_only: bool,
    },
}

/// Previews `obj` (the spec to judge; its metadata and status are the live object's when it exists). `others` are
/// the registrations the cluster holds (for ownership).
pub async fn preview(
    providers: &Providers,
    client: kube::Client,
    obj: &CallbackRegistration,
    others: &[CallbackRegistration],
    endpoints: &EndpointPolicy,
) -> Result<Preview, Error> {
    let namespace = obj.metadata.namespace.clone().ok_or(Error::NoNamespace)?;
    let claimants = others
        .iter()
        .map(|o| super::indexes::claimant_seen_by_others(providers, o))
        .collect();
    let gates = PreviewGates {
        secrets: NamespaceSecrets::new(client, &namespace, None),
        claimants,
        endpoints,
    };
    match providers.dispatch(&obj.spec, PreviewTask { obj, gates: &gates }) {
        Some(pass) => pass.await,
        None => Ok(Preview::Blocked {
            reason: Reason::InvalidSpec,
            message: format!(
                "exactly one provider block must be set: {}",
                Providers::NAMES.join(", ")
            ),
        }),
    }
}

type Pass<'a> = Pin<Box<dyn Future<Output = Result<Preview, Error>> + Send + 'a>>;

struct PreviewTask<'a> {
    obj: &'a CallbackRegistration,
    gates: &'a PreviewGates<'a>,
}

impl<'a> ProviderTask<'a> for PreviewTask<'a> {
    type Output = Pass<'a>;
    fn run<P: Provider>(self, provider: &'a P, block: &'a P::Spec) -> Pass<'a> {
        Box::pin(preview_with(provider, block, self.obj, self.gates))
    }
}

async fn preview_with<P: Provider>(
    provider: &P,
    block: &P::Spec,
    obj: &CallbackRegistration,
    gates: &PreviewGates<'_>,
) -> Result<Preview, Error> {
    let Admitted {
        desired,
        target,
        account,
        ..
    } = match admit(provider, block, obj, gates).await? {
        Ok(admitted) => admitted,
        Err(blocked) => {
            return Ok(Preview::Blocked {
                reason: blocked.reason,
                message: blocked.message,
            });
        }
    };
    let hash = desired_hash(&account, &desired)?;
    let status = obj.status.as_ref();
    let recorded = Recorded {
        registration: status.and_then(|s| s.registration.as_deref()),
        applied_hash: status.and_then(|s| s.applied_hash.as_deref()),
        observed_hash: status.and_then(|s| s.observed_hash.as_deref()),
        corrections_spent: None,
        // A plan shows what a pass would do now; a pending reconcile request changes nothing a plan can show.
        reconcile_requested: false,
    };
    let observe_only = obj.spec.management_policy() == ManagementPolicy::Observe;
    Ok(match provider.observe(&account, &desired, &hash, recorded).await {
        Ok(mut observation) => {
            // Under Full, a provider that writes a new registration without reading first writes over what it
            // would otherwise adopt (taking over without a write is what Observe is for).
            let adopts_under_full = !observe_only && observation.adopt && recorded.never_synced();
            if let Some(write) = P::first_write_without_reading(&desired).filter(|_| adopts_under_full) {
                observation.adopt = false;
                observation.writes = vec![write];
            }
            Preview::Observed {
                provider: P::NAME,
                label: P::LABEL,
                target,
                observation: Box::new(observation),
                observe_only,
            }
        }
        Err(err) => Preview::Failed {
            reason: err.reason(),
            message: redact(&err.to_string(), &account.secrets()),
        },
    })
}

/// The gates' reads for a preview: the namespace's Secrets, no breaker (nothing was rejected in this process), and
/// ownership over the listed registrations.
struct PreviewGates<'a> {
    secrets: NamespaceSecrets,
    claimants: Vec<Claimant>,
    endpoints: &'a EndpointPolicy,
}

impl SecretSource for PreviewGates<'_> {
    async fn secret(&self, name: &str) -> Result<Option<SecretValues>, kube::Error> {
        self.secrets.secret(name).await
    }
}

impl Gatekeeper for PreviewGates<'_> {
    async fn credentials(&self, name: &str) -> Result<Option<(SecretValues, String)>, kube::Error> {
        self.secrets.read(name).await
    }

    fn rejected(&self, _secret_key: &str, _version: &str) -> Option<String> {
        None
    }

    fn owner(&self, me: &Claimant, account: &str) -> Option<(String, String)> {
        conflicting_owner(me, account, self.claimants.iter())
    }

    fn endpoints(&self) -> &EndpointPolicy {
        self.endpoints
    }
}
