//! Login tokens, cached per credential and shared by every registration using it.
//!
//! DocStudio's `POST /api/login` token lives 12 hours and has no refresh. One async lock per credential makes a
//! hundred registrations reconciling at once cause one login; the token is renewed an hour before it expires
//! (by this process's clock); a token the provider refuses earlier is dropped once, so the next call logs in again.
//! A refused login is remembered for a minute: repeating a wrong password in a loop can lock the account.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::providers::account::non_empty;
use crate::providers::{Credentials, ProviderError, SecretValue, SecretValues};

/// DocStudio credentials: an application token, or a login and password exchanged for a 12-hour token.
#[derive(Clone, Debug)]
pub enum EnvelopeCredentials {
    Token(SecretValue),
    Login { login: SecretValue, password: SecretValue },
}

impl Credentials for EnvelopeCredentials {
    /// `token` wins when both forms are present.
    fn from_secret(secret_name: &str, values: &SecretValues) -> Result<Self, String> {
        match (
            non_empty(values, "token"),
            non_empty(values, "login"),
            non_empty(values, "password"),
        ) {
            (Some(token), _, _) => Ok(EnvelopeCredentials::Token(token)),
            (None, Some(login), Some(password)) => Ok(EnvelopeCredentials::Login { login, password }),
            _ => Err(format!("Secret {secret_name} needs token, or login and password")),
        }
    }

    fn identity(&self) -> &SecretValue {
        match self {
            EnvelopeCredentials::Token(token) => token,
            EnvelopeCredentials::Login { login, .. } => login,
        }
    }

    fn secrets(&self) -> Vec<&SecretValue> {
        match self {
            EnvelopeCredentials::Token(token) => vec![token],
            EnvelopeCredentials::Login { login, password } => vec![login, password],
        }
    }
}

/// How long DocStudio's login token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Renew this long before the token expires.
pub const RENEW_BEFORE: Duration = Duration::from_secs(3600);
/// How long a refused login is answered from memory.
pub const REJECTION_MEMORY: Duration = Duration::from_secs(60);

/// The cache. Keys identify a credential without holding it (endpoint and salted fingerprints).
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

#[derive(Default)]
struct Slot {
    token: Option<Issued>,
    rejected: Option<(Instant, ProviderError)>,
}

struct Issued {
    token: SecretValue,
    at: Instant,
}

impl TokenCache {
    /// The cache key of a login credential at `endpoint`. A rotated password is a new key, so it logs in afresh.
    pub fn key(endpoint: &str, login: &SecretValue, password: &SecretValue) -> String {
        format!("{endpoint}#{}#{}", login.fingerprint(), password.fingerprint())
    }

    /// A valid token for `key`: the cached one, or the one `login` obtains. Concurrent callers for one key wait
    /// for a single login.
    pub async fn token<F, Fut>(&self, key: &str, login: F) -> Result<SecretValue, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SecretValue, ProviderError>>,
    {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        if let Some(issued) = slot
            .token
            .as_ref()
            .filter(|t| t.at.elapsed() < TOKEN_LIFETIME - RENEW_BEFORE)
        {
            return Ok(issued.token.clone());
        }
        if let Some((_, err)) = slot.rejected.as_ref().filter(|(at, _)| at.elapsed() < REJECTION_MEMORY) {
            return Err(err.clone());
        }
        match login().await {
            Ok(token) => {
                slot.token = Some(Issued {
                    token: token.clone(),
                    at: Instant::now(),
                });
                slot.rejected = None;
                Ok(token)
            }
            Err(err) => {
                slot.token = None;
                if matches!(err, ProviderError::InvalidCredentials { .. }) {
                    slot.rejected = Some((Instant::now(), err.clone()));
                }
                Err(err)
            }
        }
    }

    /// Drops `token` after the provider refused it (401), unless another caller already replaced it — so many
    /// registrations hitting one expired token cause one new login, not one each.
    pub async fn invalidate(&self, key: &str, token: &SecretValue) {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        if slot.token.as_ref().is_some_and(|t| t.token == *token) {
            slot.token = None;
        }
    }

    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        self.slots
            .lock()
            .expect("token cache lock")
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::api::Reason;

    async fn counting_login(counter: &AtomicU32) -> Result<SecretValue, ProviderError> {
        // Slow enough that concurrent callers really overlap.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(SecretValue::new(format!("token-{n}")))
    }

    #[tokio::test]
    async fn a_hundred_concurrent_callers_cause_one_login() {
        let cache = Arc::new(TokenCache::default());
        let logins = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (cache, logins) = (cache.clone(), logins.clone());
                tokio::spawn(async move { cache.token("k", || counting_login(&logins)).await.unwrap() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().expose(), "token-1");
        }
        assert_eq!(logins.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_is_renewed_before_the_twelve_hours_run_out() {
        let cache = TokenCache::default();
        let logins = AtomicU32::new(0);
        assert_eq!(
            cache.token("k", || counting_login(&logins)).await.unwrap().expose(),
            "token-1"
        );
        tokio::time::advance(TOKEN_LIFETIME - RENEW_BEFORE - Duration::from_secs(60)).await;
        assert_eq!(
            cache.token("k", || counting_login(&logins)).await.unwrap().expose(),
            "token-1"
        );
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(
            cache.token("k", || counting_login(&logins)).await.unwrap().expose(),
            "token-2"
        );
        assert_eq!(logins.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once_however_many_callers_report_it() {
        let cache = TokenCache::default();
        let logins = AtomicU32::new(0);
        let first = cache.token("k", || counting_login(&logins)).await.unwrap();
        cache.invalidate("k", &first).await;
        let second = cache.token("k", || counting_login(&logins)).await.unwrap();
        // A caller still holding the old token reports it late: the new token stays.
        cache.invalidate("k", &first).await;
        assert_eq!(cache.token("k", || counting_login(&logins)).await.unwrap(), second);
        assert_eq!(logins.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_login_is_not_repeated_for_a_minute() {
        let cache = TokenCache::default();
        let attempts = AtomicU32::new(0);
        let refuse = || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::InvalidCredentials {
                message: "refused".into(),
            })
        };
        assert!(cache.token("k", refuse).await.is_err());
        assert!(cache.token("k", refuse).await.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        tokio::time::advance(REJECTION_MEMORY).await;
        assert!(cache.token("k", refuse).await.is_err());
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_transient_login_failure_is_retried_at_once() {
        let cache = TokenCache::default();
        let logins = AtomicU32::new(0);
        let err = cache
            .token("k", || async {
                Err(ProviderError::transient(Reason::ProviderUnavailable, "503"))
            })
            .await;
        assert!(err.is_err());
        assert!(cache.token("k", || counting_login(&logins)).await.is_ok());
    }

    #[test]
    fn keys_hold_no_secret_and_change_with_the_password() {
        let login = SecretValue::new("ops@example.com");
        let a = TokenCache::key("https://api.docstudio.com", &login, &SecretValue::new("pw-one"));
        let b = TokenCache::key("https://api.docstudio.com", &login, &SecretValue::new("pw-two"));
        assert_ne!(a, b);
        assert!(!a.contains("ops@example.com") && !a.contains("pw-one"));
    }
}
