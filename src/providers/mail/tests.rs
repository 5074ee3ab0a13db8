//! The Unisender Go client against the mail simulator over real HTTP (in process): create, no-op, drift, the
//! provider's stop, removal, and how answers become error classes. The end-to-end behaviour is in
//! `tests/e2e_mail_*.rs`.

use std::time::Duration;

use provider_simulators::Fault;
use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};
use serde_json::json;

use super::*;
use crate::api::{EmailStatus, MailEvents, Reason};
use crate::providers::{ErrorClass, SecretValue};

const KEY: &str = "mail-key-for-client-tests";
const WRONG_DC_KEY: &str = "mail-key-in-the-other-data-centre";

async fn simulator() -> MailSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = MailSimulator::start(MailConfig {
        keys: vec![KEY.into()],
        wrong_datacenter_keys: vec![WRONG_DC_KEY.into()],
        ..MailConfig::default()
    })
    .await
    .expect("starting the mail simulator");
    // The activation GET needs a receiver; these tests are about the client, not the receiver.
    sim.set_activation_check(false);
    sim
}

fn provider() -> MailProvider {
    MailProvider::new(&crate::providers::test_options())
}

fn account(sim: &MailSim, key: &str) -> Account<ApiKey> {
    Account {
        endpoint: sim.base_url().to_string(),
        credentials: ApiKey(SecretValue::new(key)),
    }
}

fn desired(url: &str) -> MailDesired {
    MailDesired::from_spec(&MailSpec {
        url: url.into(),
        status: None,
        event_format: None,
        delivery_info: None,
        single_event: None,
        max_parallel: Some(20),
        events: MailEvents {
            email_status: vec![EmailStatus::Delivered, EmailStatus::Spam],
            spam_block: None,
        },
    })
}

async fn sync(provider: &MailProvider, account: &Account<ApiKey>, desired: &MailDesired, recorded: Recorded<'_>) -> SyncOutcome {
    provider.sync(account, desired, "hash", recorded).await.expect("sync succeeds")
}

fn reasons(outcome: &SyncOutcome) -> Vec<EventReason> {
    outcome.changes.iter().map(|c| c.reason).collect()
}

#[tokio::test]
async fn a_new_webhook_is_created_and_a_second_pass_only_reads() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let d = desired("https://r.example/a");
    let first = sync(&provider, &account, &d, Recorded::default()).await;
    assert_eq!(reasons(&first), vec![EventReason::Created]);
    assert_eq!(sim.webhook(KEY, "https://r.example/a").unwrap().max_parallel, 20);
    // Never synced: one `set`, no read before it, none after it.
    assert_eq!((sim.count("webhook/get"), sim.count("webhook/set")), (0, 1));

    sim.clear_requests();
    let recorded = first.recorded("hash");
    let again = sync(&provider, &account, &d, recorded).await;
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!((sim.count("webhook/get"), sim.count("webhook/set")), (1, 0));
}

#[tokio::test]
async fn a_webhook_already_at_the_url_is_replaced_by_one_set_never_duplicated() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let d = desired("https://r.example/replace");
    let mut other = d.set_body();
    other["max_parallel"] = json!(50);
    sim.put_webhook(KEY, other).unwrap();
    let outcome = sync(&provider, &account, &d, Recorded::default()).await;
    assert_eq!(reasons(&outcome), vec![EventReason::Created]);
    assert_eq!((sim.count("webhook/get"), sim.count("webhook/set")), (0, 1));
    let held = sim.webhooks(KEY);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].max_parallel, 20);
}

#[tokio::test]
async fn a_webhook_recorded_by_observe_is_taken_over_without_a_write() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let d = desired("https://r.example/adopt");
    sim.put_webhook(KEY, d.set_body()).unwrap();
    // What `managementPolicy: Observe` leaves in status: the found webhook, nothing applied.
    let observed = provider.observe(&account, &d, "hash", Recorded::default()).await.unwrap();
    let found = observed.found.expect("Observe finds the webhook");
    let recorded = Recorded {
        registration: Some(&found),
        ..Recorded::default()
    };
    let outcome = sync(&provider, &account, &d, recorded).await;
    assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    assert_eq!((sim.count("webhook/get"), sim.count("webhook/set")), (2, 0), "Observe's read, then the sync's");
    assert_eq!(outcome.registration.urls, vec![d.url.clone()]);
}

