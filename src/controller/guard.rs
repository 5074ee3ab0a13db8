//! Namespace-scoped installs: the operator's RoleBinding in a watched namespace stays until the namespace's last
//! registration is gone.
//!
//! Deleting a namespace deletes everything in it at once: the RoleBinding that lets the operator act there goes
//! immediately, while the registrations wait on their finalizer. Without it the operator can neither read the
//! credentials nor remove the finalizer (403), so the registrations — and the namespace — would stay Terminating
//! forever. So while a watched namespace holds registrations, the operator keeps its own finalizer
//! `callback-operator.io/registrations` on its RoleBinding there (`--rbac-guard-binding`; the chart sets it in
//! namespace-scoped mode and grants `get`/`patch` on exactly that binding). A terminating RoleBinding still grants;
//! once the last registration of the namespace is gone the finalizer is removed and the namespace finishes.
//! Changing only `metadata.finalizers` of a binding is not an escalation (the apiserver skips that check for it).
//! Cluster-wide installs need none of this: their ClusterRoleBinding does not live in a namespace.

use std::collections::HashSet;
use std::sync::Mutex;

use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use tracing::{debug, info, warn};

/// The finalizer the operator keeps on its RoleBinding in a namespace with registrations.
pub const GUARD_FINALIZER: &str = "callback-operator.io/registrations";

/// The finalizers `existing` should become (with or without the guard), or `None` when nothing changes.
pub fn guarded(existing: &[String], keep: bool) -> Option<Vec<String>> {
    let has = existing.iter().any(|f| f == GUARD_FINALIZER);
    match (keep, has) {
        (true, false) => Some(existing.iter().cloned().chain([GUARD_FINALIZER.to_string()]).collect()),
        (false, true) => Some(existing.iter().filter(|f| *f != GUARD_FINALIZER).cloned().collect()),
        _ => None,
    }
}

/// Keeps the guard on the RoleBinding `name` in the namespaces that hold registrations.
pub struct BindingGuard {
    client: kube::Client,
    name: String,
    /// Namespaces whose binding is known to carry the guard.
    guarded: Mutex<HashSet<String>>,
    /// One change at a time, so a release and an ensure of one namespace cannot interleave.
    changes: tokio::sync::Mutex<()>,
}

impl BindingGuard {
    pub fn new(client: kube::Client, name: String) -> Self {
        Self {
            client,
            name,
            guarded: Mutex::default(),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    /// Puts the guard on the binding of `namespace` (once per namespace while it holds registrations).
    pub async fn ensure(&self, namespace: &str) {
        if self.is_guarded(namespace) {
            return;
        }
        let _one = self.changes.lock().await;
        match self.set(namespace, true).await {
            Ok(()) => {
                self.guarded.lock().expect("guard lock").insert(namespace.to_string());
            }
            Err(err) => warn!(%namespace, binding = %self.name, error = %err,
                "cannot keep the operator's RoleBinding while registrations exist; deleting this namespace may \
                 leave them without cleanup"),
        }
    }

    /// Removes the guard from the binding of `namespace` if `still_empty` (checked under the lock) says so.
    pub async fn release(&self, namespace: &str, still_empty: impl Fn() -> bool) {
        let _one = self.changes.lock().await;
        if !still_empty() {
            return;
        }
        self.guarded.lock().expect("guard lock").remove(namespace);
        match self.set(namespace, false).await {
            Ok(()) => debug!(%namespace, "released the operator's RoleBinding: no registrations left"),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => warn!(%namespace, binding = %self.name, error = %err, "releasing the RoleBinding guard failed"),
        }
    }

    fn is_guarded(&self, namespace: &str) -> bool {
        self.guarded.lock().expect("guard lock").contains(namespace)
    }

    async fn set(&self, namespace: &str, keep: bool) -> Result<(), kube::Error> {
        let api: Api<RoleBinding> = Api::namespaced(self.client.clone(), namespace);
        let binding = api.get(&self.name).await?;
        let existing = binding.metadata.finalizers.clone().unwrap_or_default();
        let Some(finalizers) = guarded(&existing, keep) else {
            return Ok(());
        };
        // The resourceVersion makes the patch fail rather than drop a finalizer someone else added meanwhile.
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": binding.metadata.resource_version,
        }});
        api.patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if keep {
            info!(%namespace, binding = %self.name, "keeping the operator's RoleBinding while registrations exist");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_is_added_once_removed_once_and_other_finalizers_stay() {
        let other = vec!["someone/else".to_string()];
        let with = guarded(&other, true).expect("added");
        assert_eq!(with, ["someone/else", GUARD_FINALIZER]);
        assert_eq!(guarded(&with, true), None, "already there");
        assert_eq!(guarded(&with, false), Some(other.clone()));
        assert_eq!(guarded(&other, false), None, "nothing to remove");
    }
}
