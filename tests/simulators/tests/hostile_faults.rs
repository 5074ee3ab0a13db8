//! Hostile answers (`Fault::Redirect`, `NonJson`, `NonUtf8`, `EchoSecret`) over real HTTP: what
//! each sends, that the call is not handled, and that they queue per op and N times like every
//! fault. Streamed bodies are in `hostile_streams.rs`.

mod support;

use provider_simulators::Fault;
use provider_simulators::common::SecretForm;
use provider_simulators::edna::{Channel, EdnaConfig, EdnaSimulator};
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSimulator, User};
use provider_simulators::mail::MailSim;
use serde_json::{Value, json};
use support::{admin_post, client, parts};

const KEY: &str = "sk-live-0123456789abcdef";

async fn mail() -> MailSim {
    support::mail_sim(KEY, false).await
}

fn mail_req(sim: &MailSim, client: &reqwest::Client, method: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{}/{method}.json", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&json!({"url": "https://h.example/a", "events": {"email_status": ["delivered"]}}))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn redirect_answers_its_status_and_location_and_the_call_is_not_handled() {
    let sim = mail().await;
    for status in [301u16, 302, 307, 308] {
        let location = format!("http://127.0.0.2:9/elsewhere/{status}");
        sim.inject_for("webhook/set", Fault::redirect(status, &location), 1);
        let resp = mail_req(&sim, &no_redirects(), "webhook/set").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["location"], location.as_str());
    }
    assert!(sim.webhooks(KEY).is_empty(), "no redirected call was handled");
    let faults: Vec<_> = sim.requests().iter().map(|r| (r.status, r.fault)).collect();
    assert_eq!(
        faults,
        vec![
            (301, Some("redirect")),
            (302, Some("redirect")),
            (307, Some("redirect")),
            (308, Some("redirect"))
        ]
    );
}

#[tokio::test]
async fn non_json_answers_an_html_page_under_200() {
    let sim = mail().await;
    sim.inject(Fault::NonJson, 1);
    let resp = mail_req(&sim, &client(), "webhook/get").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("<!DOCTYPE html>") && serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn non_utf8_answers_invalid_bytes_under_a_json_content_type() {
    let sim = mail().await;
    sim.inject(Fault::NonUtf8, 1);
    let resp = mail_req(&sim, &client(), "webhook/get").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.bytes().await.unwrap();
    assert!(std::str::from_utf8(&bytes).is_err());
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
}

/// Every form, and the credential as it must appear in the decoded message.
fn forms(secret: &str) -> Vec<(SecretForm, String)> {
    [
        SecretForm::Plain,
        SecretForm::at_default_boundary(),
        SecretForm::AtTruncationBoundary { offset: 37 },
        SecretForm::JsonEscaped,
        SecretForm::PercentEncoded,
        SecretForm::Base64,
        SecretForm::Base64Url,
        SecretForm::Hex,
    ]
    .into_iter()
    .map(|f| {
        let encoded = f.encode(secret);
        (f, encoded)
    })
    .collect()
}

#[tokio::test]
async fn echo_secret_puts_the_mail_key_in_the_error_message_in_each_form() {
    let sim = mail().await;
    for (form, encoded) in forms(KEY) {
        sim.inject(Fault::echo_secret(form.clone()), 1);
        let resp = mail_req(&sim, &client(), "webhook/set").send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let raw = resp.text().await.unwrap();
        let body: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            (body["status"].as_str(), body["code"].as_u64()),
            (Some("error"), Some(100))
        );
        let message = body["message"].as_str().unwrap();
        let at = message.find(&encoded).unwrap_or_else(|| panic!("{form:?}: {message}"));
        match form {
            SecretForm::Plain => assert!(raw.contains(KEY)),
            SecretForm::JsonEscaped => assert!(!raw.contains(KEY), "raw body hides it: {raw}"),
            SecretForm::AtTruncationBoundary { offset } => {
                assert!(at < offset && offset < at + KEY.len(), "{form:?}: at {at}");
            }
            _ => assert!(
                !message.contains(KEY),
                "{form:?} does not show the plain key: {message}"
            ),
        }
    }
    assert!(sim.webhooks(KEY).is_empty(), "not handled");
    let (_, b) = parts(mail_req(&sim, &client(), "webhook/set").send().await.unwrap()).await;
    assert_eq!(b["status"], "success", "faults are used up");
}

#[tokio::test]
async fn echo_secret_forms_encode_as_documented() {
    assert_eq!(SecretForm::PercentEncoded.encode("a/b"), "%61%2F%62");
    assert_eq!(SecretForm::Hex.encode("k1"), "6b31");
    assert_eq!(SecretForm::Base64.encode("sk?>"), "c2s/Pg==");
    assert_eq!(SecretForm::Base64Url.encode("sk?>"), "c2s_Pg");
}

