//! Who owns a provider-side identity when several objects claim it: the oldest claimant (creation time, then uid)
//! of the same account. Pure: the caller supplies the claimants from the controller's store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Resource, ResourceExt};
use smallvec::SmallVec;

use super::uid::Uid;
use crate::api::CallbackRegistration;

/// One object's claim on provider-side identities.
///
/// Strings are shared (`Arc<str>`): the [`ClaimIndex`] holds one claimant per registration for the operator's
/// lifetime, and interns what many of them spell the same way (namespace, Secret, account) and what its own map is
/// keyed by (each claim, the name), instead of holding a copy of each per claimant.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimant {
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub uid: Uid,
    pub created: Option<Time>,
    /// The credentials Secret's name (same namespace + same Secret = same account for certain).
    pub secret: Arc<str>,
    /// The account recorded in status, when the object has synced before.
    pub account: Option<Arc<str>>,
    pub claims: Vec<Arc<str>>,
    /// Identities its recorded registration still holds at the provider that its spec no longer asks for (a URL
    /// change or a removal not done yet): others wait for them only within the account that registration is in.
    pub held: Vec<Arc<str>>,
    /// The object has synced with the provider before (it holds what it claims).
    pub synced: bool,
    /// Its provider's identities are one namespace for every account ([`Provider::IDENTITY_SPANS_ACCOUNTS`]: a
    /// DocStudio mailbox holds one callback list whichever token reads it), so claimants compete whatever account
    /// each uses.
    ///
    /// [`Provider::IDENTITY_SPANS_ACCOUNTS`]: crate::providers::Provider::IDENTITY_SPANS_ACCOUNTS
    pub any_account: bool,
}

impl Claimant {
    /// `obj`'s claim on `claims` (from its provider). `account` is the account now in use when known; otherwise the
    /// one recorded in status.
    pub fn of(obj: &CallbackRegistration, claims: Vec<String>, account: Option<&str>) -> Claimant {
        Claimant {
            namespace: obj.namespace().unwrap_or_default().into(),
            name: obj.name_any().into(),
            uid: Uid::of(obj.meta().uid.as_deref().unwrap_or_default()),
            created: obj.meta().creation_timestamp.clone(),
            secret: obj.spec.credentials_ref.name.as_str().into(),
            account: account.map(Arc::from).or_else(|| {
                obj.status
                    .as_ref()
                    .and_then(|s| s.registration.as_ref())
                    .and_then(|r| r.account.as_deref())
                    .map(Arc::from)
            }),
            claims: claims.into_iter().map(Arc::from).collect(),
            held: Vec::new(),
            synced: obj.status.as_ref().is_some_and(|s| s.applied_hash.is_some()),
            any_account: false,
        }
    }

    /// The same claimant, competing with every account's when `spans` ([`Claimant::any_account`]).
    pub fn spanning_accounts(self, spans: bool) -> Claimant {
        Claimant {
            any_account: spans,
            ..self
        }
    }

    /// Every identity it is indexed under: what its spec claims and what it still holds.
    fn all_claims(&self) -> impl Iterator<Item = &Arc<str>> {
        self.claims.iter().chain(&self.held)
    }

    fn seniority(&self) -> (Option<&Time>, &Uid) {
        (self.created.as_ref(), &self.uid)
    }

    /// Whether it holds anything at the provider: it synced, or its recorded registration still holds identities.
    fn holds_anything(&self) -> bool {
        self.synced || !self.held.is_empty()
    }

    fn same_account(&self, other: &Claimant, my_account: &str) -> bool {
        self.any_account
            || (self.namespace == other.namespace && self.secret == other.secret)
            || other.account.as_deref() == Some(my_account)
    }

    /// The object's (namespace, name), to wake it.
    fn object(&self) -> (String, String) {
        (self.namespace.to_string(), self.name.to_string())
    }

    /// Whether two claimants may share an account, judged without reading Secrets: same namespace and Secret, the
    /// same account recorded in both statuses, or either account not known yet. Only accounts known to differ rule
    /// it out: a claimant that never synced (waiting with `Conflict`, or without its Secret) records no account, and
    /// must still be woken when the owner leaves (soak seed 7: it waited behind a deleted owner until its resync).
    /// Waking one too many costs one reconcile that re-checks and changes nothing.
    fn maybe_same_account(&self, other: &Claimant) -> bool {
        self.any_account
            || (self.namespace == other.namespace && self.secret == other.secret)
            || match (&self.account, &other.account) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => true,
            }
    }

    /// Whether `other` is older than `self`. Creation times have one-second resolution, so on a tie the claimant
    /// that already synced (holds the registration) wins before the uid decides; a missing creation time (never
    /// from a real apiserver) sorts last.
    fn is_older(&self, other: &Claimant) -> bool {
        match (self.created.as_ref(), other.created.as_ref()) {
            (Some(a), Some(b)) if a.0 != b.0 => b.0 < a.0,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            _ if self.synced != other.synced => other.synced,
            _ => other.seniority().1 < self.seniority().1,
        }
    }
}

