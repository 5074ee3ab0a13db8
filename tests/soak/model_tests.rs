//! The model and the checker without IO.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::checker::{MailHook, ObjState, Snapshot, Violation, check, hot_loop};
use super::model::{Expected, Identity, Model, Obj, Provider};
use super::ops::{Op, generate};

fn obj(provider: Provider, url: &str, created: i64) -> Obj {
    Obj {
        provider,
        url: url.into(),
        field: "statusCallbackUrl".into(),
        max_parallel: 10,
        orphan: false,
        suspend: false,
        created: (created, format!("uid-{created}")),
        history: BTreeSet::new(),
        synced_key: None,
        may_have_synced: BTreeSet::new(),
    }
}

fn key(ns: &str, name: &str) -> (String, String) {
    (ns.into(), name.into())
}

fn model_with_secrets() -> Model {
    let mut m = Model::default();
    for ns in ["a", "b"] {
        m.set_secret(ns, Provider::Mail, Some("K1".into()));
        m.set_secret(ns, Provider::Envelope, Some("T1".into()));
        m.set_secret(ns, Provider::Edna, Some("E1".into()));
    }
    m.revoked.insert("BAD".into());
    m
}

fn ready(reason: &str) -> Option<ObjState> {
    Some(ObjState {
        reason: reason.into(),
        message: String::new(),
        observed: true,
    })
}

fn hook(url: &str) -> MailHook {
    MailHook {
        url: url.into(),
        status: "active".into(),
        max_parallel: 10,
    }
}

#[test]
fn the_older_claimant_owns_and_the_younger_is_a_conflict() {
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Mail, "https://u", 1));
    m.create(key("a", "young"), obj(Provider::Mail, "https://u", 2));
    assert_eq!(m.expected(&key("a", "old")), Expected::Synced);
    assert_eq!(m.expected(&key("a", "young")), Expected::Conflict);
    let required = m.required();
    assert_eq!(required.len(), 1);
    assert_eq!(required.values().next(), Some(&key("a", "old")));
}

#[test]
fn another_namespace_conflicts_when_the_operator_knows_the_older_is_in_that_account() {
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Mail, "https://u", 1));
    m.create(key("b", "young"), obj(Provider::Mail, "https://u", 2));
    assert_eq!(
        m.expected(&key("b", "young")),
        Expected::Conflict,
        "the older syncs, then wakes it"
    );
    m.update(&key("a", "old"), |o| o.suspend = true);
    assert_eq!(
        m.expected(&key("b", "young")),
        Expected::SyncedOrConflict,
        "suspended before or after syncing?"
    );
    m.verified(&key("a", "old"));
    assert_eq!(m.expected(&key("b", "young")), Expected::Conflict);
    m.set_secret("a", Provider::Mail, Some("K2".into()));
    assert_eq!(
        m.expected(&key("b", "young")),
        Expected::Conflict,
        "its status still names K1"
    );
}

#[test]
fn an_older_claimant_that_could_have_synced_between_checks_may_still_own() {
    // Soak seed 2: the older object could sync with T1 between two checks; its Secret was deleted (then set to a
    // revoked key) before the next check and it was suspended; its status may still name K1, so a younger object of
    // K1 in another namespace may be Synced or wait with Conflict.
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Mail, "https://u", 1));
    m.note_possible_syncs();
    m.set_secret("a", Provider::Mail, None);
    m.set_secret("a", Provider::Mail, Some("BAD".into()));
    m.update(&key("a", "old"), |o| o.suspend = true);
    m.note_possible_syncs();
    m.create(key("b", "young"), obj(Provider::Mail, "https://u", 2));
    assert_eq!(m.expected(&key("b", "young")), Expected::SyncedOrConflict);
}

#[test]
fn an_older_object_that_moved_away_may_still_hold_the_url() {
    // Short soak, seed 7: m3 moved from url1 to url0 while suspended; its webhook at url1 stays until it resumes and
    // removes it, and the operator makes the younger m18 wait for that.
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Mail, "https://1", 1));
    m.update(&key("a", "old"), |o| o.suspend = true);
    m.update(&key("a", "old"), |o| o.url = "https://0".into());
    m.create(key("a", "young"), obj(Provider::Mail, "https://1", 2));
    assert_eq!(m.expected(&key("a", "young")), Expected::SyncedOrConflict);
    m.update(&key("a", "old"), |o| o.suspend = false);
    m.verified(&key("a", "old"));
    assert_eq!(
        m.expected(&key("a", "young")),
        Expected::Synced,
        "verified in sync: it holds only url0 now"
    );
}

