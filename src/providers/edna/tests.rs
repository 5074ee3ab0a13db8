//! edna's wiring without IO (messages), and the client against the edna simulator over real HTTP.
use super::*;

#[test]
fn the_removal_note_names_every_url_that_stays_and_the_channel() {
    let r = Registration {
        urls: vec!["https://a/s".into(), "https://a/i".into()],
        subject_id: Some(42),
        ..Registration::default()
    };
    let note = removal_note("https://app.edna.io", Some(&r), None);
    assert!(
        note.contains("https://a/s, https://a/i") && note.contains("subjectId 42") && note.contains("no delete"),
        "{note}"
    );
    let tenant = Registration {
        urls: vec!["https://a/s".into()],
        ..Registration::default()
    };
    assert!(removal_note("e", Some(&tenant), None).contains("every channel of the tenant"));
}

#[test]
fn the_change_message_says_which_fields_were_set_where() {
    let d = EdnaDesired::from_spec(&crate::api::EdnaSpec {
        subject_id: None,
        subject: Some("shop_wa".into()),
        status_callback_url: Some("https://a/s".into()),
        in_message_callback_url: None,
        message_matcher_callback_url: None,
    })
    .unwrap();
    assert_eq!(
        change_message(EventReason::Created, &d, Some(1001)),
        "set statusCallbackUrl=https://a/s for subjectId 1001 at edna Pulse"
    );
    assert!(change_message(EventReason::Reasserted, &d, None).starts_with("re-asserted"));
}

mod against_the_simulator {
    use provider_simulators::Fault;
    use provider_simulators::edna::{Channel, EdnaConfig, EdnaSim, EdnaSimulator};

    use super::super::*;
    use crate::api::Reason;
    use crate::providers::{ErrorClass, SecretValue};

    const KEY: &str = "edna-key-for-client-tests";

    async fn simulator() -> EdnaSim {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = EdnaSimulator::start(EdnaConfig {
            keys: vec![KEY.into()],
            channels: vec![
                (KEY.into(), Channel::active(1, "Shop", "shop_wa", 1001, "WHATSAPP")),
                (KEY.into(), Channel::pending(2, "Late", "late_wa", "WHATSAPP")),
            ],
            ..EdnaConfig::default()
        })
        .await
        .expect("starting the edna simulator");
        // edna HEADs every URL before answering; these tests are about the client, not a receiver.
        sim.set_url_check(false);
        sim
    }

    fn provider() -> EdnaProvider {
        EdnaProvider::new(&crate::providers::test_options())
    }

    fn account(sim: &EdnaSim, key: &str) -> Account<ApiKey> {
        Account {
            endpoint: sim.base_url().to_string(),
            credentials: ApiKey(SecretValue::new(key)),
        }
    }

    fn desired(subject: Option<&str>, status_url: &str) -> EdnaDesired {
        EdnaDesired::from_spec(&EdnaSpec {
            subject_id: None,
            subject: subject.map(str::to_string),
            status_callback_url: Some(status_url.into()),
            in_message_callback_url: None,
            message_matcher_callback_url: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_subject_is_resolved_and_the_url_set_once_then_nothing_until_it_changes() {
        let sim = simulator().await;
        let (provider, account) = (provider(), account(&sim, KEY));
        let d = desired(Some("shop_wa"), "https://r.example/status");
        let first = provider.sync(&account, &d, "h1", Recorded::default()).await.unwrap();
        assert_eq!(first.changes[0].reason, EventReason::Created);
        assert_eq!(first.registration.subject_id, Some(1001));
        let held = sim.callback_urls(KEY, Some(1001)).expect("set for the channel");
        assert_eq!(held.status_callback_url.as_deref(), Some("https://r.example/status"));

        sim.clear_requests();
        // As the controller records it: written just now.
        let written = Registration {
            last_synced_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now())),
            ..first.registration.clone()
        };
        let recorded = Recorded {
            registration: Some(&written),
            applied_hash: Some("h1"),
            ..Recorded::default()
        };
        let again = provider.sync(&account, &d, "h1", recorded).await.unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(sim.requests().len(), 0, "edna cannot be read: an unchanged object makes no call");

        let changed = provider.sync(&account, &d, "h2", recorded).await.unwrap();
        assert_eq!(changed.changes[0].reason, EventReason::Updated);
        assert_eq!(sim.count("callback/set"), 1);
    }

    #[tokio::test]
    async fn a_pending_channel_is_retried_and_an_unknown_subject_stalls() {
        let sim = simulator().await;
        let (provider, account) = (provider(), account(&sim, KEY));
        let err = provider
            .sync(&account, &desired(Some("late_wa"), "https://r.example/s"), "h", Recorded::default())
            .await
            .unwrap_err();
        assert_eq!((err.reason(), err.class()), (Reason::ChannelNotActive, ErrorClass::Transient));
        let err = provider
            .sync(&account, &desired(Some("nobody"), "https://r.example/s"), "h", Recorded::default())
            .await
            .unwrap_err();
        assert_eq!((err.reason(), err.class()), (Reason::SubjectNotFound, ErrorClass::Permanent));
    }

    #[tokio::test]
    async fn answers_become_error_classes_without_the_key() {
        let sim = simulator().await;
        let provider = provider();
        let d = desired(None, "https://r.example/tenant");
        let err = provider
            .sync(&account(&sim, "not-a-valid-key"), &d, "h", Recorded::default())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Credentials);
        assert!(!err.to_string().contains("not-a-valid-key"), "{err}");

        let account = account(&sim, KEY);
        sim.inject_for("callback/set", Fault::status(502), 1);
        let err = provider.sync(&account, &d, "h", Recorded::default()).await.unwrap_err();
        assert_eq!((err.reason(), err.class()), (Reason::ProviderUnavailable, ErrorClass::Transient));

        let ok = provider.sync(&account, &d, "h", Recorded::default()).await.unwrap();
        assert_eq!(ok.registration.subject_id, None, "no subject: the whole tenant");
    }

    #[tokio::test]
    async fn removal_calls_nothing_and_names_what_stays() {
        let sim = simulator().await;
        let (provider, account) = (provider(), account(&sim, KEY));
        let d = desired(Some("shop_wa"), "https://r.example/kept");
        let outcome = provider.sync(&account, &d, "h", Recorded::default()).await.unwrap();
        sim.clear_requests();
        let removal = provider
            .remove(&account, Some(&outcome.registration), Some(&d))
            .await
            .unwrap();
        let Removal::Unsupported(note) = removal else {
            panic!("edna cannot delete")
        };
        assert!(note.contains("https://r.example/kept") && note.contains("subjectId 1001"), "{note}");
        assert!(sim.requests().is_empty());
    }
}
