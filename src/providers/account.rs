//! Where and as whom a provider is called: the base URL and the credentials, built from the credentials Secret's
//! values. Each provider says which keys make its credentials (`Credentials`); the endpoint is checked against the
//! admin's allow-list here, the same way for every provider.

use std::collections::BTreeMap;

use super::endpoint::{EndpointNotAllowed, EndpointPolicy};
use super::{Provider, SecretValue};

/// A Secret's values by key.
pub type SecretValues = BTreeMap<String, SecretValue>;

/// A provider's credentials, read from the credentials Secret.
pub trait Credentials: Sized + Send + Sync {
    /// Builds the credentials from the Secret's values; `Err` is a message naming the keys that are missing.
    fn from_secret(secret_name: &str, values: &SecretValues) -> Result<Self, String>;

    /// The value that identifies the account (only its keyed fingerprint is ever shown).
    fn identity(&self) -> &SecretValue;

    /// Every secret value held, for redaction.
    fn secrets(&self) -> Vec<&SecretValue>;
}

/// An `apiKey` sent as a header (edna, mail).
#[derive(Clone, Debug)]
pub struct ApiKey(pub SecretValue);

impl Credentials for ApiKey {
    fn from_secret(secret_name: &str, values: &SecretValues) -> Result<Self, String> {
        non_empty(values, "apiKey")
            .map(ApiKey)
            .ok_or_else(|| format!("Secret {secret_name} has no apiKey"))
    }

    fn identity(&self) -> &SecretValue {
        &self.0
    }

    fn secrets(&self) -> Vec<&SecretValue> {
        vec![&self.0]
    }
}

/// The value of `key`, unless absent or blank.
pub fn non_empty(values: &SecretValues, key: &str) -> Option<SecretValue> {
    values.get(key).filter(|v| !v.expose().trim().is_empty()).cloned()
}

/// A provider account: base URL (without a trailing slash) and credentials.
#[derive(Clone, Debug)]
pub struct Account<C> {
    pub endpoint: String,
    pub credentials: C,
}

/// Why the credentials Secret cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountError {
    /// A required key is absent or empty.
    Incomplete(String),
    EndpointNotAllowed(EndpointNotAllowed),
}

impl<C: Credentials> Account<C> {
    /// The account of provider `P` described by a credentials Secret's values: its credentials, and its
    /// optional `endpoint`, checked against the admin's allow-list.
    pub fn from_secret<P: Provider<Credentials = C>>(
        secret_name: &str,
        values: &SecretValues,
        policy: &EndpointPolicy,
    ) -> Result<Self, AccountError> {
        let credentials = C::from_secret(secret_name, values)
            .map_err(|message| AccountError::Incomplete(format!("{message} (required for {})", P::NAME)))?;
        let endpoint = policy
            .resolve(P::NAME, &P::ENDPOINTS, values.get("endpoint").map(SecretValue::expose))
            .map_err(AccountError::EndpointNotAllowed)?;
        Ok(Account { endpoint, credentials })
    }

    /// "endpoint#fingerprint": identifies the account in status and in conflict checks without revealing the key.
    pub fn id(&self) -> String {
        format!("{}#{}", self.endpoint, self.credentials.identity().fingerprint())
    }

    /// Every secret value this account holds, for redaction.
    pub fn secrets(&self) -> Vec<&SecretValue> {
        self.credentials.secrets()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::envelope::{EnvelopeCredentials, EnvelopeProvider};
    use crate::providers::mail::MailProvider;

    fn values(pairs: &[(&str, &str)]) -> SecretValues {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect()
    }

    #[test]
    fn mail_needs_an_api_key() {
        let policy = EndpointPolicy::default();
        assert!(matches!(
            Account::from_secret::<MailProvider>("s", &values(&[]), &policy),
            Err(AccountError::Incomplete(_))
        ));
        let account = Account::from_secret::<MailProvider>("s", &values(&[("apiKey", "k")]), &policy).unwrap();
        assert_eq!(account.credentials.0.expose(), "k");
    }

    #[test]
    fn envelope_prefers_a_token_and_falls_back_to_login() {
        let policy = EndpointPolicy::default();
        let a = Account::from_secret::<EnvelopeProvider>(
            "s",
            &values(&[("token", "t"), ("login", "l"), ("password", "p")]),
            &policy,
        )
        .unwrap();
        assert!(matches!(a.credentials, EnvelopeCredentials::Token(_)));
        let b = Account::from_secret::<EnvelopeProvider>("s", &values(&[("login", "l"), ("password", "p")]), &policy)
            .unwrap();
        assert!(matches!(b.credentials, EnvelopeCredentials::Login { .. }));
        assert!(Account::from_secret::<EnvelopeProvider>("s", &values(&[("login", "l")]), &policy).is_err());
    }

    #[test]
    fn an_endpoint_outside_the_allow_list_is_refused_and_the_message_has_no_key() {
        let policy = EndpointPolicy::default();
        let err = Account::from_secret::<MailProvider>(
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
