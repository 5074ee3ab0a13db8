//! Gate order, without a client: each test makes two or more gates hold at once and checks which one speaks.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::providers::edna::EdnaProvider;
use crate::providers::envelope::EnvelopeProvider;
use crate::providers::mail::MailProvider;
use crate::providers::{ProviderOptions, SecretValue};

/// In-memory Secrets, breaker and claim owner.
#[derive(Default)]
struct Fake {
    secrets: HashMap<String, SecretValues>,
    rejected: Option<String>,
    owner: Option<(String, String)>,
    policy: EndpointPolicy,
}

impl Fake {
    fn with_secret(mut self, name: &str, pairs: &[(&str, &str)]) -> Self {
        let values = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect();
        self.secrets.insert(name.into(), values);
        self
    }
}

impl SecretSource for Fake {
    async fn secret(&self, name: &str) -> Result<Option<SecretValues>, kube::Error> {
        Ok(self.secrets.get(name).cloned())
    }
}

impl Gatekeeper for Fake {
    async fn credentials(&self, name: &str) -> Result<Option<(SecretValues, String)>, kube::Error> {
        Ok(self.secrets.get(name).cloned().map(|v| (v, "7".to_string())))
    }
    fn rejected(&self, _secret_key: &str, _version: &str) -> Option<String> {
        self.rejected.clone()
    }
    fn owner(&self, _me: &Claimant, _account: &str) -> Option<(String, String)> {
        self.owner.clone()
    }
    fn endpoints(&self) -> &EndpointPolicy {
        &self.policy
    }
}

fn options() -> ProviderOptions {
    crate::providers::test_options()
}

fn object(spec: serde_json::Value) -> CallbackRegistration {
    let mut obj = CallbackRegistration::new("r", serde_json::from_value(spec).unwrap());
    obj.metadata.namespace = Some("shop".into());
    obj
}

fn mail(extra: serde_json::Value) -> CallbackRegistration {
    let mut spec = json!({
        "credentialsRef": {"name": "creds"},
        "mail": {"url": "https://r.example/m", "events": {"emailStatus": ["delivered"]}},
    });
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    object(spec)
}

async fn mail_gate(obj: &CallbackRegistration, fake: &Fake) -> Result<Admitted<MailProvider>, Blocked> {
    let provider = MailProvider::new(&options());
    let block = MailProvider::block(&obj.spec).unwrap();
    admit(&provider, block, obj, fake).await.unwrap()
}

fn blocked<T>(result: Result<T, Blocked>) -> (BlockClass, Reason) {
    match result {
        Ok(_) => panic!("expected a gate to hold"),
        Err(b) => (b.class, b.reason),
    }
}

#[tokio::test]
async fn suspend_holds_before_anything_is_read() {
    let fake = Fake {
        rejected: Some("rejected".into()),
        ..Fake::default()
    };
    let obj = mail(json!({"suspend": true}));
    assert_eq!(
        blocked(mail_gate(&obj, &fake).await),
        (BlockClass::Suspended, Reason::Suspended)
    );
}

#[tokio::test]
async fn an_invalid_spec_stalls_before_the_credentials_are_looked_at() {
    let provider = EdnaProvider::new(&options());
    let obj = object(json!({"credentialsRef": {"name": "missing"}, "edna": {"subjectId": 1, "subject": "x"}}));
    let block = EdnaProvider::block(&obj.spec).unwrap();
    let result = admit(&provider, block, &obj, &Fake::default()).await.unwrap();
    assert_eq!(blocked(result), (BlockClass::Stalled, Reason::InvalidSpec));
}

#[tokio::test]
async fn a_missing_referenced_secret_waits_before_missing_credentials() {
    let provider = EnvelopeProvider::new(&options());
    let obj = object(json!({
        "credentialsRef": {"name": "missing"},
        "envelope": {
            "mailbox": "6f1c1e1e-0000-4000-8000-0000000000e1", "url": "https://r.example/e",
            "retries": 1, "timeoutMs": 1000, "basicAuthSecretRef": {"name": "basic"}
        },
    }));
    let block = EnvelopeProvider::block(&obj.spec).unwrap();
    let result = admit(&provider, block, &obj, &Fake::default()).await.unwrap();
    assert_eq!(blocked(result), (BlockClass::Waiting, Reason::SecretNotFound));
}

#[tokio::test]
async fn missing_credentials_wait_and_carry_the_target() {
    let fake = Fake {
        rejected: Some("rejected".into()),
        ..Fake::default()
    };
    let err = mail_gate(&mail(json!({})), &fake).await.err().unwrap();
    assert_eq!(
        (err.class, err.reason),
        (BlockClass::Waiting, Reason::CredentialsNotFound)
    );
    assert_eq!(err.target.as_deref(), Some("https://r.example/m"));
    assert!(err.message.contains("shop/creds"), "{}", err.message);
}

#[tokio::test]
async fn incomplete_credentials_and_a_disallowed_endpoint_stall_before_the_breaker() {
    let fake = Fake {
        rejected: Some("rejected".into()),
        ..Fake::default()
    }
    .with_secret("creds", &[("token", "wrong key name")]);
    assert_eq!(
        blocked(mail_gate(&mail(json!({})), &fake).await),
        (BlockClass::Stalled, Reason::CredentialsIncomplete)
    );
    let fake = Fake {
        rejected: Some("rejected".into()),
        ..Fake::default()
    }
    .with_secret("creds", &[("apiKey", "k"), ("endpoint", "https://elsewhere.example")]);
    assert_eq!(
        blocked(mail_gate(&mail(json!({})), &fake).await),
        (BlockClass::Stalled, Reason::EndpointNotAllowed)
    );
}

#[tokio::test]
async fn a_tripped_breaker_stalls_before_ownership_is_judged() {
    let fake = Fake {
        rejected: Some("mail rejected the key".into()),
        owner: Some(("shop/older".into(), "mail url https://r.example/m".into())),
        ..Fake::default()
    }
    .with_secret("creds", &[("apiKey", "k")]);
    let err = mail_gate(&mail(json!({})), &fake).await.err().unwrap();
    assert_eq!(
        (err.class, err.reason),
        (BlockClass::Stalled, Reason::InvalidCredentials)
    );
    assert!(
        err.message.contains("not retried until Secret shop/creds changes"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn an_older_owner_stalls_the_younger_with_a_message_naming_it() {
    let fake = Fake {
        owner: Some(("shop/older".into(), "mail url https://r.example/m".into())),
        ..Fake::default()
    }
    .with_secret("creds", &[("apiKey", "k")]);
    let err = mail_gate(&mail(json!({})), &fake).await.err().unwrap();
    assert_eq!((err.class, err.reason), (BlockClass::Stalled, Reason::Conflict));
    assert!(err.message.contains("owned by shop/older"), "{}", err.message);
}

#[tokio::test]
async fn a_clear_path_admits_with_the_account_and_the_secret_version() {
    let fake = Fake::default().with_secret("creds", &[("apiKey", "k")]);
    let Ok(admitted) = mail_gate(&mail(json!({})), &fake).await else {
        panic!("every gate should pass")
    };
    assert_eq!(admitted.account.endpoint, MailProvider::ENDPOINTS.default);
    assert_eq!(
        (admitted.secret_key.as_str(), admitted.secret_version.as_str()),
        ("shop/creds", "7")
    );
    assert_eq!(admitted.target, "https://r.example/m");
}
