//! The shared HTTP client against the mail simulator's hostile answers, over real HTTP: redirects are not
//! followed (a bystander on 127.0.0.2 counts what reaches it), huge and slow bodies are bounded, echoed
//! credentials never survive a quote, `Retry-After` is read in both forms.

use std::time::{Duration, Instant, SystemTime};

use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};
use provider_simulators::{CountingListener, Fault, SecretForm};
use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::providers::redact::REDACTED;

const KEY: &str = "mail-key-hostile-Zq8/+x=";

async fn simulator() -> MailSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = MailSimulator::start(MailConfig {
        keys: vec![KEY.into()],
        ..MailConfig::default()
    })
    .await
    .expect("starting the mail simulator");
    sim.set_activation_check(false);
    sim
}

fn client(timeout: Duration) -> HttpClient {
    HttpClient::new(timeout, crate::telemetry::Metrics::new()).expect("an HTTP client")
}

async fn get(client: &HttpClient, sim: &MailSim) -> Result<Reply, ProviderError> {
    let request = client
        .request(Method::POST, sim.base_url(), "webhook/get.json")?
        .header("X-API-KEY", KEY)
        .json(&serde_json::json!({"url": "https://hooks.example/x"}));
    client.send("mail", "webhook/get", request).await
}

#[tokio::test]
async fn redirects_are_not_followed_and_name_the_target_host() {
    let sim = simulator().await;
    let bystander = CountingListener::start_on_second_loopback().await.unwrap();
    let http = client(Duration::from_secs(3));
    for status in [301, 302, 303, 307, 308] {
        sim.inject(Fault::redirect(status, &bystander.url("/steal?k=v")), 1);
        let err = get(&http, &sim).await.unwrap_err();
        assert_eq!(err.reason(), Reason::ProviderRedirected, "{status}: {err}");
        assert_eq!(err.class(), super::super::ErrorClass::Permanent);
        let message = err.to_string();
        assert!(
            message.contains(&format!("HTTP {status}")) && message.contains("127.0.0.2"),
            "{message}"
        );
        assert!(
            !message.contains("steal") && !message.contains("k=v"),
            "only the host is named: {message}"
        );
    }
    assert_eq!(bystander.count(), 0, "nothing reached the host the redirects named");
}

#[tokio::test]
async fn a_huge_body_is_refused_without_reading_it() {
    let sim = simulator().await;
    let http = client(Duration::from_secs(10));
    let body = 300 * 1024 * 1024;
    sim.inject(Fault::huge_body_mib(300), 1);
    let err = get(&http, &sim).await.unwrap_err();
    assert_eq!(err.reason(), Reason::ProviderResponseTooLarge, "{err}");
    // Refused once the cap was read, not after the whole body: what the simulator wrote is the part read plus what
    // the loopback sockets between them buffer (a few MiB), a small part of the 300 MiB. (Counted in bytes rather
    // than timed: a loaded machine makes any time bound flaky.)
    let written = sim.streamed_bytes();
    assert!(
        written < body / 8,
        "{written} of {body} bytes written before the refusal"
    );
    // The connection is usable again afterwards (a fresh one: the refused one was dropped).
    assert!(get(&http, &sim).await.is_ok());
}

#[tokio::test]
async fn a_slow_drip_is_bounded_by_the_request_timeout() {
    let sim = simulator().await;
    let http = client(Duration::from_secs(1));
    sim.inject(
        Fault::SlowDrip {
            bytes_per_sec: 20,
            total: 100_000,
        },
        1,
    );
    let started = Instant::now();
    let err = get(&http, &sim).await.unwrap_err();
    assert_eq!(err.reason(), Reason::ProviderTimeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn echoed_credentials_never_survive_a_quote_in_any_form() {
    let sim = simulator().await;
    let http = client(Duration::from_secs(3));
    for form in [
        SecretForm::Plain,
        SecretForm::at_default_boundary(),
        SecretForm::AtTruncationBoundary { offset: 50 },
        SecretForm::JsonEscaped,
        SecretForm::PercentEncoded,
        SecretForm::Base64,
        SecretForm::Base64Url,
        SecretForm::Hex,
    ] {
        sim.inject(Fault::echo_secret(form.clone()), 1);
        let reply = get(&http, &sim).await.unwrap();
        let message: serde_json::Value = reply.json().unwrap();
        let quoted = reply.quote(message["message"].as_str().unwrap());
        let body = reply.body_text();
        if !matches!(form, SecretForm::AtTruncationBoundary { .. }) {
            // (At the boundary the cut may fall on the marker itself.)
            assert!(quoted.contains(REDACTED), "{form:?}: {quoted}");
        }
        for text in [&quoted, &body] {
            assert!(!text.contains(&form.encode(KEY)), "{form:?}: {text}");
            // Not even the head of the key (a cut through it).
            assert!(!text.contains(&KEY[..8]), "{form:?}: {text}");
            assert!(text.chars().count() <= super::super::redact::PROVIDER_TEXT_MAX + 1);
        }
    }
}

#[test]
fn retry_after_is_read_as_seconds_or_a_date() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let header = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    };
    assert_eq!(retry_after(&header("120"), now), Some(Duration::from_secs(120)));
    let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
    assert_eq!(retry_after(&header(&later), now), Some(Duration::from_secs(90)));
    let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
    assert_eq!(retry_after(&header(&earlier), now), Some(Duration::ZERO));
    assert_eq!(retry_after(&header("soon"), now), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
    let huge = retry_after(&header("99999999999999"), now).unwrap();
    assert!(
        huge >= Duration::from_secs(u32::MAX as u64),
        "kept for the backoff to clamp"
    );
}

#[test]
fn credentials_in_headers_are_collected_for_redaction() {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_static("key-in-a-header"));
    headers.insert(
        "authorization",
        HeaderValue::from_static("Basic b3BzQGV4YW1wbGUuY29tOnBhNTV3b3Jk"),
    );
    let mut redactor = Redactor::default();
    carried_credentials(&headers, &mut redactor);
    let out = redactor.redact("key-in-a-header ops@example.com pa55word");
    assert_eq!(out, "<redacted> <redacted> <redacted>");
}
