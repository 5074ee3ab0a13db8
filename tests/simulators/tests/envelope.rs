//! Contract tests of the envelope (DocStudio) simulator over real HTTP.

mod support;

use std::time::Duration;

use provider_simulators::Fault;
use provider_simulators::common::Receiver;
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSim, EnvelopeSimulator, User};
use serde_json::{Value, json};
use support::{client, client_with_timeout, parts};

const TOKEN: &str = "app-token";
const MB: &str = "6f1c1e1e-0000-4000-8000-000000000001";
const OTHER_MB: &str = "6f1c1e1e-0000-4000-8000-000000000002";

async fn start() -> EnvelopeSim {
    EnvelopeSimulator::start(EnvelopeConfig {
        tokens: vec![(TOKEN.into(), vec![MB.into()])],
        users: vec![User {
            login: "ops@example.com".into(),
            password: "s3cret".into(),
            mailboxes: vec![MB.into()],
        }],
        ..Default::default()
    })
    .await
    .unwrap()
}

fn body(url: &str) -> Value {
    json!({"filter": {}, "url": url, "retries": 3, "timeout": 5000})
}

async fn add(sim: &EnvelopeSim, token: &str, mailbox: &str, body: &Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/v1/envelope/callback/add", sim.base_url()))
        .bearer_auth(token)
        .header("Mailbox", mailbox)
        .json(body)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

/// An `add` whose client gives up after `ms` milliseconds; the error it ends with.
async fn add_giving_up_after(sim: &EnvelopeSim, ms: u64) -> reqwest::Error {
    client_with_timeout(Duration::from_millis(ms))
        .post(format!("{}/api/v1/envelope/callback/add", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("Mailbox", MB)
        .json(&body("https://r.example/cb"))
        .send()
        .await
        .unwrap_err()
}

async fn list(sim: &EnvelopeSim, token: &str, mailbox: &str) -> (u16, Value) {
    let resp = client()
        .get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))
        .bearer_auth(token)
        .header("Mailbox", mailbox)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

async fn remove(sim: &EnvelopeSim, token: &str, id: &str) -> (u16, Value) {
    let resp = client()
        .delete(format!("{}/api/v1/envelope/callback/{id}/remove", sim.base_url()))
        .bearer_auth(token)
        .header("Mailbox", MB)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

async fn login(sim: &EnvelopeSim, login: &str, password: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/api/login", sim.base_url()))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    parts(resp).await
}

#[tokio::test]
async fn add_answers_201_with_generated_id_and_never_returns_the_password() {
    let sim = start().await;
    let mut b = body("https://r.example/cb");
    b["login"] = json!("hook");
    b["password"] = json!("pw-1");
    let (s, obj) = add(&sim, TOKEN, MB, &b).await;
    assert_eq!(s, 201, "{obj}");
    assert!(uuid::Uuid::parse_str(obj["id"].as_str().unwrap()).is_ok());
    assert_eq!(obj["url"], "https://r.example/cb");
    assert_eq!(
        (obj["retries"].clone(), obj["timeout"].clone()),
        (json!(3), json!(5000))
    );
    assert_eq!(obj["successCode"], 200);
    assert_eq!(obj["authType"], "BASIC");
    assert!(obj.get("password").is_none() && obj.get("login").is_none());
    assert!(obj["filter"]["receiveDateFrom"].is_null());

    let held = sim.callbacks(MB);
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].password.as_deref(),
        Some("pw-1"),
        "test handle shows the password"
    );
    assert_eq!(held[0].auth_type(), "BASIC");
    let (_, listed) = list(&sim, TOKEN, MB).await;
    assert!(listed[0].get("password").is_none());
    assert_eq!(listed[0]["authType"], "BASIC");
}

#[tokio::test]
async fn repeated_add_makes_duplicates() {
    let sim = start().await;
    let (_, a) = add(&sim, TOKEN, MB, &body("https://r.example/cb")).await;
    let (_, b) = add(&sim, TOKEN, MB, &body("https://r.example/cb")).await;
    assert_ne!(a["id"], b["id"]);
    let (s, l) = list(&sim, TOKEN, MB).await;
    assert_eq!(s, 200);
    assert_eq!(l.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn remove_answers_200_then_404_or_410_when_switched() {
    let sim = start().await;
    let (_, a) = add(&sim, TOKEN, MB, &body("https://r.example/cb")).await;
    let id = a["id"].as_str().unwrap();
    assert_eq!(remove(&sim, TOKEN, id).await, (200, Value::Null));
    assert!(sim.callbacks(MB).is_empty());
    let (s, b) = remove(&sim, TOKEN, id).await;
    assert_eq!((s, b["code"].clone()), (404, json!(404)));
    sim.set_removed_answer(410);
    assert_eq!(remove(&sim, TOKEN, id).await.0, 410);
    let never = uuid::Uuid::new_v4().to_string();
    assert_eq!(remove(&sim, TOKEN, &never).await.0, 404, "never-seen ids stay 404");
}

#[tokio::test]
async fn bearer_token_and_mailbox_are_checked() {
    let sim = start().await;
    sim.add_token("other-token", &[OTHER_MB]);
    let b = body("https://r.example/cb");
    assert_eq!(add(&sim, "nope", MB, &b).await.0, 401);
    assert_eq!(add(&sim, "other-token", MB, &b).await.0, 403);
    let (s, e) = add(&sim, TOKEN, OTHER_MB, &b).await;
    assert_eq!((s, e["code"].clone()), (403, json!(403)));
    let resp = client()
        .get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))
        .header("Mailbox", MB)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "no Authorization header");
    let resp = client()
        .get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "no Mailbox header");
    assert_eq!(add(&sim, "other-token", OTHER_MB, &b).await.0, 201);
    assert_eq!(list(&sim, TOKEN, MB).await.1, json!([]), "callbacks are per mailbox");
}

