//! The in-memory indexes fed by the CallbackRegistration watch, in one place: provider-side claims (who owns which
//! identity) and Secret references (which objects a Secret change wakes). Every object is indexed as it arrives,
//! reconciled or not. No client: tested by feeding watch events.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event as WatchEvent;

use super::ownership::{ClaimIndex, Claimant};
use super::secret_index::SecretIndex;
use crate::api::CallbackRegistration;
use crate::providers::Providers;

pub struct Indexes {
    providers: Providers,
    pub claims: ClaimIndex,
    pub secrets: SecretIndex,
}

impl Indexes {
    pub fn new(providers: Providers) -> Self {
        Self {
            providers,
            claims: ClaimIndex::default(),
            secrets: SecretIndex::default(),
        }
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
                self.claims
                    .remove(&namespace, &name, &obj.uid().unwrap_or_default())
                    .into_iter()
                    .map(|(ns, name)| ObjectRef::new(&name).within(&ns))
                    .collect()
            }
            WatchEvent::Init | WatchEvent::InitDone => Vec::new(),
        }
    }

    /// `obj`'s claim, as its provider computes it.
    pub fn claimant(&self, obj: &CallbackRegistration) -> Claimant {
        Claimant::of(obj, self.providers.claims_of(&obj.spec), None)
    }
}

#[cfg(test)]
mod tests;
