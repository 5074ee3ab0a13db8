//! The installation's fingerprint key: the HMAC key behind every fingerprint the operator writes to status (account
//! ids, `appliedHash`). Kept in a Secret of the operator's own namespace so fingerprints survive restarts and are
//! shared by replicas, and never derivable from anything public: a weak basic-auth password cannot be guessed
//! offline from `status.appliedHash`.
//!
//! Sources, in order: a file (`--fingerprint-key-file`, e.g. a mounted Secret the chart was given), else the Secret
//! `--fingerprint-key-secret` in `--fingerprint-key-namespace`, created on first start. Two replicas starting at
//! once both try to create it; the apiserver lets exactly one create succeed (409 for the other), and both then use
//! what is stored — so they agree. An existing Secret is never updated: a key the admin put there stays.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tracing::info;

use crate::providers::MIN_KEY_LEN;

/// The data key holding the key bytes.
pub const DATA_KEY: &str = "key";

/// Where the key Secret lives: the configured namespace, else the client's default (the pod's own namespace).
pub fn namespace(configured: Option<&str>, client: &Client) -> String {
    configured
        .filter(|ns| !ns.is_empty())
        .map_or_else(|| client.default_namespace().to_string(), str::to_string)
}

/// Loads the key from `file`.
pub fn from_file(file: &Path) -> anyhow::Result<Vec<u8>> {
    let key = std::fs::read(file).with_context(|| format!("reading the fingerprint key file {}", file.display()))?;
    let key = without_trailing_newline(key);
    if key.len() < MIN_KEY_LEN {
        bail!(
            "the fingerprint key file {} holds {} bytes; at least {MIN_KEY_LEN} are needed",
            file.display(),
            key.len()
        );
    }
    Ok(key)
}

/// The key stored in Secret `namespace/name`, or `None` when it does not exist (never creates it: the read-only
/// commands `plan` and `import` use this).
pub async fn load(client: &Client, namespace: &str, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api
        .get_opt(name)
        .await
        .with_context(|| format!("reading the fingerprint key Secret {namespace}/{name}"))?
    {
        Some(secret) => key_of(&secret, namespace, name).map(Some),
        None => Ok(None),
    }
}

/// The key stored in Secret `namespace/name`, created with a fresh random key when absent.
pub async fn load_or_create(client: &Client, namespace: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if let Some(secret) = api
        .get_opt(name)
        .await
        .with_context(|| format!("reading the fingerprint key Secret {namespace}/{name}"))?
    {
        return key_of(&secret, namespace, name);
    }
    // Stored as text (64 hex digits): a raw random key ends in a line break one time in 128, which a reader that
    // tolerates an admin's trailing newline would cut off (the soak: an operator restart refused its own key).
    let fresh = hex::encode(rand::random::<[u8; 32]>()).into_bytes();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "callback-operator".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        // Never rotated in place: a new key changes every fingerprint (one re-write per registration).
        immutable: Some(true),
        data: Some(BTreeMap::from([(DATA_KEY.to_string(), ByteString(fresh.clone()))])),
        ..Secret::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            info!(secret = %format!("{namespace}/{name}"), "created the fingerprint key");
            Ok(fresh)
        }
        // Another replica created it first: use theirs.
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let secret = api
                .get(name)
                .await
                .with_context(|| format!("reading the fingerprint key Secret {namespace}/{name} after a race"))?;
            key_of(&secret, namespace, name)
        }
        Err(err) => Err(err).with_context(|| format!("creating the fingerprint key Secret {namespace}/{name}")),
    }
}

fn key_of(secret: &Secret, namespace: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let key = secret
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .map(|b| without_trailing_newline(b.0.clone()))
        .unwrap_or_default();
    if key.len() < MIN_KEY_LEN {
        bail!(
            "the fingerprint key Secret {namespace}/{name} has no `{DATA_KEY}` of at least {MIN_KEY_LEN} bytes; \
             delete it to have one created, or store a random key there"
        );
    }
    Ok(key)
}

/// A stored key without the line break `echo` or an editor leaves — unless what remains is too short: then the break
/// is part of the key. Earlier versions stored 32 raw random bytes, and one key in 128 ends in `\n` or `\r`; cutting
/// it refused the operator's own key at the next start (and would change every fingerprint).
fn without_trailing_newline(mut key: Vec<u8>) -> Vec<u8> {
    let kept = key.len() - key.iter().rev().take_while(|b| **b == b'\n' || **b == b'\r').count();
    if kept >= MIN_KEY_LEN {
        key.truncate(kept);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_with(key: &[u8]) -> Secret {
        Secret {
            data: Some(BTreeMap::from([(DATA_KEY.to_string(), ByteString(key.to_vec()))])),
            ..Secret::default()
        }
    }

    #[test]
    fn a_raw_key_ending_in_a_line_break_is_kept_whole() {
        // What earlier versions generated one time in 128: cutting it left 31 bytes and the operator refused to start.
        let mut raw = vec![7u8; 31];
        raw.push(b'\n');
        assert_eq!(key_of(&secret_with(&raw), "ns", "k").unwrap(), raw);
        raw[31] = b'\r';
        assert_eq!(key_of(&secret_with(&raw), "ns", "k").unwrap(), raw);
    }

    #[test]
    fn an_admins_trailing_newline_is_not_part_of_the_key() {
        let text = b"0123456789abcdef0123456789abcdef\n";
        assert_eq!(key_of(&secret_with(text), "ns", "k").unwrap(), text[..32].to_vec());
    }

    #[test]
    fn too_short_keys_are_refused() {
        assert!(key_of(&secret_with(b"short\n"), "ns", "k").is_err());
        assert!(key_of(&Secret::default(), "ns", "k").is_err());
    }
}
