//! The mail simulator's alternative readings of mail.md ("Other readings"), each behind a switch,
//! over real HTTP.

mod support;

use provider_simulators::common::{Receiver, UrlNormalisation};
use provider_simulators::mail::{ALWAYS_DIFFERS_FIELDS, EmailStatusOrder, MailSim, ReceiverCheckFailure, StoppedWord};
use serde_json::{Value, json};
use support::admin_post;

const KEY: &str = "key-1";

async fn start() -> MailSim {
    support::mail_sim(KEY, false).await
}

async fn call(sim: &MailSim, method: &str, body: Value) -> (u16, Value) {
    support::mail_call(sim, KEY, method, body).await
}

fn hook(url: &str) -> Value {
    json!({"url": url, "events": {"email_status": ["hard_bounced", "delivered"]}})
}

#[tokio::test]
async fn provider_stopped_webhook_reads_as_stopped_by_default_and_inactive_when_switched() {
    let sim = start().await;
    call(&sim, "webhook/set", hook("https://h.example/a")).await;
    sim.set_webhook_status(KEY, "https://h.example/a", "stopped");
    let (_, b) = call(&sim, "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert_eq!(b["object"]["status"], "stopped");

    sim.set_disabled_status_word(StoppedWord::Inactive);
    let (_, b) = call(&sim, "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert_eq!(b["object"]["status"], "inactive");
    let (_, b) = call(&sim, "webhook/list", json!({})).await;
    assert_eq!(b["objects"][0]["status"], "inactive");
    assert_eq!(
        sim.webhook(KEY, "https://h.example/a").unwrap().status,
        "stopped",
        "stored word unchanged"
    );

    // A user-disabled webhook still reads `disabled`; a full set re-activates a stopped one.
    let (_, b) = call(&sim, "webhook/set", hook("https://h.example/a")).await;
    assert_eq!(b["object"]["status"], "active");
}

#[tokio::test]
async fn failed_receiver_check_answers_the_switched_error() {
    let sim = start().await;
    sim.set_activation_check(true);
    let receiver = Receiver::start().await.unwrap();
    receiver.set_status(503);
    let url = receiver.url("/mail");

    let (s, b) = call(&sim, "webhook/set", hook(&url)).await;
    assert_eq!((s, b["code"].clone()), (400, json!(2713)), "default: {b}");

    sim.set_receiver_check_failure_code(ReceiverCheckFailure::Code { http: 422, code: 2799 });
    let (s, b) = call(&sim, "webhook/set", hook(&url)).await;
    assert_eq!(
        (s, b["code"].clone(), b["status"].clone()),
        (422, json!(2799), json!("error")),
        "{b}"
    );

    sim.set_receiver_check_failure_code(ReceiverCheckFailure::Code { http: 502, code: 2700 });
    let (s, _) = call(&sim, "webhook/set", hook(&url)).await;
    assert_eq!(s, 502);

    sim.set_receiver_check_failure_code(ReceiverCheckFailure::NoCode { http: 400 });
    let (s, b) = call(&sim, "webhook/set", hook(&url)).await;
    assert_eq!(s, 400);
    assert!(b.get("code").is_none(), "no code: {b}");
    assert_eq!(b["status"], "error");
    assert!(b["message"].as_str().unwrap().contains("503"), "{b}");
    assert!(sim.webhooks(KEY).is_empty(), "nothing stored on a failed check");
}

#[tokio::test]
async fn normalised_url_is_stored_normalised_and_get_by_the_url_as_sent_misses() {
    let sim = start().await;
    sim.set_url_normalisation(UrlNormalisation::Normalised);
    // (The DNS stand-in refuses a non-lower-case scheme, so only the host and port vary.)
    let sent = "https://Hooks.Example:443";
    let (s, b) = call(&sim, "webhook/set", hook(sent)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["object"]["url"], "https://hooks.example/");

    let (s, b) = call(&sim, "webhook/get", json!({"url": sent})).await;
    assert_eq!((s, b["code"].clone()), (400, json!(304)), "the url as sent misses: {b}");
    let (s, b) = call(&sim, "webhook/get", json!({"url": "https://hooks.example/"})).await;
    assert_eq!((s, b["object"]["url"].clone()), (200, json!("https://hooks.example/")));
    let (s, _) = call(&sim, "webhook/delete", json!({"url": sent})).await;
    assert_eq!(s, 400, "delete by the url as sent misses too");

    // Setting the un-normalised url again replaces the one webhook.
    let (_, again) = call(&sim, "webhook/set", hook(sent)).await;
    assert_eq!(again["object"]["id"], b["object"]["id"]);
    assert_eq!(sim.webhooks(KEY).len(), 1);
}

#[tokio::test]
async fn normalisation_without_trailing_slash_strips_it() {
    let sim = start().await;
    sim.set_url_normalisation(UrlNormalisation::NormalisedNoTrailingSlash);
    let (_, b) = call(&sim, "webhook/set", hook("https://Hooks.Example:443/cb/")).await;
    assert_eq!(b["object"]["url"], "https://hooks.example/cb");
    let (s, _) = call(&sim, "webhook/get", json!({"url": "https://hooks.example/cb/"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn email_status_is_echoed_as_sent_or_in_canonical_order() {
    let sim = start().await;
    let (_, b) = call(&sim, "webhook/set", hook("https://h.example/a")).await;
    assert_eq!(
        b["object"]["events"]["email_status"],
        json!(["hard_bounced", "delivered"])
    );
    sim.set_email_status_order(EmailStatusOrder::Canonical);
    let (_, b) = call(&sim, "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert_eq!(
        b["object"]["events"]["email_status"],
        json!(["delivered", "hard_bounced"])
    );
}

#[tokio::test]
async fn list_page_cap_answers_pages_shorter_than_the_limit_before_the_end() {
    let sim = start().await;
    for i in 0..5 {
        call(&sim, "webhook/set", hook(&format!("https://h.example/{i}"))).await;
    }
    sim.set_list_page_cap(Some(2));
    let (_, first) = call(&sim, "webhook/list", json!({"limit": 50, "offset": 0})).await;
    assert_eq!(
        first["objects"].as_array().unwrap().len(),
        2,
        "short page, yet more remain"
    );
    let (_, rest) = call(&sim, "webhook/list", json!({"limit": 50, "offset": 4})).await;
    assert_eq!(rest["objects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn echo_always_differs_distorts_exactly_the_named_field_on_every_echo() {
    let sim = start().await;
    let url = "https://h.example/a";
    let (_, plain) = call(&sim, "webhook/set", hook(url)).await;
    let stored = plain["object"].clone();
    for field in ALWAYS_DIFFERS_FIELDS {
        sim.set_echo_always_differs(Some(field));
        let (_, set) = call(&sim, "webhook/set", hook(url)).await;
        let (_, got) = call(&sim, "webhook/get", json!({"url": url})).await;
        let (_, listed) = call(&sim, "webhook/list", json!({})).await;
        for echoed in [&set["object"], &got["object"], &listed["objects"][0]] {
            let pointer = format!("/{}", field.replace('.', "/"));
            assert_ne!(
                echoed.pointer(&pointer),
                stored.pointer(&pointer),
                "{field} differs: {echoed}"
            );
            let mut same = echoed.clone();
            let mut want = stored.clone();
            for v in [&mut same, &mut want] {
                v["updated_at"] = Value::Null;
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                let parent = if parent.is_empty() {
                    Some(&mut *v)
                } else {
                    v.pointer_mut(parent)
                };
                if let Some(o) = parent.and_then(Value::as_object_mut) {
                    o.remove(key);
                }
            }
            assert_eq!(same, want, "only {field} differs");
        }
    }
    sim.set_echo_always_differs(None);
    let (_, got) = call(&sim, "webhook/get", json!({"url": url})).await;
    assert_eq!(got["object"]["max_parallel"], 10);
    assert_eq!(
        sim.webhook(KEY, url).unwrap().max_parallel,
        10,
        "stored value never changes"
    );
}

#[tokio::test]
#[should_panic(expected = "echo_always_differs")]
async fn unknown_always_differs_field_panics_on_the_handle() {
    start().await.set_echo_always_differs(Some("colour"));
}

#[tokio::test]
async fn new_switches_are_settable_as_json_and_unknown_fields_are_refused() {
    let sim = start().await;
    let body = json!({
        "disabled_status_word": "inactive",
        "receiver_check_failure_code": {"code": {"http": 422, "code": 2799}},
        "url_normalisation": "normalised",
        "email_status_order": "canonical",
        "list_page_cap": 3,
        "echo_always_differs": "max_parallel",
    });
    let (s, text) = admin_post(sim.base_url(), "switches", &body).await;
    assert_eq!(s, 204, "{text}");
    let sw = sim.switches();
    assert_eq!(sw.disabled_status_word, StoppedWord::Inactive);
    assert_eq!(
        sw.receiver_check_failure_code,
        ReceiverCheckFailure::Code { http: 422, code: 2799 }
    );
    assert_eq!(sw.url_normalisation, UrlNormalisation::Normalised);
    assert_eq!(sw.email_status_order, EmailStatusOrder::Canonical);
    assert_eq!(sw.list_page_cap, Some(3));
    assert_eq!(sw.echo_always_differs.as_deref(), Some("max_parallel"));
    assert!(sw.activation_check, "fields left out take defaults");

    let (s, _) = admin_post(
        sim.base_url(),
        "switches",
        &json!({"receiver_check_failure_code": {"no_code": {"http": 400}}}),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        sim.switches().receiver_check_failure_code,
        ReceiverCheckFailure::NoCode { http: 400 }
    );

    let (s, text) = admin_post(sim.base_url(), "switches", &json!({"echo_always_differs": "colour"})).await;
    assert_eq!(s, 400);
    assert!(text.contains("max_parallel"), "names the accepted fields: {text}");
    assert_eq!(
        sim.switches().receiver_check_failure_code,
        ReceiverCheckFailure::NoCode { http: 400 },
        "unchanged"
    );
}

#[tokio::test]
async fn echo_varies_gives_a_different_differing_value_on_each_answer() {
    let sim = start().await;
    let url = "https://h.example/v";
    call(&sim, "webhook/set", hook(url)).await;
    sim.set_echo_always_differs(Some("max_parallel"));
    sim.set_echo_varies(true);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let (_, got) = call(&sim, "webhook/get", json!({"url": url})).await;
        let echoed = got["object"]["max_parallel"].as_u64().unwrap();
        assert_ne!(echoed, 10, "always differs from the stored value");
        seen.insert(echoed);
    }
    assert_eq!(seen.len(), 3, "and never repeats within three answers: {seen:?}");
    assert_eq!(sim.webhook(KEY, url).unwrap().max_parallel, 10);
}
