//! The gates a registration passes before its provider is called, in lifecycle order:
//! suspended → desired state (spec and referenced Secrets) → credentials Secret → account (keys, endpoint) →
//! credential breaker → ownership. The first gate that holds returns a typed `Blocked` (class, reason, message);
//! passing them all yields what the sync needs. Reads go through `Gatekeeper`, so the order is tested without a
//! client.

use std::future::Future;

use kube::ResourceExt;

use super::Error;
use super::ownership::Claimant;
use crate::api::{CallbackRegistration, Reason};
use crate::providers::{Account, AccountError, DesiredError, EndpointPolicy, Provider, SecretSource, SecretValues};

/// How a blocked pass ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockClass {
    /// `spec.suspend`: no provider calls until it is lifted.
    Suspended,
    /// Waiting for something that resolves without the user (a Secret appearing).
    Waiting,
    /// Nothing changes until the user changes the spec or a Secret.
    Stalled,
}

/// Why a pass stopped before the provider.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocked {
    pub class: BlockClass,
    pub reason: Reason,
    pub message: String,
    /// The URL(s) the object targets, once the desired state is known.
    pub target: Option<String>,
    /// The account its Secret names now, when the ownership gate held it (status forgets a registration of
    /// another account then: `status.rs`).
    pub account: Option<String>,
}

/// What a pass that cleared every gate carries to the sync.
pub struct Admitted<P: Provider> {
    pub desired: P::Desired,
    pub target: String,
    pub account: Account<P::Credentials>,
    /// The credentials Secret as `namespace/name`, and the resourceVersion read (the breaker's key).
    pub secret_key: String,
    pub secret_version: String,
}

/// What the gates read.
pub trait Gatekeeper: SecretSource {
    /// The credentials Secret's values and resourceVersion, or `None` when it does not exist.
    fn credentials(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(SecretValues, String)>, kube::Error>> + Send;
    /// The rejection message when this Secret version's credentials were rejected before.
    fn rejected(&self, secret_key: &str, version: &str) -> Option<String>;
    /// The older owner ("namespace/name") of a claim `me` makes within `account`, and that claim.
    fn owner(&self, me: &Claimant, account: &str) -> Option<(String, String)>;
    fn endpoints(&self) -> &EndpointPolicy;
    /// In the label opt-in mode, why Secret `name` may not be read (it lacks the labels); its data is not read.
    fn unlabelled(&self, _name: &str) -> impl Future<Output = Result<Option<String>, kube::Error>> + Send {
        std::future::ready(Ok(None))
    }
}

/// Runs the gates. `Ok(Err(blocked))` is a pass that ends without a provider call; `Err` is a Kubernetes failure.
pub async fn admit<P: Provider>(
    provider: &P,
    block: &P::Spec,
    obj: &CallbackRegistration,
    gates: &impl Gatekeeper,
) -> Result<Result<Admitted<P>, Blocked>, Error> {
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let held = |class, reason, message: String, target: Option<&String>| {
        Ok(Err(Blocked {
            class,
            reason,
            message,
            target: target.cloned(),
            account: None,
        }))
    };

    // 1. Suspended objects make no provider calls.
    if obj.spec.is_suspended() {
        return held(BlockClass::Suspended, Reason::Suspended, String::new(), None);
    }

    // 2. In the label opt-in mode, every Secret the object names must carry the labels, or it is not read at all.
    let secret_name = &obj.spec.credentials_ref.name;
    for name in P::referenced_secrets(block).iter().chain(std::iter::once(secret_name)) {
        if let Some(message) = gates.unlabelled(name).await? {
            return held(BlockClass::Stalled, Reason::SecretNotLabelled, message, None);
        }
    }

    // 2b. The desired state, from the spec and any Secret it references besides the credentials.
    let desired = match provider.desired(block, gates).await {
        Ok(desired) => desired,
        Err(DesiredError::InvalidSpec(message)) => {
            return held(BlockClass::Stalled, Reason::InvalidSpec, message, None);
        }
        Err(DesiredError::SecretMissing(message)) => {
            return held(BlockClass::Waiting, Reason::SecretNotFound, message, None);
        }
        Err(DesiredError::Kube(message)) => return Err(Error::SecretRead(message)),
    };
    let target = P::target(&desired);

    // 3. Credentials, read now (or reused while the Secret watch reports them unchanged: `secret_cache.rs`).
    let secret_key = format!("{namespace}/{secret_name}");
    let Some((values, secret_version)) = gates.credentials(secret_name).await? else {
        let message = format!("Secret {secret_key} does not exist; waiting for it");
        return held(BlockClass::Waiting, Reason::CredentialsNotFound, message, Some(&target));
    };
    let account = match Account::from_secret::<P>(secret_name, &values, gates.endpoints()) {
        Ok(account) => account,
        Err(AccountError::Incomplete(message)) => {
            return held(
                BlockClass::Stalled,
                Reason::CredentialsIncomplete,
                message,
                Some(&target),
            );
        }
        Err(AccountError::EndpointNotAllowed(err)) => {
            return held(
                BlockClass::Stalled,
                Reason::EndpointNotAllowed,
                err.to_string(),
                Some(&target),
            );
        }
    };

    // 4. A credential the provider rejected is not tried again until its Secret changes.
    if let Some(message) = gates.rejected(&secret_key, &secret_version) {
        let message = format!("{message} (not retried until Secret {secret_key} changes)");
        return held(BlockClass::Stalled, Reason::InvalidCredentials, message, Some(&target));
    }

    // 5. Two objects claiming one provider-side identity: the older owns it.
    let me = Claimant::of(obj, P::claims(block), None).spanning_accounts(P::IDENTITY_SPANS_ACCOUNTS);
    if let Some((owner, claim)) = gates.owner(&me, &account.id()) {
        let message = format!(
            "{claim} is already owned by {owner} (the older registration); this object waits until {owner} releases it"
        );
        return Ok(Err(Blocked {
            class: BlockClass::Stalled,
            reason: Reason::Conflict,
            message,
            target: Some(target),
            account: Some(account.id()),
        }));
    }

    Ok(Ok(Admitted {
        desired,
        target,
        account,
        secret_key,
        secret_version,
    }))
}

#[cfg(test)]
mod tests;
