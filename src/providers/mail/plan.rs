//! What to do at Unisender Go, decided without IO from the desired webhook, what `webhook/get` answered and what
//! status recorded.

use std::collections::BTreeSet;

use super::desired::MailDesired;
use super::response::RemoteWebhook;
use crate::api::{EventReason, Registration};

/// What to do at the provider.
#[derive(Clone, Debug, PartialEq)]
pub struct MailPlan {
    /// `set` the desired object, and why.
    pub set: Option<EventReason>,
    /// The provider had stopped the webhook (reported until repaired).
    pub stopped_by_provider: bool,
    /// The webhook already existed exactly as desired but status did not know it.
    pub adopt: bool,
    /// URLs this object registered before that are no longer desired.
    pub delete: Vec<String>,
}

/// Compares desired with observed. `spec_changed` is true when the desired hash differs from the applied one.
pub fn plan(
    desired: &MailDesired,
    observed: Option<&RemoteWebhook>,
    recorded: Option<&Registration>,
    spec_changed: bool,
) -> MailPlan {
    let recorded_urls: Vec<String> = recorded.map(|r| r.urls.clone()).unwrap_or_default();
    let known = recorded_urls.contains(&desired.url);
    let delete = recorded_urls.into_iter().filter(|u| *u != desired.url).collect();
    let stopped_by_provider = observed.is_some_and(|o| o.status.as_deref() == Some("stopped"));
    let set = match observed {
        None if known && !spec_changed => Some(EventReason::DriftCorrected),
        None => Some(EventReason::Created),
        Some(_) if stopped_by_provider && desired.status == "active" => Some(EventReason::Reactivated),
        Some(remote) if differs(desired, remote) => Some(if spec_changed || !known {
            EventReason::Updated
        } else {
            EventReason::DriftCorrected
        }),
        Some(_) => None,
    };
    MailPlan {
        adopt: observed.is_some() && !known && set.is_none(),
        set,
        stopped_by_provider,
        delete,
    }
}

/// Field-by-field drift check; email statuses compare as sets, unreadable optional fields are not drift.
pub fn differs(desired: &MailDesired, remote: &RemoteWebhook) -> bool {
    let flag_differs = |want: bool, got: Option<i64>| got.is_some_and(|g| (g != 0) != want);
    let remote_statuses: BTreeSet<String> = remote.events.email_status.iter().cloned().collect();
    let remote_spam_block = remote.events.spam_block.as_ref().is_some_and(|v| !v.is_empty());
    remote.status.as_deref().unwrap_or("active") != desired.status
        || remote.event_format.as_deref().unwrap_or("json_post") != desired.event_format
        || flag_differs(desired.delivery_info, remote.delivery_info)
        || flag_differs(desired.single_event, remote.single_event)
        || remote.max_parallel.unwrap_or(10) != desired.max_parallel
        || remote_statuses != desired.email_status
        || remote_spam_block != desired.spam_block
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::desired::example as desired;
    use super::super::response::RemoteEvents;
    use super::*;

    fn remote_matching(d: &MailDesired) -> RemoteWebhook {
        RemoteWebhook {
            id: Some(json!(7)),
            url: d.url.clone(),
            status: Some(d.status.clone()),
            event_format: Some(d.event_format.clone()),
            delivery_info: Some(0),
            single_event: None,
            max_parallel: Some(10),
            events: RemoteEvents {
                email_status: vec!["spam".into(), "delivered".into()],
                spam_block: Some(vec!["*".into()]),
            },
        }
    }

    fn recorded(urls: &[&str]) -> Registration {
        Registration {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Registration::default()
        }
    }

    #[test]
    fn absent_webhook_is_created() {
        let p = plan(&desired(), None, None, false);
        assert_eq!(p.set, Some(EventReason::Created));
        assert!(!p.adopt && p.delete.is_empty());
    }

    #[test]
    fn matching_webhook_needs_nothing_and_email_statuses_compare_as_sets() {
        let d = desired();
        let r = remote_matching(&d);
        let p = plan(&d, Some(&r), Some(&recorded(&[&d.url])), false);
        assert_eq!(p.set, None);
        assert!(!p.adopt);
    }

    #[test]
    fn existing_webhook_unknown_to_status_is_adopted_not_recreated() {
        let d = desired();
        let p = plan(&d, Some(&remote_matching(&d)), None, false);
        assert_eq!(p.set, None);
        assert!(p.adopt);
    }

    #[test]
    fn change_behind_the_operators_back_is_drift() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.max_parallel = Some(50);
        assert_eq!(
            plan(&d, Some(&r), Some(&recorded(&[&d.url])), false).set,
            Some(EventReason::DriftCorrected)
        );
        assert_eq!(
            plan(&d, Some(&r), Some(&recorded(&[&d.url])), true).set,
            Some(EventReason::Updated)
        );
    }

    #[test]
    fn webhook_deleted_behind_the_operators_back_is_recreated_as_drift() {
        let d = desired();
        assert_eq!(
            plan(&d, None, Some(&recorded(&[&d.url])), false).set,
            Some(EventReason::DriftCorrected)
        );
    }

    #[test]
    fn stopped_webhook_is_reactivated() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.status = Some("stopped".into());
        let p = plan(&d, Some(&r), Some(&recorded(&[&d.url])), false);
        assert_eq!(p.set, Some(EventReason::Reactivated));
        assert!(p.stopped_by_provider);
    }

    #[test]
    fn url_change_sets_the_new_and_deletes_the_old() {
        let d = desired();
        let p = plan(&d, None, Some(&recorded(&["https://old.example/u"])), true);
        assert_eq!(p.set, Some(EventReason::Created));
        assert_eq!(p.delete, vec!["https://old.example/u".to_string()]);
    }

    #[test]
    fn unreadable_optional_flags_are_not_drift() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.delivery_info = None;
        assert!(!differs(&d, &r));
        r.delivery_info = Some(1);
        assert!(differs(&d, &r));
    }
}
