//! Secret values in memory: never printed, never serialised as themselves; fingerprinted with this
//! installation's key.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use serde::{Serialize, Serializer};
use sha2::Sha256;

use super::redact::{Redactor, cap};

/// A value read from a Kubernetes Secret. `Debug` redacts it and `Serialize` writes only a keyed hash, so a value
/// can sit inside a desired state that is hashed, logged at debug level or compared without ever leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

/// Domain separation for every fingerprint this operator writes to status.
const FINGERPRINT_CONTEXT: &[u8] = b"callback-operator.io/v1 fingerprint";

/// The installation's fingerprint key (`fingerprint_key.rs` loads or creates it before anything is fingerprinted).
static FINGERPRINT_KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Shortest key accepted: 256 bits.
pub const MIN_KEY_LEN: usize = 32;

/// Sets the installation's fingerprint key; the first call wins (one per process). `Err` when the key is too short
/// or a different key was set before.
pub fn set_fingerprint_key(key: Vec<u8>) -> Result<(), String> {
    if key.len() < MIN_KEY_LEN {
        return Err(format!("the fingerprint key must have at least {MIN_KEY_LEN} bytes"));
    }
    let set = FINGERPRINT_KEY.get_or_init(|| key.clone());
    if *set == key {
        Ok(())
    } else {
        Err("a different fingerprint key is already in use".into())
    }
}

/// The key: the installation's, or — where none was set (unit tests) — a random one for this process, so a
/// fingerprint is never computable from public constants.
fn fingerprint_key() -> &'static [u8] {
    FINGERPRINT_KEY.get_or_init(|| rand::random::<[u8; 32]>().to_vec())
}

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// HMAC-SHA256 under the installation's key, 128 bits in hex: stable across restarts (the key is kept in a
    /// Secret), so status comparisons work, and useless for guessing a weak password offline without the key.
    pub fn fingerprint(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(fingerprint_key()).expect("HMAC takes any key length");
        mac.update(FINGERPRINT_CONTEXT);
        mac.update(&[0]);
        mac.update(self.0.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("hmac:{}", self.fingerprint()))
    }
}

/// Longest message `redact` returns (an Event note may hold 1 KiB, and the message is only part of one).
pub const MESSAGE_MAX: usize = 900;

/// Replaces every occurrence of any of `secrets`, in every encoded form, in `text`, then caps it: the last line of
/// defence for messages about to reach a condition, an Event or a log line. (Provider text inside them was already
/// redacted and capped where it was read: `Reply::quote`.)
pub fn redact(text: &str, secrets: &[&SecretValue]) -> String {
    cap(&Redactor::new(secrets.iter().copied()).redact(text), MESSAGE_MAX)
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
        assert!(json.starts_with("\"hmac:"));
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
    fn fingerprints_are_keyed_not_a_public_hash() {
        use sha2::Digest;
        let v = SecretValue::new("weak");
        let fp = v.fingerprint();
        assert_eq!(fp.len(), 32);
        // Neither the old public-salt construction nor a plain SHA-256 of the value.
        let mut old = sha2::Sha256::new();
        old.update(b"callback-operator.io/v1 fingerprint\0weak");
        assert!(!hex::encode(old.finalize()).starts_with(&fp[..16]));
        assert!(!hex::encode(sha2::Sha256::digest(b"weak")).starts_with(&fp[..16]));
        assert!(set_fingerprint_key(vec![1; 8]).is_err(), "short keys are refused");
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
