//! `managementPolicy: Observe`: what one read of the provider means for status, without any provider write. Pure.
//!
//! - found and matching (a full sync would write nothing) → Ready, reason `Observed`; the object is recorded in
//!   `status.registration` (adopted: an `Adopted` Event the first time);
//! - found and differing → Stalled, reason `Drifted`, the message naming each field (provider → spec); the object is
//!   recorded too, so switching to full management repairs that very object with the fewest writes;
//! - nothing found → Stalled, reason `NotFoundAtProvider`;
//! - the provider cannot be read back at all → Stalled, reason `ObserveUnsupported`.
//!
//! `appliedHash` and `observedHash` keep what the last write recorded (empty when the operator never wrote): an
//! observation applies nothing. So on the switch to full management the provider is compared with the spec (never
//! trusted from a read made while observing), while a provider's own spelling of what the operator last wrote, or a
//! write-only password it last set, still counts as matching.

use super::conditions::Verdict;
use super::status::Synced;
use crate::api::{EventReason, Reason};
use crate::providers::{Change, Observation, Recorded};

/// What an observe pass contributes: the verdict, what to record, and the Events.
#[derive(Debug, PartialEq)]
pub struct Observed {
    pub verdict: Verdict,
    pub synced: Option<Synced>,
    pub changes: Vec<Change>,
}

/// The verdict of an observation of `target` at provider `label`. `recorded` is what status holds (an `Adopted`
/// Event only when it records no registration yet; the hashes of the last write are kept).
pub fn observed(label: &str, target: &str, observation: Observation, recorded: Recorded<'_>) -> Observed {
    if let Some(why) = observation.unreadable {
        return stalled(
            Reason::ObserveUnsupported,
            format!("managementPolicy Observe: {why}; nothing is written to {label}"),
        );
    }
    let Some(found) = observation.found.clone() else {
        return stalled(
            Reason::NotFoundAtProvider,
            format!(
                "managementPolicy Observe: {label} holds nothing for {target}; nothing is created (set \
                 managementPolicy Full to create it)"
            ),
        );
    };
    let changes = if recorded.registration.is_some() {
        Vec::new()
    } else {
        vec![Change {
            reason: EventReason::Adopted,
            message: format!("observing the existing registration of {target} at {label} (nothing written)"),
        }]
    };
    let verdict = if observation.matches() {
        Verdict::Observed {
            message: format!("managementPolicy Observe: {label} holds {target} as the spec asks"),
        }
    } else {
        Verdict::Stalled {
            reason: Reason::Drifted,
            message: format!(
                "managementPolicy Observe: {label} holds {target} differing from the spec in {}; nothing is written \
                 (set managementPolicy Full to repair it: {})",
                observation.drift_summary(),
                observation.writes.join("; ")
            ),
        }
    };
    Observed {
        verdict,
        synced: Some(Synced {
            registration: found,
            applied_hash: recorded.applied_hash.map(str::to_string),
            observed_hash: recorded.observed_hash.map(str::to_string),
            wrote: false,
        }),
        changes,
    }
}

fn stalled(reason: Reason, message: String) -> Observed {
    Observed {
        verdict: Verdict::Stalled { reason, message },
        synced: None,
        changes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Registration;
    use crate::providers::FieldDiff;

    fn found() -> Observation {
        Observation {
            found: Some(Registration {
                urls: vec!["https://a".into()],
                ..Registration::default()
            }),
            observed_hash: Some("o1".into()),
            adopt: true,
            ..Observation::default()
        }
    }

    #[test]
    fn a_matching_object_is_ready_observed_and_recorded_keeping_the_last_writes_hashes() {
        let o = observed("Acme", "https://a", found(), Recorded::default());
        assert_eq!(o.verdict.reason(), Reason::Observed);
        assert!(o.verdict.is_ready());
        let synced = o.synced.unwrap();
        assert_eq!(
            (synced.applied_hash, synced.observed_hash),
            (None, None),
            "nothing applied, nothing read back"
        );
        assert!(!synced.wrote);
        assert_eq!(o.changes.len(), 1, "adopted once");
        let registration = Registration::default();
        let before = Recorded {
            registration: Some(&registration),
            applied_hash: Some("h1"),
            observed_hash: Some("o0"),
            corrections_spent: None,
            reconcile_requested: false,
        };
        let again = observed("Acme", "https://a", found(), before);
        assert!(again.changes.is_empty());
        let synced = again.synced.unwrap();
        assert_eq!(
            (synced.applied_hash.as_deref(), synced.observed_hash.as_deref()),
            (Some("h1"), Some("o0")),
            "a read while observing never becomes the record of a write"
        );
    }

    #[test]
    fn a_differing_object_is_drifted_naming_each_field_with_both_values() {
        let drifted = Observation {
            diff: vec![
                FieldDiff::new("max_parallel", "50", "10"),
                FieldDiff::new("status", "disabled", "active"),
            ],
            writes: vec!["set webhook https://a".into()],
            ..found()
        };
        let o = observed("Acme", "https://a", drifted, Recorded::default());
        assert_eq!(o.verdict.reason(), Reason::Drifted);
        assert!(matches!(o.verdict, Verdict::Stalled { .. }));
        let message = o.verdict.message();
        assert!(
            message.contains("max_parallel (50 → 10), status (disabled → active)"),
            "{message}"
        );
        assert!(o.synced.is_some(), "the drifted object is still recorded");
    }

    #[test]
    fn nothing_found_and_an_unreadable_provider_stall_with_their_own_reasons() {
        let absent = observed("Acme", "https://a", Observation::default(), Recorded::default());
        assert_eq!(absent.verdict.reason(), Reason::NotFoundAtProvider);
        assert!(absent.synced.is_none());
        let unreadable = Observation {
            unreadable: Some("cannot be read".into()),
            ..Observation::default()
        };
        let o = observed("Acme", "https://a", unreadable, Recorded::default());
        assert_eq!(o.verdict.reason(), Reason::ObserveUnsupported);
        assert!(o.verdict.message().contains("nothing is written"));
    }
}
