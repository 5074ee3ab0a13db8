//! What to do at Unisender Go, decided without IO from the desired webhook, what `webhook/get` answered, what
//! status recorded, and whether that answer is the one recorded after the last write.

use std::collections::BTreeSet;

use super::desired::MailDesired;
use super::response::RemoteWebhook;
use crate::api::{EventReason, Registration};
use crate::providers::{FieldDiff, Observation, same_url};

/// What to do at the provider.
#[derive(Clone, Debug, PartialEq)]
pub struct MailPlan {
    /// `set` the desired object, and why.
    pub set: Option<EventReason>,
    /// The provider had disabled the webhook itself (reported until repaired).
    pub stopped_by_provider: bool,
    /// The webhook already existed exactly as desired but status did not know it.
    pub adopt: bool,
    /// URLs this object registered before that are no longer desired.
    pub delete: Vec<String>,
    /// The fields in which the provider differs (for Events and `DriftLoop`); `presence` when it holds nothing.
    pub differing: Vec<&'static str>,
    /// The `set` only corrects the provider: the spec and Secrets are what status says was applied.
    pub corrective: bool,
}

/// What status says about the last write.
#[derive(Clone, Copy, Debug, Default)]
pub struct Record<'a> {
    pub registration: Option<&'a Registration>,
    /// The desired state is exactly the one status says was applied.
    pub applied: bool,
    /// Something else was applied before (a spec or Secret change since).
    pub spec_changed: bool,
    /// The provider answers exactly what it answered after the last write (`status.observedHash`).
    pub settled: bool,
}

/// Whether a webhook status word means the provider disabled it: anything but the two a user can set (`stopped`,
/// `inactive`, or a word not seen yet are all treated alike).
pub fn disabled_by_provider(status: Option<&str>) -> bool {
    status.is_some_and(|s| !matches!(s, "active" | "disabled"))
}

/// Compares desired with observed.
pub fn plan(desired: &MailDesired, observed: Option<&RemoteWebhook>, record: Record<'_>) -> MailPlan {
    let recorded_urls: Vec<String> = record.registration.map(|r| r.urls.clone()).unwrap_or_default();
    let known = recorded_urls.iter().any(|u| same_url(u, &desired.url));
    let delete = recorded_urls.into_iter().filter(|u| !same_url(u, &desired.url)).collect();
    let stopped_by_provider = observed.is_some_and(|o| disabled_by_provider(o.status.as_deref()));
    let differing = match observed {
        None => vec!["presence"],
        Some(remote) => differing_fields(desired, remote),
    };
    let set = match observed {
        // The provider answers what it answered after our last write: whatever it reformatted is its own spelling.
        Some(_) if record.settled && record.applied => None,
        None if known && !record.spec_changed => Some(EventReason::DriftCorrected),
        None => Some(EventReason::Created),
        Some(_) if stopped_by_provider && desired.status == "active" => Some(EventReason::Reactivated),
        Some(_) if !differing.is_empty() => Some(if record.spec_changed || !known {
            EventReason::Updated
        } else {
            EventReason::DriftCorrected
        }),
        Some(_) => None,
    };
    MailPlan {
        adopt: observed.is_some() && !known && set.is_none(),
        corrective: set.is_some() && record.applied,
        set,
        stopped_by_provider,
        delete,
        differing,
    }
}

/// The fields in which `remote` differs from `desired`; email statuses compare as sets, unreadable optional fields
/// are not drift.
pub fn differing_fields(desired: &MailDesired, remote: &RemoteWebhook) -> Vec<&'static str> {
    let flag_differs = |want: bool, got: Option<i64>| got.is_some_and(|g| (g != 0) != want);
    let remote_statuses: BTreeSet<String> = remote.events.email_status.iter().cloned().collect();
    let remote_spam_block = remote.events.spam_block.as_ref().is_some_and(|v| !v.is_empty());
    [
        ("status", remote.status.as_deref().unwrap_or("active") != desired.status),
        (
            "event_format",
            remote.event_format.as_deref().unwrap_or("json_post") != desired.event_format,
        ),
        ("delivery_info", flag_differs(desired.delivery_info, remote.delivery_info)),
        ("single_event", flag_differs(desired.single_event, remote.single_event)),
        ("max_parallel", remote.max_parallel.unwrap_or(10) != desired.max_parallel),
        ("events.email_status", remote_statuses != desired.email_status),
        ("events.spam_block", remote_spam_block != desired.spam_block),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect()
}

/// What a read found and what `plan` would write, for `managementPolicy: Observe` and `callback-operator plan`.
pub fn observation(
    desired: &MailDesired,
    observed: Option<&RemoteWebhook>,
    plan: &MailPlan,
    account: &str,
) -> Observation {
    let mut writes = Vec::new();
    if let Some(reason) = plan.set {
        let why = match reason {
            EventReason::Created => "create".to_string(),
            EventReason::Reactivated => "re-activate".to_string(),
            _ => format!("update {}", plan.differing.join(", ")),
        };
        writes.push(format!("set webhook {} ({why})", desired.url));
    }
    writes.extend(plan.delete.iter().map(|old| format!("delete the previous webhook {old}")));
    Observation {
        found: observed.map(|remote| found(remote, account)),
        observed_hash: observed.map(RemoteWebhook::fingerprint),
        adopt: plan.adopt,
        diff: observed.map(|remote| field_diff(desired, remote)).unwrap_or_default(),
        writes,
        unreadable: None,
    }
}

/// The webhook as status records it.
pub fn found(remote: &RemoteWebhook, account: &str) -> Registration {
    Registration {
        account: Some(account.to_string()),
        id: remote.id_string(),
        urls: vec![remote.url.clone()],
        provider_status: remote.status.clone(),
        ..Registration::default()
    }
}

