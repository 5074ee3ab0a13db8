//! "Reconcile now" (`reconcile.fluxcd.io/requestedAt`): whether this pass handles a new request, and what
//! `status.lastHandledReconcileAt` becomes. Pure.
//!
//! Only Flux's annotation is supported, not a second one of our own: it is what `flux reconcile`-style tooling and
//! Flux users already write, any tool or `kubectl annotate` can set it, and two keys would raise the question which
//! one `lastHandledReconcileAt` echoes when both are set.
//!
//! The wake-up itself needs nothing here: an annotation change passes the change filter (`change_filter.rs`), and
//! the watch keeps this annotation (`run.rs`). The pass it wakes is a full one: the gates (a credential breaker
//! still holds unless the Secret changed), then the provider's read and drift check.

use super::conditions::Verdict;
use crate::api::{CallbackRegistration, RECONCILE_REQUEST_ANNOTATION};

/// The annotation's value, if set.
pub fn requested_at(obj: &CallbackRegistration) -> Option<&str> {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RECONCILE_REQUEST_ANNOTATION))
        .map(String::as_str)
}

/// Whether the annotation holds a value no pass has handled yet (setting the same value again is not a new request).
pub fn is_new(obj: &CallbackRegistration) -> bool {
    let handled = obj.status.as_ref().and_then(|s| s.last_handled_reconcile_at.as_deref());
    requested_at(obj).is_some_and(|requested| Some(requested) != handled)
}

/// `status.lastHandledReconcileAt` after a pass: the requested value once a pass handled it; unchanged while
/// suspended (no provider call was made, as Flux leaves it on a suspended object) or when the annotation is gone.
pub fn handled(previous: Option<&str>, requested: Option<&str>, verdict: &Verdict) -> Option<String> {
    match (requested, verdict) {
        (Some(requested), verdict) if *verdict != Verdict::Suspended => Some(requested.to_string()),
        _ => previous.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CallbackRegistrationStatus, Reason};

    fn obj(requested: Option<&str>, handled: Option<&str>) -> CallbackRegistration {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new("r", spec);
        obj.metadata.annotations =
            requested.map(|v| [(RECONCILE_REQUEST_ANNOTATION.to_string(), v.to_string())].into());
        obj.status = Some(CallbackRegistrationStatus {
            last_handled_reconcile_at: handled.map(str::to_string),
            ..Default::default()
        });
        obj
    }

    #[test]
    fn a_request_is_new_until_status_echoes_it() {
        assert!(!is_new(&obj(None, None)));
        assert!(is_new(&obj(Some("1"), None)));
        assert!(!is_new(&obj(Some("1"), Some("1"))), "the same value again");
        assert!(is_new(&obj(Some("2"), Some("1"))));
    }

    #[test]
    fn any_pass_but_a_suspended_one_echoes_the_value() {
        let ready = Verdict::Ready { message: "ok".into() };
        let stalled = Verdict::Stalled {
            reason: Reason::InvalidCredentials,
            message: "rejected".into(),
        };
        assert_eq!(handled(None, Some("2"), &ready).as_deref(), Some("2"));
        assert_eq!(handled(Some("1"), Some("2"), &stalled).as_deref(), Some("2"));
        assert_eq!(handled(Some("1"), Some("2"), &Verdict::Suspended).as_deref(), Some("1"));
        assert_eq!(
            handled(Some("1"), None, &ready).as_deref(),
            Some("1"),
            "annotation removed"
        );
    }
}
