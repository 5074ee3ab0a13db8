//! Whether to call edna at all, and what to say about URLs edna keeps. edna cannot be read back, so the decision
//! rests only on what status recorded: the applied hash and when the URLs were last written. Pure.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::desired::{EdnaDesired, describe_subject};
use crate::api::Registration;
use crate::api::EventReason;
use crate::providers::Recorded;

/// A re-assert is due once this share of the interval has passed. The controller requeues after the interval
/// ±10% (jitter); without this slack a wake-up at 90% would find nothing due and the next one would come a whole
/// interval later.
const DUE_SHARE: f64 = 0.9;

/// What `sync` must do: `None` leaves edna alone (no call at all), `Some(reason)` sends `callback/set`.
pub fn plan(
    desired_hash: &str,
    recorded: Recorded<'_>,
    now: Timestamp,
    reassert_every: Duration,
) -> Option<EventReason> {
    let Some(registration) = recorded.registration else {
        return Some(EventReason::Created);
    };
    if recorded.applied_hash != Some(desired_hash) {
        return Some(EventReason::Updated);
    }
    // A user's "reconcile now" is the one way to have edna re-checked before the interval: nothing can be read, so
    // the URLs are written again.
    if recorded.reconcile_requested {
        return Some(EventReason::Reasserted);
    }
    reassert_due(registration, now, reassert_every).then_some(EventReason::Reasserted)
}

/// True when the URLs were last written longer ago than (most of) the re-assert interval, or never recorded.
fn reassert_due(registration: &Registration, now: Timestamp, reassert_every: Duration) -> bool {
    let Some(last) = registration.last_synced_time.as_ref() else {
        return true;
    };
    let elapsed_ms = now.as_millisecond().saturating_sub(last.0.as_millisecond());
    let due_ms = reassert_every.mul_f64(DUE_SHARE).as_millis();
    i128::from(elapsed_ms) >= i128::try_from(due_ms).unwrap_or(i128::MAX)
}

/// What edna keeps that this object no longer wants: edna has no way to clear a URL, so a URL dropped from the
/// spec, or every URL of a channel the object moved away from, stays registered. `None` when nothing is left.
pub fn left_behind(
    desired: &EdnaDesired,
    subject_id: Option<i64>,
    account: &str,
    recorded: Option<&Registration>,
) -> Option<String> {
    let recorded = recorded.filter(|r| !r.urls.is_empty())?;
    let moved_account = recorded.account.as_deref().is_some_and(|a| a != account);
    if moved_account || recorded.subject_id != subject_id {
        let whose = if moved_account {
            " under the previous credentials"
        } else {
            ""
        };
        return Some(format!(
            "edna keeps {} for {}{whose}: it has no method to clear a URL",
            recorded.urls.join(", "),
            describe_subject(recorded.subject_id)
        ));
    }
    let dropped: Vec<&str> = recorded
        .urls
        .iter()
        .filter(|url| !desired.urls.values().any(|u| u == *url))
        .map(String::as_str)
        .collect();
    (!dropped.is_empty()).then(|| {
        format!(
            "edna keeps {} for {}: it has no method to clear a URL",
            dropped.join(", "),
            describe_subject(subject_id)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EdnaSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn registration(synced_at: Option<i64>) -> Registration {
        Registration {
            account: Some("acct".into()),
            urls: vec!["https://a/s".into()],
            subject_id: Some(42),
            last_synced_time: synced_at.map(|s| Time(at(s))),
            ..Registration::default()
        }
    }

    fn recorded<'a>(registration: Option<&'a Registration>, hash: Option<&'a str>) -> Recorded<'a> {
        Recorded {
            registration,
            applied_hash: hash,
            ..Recorded::default()
        }
    }

    fn desired(status: &str) -> EdnaDesired {
        EdnaDesired::from_spec(&EdnaSpec {
            subject_id: Some(42),
            subject: None,
            status_callback_url: Some(status.into()),
            in_message_callback_url: None,
            message_matcher_callback_url: None,
        })
        .unwrap()
    }

    #[test]
    fn nothing_recorded_means_set() {
        assert_eq!(
            plan("h", recorded(None, None), at(100), HOUR),
            Some(EventReason::Created)
        );
    }

    #[test]
    fn a_changed_desired_hash_means_set_at_once() {
        let r = registration(Some(100));
        assert_eq!(
            plan("new", recorded(Some(&r), Some("old")), at(101), HOUR),
            Some(EventReason::Updated)
        );
    }

    #[test]
    fn an_unchanged_hash_within_the_interval_makes_no_call() {
        let r = registration(Some(100));
        assert_eq!(plan("h", recorded(Some(&r), Some("h")), at(100 + 3000), HOUR), None);
    }

    #[test]
    fn an_unchanged_hash_past_the_interval_is_reasserted() {
        let r = registration(Some(100));
        assert_eq!(
            plan("h", recorded(Some(&r), Some("h")), at(100 + 3600), HOUR),
            Some(EventReason::Reasserted)
        );
    }

    #[test]
    fn a_jittered_early_wake_up_still_reasserts() {
        let r = registration(Some(100));
        assert_eq!(
            plan("h", recorded(Some(&r), Some("h")), at(100 + 3240), HOUR),
            Some(EventReason::Reasserted)
        );
        assert_eq!(plan("h", recorded(Some(&r), Some("h")), at(100 + 3239), HOUR), None);
    }

    #[test]
    fn a_reconcile_request_reasserts_within_the_interval() {
        let r = registration(Some(100));
        let requested = Recorded {
            reconcile_requested: true,
            ..recorded(Some(&r), Some("h"))
        };
        assert_eq!(plan("h", requested, at(101), HOUR), Some(EventReason::Reasserted));
    }

    #[test]
    fn a_missing_last_synced_time_is_reasserted() {
        let r = registration(None);
        assert_eq!(
            plan("h", recorded(Some(&r), Some("h")), at(5), HOUR),
            Some(EventReason::Reasserted)
        );
    }

    #[test]
    fn a_dropped_url_is_reported_as_kept_by_edna() {
        let r = registration(Some(1));
        assert_eq!(left_behind(&desired("https://a/s"), Some(42), "acct", Some(&r)), None);
        let note = left_behind(&desired("https://b/s"), Some(42), "acct", Some(&r)).unwrap();
        assert!(note.contains("https://a/s") && note.contains("subjectId 42"), "{note}");
    }

    #[test]
    fn moving_to_another_channel_or_account_leaves_every_url_behind() {
        let r = registration(Some(1));
        let note = left_behind(&desired("https://a/s"), Some(7), "acct", Some(&r)).unwrap();
        assert!(note.contains("https://a/s") && note.contains("subjectId 42"), "{note}");
        let note = left_behind(&desired("https://a/s"), Some(42), "other", Some(&r)).unwrap();
        assert!(note.contains("previous credentials"), "{note}");
        assert_eq!(left_behind(&desired("https://a/s"), Some(7), "acct", None), None);
    }
}
