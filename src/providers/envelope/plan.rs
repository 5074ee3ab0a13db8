//! What to do at DocStudio, decided without IO from the mailbox's callback list, the desired callback and what
//! status recorded.
//!
//! DocStudio has no update, no get-by-id and no idempotency, so every decision starts from a fresh list:
//! - the registration's callback is the recorded id, else one with the desired url (adopted: a lost `add` answer
//!   or a status write lost to a crash leaves exactly this behind, so it is never added twice);
//! - further callbacks with the same url are duplicates and are removed;
//! - a callback that differs (or whose write-only basic-auth pair may differ) is replaced: add the new one, then
//!   remove the old, so the receiver is never without a callback.

use super::desired::{DEFAULT_SUCCESS_CODE, EnvelopeDesired, RemoteCallback, differing_fields};
use super::filter::NormalFilter;
use crate::api::EventReason;
use crate::api::Registration;
use crate::providers::{FieldDiff, Observation, same_url};

/// What status recorded, and whether the last applied state is the desired one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Record<'a> {
    pub registration: Option<&'a Registration>,
    /// `Some(true)`: status says exactly this desired state was applied; `Some(false)`: something else was;
    /// `None`: nothing was applied yet (a new object, or a status write that never happened).
    pub applied_matches: Option<bool>,
    /// `status.observedHash`: the fingerprint of the recorded callback as DocStudio answered after the last write.
    pub observed_hash: Option<&'a str>,
}

/// The plan. Executed in order: `add`, then every `remove`.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopePlan {
    /// The callback that stays as it is.
    pub keep: Option<String>,
    /// `keep` (or the callback being replaced) was found by url, not by the recorded id.
    pub adopted: Option<String>,
    pub add: Option<Add>,
    pub remove: Vec<PlannedRemoval>,
    /// The writes only correct DocStudio (status says this exact desired state was applied), naming what differs:
    /// they spend the write budget.
    pub corrected: Vec<&'static str>,
}

/// Add the desired callback.
#[derive(Clone, Debug, PartialEq)]
pub struct Add {
    pub reason: EventReason,
    /// The callback this one replaces (removed right after), and why.
    pub replaces: Option<String>,
    pub because: Vec<&'static str>,
}

/// Remove a callback, with the Event it earns.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRemoval {
    pub id: String,
    /// The mailbox that holds it (a recorded callback may live in a mailbox the spec no longer names).
    pub mailbox: String,
    pub url: Option<String>,
    pub why: RemovalKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovalKind {
    /// The old half of a replacement: reported with the `add`, no Event of its own.
    Replaced,
    /// Another callback with the registration's identity (a crash or a manual copy made it).
    Duplicate,
    /// What this object registered before under another url or mailbox.
    Previous,
}

impl RemovalKind {
    pub fn change_reason(self) -> Option<EventReason> {
        match self {
            RemovalKind::Replaced => None,
            RemovalKind::Duplicate => Some(EventReason::DuplicateRemoved),
            RemovalKind::Previous => Some(EventReason::Deleted),
        }
    }
}