#[test]
fn an_older_claimant_rotated_to_another_key_leaves_the_old_account_to_the_younger() {
    // Seed 2: the older object's Secret moved to another key; it re-synced there, and its status names that account.
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Edna, "https://x", 1));
    m.verified(&key("a", "old"));
    m.create(key("b", "young"), obj(Provider::Edna, "https://y", 2));
    assert_eq!(m.expected(&key("b", "young")), Expected::Conflict);
    m.set_secret("a", Provider::Edna, Some("E2".into()));
    assert_eq!(m.expected(&key("b", "young")), Expected::Synced);
}

#[test]
fn a_certain_owner_decides_even_when_an_older_one_only_may_hold_the_url() {
    // Short soak, seed 7: v7 (oldest) moved away from url2 and may still hold it; v15 owns url2 for certain; v17,
    // younger than both, is Conflict — and its delete leaves what it registered before (CleanupSkipped).
    let mut m = model_with_secrets();
    m.create(key("a", "v7"), obj(Provider::Envelope, "https://2", 1));
    m.update(&key("a", "v7"), |o| o.url = "https://3".into());
    m.create(key("a", "v15"), obj(Provider::Envelope, "https://2", 2));
    m.create(key("a", "v17"), obj(Provider::Envelope, "https://2", 3));
    assert_eq!(m.expected(&key("a", "v17")), Expected::Conflict);
}

#[test]
fn edna_claims_the_field_whatever_the_url() {
    let mut m = model_with_secrets();
    m.create(key("a", "e1"), obj(Provider::Edna, "https://x", 1));
    m.create(key("a", "e2"), obj(Provider::Edna, "https://y", 2));
    assert_eq!(m.expected(&key("a", "e2")), Expected::Conflict);
}

#[test]
fn suspended_missing_secret_and_revoked_key_have_their_reasons() {
    let mut m = model_with_secrets();
    let mut s = obj(Provider::Mail, "https://s", 1);
    s.suspend = true;
    m.create(key("a", "s"), s);
    assert_eq!(m.expected(&key("a", "s")), Expected::Suspended);
    m.create(key("b", "r"), obj(Provider::Mail, "https://r", 2));
    m.set_secret("b", Provider::Mail, Some("BAD".into()));
    assert_eq!(
        m.expected(&key("b", "r")),
        Expected::InvalidCredentials { or_conflict: false }
    );
    m.set_secret("b", Provider::Mail, None);
    assert_eq!(m.expected(&key("b", "r")), Expected::CredentialsNotFound);
}

#[test]
fn a_registration_nobody_owns_is_a_leak_unless_orphaned() {
    let mut m = model_with_secrets();
    m.create(key("a", "o"), obj(Provider::Mail, "https://o", 1));
    m.create(key("a", "d"), obj(Provider::Mail, "https://d", 2));
    m.verified(&key("a", "o"));
    m.verified(&key("a", "d"));
    m.update(&key("a", "o"), |o| o.orphan = true);
    m.delete(&key("a", "o"));
    m.delete(&key("a", "d"));
    let snap = Snapshot {
        mail: BTreeMap::from([("K1".into(), vec![hook("https://o"), hook("https://d")])]),
        ..Snapshot::default()
    };
    let violations = check(&m, &snap);
    assert_eq!(
        violations,
        vec![Violation::Leak {
            identity: Identity::Mail {
                key: "K1".into(),
                url: "https://d".into()
            }
        }]
    );
}

