//! What the live objects ask for, as plain data, and the rules that turn it into the provider-side state every
//! simulator should hold. No IO: the soak driver feeds it the operations it performed and the creation stamps the
//! apiserver gave; `checker.rs` compares its expectation with snapshots.
//!
//! Rules (docs/reliability.md, "The model"):
//! - ownership: live objects claiming the same identity in the same account (envelope: in the one mailbox,
//!   whatever account) — the older (creation time, then uid) owns it; the younger is Stalled with reason Conflict. An older object that moved away may still hold it (until
//!   its own sync removes it; suspended, until it resumes): the younger may be either. An object in another namespace counts only once it has
//!   synced with that account (the operator knows another namespace's account only from its status);
//! - suspended objects: their registrations stay as they were (neither required nor a leak);
//! - deletionPolicy Orphan leaves the registration (tolerated for ever); a key rotated to another account strands
//!   the old account's registration (the operator no longer holds that key), likewise tolerated;
//! - edna has no delete: edna registrations are never leaks; only an owner's field is checked;
//! - a Secret whose key the provider rejects: Stalled InvalidCredentials;
//! - out-of-band changes at a provider are repaired when the owner is next reconciled (10-minute resync: on an
//!   event), so until then the identity is "drifted" and exempt from the missing/field checks.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    Mail,
    Edna,
    Envelope,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Mail, Provider::Edna, Provider::Envelope];

    pub fn secret_name(self) -> &'static str {
        match self {
            Provider::Mail => "mail-creds",
            Provider::Edna => "edna-creds",
            Provider::Envelope => "envelope-creds",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::Mail => "mail",
            Provider::Edna => "edna",
            Provider::Envelope => "envelope",
        }
    }
}

/// A provider-side identity as the simulators key it. `key` is the credential (one account per key); envelope
/// callbacks live in one mailbox, so the url alone names them there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    Mail {
        key: String,
        url: String,
    },
    /// edna: (account, subjectId 1001, field).
    Edna {
        key: String,
        field: String,
    },
    Envelope {
        url: String,
    },
}

pub type ObjKey = (String, String);

/// One live CallbackRegistration as the soak wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Obj {
    pub provider: Provider,
    /// mail url, envelope url, or the edna field's url.
    pub url: String,
    /// edna only: `statusCallbackUrl` or `inMessageCallbackUrl`.
    pub field: String,
    /// mail only: maxParallel.
    pub max_parallel: u32,
    pub orphan: bool,
    pub suspend: bool,
    /// creationTimestamp (seconds) and uid, as the apiserver gave them.
    pub created: (i64, String),
    /// Identities it may hold at a provider that its spec no longer names (cleared once verified in sync).
    pub history: BTreeSet<Identity>,
    /// The key it last synced with (what its status.registration.account names).
    pub synced_key: Option<String>,
    /// Every key it could have synced with since a check last saw it in sync (not suspended, its Secret holding a
    /// key the provider accepts): its status may name any of them, even if no check saw it in sync (soak seed 2: synced with key0
    /// between two checks, its Secret deleted before the next one — the operator still knows it by key0).
    pub may_have_synced: BTreeSet<String>,
}

/// The state of a credentials Secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecretState {
    /// The key it holds now (None: deleted).
    pub key: Option<String>,
    /// The last key it held (an object whose Secret is gone keeps that account in its status).
    pub last_key: Option<String>,
}

/// What the checker expects of one object's Ready condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    Synced,
    Suspended,
    CredentialsNotFound,
    /// The key is rejected (a younger claimant may instead report Conflict: gate order decides).
    InvalidCredentials {
        or_conflict: bool,
    },
    Conflict,
    /// An older claimant elsewhere whose account the operator may or may not know: either is right.
    SyncedOrConflict,
}

