//! The next status, computed from the previous one and this pass's verdict. Pure, so "nothing changed → nothing
//! written" is a plain equality check.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{Verdict, conditions_for};
use crate::api::{CallbackRegistrationStatus, Reason, Registration};

/// What a successful sync contributes to status.
#[derive(Clone, Debug, PartialEq)]
pub struct Synced {
    pub registration: Registration,
    /// `None` when nothing was ever applied (an object only observed so far: `observe.rs`).
    pub applied_hash: Option<String>,
    /// The fingerprint of the provider's answer (`status.observedHash`), where it can be read back.
    pub observed_hash: Option<String>,
    /// The sync wrote to the provider: `lastSyncedTime` moves.
    pub wrote: bool,
}

/// Everything one pass learned.
#[derive(Clone, Debug, PartialEq)]
pub struct PassResult {
    pub verdict: Verdict,
    /// The provider's name (`status.provider`).
    pub provider: Option<&'static str>,
    pub target: Option<String>,
    pub synced: Option<Synced>,
    /// The account the object's Secret names now, when the pass got that far without syncing (a `Conflict`).
    pub account_now: Option<String>,
}

/// The status to write after a pass. Fields a failed pass knows nothing about keep their previous values.
pub fn next_status(
    previous: Option<&CallbackRegistrationStatus>,
    pass: &PassResult,
    generation: Option<i64>,
    now: &Time,
) -> CallbackRegistrationStatus {
    let previous = previous.cloned().unwrap_or_default();
    let conditions = conditions_for(&pass.verdict, &previous.conditions, generation, now);
    let (registration, applied_hash, observed_hash) = match &pass.synced {
        Some(synced) => {
            let last_synced_time = if synced.wrote {
                Some(now.clone())
            } else {
                previous.registration.as_ref().and_then(|r| r.last_synced_time.clone())
            };
            (
                Some(Box::new(Registration {
                    last_synced_time,
                    ..synced.registration.clone()
                })),
                synced.applied_hash.clone(),
                synced.observed_hash.clone(),
            )
        }
        // An object that lost its identity to an older one no longer knows what the provider holds for it (the
        // owner may overwrite it): forget the applied hash, so that once it owns the identity again it writes
        // instead of trusting a stale record (edna cannot be read back to notice).
        //
        // Its Secret may meanwhile name another account than the one its registration was made in: that registration
        // can no longer be reached or removed with these credentials, so it is not held any more either — forgotten,
        // so that the objects of the old account stop waiting for it (soak seed 2: a newcomer of the old key waited
        // behind an object whose key had moved on and that lost the url in its new account).
        None if pass.verdict.reason() == Reason::Conflict => {
            let registration = previous
                .registration
                .clone()
                .filter(|r| !matches!((&r.account, &pass.account_now), (Some(then), Some(now)) if then != now));
            (registration, None, None)
        }
        None => (
            previous.registration.clone(),
            previous.applied_hash.clone(),
            previous.observed_hash.clone(),
        ),
    };
    CallbackRegistrationStatus {
        observed_generation: generation,
        conditions,
        provider: pass.provider.map(str::to_string).or(previous.provider),
        target: pass.target.clone().or(previous.target),
        registration,
        applied_hash,
        observed_hash,
        // Set by the caller, which knows the object's annotations (`reconcile_request.rs`).
        last_handled_reconcile_at: previous.last_handled_reconcile_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn ready_pass(wrote: bool) -> PassResult {
        PassResult {
            verdict: Verdict::Ready { message: "ok".into() },
            provider: Some("acme"),
            target: Some("https://a".into()),
            synced: Some(Synced {
                registration: Registration {
                    urls: vec!["https://a".into()],
                    ..Registration::default()
                },
                applied_hash: Some("h1".into()),
                observed_hash: Some("o1".into()),
                wrote,
            }),
            account_now: None,
        }
    }

    #[test]
    fn a_resync_that_changed_nothing_produces_an_identical_status() {
        let first = next_status(None, &ready_pass(true), Some(1), &at(10));
        let again = next_status(Some(&first), &ready_pass(false), Some(1), &at(99));
        assert_eq!(first, again, "no timestamp churn at rest");
        assert_eq!(first.registration.unwrap().last_synced_time, Some(at(10)));
    }

    #[test]
    fn losing_a_conflict_forgets_the_applied_hash_but_keeps_the_registration() {
        let first = next_status(None, &ready_pass(true), Some(1), &at(10));
        let conflict = PassResult {
            verdict: Verdict::Stalled {
                reason: Reason::Conflict,
                message: "owned by ns/older".into(),
            },
            provider: Some("other"),
            target: Some("https://a".into()),
            synced: None,
            account_now: None,
        };
        let next = next_status(Some(&first), &conflict, Some(1), &at(20));
        assert_eq!(next.applied_hash, None);
        assert_eq!(next.observed_hash, None);
        assert_eq!(next.registration, first.registration);
    }

    #[test]
    fn losing_a_conflict_in_another_account_forgets_the_registration_of_the_old_one() {
        let synced = |account: &str| PassResult {
            synced: ready_pass(true).synced.map(|s| Synced {
                registration: Registration {
                    account: Some(account.into()),
                    ..s.registration
                },
                ..s
            }),
            ..ready_pass(true)
        };
        let conflict = |account: &str| PassResult {
            verdict: Verdict::Stalled {
                reason: Reason::Conflict,
                message: "owned by ns/older".into(),
            },
            provider: Some("acme"),
            target: Some("https://a".into()),
            synced: None,
            account_now: Some(account.into()),
        };
        let first = next_status(None, &synced("old"), Some(1), &at(10));
        let same = next_status(Some(&first), &conflict("old"), Some(1), &at(20));
        assert_eq!(same.registration, first.registration, "same account: still held");
        let moved = next_status(Some(&first), &conflict("new"), Some(1), &at(20));
        assert_eq!(
            moved.registration, None,
            "the old account's registration is out of reach"
        );
        assert_eq!(moved.applied_hash, None);
    }

    #[test]
    fn a_failed_pass_keeps_what_the_provider_holds() {
        let first = next_status(None, &ready_pass(true), Some(1), &at(10));
        let failed = PassResult {
            verdict: Verdict::Progressing {
                reason: Reason::ProviderUnavailable,
                message: "503".into(),
            },
            provider: Some("acme"),
            target: Some("https://b".into()),
            synced: None,
            account_now: None,
        };
        let next = next_status(Some(&first), &failed, Some(2), &at(20));
        assert_eq!(next.registration, first.registration);
        assert_eq!(next.applied_hash.as_deref(), Some("h1"));
        assert_eq!(next.observed_hash.as_deref(), Some("o1"));
        assert_eq!(next.observed_generation, Some(2));
        assert_eq!(next.target.as_deref(), Some("https://b"));
    }
}
