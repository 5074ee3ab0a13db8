//! The indexes fed with watch events built in memory.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

fn indexes() -> Indexes {
    Indexes::new(Providers::new(&crate::providers::test_options()))
}

fn object(name: &str, created: i64, spec: serde_json::Value) -> CallbackRegistration {
    let mut obj = CallbackRegistration::new(name, serde_json::from_value(spec).unwrap());
    obj.metadata.namespace = Some("shop".into());
    obj.metadata.uid = Some(format!("uid-{name}"));
    obj.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
    obj
}

fn webhook(name: &str, created: i64, url: &str) -> CallbackRegistration {
    object(
        name,
        created,
        json!({"credentialsRef": {"name": "creds"}, "mail": {"url": url, "events": {"emailStatus": ["spam"]}}}),
    )
}

#[test]
fn an_older_claimant_arriving_after_a_younger_one_wakes_the_younger() {
    let indexes = indexes();
    // The younger one synced: it holds the webhook at the provider, and must learn it is not the owner.
    let mut young = webhook("young", 5, "https://a/x");
    young.status = Some(serde_json::from_value(json!({"appliedHash": "h"})).unwrap());
    assert!(indexes.observe(&WatchEvent::Apply(young)).is_empty());
    let woken = indexes.observe(&WatchEvent::InitApply(webhook("old", 1, "https://a/x")));
    // The owner is woken too: the younger one synced on its identity (contested), it repairs what was written over.
    assert_eq!(
        woken,
        vec![
            ObjectRef::new("old").within("shop"),
            ObjectRef::new("young").within("shop")
        ]
    );
    let unrelated = indexes.observe(&WatchEvent::Apply(webhook("other", 0, "https://a/other")));
    assert!(unrelated.is_empty());
}

#[test]
fn secret_references_follow_the_spec_and_go_with_the_object() {
    let indexes = indexes();
    let with_basic_auth = object(
        "cb",
        1,
        json!({"credentialsRef": {"name": "creds"}, "envelope": {
            "mailbox": "6f1c1e1e-0000-4000-8000-0000000000e1", "url": "https://a/e", "retries": 1,
            "timeoutMs": 1000, "basicAuthSecretRef": {"name": "basic"}}}),
    );
    indexes.observe(&WatchEvent::Apply(with_basic_auth.clone()));
    assert_eq!(
        indexes.secrets.users_of("shop", "basic"),
        vec![ObjectRef::new("cb").within("shop")]
    );
    assert_eq!(indexes.secrets.users_of("shop", "creds").len(), 1);

    indexes.observe(&WatchEvent::Delete(with_basic_auth));
    assert!(indexes.secrets.users_of("shop", "basic").is_empty());
    assert!(
        indexes
            .claims
            .sharing(&["envelope 6f1c1e1e-0000-4000-8000-0000000000e1 https://a/e".into()])
            .is_empty()
    );
}

#[test]
fn the_owner_deleted_wakes_the_younger_claimant_after_leaving_the_index() {
    let indexes = indexes();
    let owner = webhook("owner", 1, "https://a/x");
    indexes.observe(&WatchEvent::Apply(owner.clone()));
    indexes.observe(&WatchEvent::Apply(webhook("young", 5, "https://a/x")));
    let woken = indexes.observe(&WatchEvent::Delete(owner));
    assert_eq!(woken, vec![ObjectRef::new("young").within("shop")]);
    // What the woken claimant's gate reads: the owner is gone before it is woken.
    let left = indexes.claims.sharing(&["mail url https://a/x".into()]);
    assert!(left.iter().all(|c| &*c.name == "young"), "{left:?}");
}

#[test]
fn in_a_shard_an_owner_moving_away_does_not_wake_the_claimant_it_kept_waiting() {
    let mut owner = webhook("owner", 1, "https://a/x");
    owner.metadata.finalizers = Some(vec![crate::api::FINALIZER.to_string()]);
    let waiting = webhook("waiting", 5, "https://a/x");
    for sharded in [false, true] {
        let indexes = indexes().sharded(sharded);
        indexes.observe(&WatchEvent::Apply(owner.clone()));
        indexes.observe(&WatchEvent::Apply(waiting.clone()));
        let woken = indexes.observe(&WatchEvent::Delete(owner.clone()));
        if sharded {
            assert!(
                woken.is_empty(),
                "moved to another shard: it still holds the identity there"
            );
        } else {
            assert_eq!(woken, vec![ObjectRef::new("waiting").within("shop")]);
        }
        assert_eq!(
            indexes.claims.len(),
            1,
            "either way the shard forgets the object that left it"
        );
    }
}

#[test]
fn in_a_shard_a_deleted_owner_still_wakes_the_next_claimant() {
    let mut owner = webhook("owner", 1, "https://a/x");
    owner.metadata.finalizers = Some(vec![crate::api::FINALIZER.to_string()]);
    owner.metadata.deletion_timestamp = Some(Time(Timestamp::from_second(9).unwrap()));
    let indexes = indexes().sharded(true);
    indexes.observe(&WatchEvent::Apply(owner.clone()));
    indexes.observe(&WatchEvent::Apply(webhook("waiting", 5, "https://a/x")));
    let mut gone = owner.clone();
    gone.metadata.finalizers = None;
    assert_eq!(
        indexes.observe(&WatchEvent::Delete(gone)),
        vec![ObjectRef::new("waiting").within("shop")]
    );
}

#[test]
fn an_owner_moving_to_another_url_keeps_claiming_the_old_one_until_its_status_drops_it() {
    // Soak seed 7: woken at the owner's spec change, the waiting claimant found the owner's webhook still there,
    // adopted it, and lost it a moment later when the owner's sync removed its old URL.
    use crate::api::{CallbackRegistrationStatus, Registration};
    let with_registration = |mut obj: CallbackRegistration, urls: &[&str]| {
        obj.status = Some(CallbackRegistrationStatus {
            registration: Some(Box::new(Registration {
                urls: urls.iter().map(|u| u.to_string()).collect(),
                ..Registration::default()
            })),
            ..CallbackRegistrationStatus::default()
        });
        obj
    };
    let indexes = indexes();
    indexes.observe(&WatchEvent::Apply(with_registration(
        webhook("owner", 1, "https://a/x"),
        &["https://a/x"],
    )));
    indexes.observe(&WatchEvent::Apply(webhook("waiting", 5, "https://a/x")));

    let moved = with_registration(webhook("owner", 1, "https://a/y"), &["https://a/x"]);
    assert!(
        indexes.observe(&WatchEvent::Apply(moved)).is_empty(),
        "the spec moved, the webhook at https://a/x is still the owner's: nobody is woken yet"
    );
    let sharing = indexes.claims.sharing(&["mail url https://a/x".into()]);
    assert!(sharing.iter().any(|c| &*c.name == "owner"), "{sharing:?}");

    let synced = with_registration(webhook("owner", 1, "https://a/y"), &["https://a/y"]);
    assert_eq!(
        indexes.observe(&WatchEvent::Apply(synced)),
        vec![ObjectRef::new("waiting").within("shop")],
        "its status no longer records https://a/x: released now"
    );
}
