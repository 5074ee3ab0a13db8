//! The DocStudio client against the envelope simulator over real HTTP (in process): the login flow, the answers
//! that decide error classes, lost `add` answers, removal. The end-to-end behaviour is in `tests/e2e_envelope.rs`.

use std::sync::Arc;
use std::time::Duration;

use provider_simulators::Fault;
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSim, EnvelopeSimulator, User};
use serde_json::json;

use super::*;
use crate::api::EnvelopeSpec;
use crate::providers::{ErrorClass, SecretValue};
use desired::BasicAuth;

const TOKEN: &str = "app-token-for-client-tests";
const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-00000000c0de";
const OTHER_MAILBOX: &str = "6f1c1e1e-0000-4000-8000-00000000beef";
const LOGIN: &str = "ops@example.com";
const PASSWORD: &str = "login-password-7f3a";

async fn simulator() -> EnvelopeSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    EnvelopeSimulator::start(EnvelopeConfig {
        tokens: vec![(TOKEN.into(), vec![MAILBOX.into()])],
        users: vec![User {
            login: LOGIN.into(),
            password: PASSWORD.into(),
            mailboxes: vec![MAILBOX.into()],
        }],
        ..EnvelopeConfig::default()
    })
    .await
    .expect("starting the envelope simulator")
}

fn provider() -> EnvelopeProvider {
    EnvelopeProvider::new(&crate::providers::test_options())
}

fn token_account(sim: &EnvelopeSim) -> Account<EnvelopeCredentials> {
    Account {
        endpoint: sim.base_url().to_string(),
        credentials: EnvelopeCredentials::Token(SecretValue::new(TOKEN)),
    }
}

fn login_account(sim: &EnvelopeSim, password: &str) -> Account<EnvelopeCredentials> {
    Account {
        endpoint: sim.base_url().to_string(),
        credentials: EnvelopeCredentials::Login {
            login: SecretValue::new(LOGIN),
            password: SecretValue::new(password),
        },
    }
}

fn desired(url: &str) -> EnvelopeDesired {
    let spec = EnvelopeSpec {
        mailbox: MAILBOX.into(),
        url: url.into(),
        retries: 2,
        timeout_ms: 1500,
        success_code: None,
        basic_auth_secret_ref: None,
        filter: None,
    };
    EnvelopeDesired::from_spec(&spec, None).unwrap()
}

async fn sync(
    provider: &EnvelopeProvider,
    account: &Account<EnvelopeCredentials>,
    desired: &EnvelopeDesired,
) -> Result<SyncOutcome, ProviderError> {
    provider.sync(account, desired, "hash", Recorded::default()).await
}

/// A sync of the callback for `url` that must succeed.
async fn synced(provider: &EnvelopeProvider, account: &Account<EnvelopeCredentials>, url: &str) -> SyncOutcome {
    sync(provider, account, &desired(url)).await.expect("sync succeeds")
}

fn unauthorized() -> Fault {
    Fault::Status {
        status: 401,
        body: json!({"code": 401, "message": "token expired"}),
    }
}

