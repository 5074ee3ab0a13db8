//! Compares the model's expectation with snapshots of every simulator and of the objects' conditions. No IO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use super::model::{Identity, Model, ObjKey};

/// A mail webhook as the simulator holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct MailHook {
    pub url: String,
    pub status: String,
    pub max_parallel: u32,
}

/// What one object's Ready condition says.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjState {
    pub reason: String,
    pub message: String,
    /// observedGeneration == generation.
    pub observed: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// mail webhooks per key.
    pub mail: BTreeMap<String, Vec<MailHook>>,
    /// edna: per key, field → url on subjectId 1001 (effective).
    pub edna: BTreeMap<String, BTreeMap<String, String>>,
    /// envelope callback urls in the mailbox (one entry per callback).
    pub envelope: Vec<String>,
    /// Objects in the cluster, by key (absent: no status yet).
    pub objects: BTreeMap<ObjKey, Option<ObjState>>,
    /// An intermediate check: objects still retrying with backoff ([`TRANSIENT`]) are in flight — their reason
    /// says why, and what they are working on is exempt from the missing/wrong checks until a later check.
    pub in_flight_allowed: bool,
}

/// Ready reasons of work still under way (retried with backoff).
pub const TRANSIENT: &[&str] = &[
    "ProviderUnavailable",
    "ProviderTimeout",
    "ProviderUnreachable",
    "ProviderProtocolError",
    "RateLimited",
    "EndpointUnavailable",
    "ProviderBusy",
];

#[derive(Clone, Debug, PartialEq)]
pub enum Violation {
    Duplicate {
        identity: Identity,
        count: usize,
    },
    Leak {
        identity: Identity,
    },
    Missing {
        identity: Identity,
        owner: ObjKey,
    },
    Wrong {
        identity: Identity,
        owner: ObjKey,
        what: String,
    },
    Stuck {
        object: ObjKey,
        expected: Vec<&'static str>,
        got: Option<ObjState>,
    },
    NotDeleted {
        object: ObjKey,
    },
    HotLoop {
        calls: u64,
        bound: u64,
    },
    CredentialInLog {
        which: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Duplicate { identity, count } => write!(f, "duplicate: {identity:?} held {count} times"),
            Violation::Leak { identity } => write!(f, "leak: {identity:?} is owned by no live object"),
            Violation::Missing { identity, owner } => {
                write!(f, "missing: {identity:?} (owner {}/{})", owner.0, owner.1)
            }
            Violation::Wrong { identity, owner, what } => {
                write!(f, "wrong: {identity:?} (owner {}/{}): {what}", owner.0, owner.1)
            }
            Violation::Stuck { object, expected, got } => {
                write!(f, "stuck: {}/{} should be {expected:?}, is {got:?}", object.0, object.1)
            }
            Violation::NotDeleted { object } => write!(f, "not deleted: {}/{} still exists", object.0, object.1),
            Violation::HotLoop { calls, bound } => {
                write!(f, "hot loop: {calls} provider calls at rest (bound {bound})")
            }
            Violation::CredentialInLog { which } => write!(f, "a credential ({which}) appears in an operator log"),
        }
    }
}

