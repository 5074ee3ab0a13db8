//! Contract tests of the mail (Unisender Go) simulator over real HTTP.

mod support;

use std::time::{Duration, Instant};

use provider_simulators::Fault;
use provider_simulators::common::Receiver;
use provider_simulators::mail::{MailKeyState, MailSim, SetOmitted};
use serde_json::{Value, json};
use support::{client, client_with_timeout, parts};

const KEY: &str = "key-1";

async fn start(activation_check: bool) -> MailSim {
    support::mail_sim(KEY, activation_check).await
}

async fn call(sim: &MailSim, key: &str, method: &str, body: Value) -> (u16, Value) {
    support::mail_call(sim, key, method, body).await
}

fn hook(url: &str) -> Value {
    json!({"url": url, "events": {"email_status": ["delivered", "hard_bounced"]}})
}

#[tokio::test]
async fn set_creates_webhook_with_documented_defaults_and_generated_id() {
    let sim = start(false).await;
    assert!(sim.base_url().ends_with("/ru/transactional/api/v1"));
    let (status, body) = call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    let obj = &body["object"];
    assert_eq!(obj["url"], "https://h.example/a");
    assert_eq!(obj["status"], "active");
    assert_eq!(obj["event_format"], "json_post");
    assert_eq!(obj["delivery_info"], 0);
    assert_eq!(obj["single_event"], 0);
    assert_eq!(obj["max_parallel"], 10);
    assert_eq!(obj["events"]["email_status"], json!(["delivered", "hard_bounced"]));
    assert!(obj["events"].get("spam_block").is_none());
    assert!(obj["id"].as_u64().unwrap() > 0);
    let stamp = obj["updated_at"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").is_ok());
    assert_eq!(sim.webhooks(KEY).len(), 1);
}

#[tokio::test]
async fn set_same_url_replaces_keeps_id_and_resets_omitted_fields_by_default() {
    let sim = start(false).await;
    let mut first = hook("https://h.example/a");
    first["max_parallel"] = json!(50);
    first["events"]["spam_block"] = json!(["*"]);
    let (_, a) = call(&sim, KEY, "webhook/set", first).await;
    let (status, b) = call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    assert_eq!(status, 200);
    assert_eq!(a["object"]["id"], b["object"]["id"]);
    assert_eq!(b["object"]["max_parallel"], 10);
    assert!(b["object"]["events"].get("spam_block").is_none());
    assert_eq!(sim.webhooks(KEY).len(), 1);
}

#[tokio::test]
async fn keep_switch_makes_set_keep_omitted_fields() {
    let sim = start(false).await;
    sim.set_set_omitted(SetOmitted::Keep);
    let mut first = hook("https://h.example/a");
    first["max_parallel"] = json!(50);
    first["delivery_info"] = json!(1);
    call(&sim, KEY, "webhook/set", first).await;
    let (status, b) = call(&sim, KEY, "webhook/set", json!({"url": "https://h.example/a"})).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["object"]["max_parallel"], 50);
    assert_eq!(b["object"]["delivery_info"], 1);
    assert_eq!(
        b["object"]["events"]["email_status"],
        json!(["delivered", "hard_bounced"])
    );
}

