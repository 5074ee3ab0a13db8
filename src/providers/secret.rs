//! Secret values in memory: never printed, never serialised as themselves.

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A value read from a Kubernetes Secret. `Debug` redacts it and `Serialize` writes only a salted hash, so a value
/// can sit inside a desired state that is hashed, logged at debug level or compared without ever leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

/// Domain separation for every fingerprint this operator writes to status.
const FINGERPRINT_SALT: &str = "callback-operator.io/v1 fingerprint";

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short salted hash: stable across restarts (so status comparisons work) and not reversible for the
    /// high-entropy keys and passwords it is used on.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(FINGERPRINT_SALT.as_bytes());
        hasher.update([0]);
        hasher.update(self.0.as_bytes());
        hex::encode(&hasher.finalize()[..8])
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("sha256:{}", self.fingerprint()))
    }
}

/// Replaces every occurrence of any of `secrets` in `text`: the last line of defence for messages that came back
/// from a provider and are about to reach a condition, an Event or a log line.
pub fn redact(text: &str, secrets: &[&SecretValue]) -> String {
    secrets
        .iter()
        .filter(|s| s.0.len() >= 4)
        .fold(text.to_string(), |acc, s| acc.replace(&s.0, "<redacted>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_never_show_the_value() {
        let v = SecretValue::new("super-secret-key");
        assert_eq!(format!("{v:?}"), "<redacted>");
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("super-secret-key"));
        assert!(json.starts_with("\"sha256:"));
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_values() {
        assert_eq!(
            SecretValue::new("a-key").fingerprint(),
            SecretValue::new("a-key").fingerprint()
        );
        assert_ne!(
            SecretValue::new("a-key").fingerprint(),
            SecretValue::new("b-key").fingerprint()
        );
    }

    #[test]
    fn redact_removes_every_secret_occurrence() {
        let k = SecretValue::new("abcd1234");
        assert_eq!(
            redact("bad key abcd1234 (abcd1234)", &[&k]),
            "bad key <redacted> (<redacted>)"
        );
    }
}