#[tokio::test]
async fn login_token_expires_after_12_simulated_hours() {
    let sim = start().await;
    let (s, b) = login(&sim, "ops@example.com", "wrong").await;
    assert_eq!((s, b["code"].clone()), (401, json!(401)));
    let (s, b) = login(&sim, "ops@example.com", "s3cret").await;
    assert_eq!(s, 200);
    let token = b["token"].as_str().unwrap().to_owned();
    assert_eq!(sim.login_count(), 1);
    assert_eq!(list(&sim, &token, MB).await.0, 200);

    sim.advance_clock(Duration::from_secs(11 * 3600 + 59 * 60));
    assert_eq!(list(&sim, &token, MB).await.0, 200, "still valid before 12 h");
    sim.advance_clock(Duration::from_secs(61));
    let (s, e) = list(&sim, &token, MB).await;
    assert_eq!((s, e["code"].clone()), (401, json!(401)));
    assert_eq!(list(&sim, TOKEN, MB).await.0, 200, "application tokens do not expire");

    let (_, b) = login(&sim, "ops@example.com", "s3cret").await;
    let fresh = b["token"].as_str().unwrap().to_owned();
    assert_eq!(list(&sim, &fresh, MB).await.0, 200);
    assert_eq!(sim.login_count(), 2);
    assert_eq!(sim.count("login"), 3);
}

#[tokio::test]
async fn revoke_tokens_forces_401_on_login_tokens() {
    let sim = start().await;
    let (_, b) = login(&sim, "ops@example.com", "s3cret").await;
    let token = b["token"].as_str().unwrap().to_owned();
    sim.revoke_tokens();
    assert_eq!(list(&sim, &token, MB).await.0, 401);
    assert_eq!(list(&sim, TOKEN, MB).await.0, 200);
}

