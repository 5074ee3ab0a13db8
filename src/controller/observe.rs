//! `managementPolicy: Observe`: what one read of the provider means for status, without any provider write. Pure.
//!
//! - found and matching (a full sync would write nothing) → Ready, reason `Observed`; the object is recorded in
//!   `status.registration` (adopted: an `Adopted` Event the first time);
//! - found and differing → Stalled, reason `Drifted`, the message naming each field (provider → spec); the object is
//!   recorded too, so switching to full management repairs that very object with the fewest writes;
//! - nothing found → Stalled, reason `NotFoundAtProvider`;
//! - the provider cannot be read (edna) → Stalled, reason `ObserveUnsupported`.
//!
//! `appliedHash` stays empty (nothing was applied): on the switch to full management the provider is compared with
//! the spec, never trusted from a record.

use super::conditions::Verdict;
use super::status::Synced;
use crate::api::{EventReason, Reason};
use crate::providers::{Change, Observation};

/// What an observe pass contributes: the verdict, what to record, and the Events.
#[derive(Debug, PartialEq)]
pub struct Observed {
    pub verdict: Verdict,
    pub synced: Option<Synced>,
    pub changes: Vec<Change>,
}

/// The verdict of an observation of `target` at provider `label`. `known` says whether status recorded the
/// registration before (an `Adopted` Event only on the first sighting).
pub fn observed(label: &str, target: &str, observation: Observation, known: bool) -> Observed {
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
    let changes = if known {
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
            applied_hash: None,
            observed_hash: observation.observed_hash,
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
    fn a_matching_object_is_ready_observed_and_recorded_without_an_applied_hash() {
        let o = observed("Acme", "https://a", found(), false);
        assert_eq!(o.verdict.reason(), Reason::Observed);
        assert!(o.verdict.is_ready());
        let synced = o.synced.unwrap();
        assert_eq!(synced.applied_hash, None);
        assert!(!synced.wrote);
        assert_eq!(o.changes.len(), 1, "adopted once");
        assert!(observed("Acme", "https://a", found(), true).changes.is_empty());
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
        let o = observed("Acme", "https://a", drifted, true);
        assert_eq!(o.verdict.reason(), Reason::Drifted);
        assert!(matches!(o.verdict, Verdict::Stalled { .. }));
        let message = o.verdict.message();
        assert!(message.contains("max_parallel (50 → 10), status (disabled → active)"), "{message}");
        assert!(o.synced.is_some(), "the drifted object is still recorded");
    }

    #[test]
    fn nothing_found_and_an_unreadable_provider_stall_with_their_own_reasons() {
        let absent = observed("Acme", "https://a", Observation::default(), false);
        assert_eq!(absent.verdict.reason(), Reason::NotFoundAtProvider);
        assert!(absent.synced.is_none());
        let unreadable = Observation {
            unreadable: Some("cannot be read".into()),
            ..Observation::default()
        };
        let o = observed("Acme", "https://a", unreadable, false);
        assert_eq!(o.verdict.reason(), Reason::ObserveUnsupported);
        assert!(o.verdict.message().contains("nothing is written"));
    }
}
