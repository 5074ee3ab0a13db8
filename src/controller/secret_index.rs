//! Which registrations reference which Secret, so a Secret change re-triggers exactly those registrations.
//! Fed by reconciliations (each records what it references); read by the Secret watch's mapper.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use kube::runtime::reflector::ObjectRef;

use crate::api::CallbackRegistration;

#[derive(Debug, Default)]
pub struct SecretIndex {
    /// (namespace, secret name) → registration names in that namespace.
    users: Mutex<HashMap<(String, String), HashSet<String>>>,
}

impl SecretIndex {
    /// Records that `registration` in `namespace` references `secrets` (replacing what it referenced before).
    pub fn record(&self, namespace: &str, registration: &str, secrets: &[String]) {
        let mut users = self.users.lock().expect("secret index lock");
        for ((ns, secret), names) in users.iter_mut() {
            if ns == namespace && !secrets.contains(secret) {
                names.remove(registration);
            }
        }
        for secret in secrets {
            users
                .entry((namespace.to_string(), secret.clone()))
                .or_default()
                .insert(registration.to_string());
        }
        users.retain(|_, names| !names.is_empty());
    }

    pub fn forget(&self, namespace: &str, registration: &str) {
        self.record(namespace, registration, &[]);
    }

    /// Every Secret some registration references, as (namespace, name).
    pub fn in_use(&self) -> HashSet<(String, String)> {
        self.users.lock().expect("secret index lock").keys().cloned().collect()
    }

    /// The registrations to reconcile when the Secret `namespace/name` changes.
    pub fn users_of(&self, namespace: &str, name: &str) -> Vec<ObjectRef<CallbackRegistration>> {
        let users = self.users.lock().expect("secret index lock");
        users
            .get(&(namespace.to_string(), name.to_string()))
            .map(|names| names.iter().map(|n| ObjectRef::new(n).within(namespace)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_secret_to_the_registrations_using_it() {
        let index = SecretIndex::default();
        index.record("shop", "a", &["creds".into(), "basic".into()]);
        index.record("shop", "b", &["creds".into()]);
        index.record("other", "c", &["creds".into()]);
        let mut names: Vec<String> = index.users_of("shop", "creds").into_iter().map(|r| r.name).collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(index.users_of("shop", "basic").len(), 1);
        let in_use = index.in_use();
        assert_eq!(in_use.len(), 3);
        assert!(in_use.contains(&("other".to_string(), "creds".to_string())));
    }

    #[test]
    fn re_recording_drops_secrets_no_longer_referenced() {
        let index = SecretIndex::default();
        index.record("shop", "a", &["old".into()]);
        index.record("shop", "a", &["new".into()]);
        assert!(index.users_of("shop", "old").is_empty());
        index.forget("shop", "a");
        assert!(index.users_of("shop", "new").is_empty());
    }
}