/// Decides the plan. `observed` is the list of the desired mailbox, in DocStudio's order.
pub fn plan(desired: &EnvelopeDesired, observed: &[RemoteCallback], record: Record<'_>) -> EnvelopePlan {
    let recorded = record.registration;
    let recorded_mailbox = recorded.and_then(|r| r.mailbox.as_deref());
    let same_mailbox = recorded_mailbox.is_none_or(|m| m.eq_ignore_ascii_case(&desired.mailbox));
    let recorded_id = recorded.and_then(|r| r.id.as_deref());
    let is_recorded = |c: &RemoteCallback| same_mailbox && recorded_id.is_some_and(|id| id.eq_ignore_ascii_case(&c.id));
    let spec_changed = record.applied_matches == Some(false);
    // The password cannot be read back: it is known to be right only if status says this exact state was applied.
    let write_only_unverified = desired.basic_auth.is_some() && record.applied_matches != Some(true);
    // DocStudio answers exactly what it answered after our last write: whatever it dropped, nulled or reformatted
    // (dates, case, the url) is its own spelling, not drift. No fingerprint yet means the callback was added by us
    // and not listed since: DocStudio has no update, so the id our `add` returned names exactly what we added, in
    // whatever spelling the list shows it (that spelling is recorded then).
    let settled = |c: &RemoteCallback| {
        record.applied_matches == Some(true)
            && is_recorded(c)
            && record.observed_hash.is_none_or(|h| h == c.fingerprint().as_str())
    };
    let satisfies =
        |c: &RemoteCallback| settled(c) || (!write_only_unverified && differing_fields(desired, c).is_empty());

    let with_url: Vec<&RemoteCallback> = observed.iter().filter(|c| same_url(&c.url, &desired.url)).collect();
    // Prefer a callback that is already right (the recorded one first), then the recorded one, then the oldest.
    let primary = with_url
        .iter()
        .find(|c| satisfies(c) && is_recorded(c))
        .or_else(|| with_url.iter().find(|c| satisfies(c)))
        .or_else(|| with_url.iter().find(|c| is_recorded(c)))
        .or_else(|| with_url.first())
        .copied();

    let mut remove = Vec::new();
    let removal = |c: &RemoteCallback, why| PlannedRemoval {
        id: c.id.clone(),
        mailbox: desired.mailbox.clone(),
        url: Some(c.url.clone()),
        why,
    };
    for other in observed.iter().filter(|c| primary.is_none_or(|p| p.id != c.id)) {
        if is_recorded(other) {
            remove.push(removal(other, RemovalKind::Previous));
        } else if same_url(&other.url, &desired.url) {
            remove.push(removal(other, RemovalKind::Duplicate));
        }
    }
    // The spec moved to another mailbox: what status recorded lives in the old one.
    if let (Some(recorded), Some(id), Some(mailbox), false) = (recorded, recorded_id, recorded_mailbox, same_mailbox) {
        remove.push(PlannedRemoval {
            id: id.to_string(),
            mailbox: mailbox.to_string(),
            url: recorded.urls.first().cloned(),
            why: RemovalKind::Previous,
        });
    }

    let adopted = primary.filter(|p| !is_recorded(p)).map(|p| p.id.clone());
    let (keep, add) = match primary {
        Some(p) if satisfies(p) => (Some(p.id.clone()), None),
        Some(p) => {
            let mut because = differing_fields(desired, p);
            if write_only_unverified {
                because.push("basic-auth credentials");
            }
            let reason = if spec_changed || !is_recorded(p) {
                EventReason::Updated
            } else {
                EventReason::DriftCorrected
            };
            remove.insert(0, removal(p, RemovalKind::Replaced));
            let add = Add {
                reason,
                replaces: Some(p.id.clone()),
                because,
            };
            (None, Some(add))
        }
        None => {
            let recorded_here = recorded_id.is_some() && same_mailbox;
            let recorded_this_url = recorded.is_some_and(|r| r.urls.contains(&desired.url));
            let reason = match (recorded_here && recorded_this_url, recorded_id.is_some()) {
                (true, _) if !spec_changed => EventReason::DriftCorrected,
                (true, _) | (false, true) => EventReason::Updated,
                (false, false) => EventReason::Created,
            };
            let add = Add {
                reason,
                replaces: None,
                because: Vec::new(),
            };
            (None, Some(add))
        }
    };
    let corrected = if record.applied_matches != Some(true) {
        Vec::new()
    } else if let Some(add) = &add {
        if add.replaces.is_some() { add.because.clone() } else { vec!["presence"] }
    } else if remove.is_empty() {
        Vec::new()
    } else {
        vec!["duplicates"]
    };
    EnvelopePlan {
        keep,
        adopted,
        add,
        remove,
        corrected,
    }
}