#[tokio::test]
async fn create_body_validation_answers_400_with_code_and_message() {
    let sim = start().await;
    let ok = body("https://r.example/cb");
    let with = |field: &str, value: Value| {
        let mut b = ok.clone();
        b[field] = value;
        b
    };
    let mut no_filter = ok.clone();
    no_filter.as_object_mut().unwrap().remove("filter");
    let mut no_retries = ok.clone();
    no_retries.as_object_mut().unwrap().remove("retries");
    let mut no_timeout = ok.clone();
    no_timeout.as_object_mut().unwrap().remove("timeout");
    let cases = [
        ("filter missing", no_filter),
        ("url missing", json!({"filter": {}, "retries": 1, "timeout": 100})),
        ("url relative", with("url", json!("/cb"))),
        ("retries missing", no_retries),
        ("retries 11", with("retries", json!(11))),
        ("retries -1", with("retries", json!(-1))),
        ("timeout missing", no_timeout),
        ("timeout 99", with("timeout", json!(99))),
        ("timeout 60001", with("timeout", json!(60001))),
        ("bad status", with("filter", json!({"status": ["DONE"]}))),
        ("bad label uuid", with("filter", json!({"label": ["x"]}))),
        ("bad template uuid", with("filter", json!({"template": ["x"]}))),
        ("bad date", with("filter", json!({"receiveDateFrom": "2024-01-01"}))),
        ("bad scope", with("filter", json!({"scope": ["trash"]}))),
        ("unknown filter field", with("filter", json!({"colour": "red"}))),
        ("filter not object", with("filter", json!([]))),
        ("password without login", with("password", json!("pw"))),
    ];
    for (name, b) in cases {
        let (s, e) = add(&sim, TOKEN, MB, &b).await;
        assert_eq!((s, e["code"].clone()), (400, json!(400)), "{name}: {e}");
        assert!(e["message"].is_string(), "{name}");
    }
    assert!(sim.callbacks(MB).is_empty());
    for (retries, timeout) in [(0, 100), (10, 60000)] {
        let mut b = ok.clone();
        b["retries"] = json!(retries);
        b["timeout"] = json!(timeout);
        assert_eq!(add(&sim, TOKEN, MB, &b).await.0, 201, "bounds are inclusive");
    }
}

#[tokio::test]
async fn filter_is_normalized_statuses_case_insensitive_and_dates_as_utc() {
    let sim = start().await;
    let label = uuid::Uuid::new_v4().to_string();
    let mut b = body("https://r.example/cb");
    b["filter"] = json!({
        "status": ["completed", "Waiting"],
        "scope": ["INBOX"],
        "label": [label],
        "subject": "Invoice",
        "receiveDateFrom": "2024-05-01T12:00:00+03:00",
    });
    b["successCode"] = json!(204);
    let (s, obj) = add(&sim, TOKEN, MB, &b).await;
    assert_eq!(s, 201, "{obj}");
    let f = &obj["filter"];
    assert_eq!(f["status"], json!(["COMPLETED", "WAITING"]));
    assert_eq!(f["scope"], json!(["inbox"]));
    assert_eq!(f["label"], json!([label]));
    assert_eq!(f["subject"], "Invoice");
    assert_eq!(f["receiveDateFrom"], "2024-05-01T09:00:00.000Z");
    assert!(f["receiveDateTo"].is_null() && f["expireDateFrom"].is_null() && f["sender"].is_null());
    assert_eq!(obj["successCode"], 204);
    assert_eq!(obj["authType"], "NONE");
}