#[tokio::test]
async fn a_change_at_the_provider_is_repaired_and_a_stopped_webhook_reactivated() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let d = desired("https://r.example/drift");
    let first = sync(&provider, &account, &d, Recorded::default()).await;
    let recorded = first.recorded("hash");
    let mut changed = d.set_body();
    changed["max_parallel"] = json!(50);
    sim.put_webhook(KEY, changed).unwrap();
    assert_eq!(
        reasons(&sync(&provider, &account, &d, recorded).await),
        vec![EventReason::DriftCorrected]
    );
    assert_eq!(sim.webhook(KEY, &d.url).unwrap().max_parallel, 20);

    assert!(sim.set_webhook_status(KEY, &d.url, "stopped"));
    let outcome = sync(&provider, &account, &d, recorded).await;
    assert_eq!(reasons(&outcome), vec![EventReason::Reactivated]);
    assert_eq!(outcome.repaired, Some(Reason::StoppedByProvider));
    assert_eq!(sim.webhook(KEY, &d.url).unwrap().status, "active");
}

#[tokio::test]
async fn a_url_change_sets_the_new_url_and_deletes_the_old_one() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let first = sync(&provider, &account, &desired("https://r.example/old"), Recorded::default()).await;
    let recorded = first.recorded("hash");
    let outcome = provider
        .sync(&account, &desired("https://r.example/new"), "changed", recorded)
        .await
        .unwrap();
    assert_eq!(reasons(&outcome), vec![EventReason::Created, EventReason::Deleted]);
    let urls: Vec<String> = sim.webhooks(KEY).into_iter().map(|w| w.url).collect();
    assert_eq!(urls, vec!["https://r.example/new".to_string()]);
}

#[tokio::test]
async fn removal_deletes_the_recorded_and_the_desired_url_and_tolerates_already_gone() {
    let sim = simulator().await;
    let (provider, account) = (provider(), account(&sim, KEY));
    let d = desired("https://r.example/gone");
    sync(&provider, &account, &d, Recorded::default()).await;
    // A status write lost after the set: nothing recorded, the desired URL still names the webhook.
    let removal = provider.remove(&account, None, Some(&d)).await.unwrap();
    assert!(matches!(&removal, Removal::Removed(changes) if changes.len() == 1));
    assert!(sim.webhooks(KEY).is_empty());
    let again = provider.remove(&account, None, Some(&d)).await.unwrap();
    assert_eq!(again, Removal::Removed(Vec::new()), "304 means already gone");
}

#[tokio::test]
async fn answers_become_error_classes() {
    let sim = simulator().await;
    let provider = provider();
    let d = desired("https://r.example/errors");

    let err = provider
        .sync(&account(&sim, WRONG_DC_KEY), &d, "hash", Recorded::default())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Credentials, "{err}");
    assert!(!err.to_string().contains(WRONG_DC_KEY));

    let account = account(&sim, KEY);
    sim.inject_for("webhook/set", Fault::status(503), 1);
    let err = provider.sync(&account, &d, "hash", Recorded::default()).await.unwrap_err();
    assert_eq!((err.reason(), err.class()), (Reason::ProviderUnavailable, ErrorClass::Transient));

    // A registration that synced before reads first: the read's answers are classed the same way.
    let registration = Registration {
        urls: vec![d.url.clone()],
        ..Registration::default()
    };
    let synced = Recorded {
        registration: Some(&registration),
        applied_hash: Some("hash"),
        ..Recorded::default()
    };
    sim.inject_for("webhook/get", Fault::RateLimited { retry_after_secs: 7 }, 1);
    let err = provider.sync(&account, &d, "hash", synced).await.unwrap_err();
    assert_eq!(err.reason(), Reason::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

    sim.inject_for(
        "webhook/set",
        Fault::Status {
            status: 400,
            body: json!({"status": "error", "code": 2707, "message": "max_parallel out of range"}),
        },
        1,
    );
    let err = provider.sync(&account, &d, "hash", Recorded::default()).await.unwrap_err();
    assert_eq!((err.reason(), err.class()), (Reason::ProviderRejected, ErrorClass::Permanent));
    assert!(err.to_string().contains("2707"), "{err}");
}