/// The differing fields with both values (the provider's defaults filled in where it left a field out).
pub fn field_diff(desired: &MailDesired, remote: &RemoteWebhook) -> Vec<FieldDiff> {
    let flag = |v: Option<i64>| v.map_or("unset".to_string(), |v| (v != 0).to_string());
    let set = |items: &mut Vec<String>| {
        items.sort();
        format!("[{}]", items.join(", "))
    };
    differing_fields(desired, remote)
        .into_iter()
        .map(|field| {
            let (provider, spec) = match field {
                "status" => (remote.status.clone().unwrap_or("active".into()), desired.status.clone()),
                "event_format" => (
                    remote.event_format.clone().unwrap_or("json_post".into()),
                    desired.event_format.clone(),
                ),
                "delivery_info" => (flag(remote.delivery_info), desired.delivery_info.to_string()),
                "single_event" => (flag(remote.single_event), desired.single_event.to_string()),
                "max_parallel" => (
                    remote.max_parallel.unwrap_or(10).to_string(),
                    desired.max_parallel.to_string(),
                ),
                "events.email_status" => (
                    set(&mut remote.events.email_status.clone()),
                    set(&mut desired.email_status.iter().cloned().collect()),
                ),
                _ => (
                    remote.events.spam_block.as_ref().is_some_and(|v| !v.is_empty()).to_string(),
                    desired.spam_block.to_string(),
                ),
            };
            FieldDiff::new(field, provider, spec)
        })
        .collect()
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

    fn differs(d: &MailDesired, r: &RemoteWebhook) -> bool {
        !differing_fields(d, r).is_empty()
    }

    /// The old positional form: (desired, observed, recorded registration, spec changed since the last write).
    fn plan(d: &MailDesired, o: Option<&RemoteWebhook>, r: Option<&Registration>, spec_changed: bool) -> MailPlan {
        super::plan(
            d,
            o,
            Record {
                registration: r,
                applied: r.is_some() && !spec_changed,
                spec_changed,
                settled: false,
            },
        )
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
    fn every_provider_disabled_word_is_reactivated_alike() {
        let d = desired();
        for word in ["stopped", "inactive", "suspended"] {
            let mut r = remote_matching(&d);
            r.status = Some(word.into());
            let p = plan(&d, Some(&r), Some(&recorded(&[&d.url])), false);
            assert_eq!(p.set, Some(EventReason::Reactivated), "{word}");
            assert!(p.stopped_by_provider && p.corrective, "{word}");
        }
        assert!(!disabled_by_provider(Some("disabled")) && !disabled_by_provider(None));
    }

    #[test]
    fn an_answer_equal_to_the_one_after_the_last_write_is_never_written_again() {
        // The provider reformats max_parallel (or drops a field): the echo differs from the spec, but it is the
        // same echo as right after our write.
        let d = desired();
        let mut r = remote_matching(&d);
        r.max_parallel = Some(11);
        let reg = recorded(&[&d.url]);
        let settled = Record {
            registration: Some(&reg),
            applied: true,
            spec_changed: false,
            settled: true,
        };
        assert_eq!(super::plan(&d, Some(&r), settled).set, None);
        // The same answer after a spec change is still written: a changed spec is always applied.
        let changed = Record {
            applied: false,
            spec_changed: true,
            ..settled
        };
        assert_eq!(super::plan(&d, Some(&r), changed).set, Some(EventReason::Updated));
        // Not settled: it is drift, corrected, and the differing field is named.
        let drifted = Record { settled: false, ..settled };
        let p = super::plan(&d, Some(&r), drifted);
        assert_eq!(p.set, Some(EventReason::DriftCorrected));
        assert_eq!(p.differing, vec!["max_parallel"]);
        assert!(p.corrective);
    }

    #[test]
    fn a_recorded_url_in_the_providers_normal_form_is_the_same_webhook() {
        let d = desired();
        let normal = "HTTPS://Hooks.Example:443/u/".to_string();
        let p = plan(&d, Some(&remote_matching(&d)), Some(&recorded(&[&normal])), false);
        assert!(p.delete.is_empty(), "never delete our own webhook: {p:?}");
        assert!(!p.adopt);
    }

    #[test]
    fn an_observation_names_each_differing_field_with_both_values_and_the_one_write() {
        let d = desired();
        let mut r = remote_matching(&d);
        r.max_parallel = Some(50);
        r.events.email_status = vec!["delivered".into()];
        // Observed before, never applied (managementPolicy Observe): the recorded url, no applied hash.
        let reg = recorded(&[&d.url]);
        let record = Record {
            registration: Some(&reg),
            ..Record::default()
        };
        let p = super::plan(&d, Some(&r), record);
        let o = observation(&d, Some(&r), &p, "acct");
        assert_eq!(
            o.diff,
            vec![
                FieldDiff::new("max_parallel", "50", "10"),
                FieldDiff::new("events.email_status", "[delivered]", "[delivered, spam]"),
            ]
        );
        assert_eq!(o.writes.len(), 1, "one set repairs every field: {:?}", o.writes);
        assert!(!o.adopt && !o.matches());
        assert_eq!(o.found.unwrap().urls, vec![d.url.clone()]);
    }

    #[test]
    fn an_observation_of_a_matching_unknown_webhook_is_an_adoption_without_writes() {
        let d = desired();
        let r = remote_matching(&d);
        let p = super::plan(&d, Some(&r), Record::default());
        let o = observation(&d, Some(&r), &p, "acct");
        assert!(o.adopt && o.matches() && o.diff.is_empty());
        let absent = observation(&d, None, &super::plan(&d, None, Record::default()), "acct");
        assert!(absent.found.is_none() && absent.writes.len() == 1);
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
