//! A DocStudio callback as a `spec.envelope` block (`callback-operator import`). Pure. Fields at DocStudio's
//! default are left out; what the spec cannot carry (the write-only basic-auth password) becomes a note.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

use super::desired::{DEFAULT_SUCCESS_CODE, RemoteCallback};
use super::filter::NormalFilter;
use crate::api::{EnvelopeFilter, EnvelopeSpec};

/// The spec that describes `remote` in `mailbox`, and notes on what it could not carry over.
pub fn spec_of(remote: &RemoteCallback, mailbox: &str) -> (EnvelopeSpec, Vec<String>) {
    let mut notes = Vec::new();
    if remote.auth_type.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("BASIC")) {
        notes.push(
            "the callback sends HTTP basic auth, whose password DocStudio never returns: add basicAuthSecretRef \
             naming a Secret with the pair (under Observe it is reported as a difference until then)"
                .into(),
        );
    }
    let bounded = |name: &str, value: Option<i64>, fallback: i64, min: i64, max: i64, notes: &mut Vec<String>| {
        let value = value.unwrap_or(fallback);
        let clamped = value.clamp(min, max);
        if clamped != value {
            notes.push(format!("{name} {value} is outside the schema's {min}..{max}; written as {clamped}"));
        }
        clamped as i32
    };
    let retries = bounded("retries", remote.retries, 0, 0, 10, &mut notes);
    let timeout_ms = bounded("timeoutMs", remote.timeout, 5000, 100, 60000, &mut notes);
    let success_code = remote
        .success_code
        .filter(|c| *c != DEFAULT_SUCCESS_CODE)
        .map(|c| bounded("successCode", Some(c), c, 100, 599, &mut notes));
    let filter = filter_of(&NormalFilter::from_remote(&remote.filter), &mut notes);
    let spec = EnvelopeSpec {
        mailbox: mailbox.to_string(),
        url: remote.url.clone(),
        retries,
        timeout_ms,
        success_code,
        basic_auth_secret_ref: None,
        filter,
    };
    (spec, notes)
}

fn filter_of(normal: &NormalFilter, notes: &mut Vec<String>) -> Option<EnvelopeFilter> {
    let texts = |set: &BTreeSet<String>| (!set.is_empty()).then(|| set.iter().cloned().collect::<Vec<_>>());
    let filter = EnvelopeFilter {
        labels: texts(&normal.labels),
        statuses: words(&normal.statuses, "status", notes),
        subject: normal.subject.clone(),
        receive_date_from: normal.receive_date_from.clone(),
        receive_date_to: normal.receive_date_to.clone(),
        expire_date_from: normal.expire_date_from.clone(),
        expire_date_to: normal.expire_date_to.clone(),
        templates: texts(&normal.templates),
        senders: texts(&normal.senders),
        scopes: words(&normal.scopes, "scope", notes),
    };
    (filter != EnvelopeFilter::default()).then_some(filter)
}

/// Enum words as the spec's enum (its serde names); a word it does not know is left out with a note.
fn words<T: DeserializeOwned>(set: &BTreeSet<String>, what: &str, notes: &mut Vec<String>) -> Option<Vec<T>> {
    let mut out = Vec::new();
    for word in set {
        let parsed = serde_json::from_value(serde_json::Value::String(word.clone()))
            .or_else(|_| serde_json::from_value(serde_json::Value::String(word.to_ascii_uppercase())))
            .or_else(|_| serde_json::from_value(serde_json::Value::String(word.to_ascii_lowercase())));
        match parsed {
            Ok(value) => out.push(value),
            Err(_) => notes.push(format!("filter {what} {word:?} is not one the spec knows; left out")),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::desired::{EnvelopeDesired, differing_fields};
    use super::*;

    const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-000000000001";

    fn remote(filter: serde_json::Value) -> RemoteCallback {
        serde_json::from_value(json!({
            "id": "a", "url": "https://hooks.example/docs", "retries": 4, "timeout": 3000, "successCode": 204,
            "authType": "NONE", "filter": filter
        }))
        .unwrap()
    }

    #[test]
    fn an_imported_spec_describes_the_callback_exactly() {
        let r = remote(json!({"status": ["completed", "WAITING"], "scope": ["inbox"], "subject": "Invoice",
            "receiveDateFrom": null}));
        let (spec, notes) = spec_of(&r, MAILBOX);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!((spec.retries, spec.timeout_ms, spec.success_code), (4, 3000, Some(204)));
        let desired = EnvelopeDesired::from_spec(&spec, None).unwrap();
        assert!(differing_fields(&desired, &r).is_empty());
        let (plain, _) = spec_of(&remote(json!({})), MAILBOX);
        assert_eq!(plain.filter, None, "an empty filter is left out");
    }

    #[test]
    fn basic_auth_and_unknown_words_become_notes() {
        let mut r = remote(json!({"scope": ["inbox", "archive"]}));
        r.auth_type = Some("BASIC".into());
        let (spec, notes) = spec_of(&r, MAILBOX);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(spec.filter.unwrap().scopes.unwrap().len(), 1);
    }
}