#[tokio::test]
async fn echo_secret_uses_edna_problem_body_with_the_api_key() {
    let sim = EdnaSimulator::start(EdnaConfig {
        keys: vec![KEY.into()],
        channels: vec![(KEY.into(), Channel::active(1, "Shop", "shop", 1001, "WHATSAPP"))],
        ..Default::default()
    })
    .await
    .unwrap();
    sim.inject_for("callback/set", Fault::echo_secret(SecretForm::Plain), 1);
    let resp = client()
        .post(format!("{}/api/callback/set", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&json!({"statusCallbackUrl": "https://r/s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let (_, body) = parts(resp).await;
    assert_eq!(body["title"], "bad-request");
    assert!(body["detail"].as_str().unwrap().contains(KEY), "{body}");
    assert!(sim.state(KEY).is_empty());
}

#[tokio::test]
async fn echo_secret_uses_the_envelope_bearer_token_or_the_login_password() {
    let sim = EnvelopeSimulator::start(EnvelopeConfig {
        tokens: vec![(KEY.into(), vec!["mb".into()])],
        users: vec![User {
            login: "ops@example.com".into(),
            password: "pw-Secret-42".into(),
            mailboxes: vec!["mb".into()],
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    sim.inject(Fault::echo_secret(SecretForm::Base64), 2);
    let list = client()
        .get(format!("{}/api/v1/envelope/callback/list", sim.base_url()))
        .bearer_auth(KEY)
        .header("Mailbox", "mb");
    let (s, body) = parts(list.send().await.unwrap()).await;
    assert_eq!((s, body["code"].clone()), (400, json!(400)));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&SecretForm::Base64.encode(KEY)), "{message}");

    let login = client()
        .post(format!("{}/api/login", sim.base_url()))
        .json(&json!({"login": "ops@example.com", "password": "pw-Secret-42"}));
    let (_, body) = parts(login.send().await.unwrap()).await;
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&SecretForm::Base64.encode("pw-Secret-42")),
        "the password, not the login: {message}"
    );
    assert_eq!(sim.login_count(), 0, "not handled");
}

#[tokio::test]
async fn hostile_faults_apply_to_their_op_only_and_n_times() {
    let sim = mail().await;
    sim.inject_for("webhook/get", Fault::NonJson, 2);
    let (s, _) = parts(mail_req(&sim, &client(), "webhook/set").send().await.unwrap()).await;
    assert_eq!(s, 200, "another op is untouched");
    for _ in 0..2 {
        let resp = mail_req(&sim, &client(), "webhook/get").send().await.unwrap();
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let (_, b) = parts(mail_req(&sim, &client(), "webhook/get").send().await.unwrap()).await;
    assert_eq!(b["status"], "success", "third call is served normally");
}

#[tokio::test]
async fn hostile_fault_kinds_are_queued_as_json_over_the_admin_api() {
    let sim = mail().await;
    let kinds = [
        json!({"kind": "redirect", "status": 307, "location": "http://127.0.0.2:1/x"}),
        json!({"kind": "huge_body", "bytes": 314_572_800u64}),
        json!({"kind": "slow_drip", "bytes_per_sec": 10, "total": 1000}),
        json!({"kind": "non_json"}),
        json!({"kind": "non_utf8"}),
        json!({"kind": "echo_secret", "form": "plain"}),
        json!({"kind": "echo_secret", "form": "json_escaped"}),
        json!({"kind": "echo_secret", "form": "percent_encoded"}),
        json!({"kind": "echo_secret", "form": "base64"}),
        json!({"kind": "echo_secret", "form": "base64_url"}),
        json!({"kind": "echo_secret", "form": "hex"}),
        json!({"kind": "echo_secret", "form": {"at_truncation_boundary": {"offset": 64}}}),
        json!({"kind": "echo_secret", "form": {"at_truncation_boundary": {}}}),
    ];
    for kind in &kinds {
        let (s, text) = admin_post(
            sim.base_url(),
            "faults",
            &json!({"fault": kind, "times": 2, "op": "webhook/get"}),
        )
        .await;
        assert_eq!(s, 204, "{kind}: {text}");
    }
    let pending: Value = client()
        .get(format!("http://{}/_sim/faults", sim.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), kinds.len());
    assert_eq!(
        pending[11]["fault"]["form"],
        json!({"at_truncation_boundary": {"offset": 64}})
    );
    assert_eq!(
        pending[12]["fault"]["form"],
        json!({"at_truncation_boundary": {"offset": 200}}),
        "default offset"
    );
    assert_eq!(pending[0]["remaining"], 2);

    let resp = mail_req(&sim, &no_redirects(), "webhook/get").send().await.unwrap();
    assert_eq!(resp.status(), 307, "the queued JSON fault answers");
}
