//! A circuit breaker per credentials Secret: once a provider rejects a credential, every registration using that
//! Secret stops calling the provider until the Secret changes (its resourceVersion moves).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct CredentialBreaker {
    tripped: Mutex<HashMap<String, Tripped>>,
}

#[derive(Debug, Clone)]
struct Tripped {
    resource_version: String,
    message: String,
}

impl CredentialBreaker {
    /// The rejection message when `secret_key` at `resource_version` was rejected before.
    pub fn rejected(&self, secret_key: &str, resource_version: &str) -> Option<String> {
        let tripped = self.tripped.lock().expect("breaker lock");
        tripped
            .get(secret_key)
            .filter(|t| t.resource_version == resource_version)
            .map(|t| t.message.clone())
    }

    pub fn trip(&self, secret_key: &str, resource_version: &str, message: &str) {
        self.tripped.lock().expect("breaker lock").insert(
            secret_key.to_string(),
            Tripped {
                resource_version: resource_version.to_string(),
                message: message.to_string(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_open_until_the_secret_changes() {
        let b = CredentialBreaker::default();
        assert_eq!(b.rejected("ns/key", "1"), None);
        b.trip("ns/key", "1", "bad key");
        assert_eq!(b.rejected("ns/key", "1").as_deref(), Some("bad key"));
        assert_eq!(
            b.rejected("ns/key", "2"),
            None,
            "a new resourceVersion lets calls through again"
        );
        assert_eq!(b.rejected("ns/other", "1"), None);
    }
}