/// Every violation of the model in `snap`. `keys` are all the keys whose accounts the snapshot covers.
pub fn check(model: &Model, snap: &Snapshot) -> Vec<Violation> {
    let mut out = Vec::new();
    let required = model.required();
    let held = model.held();

    // Objects still retrying (an intermediate check only): their reason says why; checked at a later point.
    let in_flight: BTreeSet<&ObjKey> = model
        .objects
        .keys()
        .filter(|key| {
            snap.in_flight_allowed
                && snap
                    .objects
                    .get(*key)
                    .cloned()
                    .flatten()
                    .is_some_and(|s| s.observed && TRANSIENT.contains(&s.reason.as_str()))
        })
        .collect();

    // Objects: every live one reports what the model expects (no object stuck without a reason) ...
    for key in model.objects.keys() {
        let expected = model.expected(key);
        let got = snap.objects.get(key).cloned().flatten();
        let ok = got
            .as_ref()
            .is_some_and(|s| s.observed && expected.reasons().contains(&s.reason.as_str()));
        if !ok && !in_flight.contains(key) {
            out.push(Violation::Stuck {
                object: key.clone(),
                expected: expected.reasons().to_vec(),
                got,
            });
        }
    }
    // ... and every deleted one is gone (its finalizer done).
    for key in snap.objects.keys().filter(|k| !model.objects.contains_key(*k)) {
        out.push(Violation::NotDeleted { object: key.clone() });
    }

    // What the providers hold.
    let mut present: BTreeMap<Identity, usize> = BTreeMap::new();
    for (key, hooks) in &snap.mail {
        for hook in hooks {
            *present
                .entry(Identity::Mail {
                    key: key.clone(),
                    url: hook.url.clone(),
                })
                .or_default() += 1;
        }
    }
    for url in &snap.envelope {
        *present.entry(Identity::Envelope { url: url.clone() }).or_default() += 1;
    }
    for (identity, &count) in &present {
        if count > 1 && !model.drifted.contains(identity) {
            out.push(Violation::Duplicate {
                identity: identity.clone(),
                count,
            });
        }
        if !required.contains_key(identity) && !held.contains(identity) && !model.tolerated.contains(identity) {
            out.push(Violation::Leak {
                identity: identity.clone(),
            });
        }
    }

    for (identity, owner) in &required {
        if model.drifted.contains(identity) || in_flight.contains(owner) {
            continue;
        }
        let obj = &model.objects[owner];
        match identity {
            Identity::Mail { key, url } => {
                match snap
                    .mail
                    .get(key)
                    .and_then(|hooks| hooks.iter().find(|h| &h.url == url))
                {
                    None => out.push(missing(identity, owner)),
                    Some(hook) if hook.status != "active" || hook.max_parallel != obj.max_parallel => {
                        out.push(Violation::Wrong {
                            identity: identity.clone(),
                            owner: owner.clone(),
                            what: format!(
                                "status {} maxParallel {} (want active, {})",
                                hook.status, hook.max_parallel, obj.max_parallel
                            ),
                        })
                    }
                    Some(_) => {}
                }
            }
            Identity::Envelope { url } => {
                if !snap.envelope.contains(url) {
                    out.push(missing(identity, owner));
                }
            }
            Identity::Edna { key, field } => {
                let got = snap.edna.get(key).and_then(|fields| fields.get(field));
                if got != Some(&obj.url) {
                    out.push(Violation::Wrong {
                        identity: identity.clone(),
                        owner: owner.clone(),
                        what: format!("holds {got:?}, want {}", obj.url),
                    });
                }
            }
        }
    }
    out
}

fn missing(identity: &Identity, owner: &ObjKey) -> Violation {
    Violation::Missing {
        identity: identity.clone(),
        owner: owner.clone(),
    }
}

/// The most provider calls `objects` objects may make in `window` at rest: one drift check (at most two calls) per
/// object per `resync`, plus a small allowance for checks that happen to fall in the window, plus one retry (at most
/// three calls: read, write, read back) for each object still in flight (an intermediate check lets it retry).
pub fn calls_at_rest_bound(objects: usize, in_flight: usize, window: Duration, resync: Duration) -> u64 {
    let per_window = (2 * objects as u128 * window.as_millis()).div_ceil(resync.as_millis().max(1));
    per_window as u64 + 4 + 3 * in_flight as u64
}

/// A hot-loop violation when more calls than the bound were made at rest.
pub fn hot_loop(calls: u64, objects: usize, in_flight: usize, window: Duration, resync: Duration) -> Option<Violation> {
    let bound = calls_at_rest_bound(objects, in_flight, window, resync);
    (calls > bound).then_some(Violation::HotLoop { calls, bound })
}

/// How many objects of `snap` are in flight (an intermediate check, a transient reason).
pub fn in_flight(snap: &Snapshot) -> usize {
    if !snap.in_flight_allowed {
        return 0;
    }
    snap.objects
        .values()
        .flatten()
        .filter(|s| s.observed && TRANSIENT.contains(&s.reason.as_str()))
        .count()
}
/// Credentials (by label) that appear in `log`.
pub fn credentials_in(log: &str, credentials: &BTreeSet<(String, String)>) -> Vec<Violation> {
    credentials
        .iter()
        .filter(|(_, secret)| log.contains(secret.as_str()))
        .map(|(label, _)| Violation::CredentialInLog { which: label.clone() })
        .collect()
}