/// The owner of the first claim `me` shares with an older claimant of the same account, if any.
/// Returns (owner "namespace/name", the shared claim).
pub fn conflicting_owner<'a>(
    me: &Claimant,
    my_account: &str,
    others: impl IntoIterator<Item = &'a Claimant>,
) -> Option<(String, String)> {
    others
        .into_iter()
        .filter(|o| o.uid != me.uid && me.is_older(o))
        .filter_map(|o| {
            // What its spec asks for: within the same account as judged for spec claims (same Secret, or the
            // account recorded). What it only still holds: within the account its registration is in — a key
            // rotated away leaves that registration in the old account, where it bothers nobody here.
            let asked = me
                .same_account(o, my_account)
                .then(|| me.claims.iter().find(|c| o.claims.contains(c)))
                .flatten();
            let held = (me.any_account || o.account.as_deref() == Some(my_account))
                .then(|| me.claims.iter().find(|c| o.held.contains(c)))
                .flatten();
            asked.or(held).map(|c| (o, c))
        })
        .min_by(|(a, _), (b, _)| {
            if b.is_older(a) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        })
        .map(|(o, claim)| (format!("{}/{}", o.namespace, o.name), claim.to_string()))
}

/// Whether a younger claimant that synced may have written on one of `me`'s identities in `my_account`: it shares a
/// claim with `me`, and its account is `my_account` (or the same Secret in the same namespace) or not recorded. Pure.
/// The claim index marks an owner contested while its own account may not be known yet; its pass knows it, and a
/// younger claimant known to be in another account wrote on another tenant's identity, not on the owner's.
pub fn written_over_by<'a>(me: &Claimant, my_account: &str, others: impl IntoIterator<Item = &'a Claimant>) -> bool {
    others.into_iter().any(|o| {
        o.uid != me.uid
            && o.is_older(me)
            && o.synced
            && (me.same_account(o, my_account) || o.account.is_none())
            && me
                .all_claims()
                .any(|claim| o.all_claims().any(|theirs| theirs == claim))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn claimant(name: &str, created: i64, secret: &str, claims: &[&str]) -> Claimant {
        Claimant {
            namespace: "shop".into(),
            name: name.into(),
            uid: Uid::of(&format!("uid-{name}")),
            created: Some(Time(Timestamp::from_second(created).unwrap())),
            secret: secret.into(),
            account: None,
            claims: claims.iter().map(|c| Arc::from(*c)).collect(),
            held: Vec::new(),
            synced: false,
            any_account: false,
        }
    }

    #[test]
    fn only_a_younger_synced_claimant_that_may_be_in_the_owners_account_wrote_over_it() {
        let owner = claimant("owner", 1, "creds", &["edna 42 status"]);
        let mut young = claimant("young", 2, "other-creds", &["edna 42 status"]);
        young.synced = true;
        young.account = Some("acct-b".into());
        assert!(
            !written_over_by(&owner, "acct-a", [&young]),
            "another tenant's identity"
        );
        assert!(written_over_by(&owner, "acct-b", [&young]), "the same account");
        young.account = None;
        assert!(
            written_over_by(&owner, "acct-a", [&young]),
            "account not recorded: assume the same"
        );
        young.account = Some("acct-b".into());
        young.secret = "creds".into();
        assert!(
            written_over_by(&owner, "acct-a", [&young]),
            "same Secret in the same namespace: same account"
        );
        young.synced = false;
        assert!(!written_over_by(&owner, "acct-a", [&young]), "it wrote nothing yet");
        let mut older = claimant("older", 0, "creds", &["edna 42 status"]);
        older.synced = true;
        assert!(
            !written_over_by(&owner, "acct-a", [&older, &owner]),
            "only younger claimants write over"
        );
        let mut elsewhere = claimant("elsewhere", 2, "creds", &["edna 43 status"]);
        elsewhere.synced = true;
        assert!(!written_over_by(&owner, "acct-a", [&elsewhere]), "no shared claim");
    }

    #[test]
    fn the_younger_of_two_claimants_loses_to_the_older() {
        let old = claimant("old", 1, "creds", &["webhook https://a"]);
        let young = claimant("young", 2, "creds", &["webhook https://a"]);
        assert_eq!(
            conflicting_owner(&young, "acct", [&old, &young]),
            Some(("shop/old".into(), "webhook https://a".into()))
        );
        assert_eq!(conflicting_owner(&old, "acct", [&old, &young]), None);
    }

    #[test]
    fn disjoint_claims_coexist() {
        let a = claimant("a", 1, "creds", &["channel 5 status"]);
        let b = claimant("b", 2, "creds", &["channel 5 inMessage"]);
        assert_eq!(conflicting_owner(&b, "acct", [&a]), None);
    }

    #[test]
    fn different_accounts_never_conflict() {
        let a = claimant("a", 1, "creds-a", &["webhook https://a"]);
        let b = claimant("b", 2, "creds-b", &["webhook https://a"]);
        assert_eq!(conflicting_owner(&b, "acct-b", [&a]), None);
        let mut a_same_key = a.clone();
        a_same_key.account = Some("acct-b".into());
        assert!(
            conflicting_owner(&b, "acct-b", [&a_same_key]).is_some(),
            "same key in another Secret is the same account"
        );
    }

    #[test]
    fn what_an_older_object_only_still_holds_counts_in_the_account_it_is_held_in() {
        // Short soak, seed 7: m3 moved from url1 to url0 while suspended, after its Secret was rotated to another
        // key; its registration of url1 is in the old account, where it bothers nobody using the new key.
        let moved = Claimant {
            account: Some("old-account".into()),
            synced: true,
            held: vec!["webhook https://a".into()],
            ..claimant("moved", 1, "creds", &["webhook https://b"])
        };
        let newcomer = claimant("newcomer", 2, "creds", &["webhook https://a"]);
        assert_eq!(conflicting_owner(&newcomer, "new-account", [&moved]), None);
        assert_eq!(
            conflicting_owner(&newcomer, "old-account", [&moved]),
            Some(("shop/moved".into(), "webhook https://a".into())),
            "in the account it is held in, the newcomer waits for its removal"
        );
    }

    #[test]
    fn equal_creation_times_fall_back_to_uid() {
        let a = claimant("a", 1, "creds", &["x"]);
        let b = claimant("b", 1, "creds", &["x"]);
        assert!(conflicting_owner(&b, "acct", [&a]).is_some());
        assert!(conflicting_owner(&a, "acct", [&b]).is_none());
    }

    #[test]
    fn on_a_creation_time_tie_the_claimant_that_already_synced_wins() {
        let holder = Claimant {
            synced: true,
            uid: Uid::of("zzz"),
            ..claimant("holder", 1, "creds", &["x"])
        };
        let newcomer = Claimant {
            uid: Uid::of("aaa"),
            ..claimant("newcomer", 1, "creds", &["x"])
        };
        assert!(conflicting_owner(&newcomer, "acct", [&holder]).is_some());
        assert!(conflicting_owner(&holder, "acct", [&newcomer]).is_none());
    }
}

/// Claimants by claim, fed by the CallbackRegistration watch (so every object is known, reconciled or not). Each
/// claimant is held once, shared by its entries, because the index lives as long as the objects do (memory at scale).
/// Claimants are keyed by namespace/name: an object deleted and re-created under the same name during a watch gap
/// replaces its predecessor instead of leaving a ghost behind.
#[derive(Debug, Default)]
pub struct ClaimIndex {
    inner: std::sync::Mutex<ClaimIndexInner>,
}

#[derive(Debug, Default)]
struct ClaimIndexInner {
    /// Each key is the string its claimants' `claims`/`held` share. Almost every identity has one claimant, held
    /// inline.
    by_claim: HashMap<Arc<str>, SmallVec<[Arc<Claimant>; 1]>>,
    /// namespace → name → claimant (the keys are the claimant's own strings).
    claimants: HashMap<Arc<str>, HashMap<Arc<str>, Arc<Claimant>>>,
    /// How many claimants `claimants` holds (kept, not summed: interning reads it on every watch event).
    live: usize,
    /// Owners a younger claimant of theirs wrote over (see [`ClaimIndex::take_contested`]).
    contested: HashSet<String>,
    /// Namespaces, Secret names and accounts: few distinct values, each spelled by many claimants.
    strings: HashSet<Arc<str>>,
}

fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl ClaimIndex {
    /// Adds or replaces `claimant`; returns the claimants to re-trigger: the younger ones holding something at the
    /// provider that now share a claim with it (an older claimant arrived), and every one that shared a claim it no
    /// longer makes (its identity changed: the next claimant takes over now, not at its next resync).
    ///
    /// A younger claimant that holds nothing yet (never synced, no registration recorded) is not woken by an older
    /// one arriving or syncing: its own next pass checks ownership before it writes, and a pass that checked before
    /// the older one was known learns it lost from its own status write (contested, below). Waking it anyway cost a
    /// reconcile per such claimant and change: at 10,000 registrations whose edna channels repeat across 50
    /// namespaces, ~3,000 passes beyond the two each new object needs (docs/benchmark.md, twelfth session).
    pub fn upsert(&self, claimant: Claimant) -> Vec<(String, String)> {
        let mut inner = self.inner.lock().expect("claim index lock");
        let claimant = inner.intern(claimant);
        let (namespace, name) = (claimant.namespace.clone(), claimant.name.clone());
        // Most watch events (status writes) change nothing that decides ownership: re-trigger nobody then, or
        // every status write at scale would wake other objects (and race their own status writes).
        let previous = inner.get(&namespace, &name).cloned();
        let unchanged = previous.as_ref().is_some_and(|previous| {
            previous.uid == claimant.uid
                && previous.claims == claimant.claims
                && previous.held == claimant.held
                && previous.synced == claimant.synced
                && previous.account == claimant.account
        });
        // Only a claimant that dropped a claim (or a new object of that name) releases anything; one that merely
        // recorded an account, synced or added a claim releases nothing, so the claimants behind it need no wake.
        // Moving to another account (its Secret rotated to another key, and it synced there) releases everything it
        // held in the old one too (soak seed 2: the younger object of the old key waited until its resync).
        let released = previous.as_ref().is_some_and(|previous| {
            previous.uid != claimant.uid
                || previous.all_claims().any(|c| !claimant.all_claims().any(|n| n == c))
                || (previous.account.is_some() && previous.account != claimant.account)
        });
        let mut woken = match (&previous, released) {
            (Some(previous), true) => inner
                .remove(&namespace, &name)
                .into_iter()
                .filter(|o| o.uid != previous.uid)
                .collect(),
            _ => {
                inner.remove(&namespace, &name);
                Vec::new()
            }
        }
        .into_iter()
        .map(|o: Arc<Claimant>| o.object())
        .collect::<Vec<_>>();
        // It re-checks itself behind an older claimant only when what it records changed (its other watch events,
        // its finalizer or a status rewrite, bring no news its pass would not see anyway), and only when it holds
        // something at the provider: one that holds nothing (waiting with `Conflict`, say) decided with the older one
        // in view.
        let rechecks_itself = !unchanged && claimant.holds_anything();
        let claimant = Arc::new(claimant);
        let mut behind_an_older = false;
        let mut contested = Vec::new();
        // A claim it already made, with the same account and sync state, changes nothing for those sharing it.
        let same_standing = previous.as_ref().is_some_and(|previous| {
            previous.uid == claimant.uid && previous.synced == claimant.synced && previous.account == claimant.account
        });
        for claim in claimant.all_claims() {
            let entry = inner.by_claim.entry(claim.clone()).or_default();
            let old_news = same_standing && previous.as_ref().is_some_and(|p| p.all_claims().any(|c| c == claim));
            if !unchanged && !old_news {
                woken.extend(
                    entry
                        .iter()
                        .filter(|o| o.is_older(&claimant) && o.maybe_same_account(&claimant) && o.holds_anything())
                        .map(|o| o.object()),
                );
                let mut older = entry
                    .iter()
                    .filter(|o| claimant.is_older(o) && claimant.maybe_same_account(o))
                    .peekable();
                behind_an_older |= rechecks_itself && older.peek().is_some();
                // Ownership is checked before the write, so a younger claimant can write on an identity the moment
                // before an older one takes it (its spec moved there mid-pass): both wrote (soak seed 2: two
                // envelope callbacks for one url). The younger learns it lost on its own status write (above);
                // the owner is woken too, to read again and repair what the younger wrote over — or, where
                // nothing can be read (edna), to write its own state again.
                if claimant.synced {
                    contested.extend(older.map(|o| o.object()));
                }
                if entry
                    .iter()
                    .any(|o| o.synced && o.is_older(&claimant) && o.maybe_same_account(&claimant))
                {
                    contested.push(claimant.object());
                }
            }
            entry.push(Arc::clone(&claimant));
        }
        // The claimant itself re-checks when what it now records (its account, above all) shows it shares an account
        // with an older claimant: it may have taken the identity while that claimant's account was not yet known
        // to the index (at start-up the per-namespace watches fill the index in any order, and reconciling starts at
        // once), and nothing else would wake it — the older one's status write came first (soak seed 7: two
        // envelope objects in two namespaces both Synced on one callback).
        if behind_an_older {
            woken.push(claimant.object());
        }
        for (namespace, name) in contested {
            inner.contested.insert(key_of(&namespace, &name));
            woken.push((namespace, name));
        }
        inner.insert(namespace, name, claimant);
        woken.sort();
        woken.dedup();
        woken
    }

    /// Forgets the object `namespace/name` with `uid` (a stale uid is ignored: a newer object of that name
    /// replaced it); returns the claimants that shared a claim with it, so the next one takes over at once.
    pub fn remove(&self, namespace: &str, name: &str, uid: &str) -> Vec<(String, String)> {
        let mut inner = self.inner.lock().expect("claim index lock");
        if inner.get(namespace, name).is_none_or(|c| c.uid != Uid::of(uid)) {
            return Vec::new();
        }
        inner.contested.remove(&key_of(namespace, name));
        let mut woken: Vec<(String, String)> = inner.remove(namespace, name).into_iter().map(|o| o.object()).collect();
        woken.sort();
        woken.dedup();
        woken
    }

    /// Whether a younger claimant wrote on an identity `namespace/name` owns since its last pass (taken once): its
    /// next pass must not trust what it recorded. The wake-up itself was returned by [`upsert`](Self::upsert).
    pub fn take_contested(&self, namespace: &str, name: &str) -> bool {
        let mut inner = self.inner.lock().expect("claim index lock");
        inner.contested.remove(&key_of(namespace, name))
    }

    /// Whether a younger claimant may have written on what `namespace/name` owns in `my_account`
    /// ([`written_over_by`]); an object the index does not hold is assumed written over.
    pub fn written_over(&self, namespace: &str, name: &str, my_account: &str) -> bool {
        let inner = self.inner.lock().expect("claim index lock");
        let Some(me) = inner.get(namespace, name) else {
            return true;
        };
        let sharing = me
            .all_claims()
            .flat_map(|claim| inner.by_claim.get(claim).into_iter().flatten());
        written_over_by(me, my_account, sharing.map(Arc::as_ref))
    }

    /// Every other claimant sharing at least one of `claims`.
    pub fn sharing(&self, claims: &[Arc<str>]) -> Vec<Arc<Claimant>> {
        let inner = self.inner.lock().expect("claim index lock");
        let mut out: Vec<Arc<Claimant>> = Vec::new();
        for claim in claims {
            for c in inner.by_claim.get(claim).into_iter().flatten() {
                if !out.iter().any(|o| o.uid == c.uid) {
                    out.push(Arc::clone(c));
                }
            }
        }
        out
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().expect("claim index lock").live
    }

    /// How many distinct strings the index holds for namespaces, Secrets and accounts.
    #[cfg(test)]
    fn interned(&self) -> usize {
        self.inner.lock().expect("claim index lock").strings.len()
    }
}

impl ClaimIndexInner {
    /// Adds `claimant` under `namespace/name` (removed first by every caller: the entry's key is its own name string).
    fn insert(&mut self, namespace: Arc<str>, name: Arc<str>, claimant: Arc<Claimant>) {
        if self
            .claimants
            .entry(namespace)
            .or_default()
            .insert(name, claimant)
            .is_none()
        {
            self.live += 1;
        }
    }

    fn get(&self, namespace: &str, name: &str) -> Option<&Arc<Claimant>> {
        self.claimants.get(namespace)?.get(name)
    }

    /// `claimant` with its strings shared with what the index already holds: each claim with the key of its entry,
    /// namespace, Secret and account with every other claimant spelling them the same.
    fn intern(&mut self, mut claimant: Claimant) -> Claimant {
        // Strings nobody holds any more (their claimants gone) are dropped once they are the larger part.
        if self.strings.len() > 2 * self.live + 64 {
            self.strings.retain(|s| Arc::strong_count(s) > 1);
        }
        claimant.namespace = self.shared(claimant.namespace);
        claimant.secret = self.shared(claimant.secret);
        claimant.account = claimant.account.map(|account| self.shared(account));
        for claim in claimant.claims.iter_mut().chain(claimant.held.iter_mut()) {
            if let Some((key, _)) = self.by_claim.get_key_value(claim) {
                *claim = key.clone();
            }
        }
        claimant.claims.shrink_to_fit();
        claimant.held.shrink_to_fit();
        claimant
    }

    fn shared(&mut self, s: Arc<str>) -> Arc<str> {
        match self.strings.get(&s) {
            Some(held) => held.clone(),
            None => {
                self.strings.insert(s.clone());
                s
            }
        }
    }

    /// Removes the claimant `namespace/name`; returns the others that shared one of its claims (same account
    /// possible).
    fn remove(&mut self, namespace: &str, name: &str) -> Vec<Arc<Claimant>> {
        let Some(names) = self.claimants.get_mut(namespace) else {
            return Vec::new();
        };
        let Some(gone) = names.remove(name) else {
            return Vec::new();
        };
        if names.is_empty() {
            self.claimants.remove(namespace);
        }
        self.live -= 1;
        let mut sharing = Vec::new();
        for claim in gone.all_claims() {
            if let Some(list) = self.by_claim.get_mut(claim) {
                list.retain(|c| c.uid != gone.uid);
                sharing.extend(list.iter().filter(|c| c.maybe_same_account(&gone)).cloned());
                if list.is_empty() {
                    self.by_claim.remove(claim);
                }
            }
        }
        sharing
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn claimant(name: &str, created: i64, claims: &[&str]) -> Claimant {
        Claimant {
            namespace: "ns".into(),
            name: name.into(),
            uid: Uid::of(name),
            created: Some(Time(Timestamp::from_second(created).unwrap())),
            secret: "s".into(),
            account: None,
            claims: claims.iter().map(|c| Arc::from(*c)).collect(),
            held: Vec::new(),
            synced: false,
            any_account: false,
        }
    }

    #[test]
    fn an_older_claimant_arriving_late_retriggers_the_younger() {
        let index = ClaimIndex::default();
        let young = Claimant {
            synced: true,
            ..claimant("young", 5, &["x"])
        };
        assert!(index.upsert(young).is_empty());
        assert_eq!(
            index.upsert(claimant("old", 1, &["x"])),
            vec![
                ("ns".to_string(), "old".to_string()),
                ("ns".to_string(), "young".to_string())
            ],
            "the younger one re-checks; the owner, whose identity it synced on, repairs it"
        );
        assert_eq!(index.sharing(&["x".into()]).len(), 2);
    }

    #[test]
    fn a_younger_claimant_holding_nothing_yet_is_left_to_its_own_pass() {
        let index = ClaimIndex::default();
        assert!(index.upsert(claimant("young", 5, &["x"])).is_empty());
        assert!(
            index.upsert(claimant("old", 1, &["x"])).is_empty(),
            "it never synced: its next pass checks ownership before writing anything"
        );
        let holding = Claimant {
            held: vec!["x".into()],
            ..claimant("moving", 6, &["y"])
        };
        index.upsert(holding);
        assert_eq!(
            index.upsert(Claimant {
                synced: true,
                ..claimant("old", 1, &["x"])
            }),
            vec![("ns".to_string(), "moving".to_string())],
            "a registration it still holds on the identity counts as holding something"
        );
    }

    #[test]
    fn what_many_claimants_spell_alike_is_held_once_and_dropped_with_them() {
        let index = ClaimIndex::default();
        for i in 0..100 {
            let name = format!("c{i}");
            index.upsert(Claimant {
                account: Some("acct".into()),
                ..claimant(&name, i, &["shared"])
            });
        }
        // "ns", "s" and "acct", whatever the number of claimants.
        assert_eq!(index.interned(), 3);
        // An update of a claimant shares the name its map entry is keyed by (upsert removes the entry first).
        index.upsert(Claimant {
            account: Some("acct".into()),
            synced: true,
            ..claimant("c0", 0, &["shared"])
        });
        {
            let inner = index.inner.lock().unwrap();
            let (key, held) = inner.claimants["ns"].get_key_value("c0").unwrap();
            assert!(Arc::ptr_eq(key, &held.name));
        }
        let sharing = index.sharing(&["shared".into()]);
        assert_eq!(sharing.len(), 100);
        assert!(
            sharing
                .windows(2)
                .all(|pair| Arc::ptr_eq(&pair[0].namespace, &pair[1].namespace)
                    && Arc::ptr_eq(&pair[0].account.clone().unwrap(), &pair[1].account.clone().unwrap())
                    && Arc::ptr_eq(&pair[0].claims[0], &pair[1].claims[0]))
        );
        for i in 0..100 {
            let name = format!("c{i}");
            index.remove("ns", &name, &name);
        }
        // Claimants come and go in ever new namespaces: the strings of those gone do not pile up.
        for i in 0..500 {
            let name = format!("d{i}");
            let namespace = format!("ns{i}");
            index.upsert(Claimant {
                namespace: namespace.as_str().into(),
                ..claimant(&name, i, &["other"])
            });
            index.remove(&namespace, &name, &name);
        }
        assert!(index.interned() <= 2 * index.len() + 64 + 2, "{}", index.interned());
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn removal_and_changed_claims_leave_no_stale_entries() {
        let index = ClaimIndex::default();
        index.upsert(claimant("a", 1, &["x"]));
        index.upsert(claimant("a", 1, &["y"]));
        assert!(index.sharing(&["x".into()]).is_empty());
        index.remove("ns", "a", "a");
        assert!(index.sharing(&["y".into()]).is_empty());
    }
}

#[cfg(test)]
mod retrigger_tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn claimant(ns: &str, name: &str, created: i64) -> Claimant {
        Claimant {
            namespace: ns.into(),
            name: name.into(),
            uid: Uid::of(&format!("{ns}/{name}")),
            created: Some(Time(Timestamp::from_second(created).unwrap())),
            secret: "s".into(),
            account: None,
            claims: vec!["x".into()],
            held: Vec::new(),
            synced: false,
            any_account: false,
        }
    }

    /// A claimant whose status records `account`.
    fn in_account(ns: &str, name: &str, created: i64, account: &str) -> Claimant {
        Claimant {
            account: Some(account.into()),
            ..claimant(ns, name, created)
        }
    }

    /// A claimant that synced in `account`.
    fn synced_in(ns: &str, name: &str, created: i64, account: &str) -> Claimant {
        Claimant {
            synced: true,
            ..in_account(ns, name, created, account)
        }
    }

    #[test]
    fn claimants_of_other_accounts_are_not_retriggered() {
        let index = ClaimIndex::default();
        index.upsert(in_account("a", "young", 5, "A"));
        assert!(
            index.upsert(in_account("b", "old", 1, "B")).is_empty(),
            "another namespace's Secret, recorded as another account"
        );
        assert!(index.remove("b", "old", "b/old").is_empty(), "nor when it leaves");
    }

    #[test]
    fn a_claimant_whose_account_is_unknown_is_woken_when_the_owner_leaves() {
        // Soak seed 7: the younger object never synced (Secret missing, then Conflict), so its status records no
        // account; the owner in another namespace was deleted and nothing woke it until its resync.
        let index = ClaimIndex::default();
        index.upsert(Claimant {
            account: Some("A".into()),
            synced: true,
            ..claimant("a", "owner", 1)
        });
        index.upsert(claimant("b", "waiting", 5));
        assert_eq!(
            index.remove("a", "owner", "a/owner"),
            vec![("b".to_string(), "waiting".to_string())]
        );
    }

    #[test]
    fn the_owner_leaving_wakes_the_claimants_waiting_for_it() {
        let index = ClaimIndex::default();
        index.upsert(Claimant {
            account: Some("A".into()),
            ..claimant("a", "owner", 1)
        });
        index.upsert(claimant("a", "waiting", 5));
        index.upsert(Claimant {
            account: Some("B".into()),
            ..claimant("b", "elsewhere", 5)
        });
        assert_eq!(
            index.remove("a", "owner", "a/owner"),
            vec![("a".to_string(), "waiting".to_string())],
            "deleted: the next claimant of the same account is woken, another account's is not"
        );
        assert!(index.remove("a", "owner", "a/owner").is_empty(), "removed once");
    }

    #[test]
    fn an_owner_changing_its_identity_wakes_the_claimants_of_the_old_one() {
        let index = ClaimIndex::default();
        index.upsert(claimant("a", "owner", 1));
        index.upsert(claimant("a", "waiting", 5));
        let moved = Claimant {
            claims: vec!["elsewhere".into()],
            ..claimant("a", "owner", 1)
        };
        assert_eq!(index.upsert(moved), vec![("a".to_string(), "waiting".to_string())]);
    }

    #[test]
    fn a_stale_uid_does_not_remove_the_object_that_replaced_it() {
        let index = ClaimIndex::default();
        index.upsert(claimant("a", "owner", 1));
        let recreated = Claimant {
            uid: Uid::of("new-uid"),
            ..claimant("a", "owner", 3)
        };
        index.upsert(recreated);
        assert_eq!(index.len(), 1, "the same name replaces its predecessor");
        assert!(index.remove("a", "owner", "a/owner").is_empty());
        assert_eq!(index.len(), 1);
        index.remove("a", "owner", "new-uid");
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn a_younger_claimant_that_learns_it_shares_an_account_with_an_older_one_rechecks_itself() {
        // Start-up order of soak seed 7: the older object's status (account A) reached the index while the younger's
        // recorded no account yet, so nobody was woken; then the younger synced and recorded A as well.
        let index = ClaimIndex::default();
        let young = claimant("b", "young", 5);
        index.upsert(young.clone());
        let old = Claimant {
            account: Some("A".into()),
            synced: true,
            ..claimant("a", "old", 1)
        };
        assert!(
            index.upsert(old).is_empty(),
            "the young one holds nothing yet: its own pass checks ownership, and a write it made before is contested \
             by its own status write (below)"
        );
        let young_synced = Claimant {
            account: Some("A".into()),
            synced: true,
            ..young
        };
        assert_eq!(
            index.upsert(young_synced.clone()),
            vec![
                ("a".to_string(), "old".to_string()),
                ("b".to_string(), "young".to_string())
            ],
            "it now shares account A with an older claimant: it re-checks its ownership, and the owner repairs what \
             it may have written over"
        );
        assert!(index.take_contested("a", "old"));
        assert!(
            index.upsert(young_synced).is_empty(),
            "once: an unchanged status wakes nobody"
        );
    }

    #[test]
    fn a_claimant_waiting_behind_an_owner_is_not_woken_by_its_own_conflict_status() {
        // e2e_shards: the waiting claimant recorded its account with its `Conflict`, woke itself, and that pass ran
        // after the owner had moved to another shard: nothing in this shard held the identity any more, and it wrote.
        let index = ClaimIndex::default();
        index.upsert(synced_in("a", "owner", 1, "A"));
        assert!(index.upsert(claimant("a", "waiting", 5)).is_empty());
        assert!(
            index.upsert(in_account("a", "waiting", 5, "A")).is_empty(),
            "it holds nothing: the pass that wrote this status decided with the owner in view"
        );
    }

    #[test]
    fn an_owner_moving_to_another_account_wakes_the_claimants_of_the_old_one() {
        let index = ClaimIndex::default();
        index.upsert(synced_in("b", "owner", 1, "A0"));
        index.upsert(synced_in("a", "waiting", 5, "A0"));
        assert_eq!(
            index.upsert(synced_in("b", "owner", 1, "A1")),
            vec![("a".to_string(), "waiting".to_string())],
            "its Secret moved to another key and it synced there: A0's claim is free"
        );
    }

    #[test]
    fn an_owner_forgetting_the_registration_of_its_old_account_wakes_the_claimants_there() {
        // Its Secret moved to another key where it lost the url to an older object: status forgets what the old
        // key registered (out of reach), and the account it recorded goes with it.
        let index = ClaimIndex::default();
        index.upsert(synced_in("b", "owner", 1, "A0"));
        index.upsert(in_account("a", "waiting", 5, "A0"));
        let moved = claimant("b", "owner", 1);
        assert_eq!(moved.account, None);
        assert_eq!(index.upsert(moved), vec![("a".to_string(), "waiting".to_string())]);
        let me = in_account("a", "waiting", 5, "A0");
        let others = index.sharing(&me.claims);
        assert_eq!(
            conflicting_owner(&me, "A0", others.iter().map(Arc::as_ref)),
            None,
            "an object of another namespace whose account is not known holds nothing in A0"
        );
    }

    #[test]
    fn a_younger_claimant_that_wrote_on_an_owned_identity_wakes_the_owner_to_repair_it() {
        // Soak seed 2: the younger passed the ownership gate, then the older's spec moved to the same url before
        // the younger's add; both added. The younger's status write shows it synced on the owner's identity.
        let index = ClaimIndex::default();
        index.upsert(synced_in("a", "owner", 1, "A"));
        assert!(
            index.upsert(in_account("b", "young", 5, "A")).is_empty(),
            "it holds nothing: the pass that recorded its account saw the owner; it wrote nothing, so the owner sleeps on"
        );
        assert!(!index.take_contested("a", "owner"));
        assert_eq!(
            index.upsert(synced_in("b", "young", 5, "A")),
            vec![
                ("a".to_string(), "owner".to_string()),
                ("b".to_string(), "young".to_string())
            ]
        );
        assert!(
            index.take_contested("a", "owner"),
            "the owner's next pass does not trust its record"
        );
        assert!(!index.take_contested("a", "owner"), "taken once");
        assert!(!index.take_contested("b", "young"));
    }

    #[test]
    fn an_owner_arriving_after_a_younger_claimant_that_synced_on_its_identity_is_contested() {
        // Start-up in the other order: the index learns of the younger's write first.
        let index = ClaimIndex::default();
        index.upsert(synced_in("b", "young", 5, "A"));
        assert_eq!(
            index.upsert(synced_in("a", "owner", 1, "A")),
            vec![
                ("a".to_string(), "owner".to_string()),
                ("b".to_string(), "young".to_string())
            ]
        );
        assert!(index.take_contested("a", "owner"));
    }

    #[test]
    fn a_claimant_of_another_account_contests_nothing() {
        let index = ClaimIndex::default();
        index.upsert(synced_in("a", "owner", 1, "A"));
        assert!(index.upsert(synced_in("b", "other", 5, "B")).is_empty());
        assert!(!index.take_contested("a", "owner"));
    }

    #[test]
    fn claims_spanning_accounts_compete_whatever_account_each_uses() {
        // DocStudio: one mailbox is one callback list for every token; two objects with different tokens adding
        // the same url to it made a duplicate (soak seed 2).
        let index = ClaimIndex::default();
        let owner = synced_in("a", "owner", 1, "A").spanning_accounts(true);
        let other = in_account("b", "other", 5, "B").spanning_accounts(true);
        index.upsert(owner.clone());
        assert!(
            index.upsert(other.clone()).is_empty(),
            "behind an older claimant of the mailbox, holding nothing: its own pass re-checks"
        );
        let others = index.sharing(&other.claims);
        assert_eq!(
            conflicting_owner(&other, "B", others.iter().map(Arc::as_ref)),
            Some(("a/owner".into(), "x".into()))
        );
        assert_eq!(
            index.remove("a", "owner", "a/owner"),
            vec![("b".to_string(), "other".to_string())],
            "and takes over when the owner leaves"
        );
    }

    #[test]
    fn what_an_older_claimant_still_holds_in_a_mailbox_counts_for_every_account() {
        let moved = Claimant {
            claims: vec!["y".into()],
            held: vec!["x".into()],
            ..synced_in("a", "moved", 1, "A").spanning_accounts(true)
        };
        let newcomer = in_account("b", "newcomer", 5, "B").spanning_accounts(true);
        assert_eq!(
            conflicting_owner(&newcomer, "B", [&moved]),
            Some(("a/moved".into(), "x".into()))
        );
    }

    #[test]
    fn a_status_only_update_retriggers_nobody() {
        let index = ClaimIndex::default();
        // Holding a registration on the identity (its spec moved on): it is woken once when the owner arrives.
        index.upsert(Claimant {
            claims: vec!["z".into()],
            held: vec!["x".into()],
            ..claimant("a", "young", 5)
        });
        assert_eq!(index.upsert(claimant("a", "old", 1)).len(), 1);
        assert!(index.upsert(claimant("a", "old", 1)).is_empty());
    }
}
