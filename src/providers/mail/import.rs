//! A Unisender Go webhook as a `spec.mail` block (`callback-operator import`). Pure. Fields at the provider's
//! default are left out, so the YAML says only what was chosen; anything the spec cannot say becomes a note.

use super::response::RemoteWebhook;
use crate::api::{EmailStatus, MailEventFormat, MailEvents, MailSpec, MailWebhookStatus};

/// The spec that describes `remote`, and notes on what it could not carry over.
pub fn spec_of(remote: &RemoteWebhook) -> (MailSpec, Vec<String>) {
    let mut notes = Vec::new();
    let status = match remote.status.as_deref() {
        None | Some("active") => None,
        Some("disabled") => Some(MailWebhookStatus::Disabled),
        Some(other) => {
            notes.push(format!(
                "the provider reports status {other:?} (it stopped the webhook); the spec asks for active, which \
                 full management would restore"
            ));
            None
        }
    };
    let event_format = match remote.event_format.as_deref() {
        Some("json_post_gzip") => Some(MailEventFormat::JsonPostGzip),
        _ => None,
    };
    let flag = |v: Option<i64>| v.filter(|v| *v != 0).map(|_| true);
    let max_parallel = remote.max_parallel.filter(|m| *m != 10).map(|m| {
        let clamped = m.clamp(5, 100);
        if clamped != m {
            notes.push(format!("maxParallel {m} is outside the schema's 5..100; written as {clamped}"));
        }
        clamped as i32
    });
    let mut email_status: Vec<EmailStatus> = Vec::new();
    for word in &remote.events.email_status {
        match serde_json::from_value::<EmailStatus>(serde_json::Value::String(word.clone())) {
            Ok(status) if !email_status.contains(&status) => email_status.push(status),
            Ok(_) => {}
            Err(_) => notes.push(format!("email status {word:?} is not one the spec knows; left out")),
        }
    }
    email_status.sort();
    if email_status.is_empty() {
        notes.push("the webhook subscribes to no email status the spec knows; fill in events.emailStatus".into());
    }
    let spec = MailSpec {
        url: remote.url.clone(),
        status,
        event_format,
        delivery_info: flag(remote.delivery_info),
        single_event: flag(remote.single_event),
        max_parallel,
        events: MailEvents {
            email_status,
            spam_block: remote.events.spam_block.as_ref().filter(|v| !v.is_empty()).map(|_| true),
        },
    };
    (spec, notes)
}

#[cfg(test)]
mod tests {
    use super::super::desired::MailDesired;
    use super::super::plan::differing_fields;
    use super::*;
    use crate::providers::mail::response::RemoteEvents;

    fn remote() -> RemoteWebhook {
        RemoteWebhook {
            id: Some(serde_json::json!(3)),
            url: "https://hooks.example/orders".into(),
            status: Some("active".into()),
            event_format: Some("json_post_gzip".into()),
            delivery_info: Some(1),
            single_event: Some(0),
            max_parallel: Some(25),
            events: RemoteEvents {
                email_status: vec!["spam".into(), "delivered".into()],
                spam_block: Some(vec!["*".into()]),
            },
        }
    }

    #[test]
    fn an_imported_spec_describes_the_webhook_exactly() {
        let (spec, notes) = spec_of(&remote());
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(spec.max_parallel, Some(25));
        assert_eq!(spec.single_event, None, "defaults are left out");
        assert!(differing_fields(&MailDesired::from_spec(&spec), &remote()).is_empty());
    }

    #[test]
    fn what_the_spec_cannot_say_becomes_a_note() {
        let mut r = remote();
        r.status = Some("stopped".into());
        r.events.email_status.push("bogus".into());
        let (spec, notes) = spec_of(&r);
        assert_eq!(spec.status, None);
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
