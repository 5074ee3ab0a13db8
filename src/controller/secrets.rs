//! Reading Secrets at reconcile time: values are fetched when needed, and served again only while the Secret watch
//! reports them unchanged (`secret_cache.rs`).
//!
//! With `--secret-label-selector` (the label opt-in mode, the convention Flux uses for the Secrets it watches)
//! the operator asks the apiserver only for labelled Secrets: data is read through a list carrying the label
//! selector (and a field selector on the name), never a plain get, so an unlabelled Secret's data is never sent to
//! the operator. Whether a Secret exists without the labels is asked through a metadata-only list (no data). A user
//! who may create registrations but not read (or label) Secrets cannot have an arbitrary Secret sent to a provider.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;

use super::secret_cache::SecretCache;
use crate::providers::{SecretSource, SecretValue, SecretValues};

/// The labels a Secret must carry to be read (`key=value` or `key`, all must match).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSelector {
    terms: Vec<(String, Option<String>)>,
    text: String,
}

impl SecretSelector {
    /// `None` for an empty selector (every Secret may be read).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (key, value) = match term.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_start_matches('='))),
                None => (term, None),
            };
            let valid = |s: &str| {
                !s.is_empty()
                    && s.len() <= 316
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            };
            if !valid(key) || value.is_some_and(|v| !v.is_empty() && !valid(v)) || key.contains('!') {
                return Err(format!(
                    "--secret-label-selector term {term:?} is not `key=value` or `key` (set-based selectors are \
                     not supported)"
                ));
            }
            terms.push((key.to_string(), value.map(str::to_string)));
        }
        if terms.is_empty() {
            return Ok(None);
        }
        let text = terms
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(Some(SecretSelector { terms, text }))
    }

    /// The selector as the apiserver takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|(key, value)| match (labels.get(key), value) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        })
    }
}

/// Reads Secrets of one namespace.
pub struct NamespaceSecrets {
    api: Api<Secret>,
    namespace: String,
    selector: Option<SecretSelector>,
    cache: Option<Arc<SecretCache>>,
}

impl NamespaceSecrets {
    pub fn new(client: kube::Client, namespace: &str, selector: Option<&SecretSelector>) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            selector: selector.cloned(),
            cache: None,
        }
    }

    /// Reads through `cache` (kept current by the Secret watch).
    pub fn cached(self, cache: Arc<SecretCache>) -> Self {
        Self {
            cache: Some(cache),
            ..self
        }
    }

    /// The Secret's values and resourceVersion, or `None` when it does not exist (or, in label mode, is not
    /// labelled).
    pub async fn read(&self, name: &str) -> Result<Option<(SecretValues, String)>, kube::Error> {
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(&self.namespace, name)) {
            return Ok(Some(hit));
        }
        let secret = match &self.selector {
            None => self.api.get_opt(name).await?,
            Some(selector) => {
                let params = ListParams::default()
                    .labels(selector.as_str())
                    .fields(&format!("metadata.name={name}"));
                self.api.list(&params).await?.items.into_iter().next()
            }
        };
        Ok(secret.map(|secret| {
            let version = secret.metadata.resource_version.clone().unwrap_or_default();
            let values = values(secret);
            if let Some(cache) = &self.cache {
                cache.put(&self.namespace, name, &values, &version);
            }
            (values, version)
        }))
    }

    /// In label mode: why `name` may not be read when it exists without the labels (asked through a
    /// metadata-only list: no data is requested). `None` when it may be read or does not exist.
    pub async fn unlabelled(&self, name: &str) -> Result<Option<String>, kube::Error> {
        let Some(selector) = &self.selector else {
            return Ok(None);
        };
        // The watch sees only labelled Secrets in this mode: one it reports carries the labels.
        if self.cache.as_ref().is_some_and(|c| c.exists(&self.namespace, name)) {
            return Ok(None);
        }
        let params = ListParams::default().fields(&format!("metadata.name={name}"));
        let found = self.api.list_metadata(&params).await?.items.into_iter().next();
        Ok(found
            .filter(|meta| !selector.matches(meta.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())))
            .map(|_| {
                format!(
                    "Secret {}/{name} does not carry the label(s) {} that the operator requires \
                     (--secret-label-selector); it was not read. Whoever owns the Secret can add the label",
                    self.namespace,
                    selector.as_str()
                )
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

#[cfg(test)]
mod tests;