#[tokio::test]
async fn many_registrations_with_one_login_credential_share_one_login() {
    let sim = simulator().await;
    let provider = Arc::new(provider());
    let account = login_account(&sim, PASSWORD);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (provider, account) = (provider.clone(), account.clone());
            tokio::spawn(async move { sync(&provider, &account, &desired(&format!("https://r.example/{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("sync succeeds");
    }
    assert_eq!(sim.login_count(), 1);
    assert_eq!(sim.callbacks(MAILBOX).len(), 20);
}

#[tokio::test]
async fn an_expired_login_token_is_renewed_with_one_login() {
    let sim = simulator().await;
    let provider = provider();
    let account = login_account(&sim, PASSWORD);
    synced(&provider, &account, "https://r.example/a").await;
    sim.advance_clock(Duration::from_secs(12 * 3600 + 1));
    synced(&provider, &account, "https://r.example/a").await;
    synced(&provider, &account, "https://r.example/b").await;
    assert_eq!(sim.login_count(), 2);
}

#[tokio::test]
async fn one_401_causes_exactly_one_new_login_and_the_call_succeeds() {
    let sim = simulator().await;
    let provider = provider();
    let account = login_account(&sim, PASSWORD);
    synced(&provider, &account, "https://r.example/a").await;
    sim.inject_for("callback/list", unauthorized(), 1);
    synced(&provider, &account, "https://r.example/a").await;
    assert_eq!(sim.login_count(), 2);
}

#[tokio::test]
async fn a_second_401_after_the_new_login_means_invalid_credentials() {
    let sim = simulator().await;
    let provider = provider();
    let account = login_account(&sim, PASSWORD);
    sim.inject_for("callback/list", unauthorized(), 2);
    let err = sync(&provider, &account, &desired("https://r.example/a"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Credentials, "{err:?}");
    assert_eq!(sim.login_count(), 2, "the first login, then exactly one more");
    assert_eq!(sim.count("callback/list"), 2);
}

#[tokio::test]
async fn a_wrong_password_is_invalid_credentials_and_never_printed() {
    let sim = simulator().await;
    let provider = provider();
    let account = login_account(&sim, "wrong-password-91c2");
    let err = sync(&provider, &account, &desired("https://r.example/a"))
        .await
        .unwrap_err();
    assert_eq!(err.reason().as_str(), "InvalidCredentials");
    assert!(!err.to_string().contains("wrong-password-91c2") && !err.to_string().contains(LOGIN));
    // Remembered: an immediate retry does not hammer the login (account lockout).
    let _ = sync(&provider, &account, &desired("https://r.example/a")).await;
    assert_eq!(sim.count("login"), 1);
    assert_eq!(sim.count("callback/list"), 0);
}

#[tokio::test]
async fn a_refused_application_token_is_invalid_credentials_without_a_login() {
    let sim = simulator().await;
    let account = Account {
        endpoint: sim.base_url().to_string(),
        credentials: EnvelopeCredentials::Token(SecretValue::new("not-a-token")),
    };
    let err = sync(&provider(), &account, &desired("https://r.example/a"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Credentials);
    assert_eq!(sim.count("login"), 0);
    assert_eq!(sim.count("callback/list"), 1);
}

#[tokio::test]
async fn a_mailbox_the_credentials_cannot_manage_stalls_only_this_object() {
    let sim = simulator().await;
    let mut d = desired("https://r.example/a");
    d.mailbox = OTHER_MAILBOX.into();
    let err = sync(&provider(), &token_account(&sim), &d).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.reason().as_str(), "MailboxForbidden");
}

#[tokio::test]
async fn a_lost_add_answer_is_transient_and_the_next_sync_adopts_instead_of_adding() {
    let sim = simulator().await;
    let provider = provider();
    let account = token_account(&sim);
    let d = desired("https://r.example/a");
    sim.inject_for("callback/add", Fault::CrashAfterAdd, 1);
    let err = sync(&provider, &account, &d).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err:?}");
    assert_eq!(sim.callbacks(MAILBOX).len(), 1, "the add happened");

    let outcome = sync(&provider, &account, &d).await.expect("sync succeeds");
    let held = sim.callbacks(MAILBOX);
    assert_eq!(held.len(), 1);
    assert_eq!(outcome.registration.id, Some(held[0].id.to_string()));
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].reason, EventReason::Adopted);
    assert_eq!(sim.count("callback/add"), 1);
}

#[tokio::test]
async fn transient_answers_are_transient() {
    let sim = simulator().await;
    let provider = provider();
    let d = desired("https://r.example/a");
    sim.inject_for("callback/list", Fault::status(503), 1);
    assert_eq!(
        sync(&provider, &token_account(&sim), &d).await.unwrap_err().class(),
        ErrorClass::Transient
    );
    sim.inject_for("callback/list", Fault::RateLimited { retry_after_secs: 7 }, 1);
    let err = sync(&provider, &token_account(&sim), &d).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn removing_a_callback_already_gone_succeeds_whether_404_or_410() {
    let sim = simulator().await;
    let provider = provider();
    let account = token_account(&sim);
    let d = desired("https://r.example/a");
    let outcome = sync(&provider, &account, &d).await.expect("sync succeeds");
    let registration = outcome.registration;
    let id: uuid::Uuid = registration.id.as_deref().unwrap().parse().unwrap();
    assert!(sim.remove_callback(MAILBOX, id));
    for answer in [404, 410] {
        sim.set_removed_answer(answer);
        let removal = provider.remove(&account, Some(&registration), None).await.unwrap();
        assert_eq!(
            removal,
            Removal::Removed(Vec::new()),
            "HTTP {answer} means already gone"
        );
    }
}

#[tokio::test]
async fn removal_without_a_recorded_id_finds_the_callback_by_url() {
    let sim = simulator().await;
    let provider = provider();
    let account = token_account(&sim);
    let d = desired("https://r.example/a");
    let keep = desired("https://r.example/other");
    sync(&provider, &account, &d).await.expect("sync succeeds");
    sync(&provider, &account, &keep).await.unwrap();
    let Removal::Removed(changes) = provider.remove(&account, None, Some(&d)).await.unwrap() else {
        panic!("envelope can always remove")
    };
    assert_eq!(changes.len(), 1);
    let left = sim.callbacks(MAILBOX);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].url, "https://r.example/other");
}

#[tokio::test]
async fn a_rotated_basic_auth_password_replaces_the_callback() {
    let sim = simulator().await;
    let provider = provider();
    let account = token_account(&sim);
    let with_password = |password: &str| EnvelopeDesired {
        basic_auth: Some(BasicAuth {
            username: SecretValue::new("hook-user"),
            password: SecretValue::new(password),
        }),
        ..desired("https://r.example/a")
    };
    let first = sync(&provider, &account, &with_password("pw-one")).await.unwrap();
    let recorded = first.recorded("hash-one");
    let same = provider
        .sync(&account, &with_password("pw-one"), "hash-one", recorded)
        .await
        .unwrap();
    assert!(same.changes.is_empty(), "{:?}", same.changes);
    let rotated = provider
        .sync(&account, &with_password("pw-two"), "hash-two", recorded)
        .await
        .unwrap();
    assert_eq!(rotated.changes[0].reason, EventReason::Updated);
    assert!(!rotated.changes[0].message.contains("pw-two"));
    let held = sim.callbacks(MAILBOX);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].password.as_deref(), Some("pw-two"));
    assert_ne!(Some(held[0].id.to_string()), first.registration.id);
}

#[tokio::test]
async fn a_new_callback_is_one_list_and_one_add_and_its_resync_only_lists_and_writes_no_status() {
    let sim = simulator().await;
    let (provider, account) = (provider(), token_account(&sim));
    let d = desired("https://r.example/new");
    let first = sync(&provider, &account, &d).await.expect("sync succeeds");
    assert_eq!((sim.count("callback/list"), sim.count("callback/add")), (1, 1));
    assert_eq!(first.observed_hash, None, "not listed since the add");

    // The resync: the id the add returned is trusted (DocStudio has no update), nothing written, and nothing new to
    // record in status either.
    sim.clear_requests();
    let recorded = first.recorded("hash");
    let again = provider.sync(&account, &d, "hash", recorded).await.expect("sync succeeds");
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!((sim.count("callback/list"), sim.count("callback/add")), (1, 0));
    assert_eq!(again.registration, first.registration);
    assert_eq!(again.observed_hash, None);
}
