//! Reading credentials at reconcile time: the Secret's values are fetched when needed and never cached.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::api::ProviderKind;
use crate::providers::endpoint::{EndpointNotAllowed, EndpointPolicy};
use crate::providers::{Account, Auth, SecretSource, SecretValue};

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
    pub async fn read(&self, name: &str) -> Result<Option<(BTreeMap<String, SecretValue>, String)>, kube::Error> {
        Ok(self.api.get_opt(name).await?.map(|secret| {
            let version = secret.metadata.resource_version.clone().unwrap_or_default();
            (values(secret), version)
        }))
    }
}

impl SecretSource for NamespaceSecrets {
    async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, SecretValue>>, kube::Error> {
        Ok(self.read(name).await?.map(|(values, _)| values))
    }
}

fn values(secret: Secret) -> BTreeMap<String, SecretValue> {
    let mut out: BTreeMap<String, SecretValue> = secret
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

/// Why the credentials Secret cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountError {
    /// A required key is absent or empty.
    Incomplete(String),
    EndpointNotAllowed(EndpointNotAllowed),
}

/// Builds the provider account from the Secret's values: `apiKey` for edna and mail; `token`, or `login` +
/// `password`, for envelope; optional `endpoint`, checked against the admin's allow-list.
pub fn account_from(
    provider: ProviderKind,
    secret_name: &str,
    values: &BTreeMap<String, SecretValue>,
    policy: &EndpointPolicy,
) -> Result<Account, AccountError> {
    let get = |key: &str| values.get(key).filter(|v| !v.expose().trim().is_empty()).cloned();
    let auth = match provider {
        ProviderKind::Edna | ProviderKind::Mail => Auth::ApiKey(get("apiKey").ok_or_else(|| {
            AccountError::Incomplete(format!(
                "Secret {secret_name} has no apiKey (required for {})",
                provider.as_str()
            ))
        })?),
        ProviderKind::Envelope => match (get("token"), get("login"), get("password")) {
            (Some(token), _, _) => Auth::Token(token),
            (None, Some(login), Some(password)) => Auth::Login { login, password },
            _ => {
                return Err(AccountError::Incomplete(format!(
                    "Secret {secret_name} needs token, or login and password (for envelope)"
                )));
            }
        },
    };
    let endpoint = policy
        .resolve(provider, values.get("endpoint").map(SecretValue::expose))
        .map_err(AccountError::EndpointNotAllowed)?;
    Ok(Account { endpoint, auth })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect()
    }

    #[test]
    fn mail_needs_an_api_key() {
        let policy = EndpointPolicy::default();
        assert!(matches!(
            account_from(ProviderKind::Mail, "s", &values(&[]), &policy),
            Err(AccountError::Incomplete(_))
        ));
        let account = account_from(ProviderKind::Mail, "s", &values(&[("apiKey", "k")]), &policy).unwrap();
        assert!(matches!(account.auth, Auth::ApiKey(_)));
    }

    #[test]
    fn envelope_prefers_a_token_and_falls_back_to_login() {
        let policy = EndpointPolicy::default();
        let a = account_from(
            ProviderKind::Envelope,
            "s",
            &values(&[("token", "t"), ("login", "l"), ("password", "p")]),
            &policy,
        )
        .unwrap();
        assert!(matches!(a.auth, Auth::Token(_)));
        let b = account_from(
            ProviderKind::Envelope,
            "s",
            &values(&[("login", "l"), ("password", "p")]),
            &policy,
        )
        .unwrap();
        assert!(matches!(b.auth, Auth::Login { .. }));
        assert!(account_from(ProviderKind::Envelope, "s", &values(&[("login", "l")]), &policy).is_err());
    }

    #[test]
    fn an_endpoint_outside_the_allow_list_is_refused_and_the_message_has_no_key() {
        let policy = EndpointPolicy::default();
        let err = account_from(
            ProviderKind::Mail,
            "s",
            &values(&[("apiKey", "sekrit"), ("endpoint", "http://10.1.2.3")]),
            &policy,
        )
        .unwrap_err();
        let AccountError::EndpointNotAllowed(e) = err else {
            panic!("expected EndpointNotAllowed")
        };
        assert!(!e.to_string().contains("sekrit"));
    }
}