/// What a list found and what `plan` would write, for `managementPolicy: Observe` and `callback-operator plan`.
/// DocStudio has no update: a differing callback costs one `add` and one `remove` — the fewest writes that change
/// it without a moment where the receiver has no callback.
pub fn observation(desired: &EnvelopeDesired, observed: &[RemoteCallback], plan: &EnvelopePlan, account: &str) -> Observation {
    let primary_id = plan.keep.as_ref().or(plan.add.as_ref().and_then(|a| a.replaces.as_ref()));
    let primary = primary_id.and_then(|id| observed.iter().find(|c| c.id.eq_ignore_ascii_case(id)));
    let mut diff = primary.map(|p| field_diff(desired, p)).unwrap_or_default();
    if plan.add.as_ref().is_some_and(|a| a.because.contains(&"basic-auth credentials")) {
        diff.push(FieldDiff::new("basic-auth credentials", "unknown (write-only)", "from the Secret"));
    }
    let mut writes = Vec::new();
    if let Some(add) = &plan.add {
        let what = match &add.replaces {
            Some(old) => format!("replacing {old}: DocStudio has no update"),
            None => "create".to_string(),
        };
        writes.push(format!("add callback {} in mailbox {} ({what})", desired.url, desired.mailbox));
    }
    for removal in &plan.remove {
        let why = match removal.why {
            RemovalKind::Replaced => "replaced",
            RemovalKind::Duplicate => "duplicate",
            RemovalKind::Previous => "previous",
        };
        writes.push(format!("remove callback {} from mailbox {} ({why})", removal.id, removal.mailbox));
    }
    Observation {
        found: primary.map(|p| Registration {
            account: Some(account.to_string()),
            id: Some(p.id.clone()),
            urls: vec![desired.url.clone()],
            mailbox: Some(desired.mailbox.clone()),
            ..Registration::default()
        }),
        observed_hash: primary.map(RemoteCallback::fingerprint),
        adopt: plan.adopted.is_some() && plan.add.is_none(),
        diff,
        writes,
        unreadable: None,
    }
}