#[test]
fn missing_wrong_duplicate_and_stuck_are_reported() {
    let mut m = model_with_secrets();
    m.create(key("a", "m"), obj(Provider::Mail, "https://m", 1));
    m.create(key("a", "w"), obj(Provider::Mail, "https://w", 2));
    m.create(key("a", "v"), obj(Provider::Envelope, "https://v", 3));
    let snap = Snapshot {
        mail: BTreeMap::from([(
            "K1".into(),
            vec![MailHook {
                max_parallel: 20,
                ..hook("https://w")
            }],
        )]),
        envelope: vec!["https://v".into(), "https://v".into()],
        objects: BTreeMap::from([
            (key("a", "m"), ready("Synced")),
            (key("a", "w"), ready("Synced")),
            (key("a", "v"), ready("ProviderUnavailable")),
        ]),
        ..Snapshot::default()
    };
    let violations = check(&m, &snap);
    let kinds: Vec<&str> = violations
        .iter()
        .map(|v| match v {
            Violation::Duplicate { .. } => "duplicate",
            Violation::Missing { .. } => "missing",
            Violation::Wrong { .. } => "wrong",
            Violation::Stuck { .. } => "stuck",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["stuck", "duplicate", "missing", "wrong"], "{violations:?}");
}

#[test]
fn drifted_identities_wait_for_the_owner_to_be_reconciled() {
    let mut m = model_with_secrets();
    m.create(key("a", "m"), obj(Provider::Mail, "https://m", 1));
    let mail = Identity::Mail {
        key: "K1".into(),
        url: "https://m".into(),
    };
    m.drifted.insert(mail.clone());
    let snap = Snapshot {
        objects: BTreeMap::from([(key("a", "m"), ready("Synced"))]),
        ..Snapshot::default()
    };
    assert!(check(&m, &snap).is_empty(), "a drifted identity may be missing");
    m.operator_restarted();
    assert!(m.drifted.contains(&mail), "objects at rest wait for their resync");
    m.update(&key("a", "m"), |o| o.max_parallel = 20);
    assert!(!m.drifted.contains(&mail), "a spec change makes the owner write");
}

#[test]
fn rotating_to_another_account_strands_the_old_registration_on_purpose() {
    let mut m = model_with_secrets();
    m.create(key("a", "m"), obj(Provider::Mail, "https://m", 1));
    m.verified(&key("a", "m"));
    m.set_secret("a", Provider::Mail, Some("K2".into()));
    assert!(m.tolerated.contains(&Identity::Mail {
        key: "K1".into(),
        url: "https://m".into()
    }));
}

#[test]
fn the_hot_loop_bound_allows_one_drift_check_per_resync() {
    let resync = Duration::from_secs(600);
    assert_eq!(hot_loop(4, 100, 0, Duration::from_secs(3), resync), None);
    assert!(hot_loop(60, 100, 0, Duration::from_secs(3), resync).is_some());
    assert_eq!(
        hot_loop(9, 10, 2, Duration::from_secs(3), resync),
        None,
        "two objects in flight may retry once each"
    );
    assert!(hot_loop(12, 10, 2, Duration::from_secs(3), resync).is_some());
}

#[test]
fn the_generator_is_deterministic_and_covers_every_kind() {
    let a = generate(42, 1000, true);
    assert_eq!(a, generate(42, 1000, true));
    assert_ne!(a, generate(43, 1000, true));
    let has = |f: fn(&Op) -> bool| a.iter().any(f);
    assert!(has(|o| matches!(o, Op::Create { .. })));
    assert!(has(|o| matches!(o, Op::Update { .. })));
    assert!(has(|o| matches!(o, Op::Delete { .. })));
    assert!(has(|o| matches!(o, Op::Orphan { .. })));
    assert!(has(|o| matches!(o, Op::Suspend { on: true, .. })));
    assert!(has(|o| matches!(o, Op::Suspend { on: false, .. })));
    assert!(has(|o| matches!(o, Op::Rotate { .. })));
    assert!(has(|o| matches!(o, Op::DeleteSecret { .. })));
    assert!(has(|o| matches!(o, Op::Fault { .. })));
    assert!(has(|o| matches!(o, Op::KillOperator)));
    assert!(has(|o| matches!(o, Op::RestartApiserver)));
    assert!(has(|o| matches!(o, Op::OutOfBand { .. })));
    assert!(!generate(42, 1000, false).contains(&Op::RestartApiserver));
}

#[test]
fn writing_the_key_a_secret_already_holds_repairs_nothing() {
    let mut m = model_with_secrets();
    m.create(key("a", "m"), obj(Provider::Mail, "https://m", 1));
    let id = Identity::Mail {
        key: "K1".into(),
        url: "https://m".into(),
    };
    m.drifted.insert(id.clone());
    m.set_secret("a", Provider::Mail, Some("K1".into()));
    assert!(m.drifted.contains(&id), "no change, no watch event, no reconcile");
    m.set_secret("a", Provider::Mail, Some("K2".into()));
    m.set_secret("a", Provider::Mail, Some("K1".into()));
    assert!(!m.drifted.contains(&id), "a real change wakes the owner");
}

#[test]
fn an_older_claimant_seen_in_one_account_that_could_sync_with_another_since_is_uncertain() {
    // Soak seed 1: e270 was seen in sync with key1; its Secret then held key0 (it could re-sync there between two
    // checks) and was deleted. Its status names key0 or key1, so a younger object of key1 may be Synced or wait.
    let mut m = model_with_secrets();
    m.create(key("a", "old"), obj(Provider::Edna, "https://x", 1));
    m.note_possible_syncs();
    m.verified(&key("a", "old"));
    m.create(key("b", "young"), obj(Provider::Edna, "https://y", 2));
    assert_eq!(m.expected(&key("b", "young")), Expected::Conflict);
    m.set_secret("a", Provider::Edna, Some("E2".into()));
    m.note_possible_syncs();
    m.set_secret("a", Provider::Edna, None);
    assert_eq!(m.expected(&key("b", "young")), Expected::SyncedOrConflict);
    // Seen in sync again: certain again.
    m.set_secret("a", Provider::Edna, Some("E1".into()));
    m.note_possible_syncs();
    m.verified(&key("a", "old"));
    m.set_secret("a", Provider::Edna, None);
    assert_eq!(m.expected(&key("b", "young")), Expected::Conflict);
}

#[test]
fn an_older_claimant_that_itself_waits_behind_an_older_one_is_no_certain_owner() {
    // Soak seed 1: in namespace b, "mid" waits behind the suspended "first" (same Secret); "young" in namespace a
    // shares the account. Whether the operator counts "mid" depends on whether its status still names the account.
    let mut m = model_with_secrets();
    m.create(key("b", "first"), obj(Provider::Edna, "https://x", 1));
    m.update(&key("b", "first"), |o| o.suspend = true);
    m.create(key("b", "mid"), obj(Provider::Edna, "https://y", 2));
    m.create(key("a", "young"), obj(Provider::Edna, "https://z", 3));
    assert_eq!(m.expected(&key("b", "mid")), Expected::Conflict);
    assert_eq!(m.expected(&key("a", "young")), Expected::SyncedOrConflict);
    // Without the older one, "mid" syncs with the key: certain.
    m.delete(&key("b", "first"));
    assert_eq!(m.expected(&key("a", "young")), Expected::Conflict);
}

#[test]
fn an_older_envelope_claimant_owns_the_url_in_any_namespace_whatever_its_account() {
    // Soak seed 2: a DocStudio mailbox is one callback list for every token; two objects with different tokens
    // both added the url. The operator treats the mailbox as one account, and so does the model.
    let mut m = model_with_secrets();
    m.set_secret("b", Provider::Envelope, Some("T2".into()));
    m.create(key("a", "old"), obj(Provider::Envelope, "https://u", 1));
    m.create(key("b", "young"), obj(Provider::Envelope, "https://u", 2));
    assert_eq!(m.expected(&key("b", "young")), Expected::Conflict);
    m.update(&key("a", "old"), |o| o.suspend = true);
    assert_eq!(
        m.expected(&key("b", "young")),
        Expected::Conflict,
        "suspended, it still owns the url"
    );
}

#[test]
fn edna_drift_stays_exempt_when_the_key_returns_to_one_it_may_have_applied() {
    // Soak seed 2: key0 → key1 → key0 between two checks; the owner never applied key1, so key0 is what its status
    // records as applied: no write, and the drift at the provider stays (edna cannot be read).
    let mut m = model_with_secrets();
    m.create(key("a", "e"), obj(Provider::Edna, "https://x", 1));
    m.note_possible_syncs();
    m.verified(&key("a", "e"));
    let id = Identity::Edna {
        key: "E1".into(),
        field: "statusCallbackUrl".into(),
    };
    m.drifted.insert(id.clone());
    m.set_secret("a", Provider::Edna, Some("E2".into()));
    m.set_secret("a", Provider::Edna, Some("E1".into()));
    assert!(m.drifted.contains(&id), "back to the key it applied: nothing written");
    let e2 = Identity::Edna {
        key: "E2".into(),
        field: "statusCallbackUrl".into(),
    };
    m.drifted.insert(e2.clone());
    m.set_secret("a", Provider::Edna, Some("E2".into()));
    assert!(!m.drifted.contains(&e2), "a key it never applied: it writes");
}

#[test]
fn a_waiting_claimant_whose_secret_moved_to_another_key_may_have_forgotten_the_old_account() {
    // Soak seed 2, 900 operations: ns1/m281 synced url1 with key0, moved to url3 behind the older (suspended) m271,
    // and its Secret then held a revoked key: its `Conflict` pass with that key forgot the key0 registration, so a
    // younger object of key0 in another namespace may own url3.
    let mut m = model_with_secrets();
    m.create(key("b", "first"), obj(Provider::Mail, "https://3", 1));
    m.update(&key("b", "first"), |o| o.suspend = true);
    m.create(key("b", "waiting"), obj(Provider::Mail, "https://1", 2));
    m.note_possible_syncs();
    m.verified(&key("b", "waiting"));
    m.update(&key("b", "waiting"), |o| o.url = "https://3".into());
    m.create(key("a", "young"), obj(Provider::Mail, "https://3", 3));
    m.set_secret("b", Provider::Mail, Some("BAD".into()));
    m.delete(&key("b", "first"));
    assert_eq!(m.expected(&key("a", "young")), Expected::SyncedOrConflict);
}