#[tokio::test]
async fn keys_are_checked_in_header_or_body_with_documented_codes() {
    let sim = start(false).await;
    sim.add_wrong_datacenter_key("other-dc");
    sim.set_key_state("off", MailKeyState::ApiDisabled);
    sim.set_key_state("inactive", MailKeyState::UserInactive);
    let url = format!("{}/webhook/list.json", sim.base_url());
    let c = client();

    let (s, b) = parts(c.post(&url).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(
        (s, b["code"].clone(), b["status"].clone()),
        (401, json!(101), json!("error"))
    );
    for (key, http, code) in [
        ("nope", 401, 102),
        ("other-dc", 401, 114),
        ("off", 403, 105),
        ("inactive", 403, 106),
    ] {
        let (s, b) = call(&sim, key, "webhook/list", json!({})).await;
        assert_eq!((s, b["code"].as_u64().unwrap()), (http, code), "key {key}");
        assert!(b["message"].is_string());
    }
    let (s, _) = parts(c.post(&url).json(&json!({"api_key": KEY})).send().await.unwrap()).await;
    assert_eq!(s, 200, "api_key in the body is accepted");
    assert_eq!(sim.count_for("other-dc", "webhook/list"), 1);
}

#[tokio::test]
async fn set_validation_answers_documented_error_codes() {
    let sim = start(false).await;
    let ok = hook("https://h.example/a");
    let with = |field: &str, value: Value| {
        let mut b = ok.clone();
        b[field] = value;
        b
    };
    let cases: Vec<(&str, Value, u64)> = vec![
        ("url missing", json!({"events": {"email_status": ["delivered"]}}), 305),
        ("url blank", with("url", json!("  ")), 2701),
        ("bad event_format", with("event_format", json!("xml")), 2703),
        ("delivery_info 2", with("delivery_info", json!(2)), 2704),
        ("single_event true", with("single_event", json!(true)), 2705),
        ("max_parallel 4", with("max_parallel", json!(4)), 2707),
        ("max_parallel 101", with("max_parallel", json!(101)), 2707),
        ("events missing", json!({"url": "https://h.example/a"}), 2710),
        (
            "email_status missing",
            with("events", json!({"spam_block": ["*"]})),
            2710,
        ),
        ("email_status empty", with("events", json!({"email_status": []})), 2710),
        (
            "bad email_status",
            with("events", json!({"email_status": ["bounced"]})),
            2711,
        ),
        (
            "bad spam_block",
            with("events", json!({"email_status": ["spam"], "spam_block": ["x"]})),
            2712,
        ),
        (
            "unknown event kind",
            with("events", json!({"email_status": ["spam"], "clicks": ["*"]})),
            303,
        ),
        (
            "unresolvable domain",
            with("url", json!("https://nowhere.invalid/h")),
            2713,
        ),
        ("non-ascii host", with("url", json!("https://пример.рф/h")), 2713),
        ("status not a string", with("status", json!(1)), 2714),
        ("status stopped", with("status", json!("stopped")), 2715),
    ];
    for (name, body, code) in cases {
        let (s, b) = call(&sim, KEY, "webhook/set", body).await;
        assert_eq!((s, b["code"].as_u64()), (400, Some(code)), "{name}: {b}");
        assert_eq!(b["status"], "error");
    }
    assert!(sim.webhooks(KEY).is_empty());
}

#[tokio::test]
async fn sent_event_is_accepted_unless_switched_off() {
    let sim = start(false).await;
    let body = json!({"url": "https://h.example/s", "events": {"email_status": ["sent"]}});
    assert_eq!(call(&sim, KEY, "webhook/set", body.clone()).await.0, 200);
    sim.set_accept_sent_event(false);
    let (s, b) = call(&sim, KEY, "webhook/set", body).await;
    assert_eq!((s, b["code"].clone()), (400, json!(2711)));
}

#[tokio::test]
async fn get_and_delete_of_unknown_url_answer_304_with_switchable_http_status() {
    let sim = start(false).await;
    let body = json!({"url": "https://h.example/none"});
    let (s, b) = call(&sim, KEY, "webhook/get", body.clone()).await;
    assert_eq!((s, b["code"].clone()), (400, json!(304)));
    let (s, b) = call(&sim, KEY, "webhook/delete", body.clone()).await;
    assert_eq!((s, b["code"].clone()), (400, json!(304)));
    sim.set_not_found_http_status(404);
    let (s, b) = call(&sim, KEY, "webhook/get", body).await;
    assert_eq!((s, b["code"].clone()), (404, json!(304)));
    let (s, b) = call(&sim, KEY, "webhook/get", json!({})).await;
    assert_eq!((s, b["code"].clone()), (400, json!(305)));
}

#[tokio::test]
async fn get_list_delete_round_trip() {
    let sim = start(false).await;
    for i in 0..5 {
        call(&sim, KEY, "webhook/set", hook(&format!("https://h.example/{i}"))).await;
    }
    let (s, b) = call(&sim, KEY, "webhook/get", json!({"url": "https://h.example/3"})).await;
    assert_eq!(s, 200);
    assert_eq!(b["object"]["url"], "https://h.example/3");

    let (_, page1) = call(&sim, KEY, "webhook/list", json!({"limit": 2, "offset": 0})).await;
    let (_, page3) = call(&sim, KEY, "webhook/list", json!({"limit": 2, "offset": 4})).await;
    assert_eq!(page1["objects"].as_array().unwrap().len(), 2);
    assert_eq!(page1["objects"][0]["url"], "https://h.example/0");
    assert_eq!(page3["objects"].as_array().unwrap().len(), 1, "short last page");
    assert!(page1.get("total").is_none());

    let (s, b) = call(&sim, KEY, "webhook/delete", json!({"url": "https://h.example/3"})).await;
    assert_eq!((s, b), (200, json!({"status": "success"})));
    assert!(sim.webhook(KEY, "https://h.example/3").is_none());
    assert_eq!(sim.webhooks(KEY).len(), 4);
}

#[tokio::test]
async fn webhooks_are_scoped_per_key() {
    let sim = start(false).await;
    sim.add_key("key-2");
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    let (s, b) = call(&sim, "key-2", "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert_eq!((s, b["code"].clone()), (400, json!(304)));
    let (_, b) = call(&sim, "key-2", "webhook/list", json!({})).await;
    assert_eq!(b["objects"], json!([]));
}

#[tokio::test]
async fn read_side_may_omit_delivery_flags_when_switched() {
    let sim = start(false).await;
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    sim.set_omit_delivery_flags_on_read(true);
    let (_, b) = call(&sim, KEY, "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert!(b["object"].get("delivery_info").is_none());
    assert!(b["object"].get("single_event").is_none());
    assert_eq!(b["object"]["max_parallel"], 10);
}

#[tokio::test]
async fn activation_get_must_reach_an_up_receiver() {
    let sim = start(true).await;
    let receiver = Receiver::start().await.unwrap();
    let url = receiver.url("/hooks/mail");

    let (s, b) = call(&sim, KEY, "webhook/set", hook(&url)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(receiver.hit_count("GET", "/hooks/mail"), 1);

    receiver.set_status(500);
    let (s, b) = call(&sim, KEY, "webhook/set", hook(&url)).await;
    assert_eq!((s, b["code"].clone()), (400, json!(2713)), "{b}");

    receiver.set_status(200);
    receiver.set_down(true);
    let (s, b) = call(&sim, KEY, "webhook/set", hook(&url)).await;
    assert_eq!((s, b["code"].clone()), (400, json!(2713)), "{b}");

    let mut disabled = hook(&url);
    disabled["status"] = json!("disabled");
    let (s, _) = call(&sim, KEY, "webhook/set", disabled).await;
    assert_eq!(s, 200, "no GET for a disabled webhook");

    receiver.set_down(false);
    let (s, _) = call(&sim, KEY, "webhook/set", hook(&url)).await;
    assert_eq!(s, 200, "receiver back up");
    assert_eq!(receiver.hit_count("GET", "/hooks/mail"), 3);
}

#[tokio::test]
async fn activation_check_can_be_switched_off() {
    let sim = start(true).await;
    sim.set_activation_check(false);
    let (s, _) = call(&sim, KEY, "webhook/set", hook("https://127.0.0.1:1/none")).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn test_handles_change_state_behind_the_operators_back() {
    let sim = start(false).await;
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    assert!(sim.set_webhook_status(KEY, "https://h.example/a", "stopped"));
    let (_, b) = call(&sim, KEY, "webhook/get", json!({"url": "https://h.example/a"})).await;
    assert_eq!(b["object"]["status"], "stopped");
    // The operator re-activates with a full set.
    let (_, b) = call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    assert_eq!(b["object"]["status"], "active");

    let put = sim
        .put_webhook(
            KEY,
            json!({"url": "https://h.example/b", "max_parallel": 7, "events": {"email_status": ["spam"]}}),
        )
        .unwrap();
    assert!(put.id > 0);
    let (_, b) = call(&sim, KEY, "webhook/get", json!({"url": "https://h.example/b"})).await;
    assert_eq!(b["object"]["max_parallel"], 7);
    assert!(sim.remove_webhook(KEY, "https://h.example/b"));
    assert!(!sim.remove_webhook(KEY, "https://h.example/b"));
}

#[tokio::test]
async fn rate_limit_fault_answers_429_with_retry_after_then_recovers() {
    let sim = start(false).await;
    sim.inject(Fault::RateLimited { retry_after_secs: 7 }, 2);
    for _ in 0..2 {
        let resp = client()
            .post(format!("{}/webhook/list.json", sim.base_url()))
            .header("X-API-KEY", KEY)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "7");
    }
    assert_eq!(call(&sim, KEY, "webhook/list", json!({})).await.0, 200);
    let faults: Vec<_> = sim.requests().iter().map(|r| r.fault).collect();
    assert_eq!(faults, vec![Some("rate_limited"), Some("rate_limited"), None]);
}

#[tokio::test]
async fn status_fault_can_target_one_op() {
    let sim = start(false).await;
    sim.inject_for("webhook/set", Fault::status(503), 1);
    assert_eq!(call(&sim, KEY, "webhook/list", json!({})).await.0, 200);
    assert_eq!(call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await.0, 503);
    assert!(sim.webhooks(KEY).is_empty(), "the faulted set was not handled");
    assert_eq!(call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await.0, 200);
}

#[tokio::test]
async fn hang_fault_times_the_client_out() {
    let sim = start(false).await;
    sim.inject(Fault::Hang, 1);
    let started = Instant::now();
    let err = client_with_timeout(Duration::from_millis(300))
        .post(format!("{}/webhook/set.json", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&hook("https://h.example/a"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(sim.webhooks(KEY).is_empty());
    assert_eq!(sim.requests()[0].status, 0);
}

#[tokio::test]
async fn crash_fault_performs_the_call_but_loses_the_response() {
    let sim = start(false).await;
    sim.inject(Fault::CrashAfterAdd, 1);
    let result = client()
        .post(format!("{}/webhook/set.json", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&hook("https://h.example/a"))
        .send()
        .await;
    let err = result.expect_err("the response must be lost");
    assert!(!err.is_timeout(), "connection dropped, not hung: {err}");
    assert!(sim.webhook(KEY, "https://h.example/a").is_some(), "the set happened");
}

#[tokio::test]
async fn latency_delays_every_call() {
    let sim = start(false).await;
    sim.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    call(&sim, KEY, "webhook/list", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn request_log_records_op_credential_status_and_body() {
    let sim = start(false).await;
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    call(&sim, "bad", "webhook/get", json!({"url": "https://h.example/a"})).await;
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].op, "webhook/set");
    assert_eq!(log[0].provider, "mail");
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].credential.as_deref(), Some(KEY));
    assert_eq!(log[0].body["url"], "https://h.example/a");
    assert_eq!(log[1].status, 401);
    assert_eq!(sim.count("webhook/set"), 1);
    assert_eq!(sim.count_for(KEY, "webhook/get"), 0);
    assert_eq!(sim.count_for("bad", "webhook/get"), 1);
    sim.clear_requests();
    assert!(sim.requests().is_empty());
    assert_eq!(sim.count("webhook/set"), 0);
}

#[tokio::test]
async fn admin_endpoints_expose_state_requests_and_faults() {
    let sim = start(false).await;
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    let admin = format!("http://{}/_sim", sim.addr());
    let c = client();
    let (_, state) = parts(c.get(format!("{admin}/state")).send().await.unwrap()).await;
    assert_eq!(state["webhooks"][KEY][0]["url"], "https://h.example/a");
    assert_eq!(state["keys"][KEY], "active");
    let (_, reqs) = parts(c.get(format!("{admin}/requests")).send().await.unwrap()).await;
    assert_eq!(reqs.as_array().unwrap().len(), 1, "admin calls are not logged");
    assert_eq!(reqs[0]["op"], "webhook/set");

    let fault = json!({"fault": {"kind": "status", "status": 502}, "times": 1, "op": "webhook/list"});
    let s = c
        .post(format!("{admin}/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(call(&sim, KEY, "webhook/list", json!({})).await.0, 502);
    c.post(format!("{admin}/reset-requests")).send().await.unwrap();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn admin_can_stop_a_webhook_and_flip_switches() {
    let sim = start(false).await;
    call(&sim, KEY, "webhook/set", hook("https://h.example/a")).await;
    let admin = format!("http://{}/_sim", sim.addr());
    let c = client();
    let stop = json!({"key": KEY, "url": "https://h.example/a", "status": "stopped"});
    let s = c
        .post(format!("{admin}/webhook-status"))
        .json(&stop)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(sim.webhook(KEY, "https://h.example/a").unwrap().status, "stopped");
    let missing = json!({"key": KEY, "url": "https://h.example/none", "status": "stopped"});
    let s = c
        .post(format!("{admin}/webhook-status"))
        .json(&missing)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 404);

    let switches = json!({"not_found_http_status": 404, "set_omitted": "keep"});
    let s = c
        .post(format!("{admin}/switches"))
        .json(&switches)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    let now = sim.switches();
    assert_eq!((now.not_found_http_status, now.set_omitted), (404, SetOmitted::Keep));
    assert!(now.activation_check, "fields left out take their defaults");
}