/// The differing fields with both values (DocStudio's defaults filled in).
pub fn field_diff(desired: &EnvelopeDesired, remote: &RemoteCallback) -> Vec<FieldDiff> {
    let number = |v: Option<i64>| v.map_or("unset".to_string(), |v| v.to_string());
    differing_fields(desired, remote)
        .into_iter()
        .map(|field| {
            let (provider, spec) = match field {
                "url" => (remote.url.clone(), desired.url.clone()),
                "retries" => (number(remote.retries), desired.retries.to_string()),
                "timeout" => (number(remote.timeout), desired.timeout_ms.to_string()),
                "successCode" => (
                    remote.success_code.unwrap_or(DEFAULT_SUCCESS_CODE).to_string(),
                    desired.success_code.to_string(),
                ),
                "authType" => (remote.auth_type.clone().unwrap_or_default(), desired.auth_type().to_string()),
                _ => (
                    NormalFilter::from_remote(&remote.filter).to_body().to_string(),
                    desired.filter.to_body().to_string(),
                ),
            };
            FieldDiff::new(field, provider, spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::providers::SecretValue;
    use crate::providers::envelope::desired::BasicAuth;
    use crate::providers::envelope::filter::NormalFilter;

    const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-000000000001";
    const URL: &str = "https://hooks.example/docstudio";

    fn desired() -> EnvelopeDesired {
        EnvelopeDesired {
            mailbox: MAILBOX.into(),
            url: URL.into(),
            retries: 3,
            timeout_ms: 5000,
            success_code: 200,
            filter: NormalFilter::default(),
            basic_auth: None,
        }
    }

    fn with_basic_auth() -> EnvelopeDesired {
        EnvelopeDesired {
            basic_auth: Some(BasicAuth {
                username: SecretValue::new("u"),
                password: SecretValue::new("p"),
            }),
            ..desired()
        }
    }

    fn remote(id: &str, url: &str, retries: i64) -> RemoteCallback {
        serde_json::from_value(json!({
            "id": id, "url": url, "retries": retries, "timeout": 5000, "successCode": 200,
            "authType": "NONE", "filter": {}
        }))
        .unwrap()
    }

    fn recorded(id: &str) -> Registration {
        Registration {
            id: Some(id.into()),
            mailbox: Some(MAILBOX.into()),
            urls: vec![URL.into()],
            ..Registration::default()
        }
    }

    fn record(registration: &Registration, applied_matches: bool) -> Record<'_> {
        Record {
            registration: Some(registration),
            applied_matches: Some(applied_matches),
            observed_hash: None,
        }
    }

    fn ids(plan: &EnvelopePlan) -> Vec<(&str, RemovalKind)> {
        plan.remove.iter().map(|r| (r.id.as_str(), r.why)).collect()
    }

    #[test]
    fn an_empty_mailbox_gets_the_callback_created() {
        let p = plan(&desired(), &[], Record::default());
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Created));
        assert!(p.keep.is_none() && p.remove.is_empty() && p.adopted.is_none());
    }

    #[test]
    fn the_recorded_callback_that_matches_needs_nothing() {
        let r = recorded("a");
        let p = plan(&desired(), &[remote("a", URL, 3)], record(&r, true));
        assert_eq!(p.keep.as_deref(), Some("a"));
        assert!(p.add.is_none() && p.remove.is_empty() && p.adopted.is_none());
    }

    #[test]
    fn a_callback_with_the_url_unknown_to_status_is_adopted_not_added_again() {
        // A lost `add` answer or a crash before the status write leaves exactly this.
        let other = remote("x", "https://other.example/h", 3);
        let p = plan(&desired(), &[other, remote("a", URL, 3)], Record::default());
        assert_eq!(p.keep.as_deref(), Some("a"));
        assert_eq!(p.adopted.as_deref(), Some("a"));
        assert!(p.add.is_none() && p.remove.is_empty(), "{p:?}");
    }

    #[test]
    fn surplus_callbacks_with_the_same_url_are_removed_as_duplicates() {
        let r = recorded("b");
        let observed = [remote("a", URL, 3), remote("b", URL, 3), remote("c", URL, 3)];
        let p = plan(&desired(), &observed, record(&r, true));
        assert_eq!(p.keep.as_deref(), Some("b"));
        assert_eq!(
            ids(&p),
            vec![("a", RemovalKind::Duplicate), ("c", RemovalKind::Duplicate)]
        );
    }

    #[test]
    fn a_spec_change_adds_the_new_callback_then_removes_the_old() {
        let r = recorded("a");
        let mut d = desired();
        d.retries = 5;
        let p = plan(&d, &[remote("a", URL, 3)], record(&r, false));
        let add = p.add.clone().unwrap();
        assert_eq!(add.reason, EventReason::Updated);
        assert_eq!(add.replaces.as_deref(), Some("a"));
        assert_eq!(add.because, vec!["retries"]);
        assert_eq!(ids(&p), vec![("a", RemovalKind::Replaced)]);
        assert!(p.keep.is_none());
    }

    #[test]
    fn a_replacement_whose_add_answer_was_lost_is_finished_without_a_second_add() {
        // Status still records "a" (old fields); "b" is the lost add with the new fields.
        let r = recorded("a");
        let mut d = desired();
        d.retries = 5;
        let p = plan(&d, &[remote("a", URL, 3), remote("b", URL, 5)], record(&r, false));
        assert!(p.add.is_none());
        assert_eq!(p.keep.as_deref(), Some("b"));
        assert_eq!(p.adopted.as_deref(), Some("b"));
        assert_eq!(ids(&p), vec![("a", RemovalKind::Previous)]);
    }

    #[test]
    fn drift_on_the_recorded_callback_is_corrected() {
        // Listed before (a fingerprint recorded), now answering otherwise.
        let r = recorded("a");
        let before = remote("a", URL, 3).fingerprint();
        let listed = Record {
            observed_hash: Some(&before),
            ..record(&r, true)
        };
        let p = plan(&desired(), &[remote("a", URL, 9)], listed);
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::DriftCorrected));
    }

    #[test]
    fn the_callback_our_add_returned_is_trusted_until_first_listed() {
        // No fingerprint yet: the id is the one our add answered, and DocStudio cannot update it in place, so the
        // list's spelling of it (here an unreadable retry count) is its own, not drift.
        let r = recorded("a");
        let p = plan(&desired(), &[remote("a", URL, 9)], record(&r, true));
        assert_eq!(p.keep.as_deref(), Some("a"));
        assert!(p.add.is_none() && p.remove.is_empty() && p.corrected.is_empty(), "{p:?}");
        // Another callback with the url is still a duplicate, and a spec change still replaces.
        let p = plan(&desired(), &[remote("a", URL, 9), remote("b", URL, 3)], record(&r, true));
        assert_eq!(ids(&p), vec![("b", RemovalKind::Duplicate)]);
        let p = plan(&desired(), &[remote("a", URL, 9)], record(&r, false));
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Updated));
    }

    #[test]
    fn a_recorded_callback_that_vanished_is_recreated_as_drift() {
        let r = recorded("a");
        let p = plan(&desired(), &[], record(&r, true));
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::DriftCorrected));
        let p = plan(&desired(), &[], record(&r, false));
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Updated));
    }

    #[test]
    fn a_url_change_adds_the_new_url_and_removes_the_previous_callback() {
        let r = recorded("a");
        let mut d = desired();
        d.url = "https://hooks.example/new".into();
        let p = plan(&d, &[remote("a", URL, 3)], record(&r, false));
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Updated));
        assert_eq!(ids(&p), vec![("a", RemovalKind::Previous)]);
    }

    #[test]
    fn a_mailbox_change_removes_the_previous_callback_in_its_own_mailbox() {
        let r = recorded("a");
        let mut d = desired();
        d.mailbox = "6f1c1e1e-0000-4000-8000-000000000002".into();
        let p = plan(&d, &[], record(&r, false));
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Updated));
        assert_eq!(p.remove.len(), 1);
        assert_eq!(p.remove[0].mailbox, MAILBOX);
        assert_eq!(p.remove[0].why, RemovalKind::Previous);
    }

    #[test]
    fn callbacks_of_other_urls_are_left_alone() {
        let p = plan(
            &desired(),
            &[remote("x", "https://someone-else.example/h", 3)],
            Record::default(),
        );
        assert!(p.remove.is_empty());
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Created));
    }

    #[test]
    fn a_changed_basic_auth_pair_replaces_a_callback_that_otherwise_matches() {
        let r = recorded("a");
        let mut same = remote("a", URL, 3);
        same.auth_type = Some("BASIC".into());
        let p = plan(&with_basic_auth(), std::slice::from_ref(&same), record(&r, false));
        let add = p.add.unwrap();
        assert_eq!(add.reason, EventReason::Updated);
        assert_eq!(add.because, vec!["basic-auth credentials"]);
        // Applied exactly as desired: the password is known to be right.
        let p = plan(&with_basic_auth(), &[same], record(&r, true));
        assert!(p.add.is_none());
    }

    #[test]
    fn an_adopted_callback_with_basic_auth_is_replaced_since_its_password_is_unknown() {
        let mut found = remote("a", URL, 3);
        found.auth_type = Some("BASIC".into());
        let p = plan(&with_basic_auth(), &[found], Record::default());
        assert_eq!(p.adopted.as_deref(), Some("a"));
        assert_eq!(p.add.as_ref().map(|a| a.replaces.clone()), Some(Some("a".to_string())));
        assert_eq!(ids(&p), vec![("a", RemovalKind::Replaced)]);
    }

    #[test]
    fn an_echo_equal_to_the_one_after_the_last_write_is_kept_whatever_it_dropped() {
        // The dates came back as null (DocStudio's own create example): they differ from the spec, but the answer
        // is the one recorded after the add.
        let r = recorded("a");
        let mut d = desired();
        d.filter.receive_date_from = Some("2026-01-02T01:04:05Z".into());
        let mut echo = remote("a", URL, 3);
        echo.filter = json!({"receiveDateFrom": null});
        let fingerprint = echo.fingerprint();
        let settled = Record {
            observed_hash: Some(&fingerprint),
            ..record(&r, true)
        };
        let p = plan(&d, std::slice::from_ref(&echo), settled);
        assert_eq!(p.keep.as_deref(), Some("a"));
        assert!(p.add.is_none() && p.remove.is_empty() && p.corrected.is_empty(), "{p:?}");
        // Against another recorded answer it is drift: replaced, naming the filter, and it spends the budget.
        let other = remote("a", URL, 3).fingerprint();
        let p = plan(
            &d,
            std::slice::from_ref(&echo),
            Record {
                observed_hash: Some(&other),
                ..record(&r, true)
            },
        );
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::DriftCorrected));
        assert_eq!(p.corrected, vec!["filter"]);
        // After a spec change the same answer is replaced, and it is no correction.
        let p = plan(&d, &[echo], Record { observed_hash: Some(&fingerprint), ..record(&r, false) });
        assert_eq!(p.add.as_ref().map(|a| a.reason), Some(EventReason::Updated));
        assert!(p.corrected.is_empty());
    }

    #[test]
    fn a_url_in_the_providers_normal_form_is_the_same_callback() {
        let r = recorded("a");
        let p = plan(&desired(), &[remote("a", "https://Hooks.Example:443/docstudio/", 3)], record(&r, true));
        assert_eq!(p.keep.as_deref(), Some("a"));
        assert!(p.add.is_none() && p.remove.is_empty(), "{p:?}");
    }

    #[test]
    fn an_observed_drifted_callback_costs_one_add_and_one_remove_and_names_the_fields() {
        // Observed before (id recorded), never applied: switching to full management replaces it.
        let r = recorded("a");
        let found = remote("a", URL, 9);
        let record = Record {
            registration: Some(&r),
            ..Record::default()
        };
        let p = plan(&desired(), std::slice::from_ref(&found), record);
        let o = observation(&desired(), &[found], &p, "acct");
        assert_eq!(o.diff, vec![FieldDiff::new("retries", "9", "3")]);
        assert_eq!(o.writes.len(), 2, "{:?}", o.writes);
        assert!(o.writes[0].starts_with("add") && o.writes[1].starts_with("remove callback a"));
        assert_eq!(o.found.and_then(|f| f.id).as_deref(), Some("a"));
    }

    #[test]
    fn an_observed_matching_callback_is_adopted_without_writes() {
        let found = remote("a", URL, 3);
        let p = plan(&desired(), std::slice::from_ref(&found), Record::default());
        let o = observation(&desired(), &[found], &p, "acct");
        assert!(o.matches() && o.adopt && o.diff.is_empty());
        let none = observation(&desired(), &[], &plan(&desired(), &[], Record::default()), "acct");
        assert!(none.found.is_none() && none.writes.len() == 1);
    }

    #[test]
    fn recorded_ids_compare_case_insensitively() {
        let r = recorded("ABC");
        let p = plan(&desired(), &[remote("abc", URL, 3)], record(&r, true));
        assert_eq!(p.keep.as_deref(), Some("abc"));
        assert!(p.adopted.is_none());
    }
}
