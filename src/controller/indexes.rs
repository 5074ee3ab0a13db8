//! The in-memory indexes fed by the CallbackRegistration watch, in one place: provider-side claims (who owns which
//! identity) and Secret references (which objects a Secret change wakes). Every object is indexed as it arrives,
//! reconciled or not. No client: tested by feeding watch events.

use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event as WatchEvent;
use kube::{Resource, ResourceExt};

use super::ownership::{ClaimIndex, Claimant};
use super::secret_cache::SecretCache;
use super::secret_index::SecretIndex;
use crate::api::CallbackRegistration;
use crate::providers::Providers;

pub struct Indexes {
    providers: Providers,
    /// The registration watch has a shard selector: an object can leave it without being deleted.
    sharded: bool,
    pub claims: ClaimIndex,
    pub secrets: SecretIndex,
    /// Secret values read by reconciliations, fed by the Secret watch (`secret_cache.rs`).
    pub secret_values: std::sync::Arc<SecretCache>,
}

impl Indexes {
    pub fn new(providers: Providers) -> Self {
        Self {
            providers,
            sharded: false,
            claims: ClaimIndex::default(),
            secrets: SecretIndex::default(),
            secret_values: Default::default(),
        }
    }

    /// Indexes for a shard (`--watch-label-selector`): see [`moved_away`].
    pub fn sharded(self, sharded: bool) -> Self {
        Self { sharded, ..self }
    }

    /// Feeds one watch event; returns the objects to reconcile because of it: younger claimants of an identity
    /// whose older claimant just arrived, and the claimants of an identity its holder released (deleted, orphaned,
    /// or its spec now claims something else) — so the next one takes over at once, not at its next resync.
    pub fn observe(&self, event: &WatchEvent<CallbackRegistration>) -> Vec<ObjectRef<CallbackRegistration>> {
        match event {
            WatchEvent::Apply(obj) | WatchEvent::InitApply(obj) => {
                let namespace = obj.namespace().unwrap_or_default();
                self.secrets
                    .record(&namespace, &obj.name_any(), &self.providers.secrets_of(&obj.spec));
                self.claims
                    .upsert(self.claimant(obj))
                    .into_iter()
                    .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
                    .collect()
            }
            WatchEvent::Delete(obj) => {
                let (namespace, name) = (obj.namespace().unwrap_or_default(), obj.name_any());
                self.secrets.forget(&namespace, &name);
                let released = self.claims.remove(&namespace, &name, &obj.uid().unwrap_or_default());
                // An object that moved to another shard still holds its identity there: the claimants it kept
                // waiting here are not woken to take over (they could not tell the two apart).
                if self.sharded && moved_away(obj) {
                    return Vec::new();
                }
                released
                    .into_iter()
                    .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
                    .collect()
            }
            WatchEvent::Init | WatchEvent::InitDone => Vec::new(),
        }
    }

    /// `obj`'s claim as other objects see it: what its spec asks for and what its status says it still holds at
    /// the provider (released only once the status no longer records it).
    pub fn claimant(&self, obj: &CallbackRegistration) -> Claimant {
        claimant_seen_by_others(&self.providers, obj)
    }
}

/// `obj` as other objects see it: what its spec claims, and what its recorded registration still holds
/// ([`Providers::held_claims_of`]).
pub fn claimant_seen_by_others(providers: &Providers, obj: &CallbackRegistration) -> Claimant {
    let claims = providers.claims_of(&obj.spec);
    let registration = obj.status.as_ref().and_then(|s| s.registration.as_deref());
    let held = registration
        .map(|r| providers.held_claims_of(&obj.spec, r))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !claims.contains(c))
        .map(std::sync::Arc::from)
        .collect();
    Claimant {
        held,
        ..Claimant::of(obj, claims, None).spanning_accounts(providers.identity_spans_accounts(&obj.spec))
    }
}

/// Whether a Delete from a sharded watch is the object leaving the shard's selector rather than its deletion: it
/// still carries the cleanup finalizer and no deletion timestamp, and the apiserver never removes an object in that
/// state (a finalizer first makes a delete set the timestamp).
pub fn moved_away(obj: &CallbackRegistration) -> bool {
    obj.meta().deletion_timestamp.is_none() && obj.finalizers().iter().any(|f| f == crate::api::FINALIZER)
}

#[cfg(test)]
mod tests;
