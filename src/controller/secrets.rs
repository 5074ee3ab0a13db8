//! Reading Secrets at reconcile time: values are fetched when needed and never cached.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::providers::{SecretSource, SecretValue, SecretValues};

/// Reads Secrets of one namespace.
pub struct NamespaceSecrets {
    api: Api<Secret>,
}

impl NamespaceSecrets {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
        }
    }

    /// The Secret's values and resourceVersion, or `None` when it does not exist.
    pub async fn read(&self, name: &str) -> Result<Option<(SecretValues, String)>, kube::Error> {
        Ok(self.api.get_opt(name).await?.map(|secret| {
            let version = secret.metadata.resource_version.clone().unwrap_or_default();
            (values(secret), version)
        }))
    }
}

impl SecretSource for NamespaceSecrets {
    async fn secret(&self, name: &str) -> Result<Option<SecretValues>, kube::Error> {
        Ok(self.read(name).await?.map(|(values, _)| values))
    }
}

fn values(secret: Secret) -> SecretValues {
    let mut out: SecretValues = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| {
            String::from_utf8(v.0)
                .ok()
                .map(|s| (k, SecretValue::new(s.trim_end_matches(['\n', '\r']).to_string())))
        })
        .collect();
    // stringData is write-only at the apiserver, but a Secret built in memory (tests) may carry it.
    for (k, v) in secret.string_data.unwrap_or_default() {
        out.insert(k, SecretValue::new(v));
    }
    out
}