#[tokio::test]
async fn crash_after_add_creates_the_callback_but_loses_the_response() {
    let sim = start().await;
    sim.inject_for("callback/add", Fault::CrashAfterAdd, 1);
    let result = client()
        .post(format!("{}/api/v1/envelope/callback/add", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("Mailbox", MB)
        .json(&body("https://r.example/cb"))
        .send()
        .await;
    assert!(result.is_err(), "the response is lost");
    assert_eq!(sim.callbacks(MB).len(), 1, "but the callback exists");
    assert_eq!(list(&sim, TOKEN, MB).await.1.as_array().unwrap().len(), 1);
    let rec = &sim.requests()[0];
    assert_eq!(
        (rec.op.as_str(), rec.status, rec.fault),
        ("callback/add", 0, Some("crash_after_add"))
    );
    assert_eq!(rec.scope.as_deref(), Some(MB));
    assert_eq!(rec.credential.as_deref(), Some(TOKEN));
}

#[tokio::test]
async fn hang_after_handling_creates_the_callback_and_never_answers() {
    let sim = start().await;
    sim.inject_for("callback/add", Fault::HangAfterHandling, 1);
    assert!(add_giving_up_after(&sim, 300).await.is_timeout());
    assert_eq!(sim.callbacks(MB).len(), 1, "the add was performed");
    let rec = sim.requests().into_iter().find(|r| r.op == "callback/add").unwrap();
    assert_eq!((rec.status, rec.fault), (0, Some("hang_after_handling")));
}

#[tokio::test]
async fn faults_rate_limit_5xx_and_hang() {
    let sim = start().await;
    sim.inject_for("callback/list", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let resp = client()
        .get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("Mailbox", MB)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");

    sim.inject_for("login", Fault::status(502), 1);
    assert_eq!(login(&sim, "ops@example.com", "s3cret").await.0, 502);
    assert_eq!(sim.login_count(), 0);

    sim.inject(Fault::Hang, 1);
    assert!(add_giving_up_after(&sim, 200).await.is_timeout());
    assert!(sim.callbacks(MB).is_empty(), "a hung add is not performed");
}

#[tokio::test]
async fn test_handles_put_and_remove_behind_the_operators_back() {
    let sim = start().await;
    let put = sim.put_callback(MB, body("https://manual/cb")).unwrap();
    sim.put_callback(MB, body("https://manual/cb")).unwrap();
    let (_, l) = list(&sim, TOKEN, MB).await;
    assert_eq!(l.as_array().unwrap().len(), 2, "manual copies are duplicates");
    assert!(sim.remove_callback(MB, put.id));
    assert!(!sim.remove_callback(MB, put.id));
    assert_eq!(sim.callbacks(MB).len(), 1);
    assert!(sim.put_callback(MB, json!({"url": "x"})).is_err());
}

#[tokio::test]
async fn send_test_delivers_basic_auth_to_the_receiver() {
    let sim = start().await;
    let receiver = Receiver::start().await.unwrap();
    let mut b = body(&receiver.url("/docs"));
    b["login"] = json!("hook");
    b["password"] = json!("pw-2");
    let (_, obj) = add(&sim, TOKEN, MB, &b).await;
    let resp = client()
        .get(format!(
            "{}/api/v1/envelope/callback/{}/send",
            sim.base_url(),
            obj["id"].as_str().unwrap()
        ))
        .bearer_auth(TOKEN)
        .header("Mailbox", MB)
        .send()
        .await
        .unwrap();
    let (s, answer) = parts(resp).await;
    assert_eq!((s, answer["code"].clone()), (200, json!(200)));
    let hit = &receiver.hits()[0];
    assert_eq!(hit.method, "POST");
    // base64("hook:pw-2")
    assert_eq!(hit.authorization.as_deref(), Some("Basic aG9vazpwdy0y"));
}

#[tokio::test]
async fn admin_state_shows_callbacks_with_passwords_and_tokens() {
    let sim = start().await;
    let mut b = body("https://r.example/cb");
    b["login"] = json!("hook");
    b["password"] = json!("pw-3");
    add(&sim, TOKEN, MB, &b).await;
    let (_, state) = parts(
        client()
            .get(format!("{}/_sim/state", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["callbacks"][MB][0]["password"], "pw-3");
    assert_eq!(state["tokens"][0]["kind"], "application");
}

#[tokio::test]
async fn admin_can_advance_the_clock_and_revoke_tokens() {
    let sim = start().await;
    let c = client();
    let admin = format!("{}/_sim", sim.base_url());
    let (_, b) = login(&sim, "ops@example.com", "s3cret").await;
    let token = b["token"].as_str().unwrap().to_owned();
    let s = c
        .post(format!("{admin}/advance-clock"))
        .json(&json!({"secs": 12 * 3600}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(list(&sim, &token, MB).await.0, 401);
    let (_, b) = login(&sim, "ops@example.com", "s3cret").await;
    let token = b["token"].as_str().unwrap().to_owned();
    c.post(format!("{admin}/revoke-tokens")).send().await.unwrap();
    assert_eq!(list(&sim, &token, MB).await.0, 401);
    let s = c
        .post(format!("{admin}/switches"))
        .json(&json!({"removed_answer": 410}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 204);
    assert_eq!(sim.switches().removed_answer, 410);
}
