//! A circuit breaker per credentials Secret: once a provider rejects a credential, every registration using that
//! Secret stops calling the provider until the Secret changes (its resourceVersion moves).
//!
//! Open breakers are exported per provider (`callback_operator_credential_breakers_open`): a breaker closes when a
//! pass reads a newer version of its Secret, or when no registration names that Secret any more.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct CredentialBreaker {
    tripped: Mutex<HashMap<String, Tripped>>,
}

#[derive(Debug, Clone)]
struct Tripped {
    resource_version: String,
    message: String,
    provider: &'static str,
}

impl CredentialBreaker {
    /// The rejection message when `secret_key` at `resource_version` was rejected before. A newer version closes
    /// the breaker: the Secret changed, so its credentials are tried again.
    pub fn rejected(&self, secret_key: &str, resource_version: &str) -> Option<String> {
        let mut tripped = self.tripped.lock().expect("breaker lock");
        match tripped.get(secret_key) {
            Some(t) if t.resource_version == resource_version => Some(t.message.clone()),
            Some(_) => {
                tripped.remove(secret_key);
                None
            }
            None => None,
        }
    }

    pub fn trip(&self, provider: &'static str, secret_key: &str, resource_version: &str, message: &str) {
        self.tripped.lock().expect("breaker lock").insert(
            secret_key.to_string(),
            Tripped {
                resource_version: resource_version.to_string(),
                message: message.to_string(),
                provider,
            },
        );
    }

    /// Closes the breakers of Secrets no registration names any more (`in_use` says which `namespace/name` is).
    pub fn forget_unused(&self, in_use: impl Fn(&str) -> bool) {
        self.tripped.lock().expect("breaker lock").retain(|key, _| in_use(key));
    }

    /// Open breakers per provider, with a 0 for every one of `providers` that has none (so the series exist).
    pub fn open_by_provider(&self, providers: &[&'static str]) -> BTreeMap<&'static str, i64> {
        let mut open: BTreeMap<&'static str, i64> = providers.iter().map(|p| (*p, 0)).collect();
        for t in self.tripped.lock().expect("breaker lock").values() {
            *open.entry(t.provider).or_default() += 1;
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_open_until_the_secret_changes() {
        let b = CredentialBreaker::default();
        assert_eq!(b.rejected("ns/key", "1"), None);
        b.trip("alpha", "ns/key", "1", "bad key");
        assert_eq!(b.rejected("ns/key", "1").as_deref(), Some("bad key"));
        assert_eq!(
            b.rejected("ns/key", "2"),
            None,
            "a new resourceVersion lets calls through again"
        );
        assert_eq!(b.rejected("ns/other", "1"), None);
    }

    #[test]
    fn counts_open_breakers_per_provider_until_closed() {
        let b = CredentialBreaker::default();
        let providers = ["alpha", "beta", "gamma"];
        assert_eq!(
            b.open_by_provider(&providers),
            BTreeMap::from([("alpha", 0), ("beta", 0), ("gamma", 0)])
        );
        b.trip("alpha", "ns/a", "1", "bad key");
        b.trip("alpha", "ns/b", "7", "bad key");
        b.trip("beta", "other/c", "3", "bad token");
        assert_eq!(
            b.open_by_provider(&providers),
            BTreeMap::from([("alpha", 2), ("beta", 1), ("gamma", 0)])
        );

        // A pass reading a newer Secret closes that breaker; the same version keeps it open.
        assert!(b.rejected("ns/a", "1").is_some());
        assert_eq!(b.rejected("ns/a", "2"), None);
        assert_eq!(b.open_by_provider(&providers)["alpha"], 1);
        assert_eq!(
            b.rejected("ns/a", "1"),
            None,
            "closed for good, not reopened by an old version"
        );

        // A Secret no registration names any more is forgotten.
        b.forget_unused(|key| key != "other/c");
        assert_eq!(
            b.open_by_provider(&providers),
            BTreeMap::from([("alpha", 1), ("beta", 0), ("gamma", 0)])
        );
    }
}