impl Expected {
    /// The Ready reasons that satisfy this expectation.
    pub fn reasons(&self) -> &'static [&'static str] {
        match self {
            Expected::Synced => &["Synced"],
            Expected::Suspended => &["Suspended"],
            Expected::CredentialsNotFound => &["CredentialsNotFound"],
            Expected::InvalidCredentials { or_conflict: false } => &["InvalidCredentials"],
            Expected::InvalidCredentials { or_conflict: true } => &["InvalidCredentials", "Conflict"],
            Expected::Conflict => &["Conflict"],
            Expected::SyncedOrConflict => &["Synced", "Conflict"],
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub objects: BTreeMap<ObjKey, Obj>,
    pub secrets: BTreeMap<(String, Provider), SecretState>,
    /// Keys the providers reject.
    pub revoked: BTreeSet<String>,
    /// Registrations left at a provider on purpose (Orphan, stranded by rotation, abandoned cleanup).
    pub tolerated: BTreeSet<Identity>,
    /// Identities changed at the provider behind the operator's back, not yet reconciled.
    pub drifted: BTreeSet<Identity>,
}

impl Model {
    pub fn key_of(&self, ns: &str, provider: Provider) -> Option<&String> {
        self.secrets.get(&(ns.to_string(), provider))?.key.as_ref()
    }

    /// The account an object belongs to: its Secret's key, or the last key it held.
    pub fn account_of(&self, ns: &str, provider: Provider) -> Option<&String> {
        let s = self.secrets.get(&(ns.to_string(), provider))?;
        s.key.as_ref().or(s.last_key.as_ref())
    }

    /// The identity an object claims now (None: no account known).
    pub fn identity(&self, key: &ObjKey, obj: &Obj) -> Option<Identity> {
        let account = self.account_of(&key.0, obj.provider)?.clone();
        Some(match obj.provider {
            Provider::Mail => Identity::Mail {
                key: account,
                url: obj.url.clone(),
            },
            Provider::Edna => Identity::Edna {
                key: account,
                field: obj.field.clone(),
            },
            Provider::Envelope => Identity::Envelope { url: obj.url.clone() },
        })
    }

    /// Whether `o` (an older claimant in another namespace) is known to the operator to be in account `key`: it
    /// synced with it (its status says so), or it can sync with it now (and the operator wakes the younger then).
    fn known_in(&self, other: &ObjKey, o: &Obj, key: &str) -> Option<bool> {
        let current = self.key_of(&other.0, o.provider);
        // One that can sync now does so with its Secret's current key, and its status names that account from then
        // on (seed 2: after a rotation the older object re-synced under the new key, and the younger of the old
        // key rightly became the owner there).
        if !o.suspend && current.is_some_and(|k| !self.revoked.contains(k)) {
            if current.map(String::as_str) != Some(key) {
                return None;
            }
            // Unless an older claimant beats it there: then its status names this account only if it synced with it
            // before (soak seed 1: e240 behind the suspended e91 of its own namespace never recorded key1, and the
            // operator rightly let the younger e295 of key1 own the field). Certain only when nothing older could.
            return Some(!self.may_lose(other, o));
        }
        // Seen in sync with it, and it could sync with no other key since (soak seed 1: seen with key1, then it
        // synced with key0 between two checks before its Secret was deleted — its status names key0). Unless its
        // Secret now names another key and it is not suspended: a `Conflict` pass with that key forgets the old
        // account's registration (soak seed 2, 900 operations: m281's Secret moved to a revoked key while it
        // waited behind an older object; the operator rightly stopped counting it in key0).
        if o.synced_key.as_deref() == Some(key) {
            let may_have_forgotten = !o.suspend && current.is_some_and(|c| c != key);
            return Some(!may_have_forgotten && o.may_have_synced.iter().all(|k| k == key));
        }
        if o.may_have_synced.contains(key) {
            return Some(false);
        }
        // It may or may not have synced with this account before it stopped syncing: the model cannot tell.
        let maybe = self.account_of(&other.0, o.provider).is_some_and(|k| k == key);
        maybe.then_some(false)
    }

    /// Whether an older claimant of the same identity may keep `o` (of `key`) from syncing with its current key.
    fn may_lose(&self, key: &ObjKey, o: &Obj) -> bool {
        let current = self.key_of(&key.0, o.provider);
        self.objects.iter().any(|(k, older)| {
            k != key
                && older.provider == o.provider
                && older.created < o.created
                && same_claim(o, older)
                && (k.0 == key.0
                    || self.account_of(&k.0, older.provider) == current
                    || current
                        .is_some_and(|c| older.synced_key.as_ref() == Some(c) || older.may_have_synced.contains(c)))
        })
    }

    /// The owner of `key`'s claim if another, older object holds it, and whether that is certain.
    pub fn owner_other_than(&self, key: &ObjKey) -> Option<(&ObjKey, bool)> {
        let me = self.objects.get(key)?;
        let my_account = self.account_of(&key.0, me.provider);
        let my_identity = self.identity(key, me);
        self.objects
            .iter()
            .filter(|(k, o)| *k != key && o.provider == me.provider)
            .filter(|(_, o)| o.created < me.created)
            .filter_map(|(k, o)| {
                // An older object whose spec moved away may still hold the identity at the provider (its status
                // records it until its own sync removes it): the operator makes the younger wait for that, so
                // either answer is right (mail and envelope; edna removes nothing).
                let claims_now = same_claim(me, o);
                let may_hold =
                    me.provider != Provider::Edna && my_identity.as_ref().is_some_and(|id| o.history.contains(id));
                if !claims_now && !may_hold {
                    return None;
                }
                // The same Secret in the same namespace is always the same account; a DocStudio mailbox is one
                // list for every account, so an older envelope claimant anywhere owns the url.
                let certain = if k.0 == key.0 || me.provider == Provider::Envelope {
                    Some(true)
                } else {
                    my_account.and_then(|a| self.known_in(k, o, a))
                };
                certain.map(|c| (k, o, c && claims_now))
            })
            // A certain owner decides (the younger is Conflict whatever the uncertain ones do); else the oldest maybe.
            .min_by(|a, b| (!a.2, &a.1.created).cmp(&(!b.2, &b.1.created)))
            .map(|(k, _, c)| (k, c))
    }

    /// What the object's Ready condition should say.
    pub fn expected(&self, key: &ObjKey) -> Expected {
        let obj = &self.objects[key];
        if obj.suspend {
            return Expected::Suspended;
        }
        let Some(k) = self.key_of(&key.0, obj.provider) else {
            return Expected::CredentialsNotFound;
        };
        let owner = self.owner_other_than(key);
        if self.revoked.contains(k) {
            return Expected::InvalidCredentials {
                or_conflict: owner.is_some(),
            };
        }
        match owner {
            Some((_, true)) => Expected::Conflict,
            Some((_, false)) => Expected::SyncedOrConflict,
            None => Expected::Synced,
        }
    }

    /// Identities that must exist at the providers, with the owner that requires each.
    pub fn required(&self) -> BTreeMap<Identity, ObjKey> {
        self.objects
            .iter()
            .filter(|(k, _)| self.expected(k) == Expected::Synced)
            .filter_map(|(k, o)| Some((self.identity(k, o)?, k.clone())))
            .collect()
    }

    /// Identities a live object may legitimately still hold though nothing requires them: those of objects that
    /// make no calls (suspended, no Secret, rejected key, conflict losers) and history not yet verified away.
    pub fn held(&self) -> BTreeSet<Identity> {
        let mut held = BTreeSet::new();
        for (k, o) in &self.objects {
            held.extend(o.history.iter().cloned());
            if self.expected(k) != Expected::Synced {
                held.extend(self.identity(k, o));
            }
        }
        held
    }

    // ------------------------------------------------------------------------------------------------ transitions

    pub fn create(&mut self, key: ObjKey, mut obj: Obj) {
        obj.history = self.identity(&key, &obj).into_iter().collect();
        self.objects.insert(key, obj);
    }

    /// Applies a spec change; the old identity stays possible until verified.
    pub fn update(&mut self, key: &ObjKey, change: impl FnOnce(&mut Obj)) {
        let Some(mut obj) = self.objects.remove(key) else {
            return;
        };
        change(&mut obj);
        let identity = self.identity(key, &obj);
        obj.history.extend(identity.clone());
        self.objects.insert(key.clone(), obj);
        // A spec change makes the owner write again: whatever drifted on its identity is repaired.
        if let Some(id) = identity
            && self.expected(key) == Expected::Synced
        {
            self.drifted.remove(&id);
        }
    }

    /// Deletes the object: Orphan leaves its registrations, so does a cleanup that cannot call the provider.
    pub fn delete(&mut self, key: &ObjKey) {
        let expected = self.expected(key);
        let Some(obj) = self.objects.remove(key) else { return };
        let cannot_clean = obj.orphan
            || obj.provider == Provider::Edna
            || matches!(
                expected,
                Expected::CredentialsNotFound | Expected::InvalidCredentials { .. } | Expected::Suspended
            );
        if cannot_clean {
            self.tolerated.extend(obj.history.iter().cloned());
            self.tolerated.extend(self.identity(key, &obj));
        } else if expected == Expected::Conflict {
            // CleanupSkipped: whatever it registered before losing stays; the owner requires its own claim.
            self.tolerated.extend(obj.history.iter().cloned());
        }
    }

    /// The Secret of `provider` in `ns` now holds `key` (None: deleted). A change of account strands what the
    /// objects using it registered under the old one.
    pub fn set_secret(&mut self, ns: &str, provider: Provider, key: Option<String>) {
        let entry = self.secrets.entry((ns.to_string(), provider)).or_default();
        let old = entry.key.clone().or(entry.last_key.clone());
        // Writing the value it already holds changes nothing: no watch event, no reconcile.
        if entry.key.is_some() && entry.key == key {
            return;
        }
        if let Some(k) = &key {
            entry.last_key = Some(k.clone());
        }
        entry.key = key.clone();
        let account_changed = key.is_some() && old.is_some() && old != key;
        let users: Vec<ObjKey> = self
            .objects
            .iter()
            .filter(|(k, o)| k.0 == ns && o.provider == provider)
            .map(|(k, _)| k.clone())
            .collect();
        for k in users {
            let obj = self.objects.get(&k).unwrap().clone();
            if let Some(id) = self.identity(&k, &obj) {
                // The owner reconciles: mail and envelope read the provider and repair it. edna cannot be read, so
                // it writes only if the key is not one its status may already record as applied (seed 2: the key
                // went key0 → key1 → key0 before it synced key1; it rightly wrote nothing).
                let may_have_applied =
                    |k: &str| obj.synced_key.as_deref() == Some(k) || obj.may_have_synced.contains(k);
                let writes = provider != Provider::Edna || key.as_deref().is_some_and(|k| !may_have_applied(k));
                if writes && self.expected(&k) == Expected::Synced {
                    self.drifted.remove(&id);
                }
                if account_changed && provider != Provider::Envelope {
                    self.tolerated.extend(obj.history.iter().cloned());
                }
                self.objects.get_mut(&k).unwrap().history.insert(id);
            }
        }
    }

    /// An operator restart. It does not count as a repair: an object at rest is read again on its resync (10
    /// minutes, spread), not at start-up (seed 7: a manual envelope copy outlived a restart by 20 operations), so
    /// drift stays exempt until the owner's spec or Secret changes.
    pub fn operator_restarted(&mut self) {}

    /// After every operation: what each object could sync with now joins the keys its status may name.
    pub fn note_possible_syncs(&mut self) {
        let now: Vec<(ObjKey, String)> = self
            .objects
            .iter()
            .filter(|(_, o)| !o.suspend)
            .filter_map(|(k, o)| Some((k.clone(), self.key_of(&k.0, o.provider)?.clone())))
            .filter(|(_, key)| !self.revoked.contains(key))
            .collect();
        for (k, key) in now {
            self.objects.get_mut(&k).unwrap().may_have_synced.insert(key);
        }
    }

    /// After a check found `key` in sync: its history is just its current identity.
    pub fn verified(&mut self, key: &ObjKey) {
        let Some(obj) = self.objects.get(key).cloned() else {
            return;
        };
        let identity = self.identity(key, &obj);
        let synced_key = self.key_of(&key.0, obj.provider).cloned();
        let o = self.objects.get_mut(key).unwrap();
        o.history = identity.into_iter().collect();
        // Keys it could sync with from now on are added after each operation (`note_possible_syncs`).
        o.may_have_synced = synced_key.iter().cloned().collect();
        o.synced_key = synced_key;
    }
}

/// edna claims a field of the channel whatever the url; mail and envelope claim the url.
fn same_claim(a: &Obj, b: &Obj) -> bool {
    match a.provider {
        Provider::Edna => a.field == b.field,
        _ => a.url == b.url,
    }
}
