//! Contract tests of the edna Pulse simulator over real HTTP.

mod support;

use std::time::Duration;

use provider_simulators::Fault;
use provider_simulators::common::Receiver;
use provider_simulators::edna::{CallbackUrls, EdnaErrorStyle, EdnaSetOmitted, EdnaSim};
use serde_json::{Value, json};
use support::{client, client_with_timeout, parts};

const KEY: &str = "edna-key";

async fn start(url_check: bool) -> EdnaSim {
    support::edna_sim(KEY, url_check).await
}

async fn set(sim: &EdnaSim, key: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

fn urls(status: Option<&str>, inbound: Option<&str>, matcher: Option<&str>) -> CallbackUrls {
    support::edna_urls(status, inbound, matcher)
}

#[tokio::test]
async fn set_stores_urls_per_subject_and_answers_ok() {
    let sim = start(false).await;
    let (s, b) = set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://r.example/s", "subjectId": 1001}),
    )
    .await;
    assert_eq!((s, b), (200, json!({"code": "ok"})));
    let (s, _) = set(&sim, KEY, json!({"inMessageCallbackUrl": "https://r.example/in"})).await;
    assert_eq!(s, 200);
    let state = sim.state(KEY);
    // The tenant-wide set wrote its field on every channel too (the default, the seed's reading).
    assert_eq!(
        state[&Some(1001)],
        urls(Some("https://r.example/s"), Some("https://r.example/in"), None)
    );
    assert_eq!(state[&None], urls(None, Some("https://r.example/in"), None));
}

#[tokio::test]
async fn set_overwrites_only_the_fields_sent_by_default() {
    let sim = start(false).await;
    set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://a/s", "inMessageCallbackUrl": "https://a/in"}),
    )
    .await;
    set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://b/s", "messageMatcherCallbackUrl": "https://b/m"}),
    )
    .await;
    assert_eq!(
        sim.callback_urls(KEY, None).unwrap(),
        urls(Some("https://b/s"), Some("https://a/in"), Some("https://b/m"))
    );
}

#[tokio::test]
async fn clear_switch_makes_set_clear_fields_left_out() {
    let sim = start(false).await;
    sim.set_set_omitted(EdnaSetOmitted::Clear);
    set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://a/s", "inMessageCallbackUrl": "https://a/in"}),
    )
    .await;
    set(&sim, KEY, json!({"statusCallbackUrl": "https://b/s"})).await;
    assert_eq!(
        sim.callback_urls(KEY, None).unwrap(),
        urls(Some("https://b/s"), None, None)
    );
}

#[tokio::test]
async fn unknown_or_missing_key_answers_401_and_missing_group_403() {
    let sim = start(false).await;
    sim.add_additional_key("channels-only", KEY, &["channels"]);
    let body = json!({"statusCallbackUrl": "https://a/s"});
    assert_eq!(set(&sim, "nope", body.clone()).await.0, 401);
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(set(&sim, "channels-only", body).await.0, 403);
    let resp = client()
        .get(format!("{}/api/channel-profile", sim.base_url()))
        .header("X-API-KEY", "channels-only")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "additional key shares the master's account");
}

#[tokio::test]
async fn validation_answers_documented_codes_under_http_200_by_default() {
    let sim = start(false).await;
    let long = format!("https://r.example/{}", "x".repeat(500));
    let cases = [
        (json!({}), "url-not-specified"),
        (json!({"subjectId": 1001}), "url-not-specified"),
        (json!({"statusCallbackUrl": null}), "url-not-specified"),
        (json!({"statusCallbackUrl": long}), "error-callback-url-max-length"),
        (
            json!({"statusCallbackUrl": "http://r.example/s"}),
            "error-callback-url-not-https",
        ),
        (
            json!({"statusCallbackUrl": "https://r/s", "inMessageCallbackUrl": "ftp://r/in"}),
            "error-callback-url-not-https",
        ),
        (
            json!({"statusCallbackUrl": "https://r.example/s", "subjectId": 9}),
            "error-subject-unknown",
        ),
        (
            json!({"statusCallbackUrl": "https://r.example/s", "subjectId": 2}),
            "error-subject-unknown",
        ),
    ];
    for (body, code) in cases {
        let (s, b) = set(&sim, KEY, body.clone()).await;
        assert_eq!((s, b), (200, json!({"code": code})), "{body}");
    }
    let exactly_500 = format!("https://r.example/{}", "x".repeat(500 - 18));
    assert_eq!(exactly_500.len(), 500);
    assert_eq!(
        set(&sim, KEY, json!({"statusCallbackUrl": exactly_500})).await.1,
        json!({"code": "ok"})
    );
}

#[tokio::test]
async fn error_transport_is_switchable_to_http_400_or_problem_body() {
    let sim = start(false).await;
    let bad = json!({"statusCallbackUrl": "http://r.example/s"});
    sim.set_error_style(EdnaErrorStyle::Http400Code);
    let (s, b) = set(&sim, KEY, bad.clone()).await;
    assert_eq!((s, b), (400, json!({"code": "error-callback-url-not-https"})));

    sim.set_error_style(EdnaErrorStyle::Problem);
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let (s, b) = parts(resp).await;
    assert_eq!(s, 400);
    assert_eq!(b["status"], 400);
    assert_eq!(b["type"], "about:blank");
    assert_eq!(b["title"], "error-callback-url-not-https");
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .starts_with("error-callback-url-not-https")
    );
    let (s, b) = set(&sim, KEY, json!({"statusCallbackUrl": "https://r/s"})).await;
    assert_eq!((s, b), (200, json!({"code": "ok"})), "success is unchanged");
}

#[tokio::test]
async fn head_check_accepts_an_up_receiver_and_refuses_a_down_one() {
    let sim = start(true).await;
    let receiver = Receiver::start().await.unwrap();
    let status_url = receiver.url("/edna/status");
    let in_url = receiver.url("/edna/in");

    let (_, b) = set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": status_url, "inMessageCallbackUrl": in_url}),
    )
    .await;
    assert_eq!(b, json!({"code": "ok"}));
    assert_eq!(receiver.hit_count("HEAD", "/edna/status"), 1);
    assert_eq!(receiver.hit_count("HEAD", "/edna/in"), 1);

    receiver.set_path_status("/edna/in", 404);
    let (s, b) = set(&sim, KEY, json!({"inMessageCallbackUrl": in_url})).await;
    assert_eq!((s, b), (200, json!({"code": "error-callback-url-not-available"})));

    receiver.set_down(true);
    let (_, b) = set(&sim, KEY, json!({"statusCallbackUrl": receiver.url("/edna/other")})).await;
    assert_eq!(b, json!({"code": "error-callback-url-not-available"}));
    assert_eq!(
        sim.callback_urls(KEY, None).unwrap().status_callback_url,
        Some(status_url.clone())
    );

    receiver.set_down(false);
    let (_, b) = set(&sim, KEY, json!({"statusCallbackUrl": receiver.url("/edna/other")})).await;
    assert_eq!(b, json!({"code": "ok"}));
}

#[tokio::test]
async fn head_check_can_be_switched_off() {
    let sim = start(true).await;
    sim.set_url_check(false);
    let (_, b) = set(&sim, KEY, json!({"statusCallbackUrl": "https://127.0.0.1:1/nothing"})).await;
    assert_eq!(b, json!({"code": "ok"}));
}

#[tokio::test]
async fn channel_profile_lists_channels_with_subject_id_only_when_active() {
    let sim = start(false).await;
    let get = |types: &'static str| {
        let sim = sim.clone();
        async move {
            let resp = client()
                .get(format!("{}/api/channel-profile?types={types}", sim.base_url()))
                .header("X-API-KEY", KEY)
                .send()
                .await
                .unwrap();
            parts(resp).await
        }
    };
    let (s, b) = get("WHATSAPP").await;
    assert_eq!(s, 200);
    let list = b.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["subjectId"], 1001);
    assert_eq!(list[0]["subject"], "shop_wa");
    assert_eq!(list[0]["type"], "WHATSAPP");
    assert!(list[1].get("subjectId").is_none(), "pending channel has no subjectId");
    assert_eq!(list[1]["active"], false);
    assert_eq!(get("WHATSAPP%2CVIBER").await.1.as_array().unwrap().len(), 3);

    assert!(sim.activate_channel(KEY, 2, 1002));
    let (_, b) = get("WHATSAPP").await;
    assert_eq!(b[1]["subjectId"], 1002);
    let (_, b) = set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://r/s", "subjectId": 1002}),
    )
    .await;
    assert_eq!(b, json!({"code": "ok"}), "activated channel is now a known subject");
}

#[tokio::test]
async fn faults_rate_limit_5xx_and_hang() {
    let sim = start(false).await;
    let body = json!({"statusCallbackUrl": "https://r/s"});
    sim.inject_for("callback/set", Fault::RateLimited { retry_after_secs: 3 }, 1);
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");

    sim.inject(Fault::status(500), 1);
    assert_eq!(set(&sim, KEY, body.clone()).await.0, 500);
    assert!(sim.state(KEY).is_empty(), "faulted calls are not handled");

    sim.inject(Fault::Hang, 1);
    let err = client_with_timeout(Duration::from_millis(200))
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(set(&sim, KEY, body).await.1, json!({"code": "ok"}));
    assert_eq!(sim.count("callback/set"), 4);
    assert_eq!(sim.count_for(KEY, "callback/set"), 4);
}

#[tokio::test]
async fn admin_state_shows_accounts_channels_and_callbacks() {
    let sim = start(false).await;
    set(
        &sim,
        KEY,
        json!({"statusCallbackUrl": "https://r/s", "subjectId": 1001}),
    )
    .await;
    sim.put_callback_urls(KEY, None, urls(None, None, Some("https://manual/m")));
    let (_, state) = parts(
        client()
            .get(format!("{}/_sim/state", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let account = &state["accounts"][KEY];
    assert_eq!(account["callbacks"]["1001"]["statusCallbackUrl"], "https://r/s");
    assert_eq!(
        account["callbacks"]["tenant"]["messageMatcherCallbackUrl"],
        "https://manual/m"
    );
    assert_eq!(account["channels"].as_array().unwrap().len(), 3);
    let (_, reqs) = parts(
        client()
            .get(format!("{}/_sim/requests", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reqs[0]["op"], "callback/set");
    assert_eq!(reqs[0]["credential"], KEY);
}

#[tokio::test]
async fn admin_can_activate_a_channel_and_switch_error_style() {
    let sim = start(false).await;
    let c = client();
    let admin = format!("{}/_sim", sim.base_url());
    let body = json!({"key": KEY, "channel_id": 2, "subject_id": 2002});
    let s = c
        .post(format!("{admin}/activate-channel"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(sim.channels(KEY)[1].subject_id, Some(2002));
    let s = c
        .post(format!("{admin}/switches"))
        .json(&json!({"error_style": "http400_code"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(sim.switches().error_style, EdnaErrorStyle::Http400Code);
    let (s, _) = set(&sim, KEY, json!({})).await;
    assert_eq!(s, 400);
}
