//! Streamed hostile bodies (`Fault::HugeBody`, `Fault::SlowDrip`): generated while sent, never
//! buffered. In a test binary of their own, so the resident-memory check sees only them.

mod support;

use std::time::{Duration, Instant};

use provider_simulators::Fault;
use provider_simulators::mail::MailSim;
use serde_json::{Value, json};
use support::client_with_timeout;

const KEY: &str = "k";

async fn mail() -> MailSim {
    support::mail_sim(KEY, false).await
}

fn get(sim: &MailSim, client: &reqwest::Client) -> reqwest::RequestBuilder {
    client
        .post(format!("{}/webhook/get.json", sim.base_url()))
        .header("X-API-KEY", KEY)
        .json(&json!({"url": "https://h.example/a"}))
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn huge_body_has_exactly_the_asked_bytes_no_content_length_and_looks_like_json() {
    let sim = mail().await;
    let bytes = 8 * 1024 * 1024 + 3;
    sim.inject(Fault::HugeBody { bytes }, 1);
    let mut resp = get(&sim, &client_with_timeout(Duration::from_secs(60)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().get("content-length").is_none(), "size not announced");
    let mut total = 0u64;
    let mut head = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        if head.len() < 64 {
            head.extend_from_slice(&chunk[..chunk.len().min(64)]);
        }
        total += chunk.len() as u64;
    }
    assert_eq!(total, bytes);
    assert!(
        head.starts_with(br#"{"status":"success","pad":"aaa"#),
        "{}",
        String::from_utf8_lossy(&head)
    );
    assert_eq!(sim.requests()[0].fault, Some("huge_body"));
}

#[tokio::test]
async fn a_300_mib_body_starts_at_once_is_never_buffered_and_a_reader_may_hang_up() {
    let sim = mail().await;
    sim.inject(Fault::huge_body_mib(300), 1);
    let before = rss_kib();
    let started = Instant::now();
    let mut resp = get(&sim, &client_with_timeout(Duration::from_secs(60)))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "headers come before the body exists"
    );
    let mut read = 0usize;
    while read < 4 * 1024 * 1024 {
        read += resp.chunk().await.unwrap().expect("more body").len();
    }
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 100,
        "resident memory grew {grown_mib} MiB for a 300 MiB body"
    );
    drop(resp);

    // The simulator is fine after the reader hung up mid-body.
    let (status, body): (u16, Value) = {
        let resp = get(&sim, &client_with_timeout(Duration::from_secs(5)))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    };
    assert_eq!((status, body["code"].clone()), (400, json!(304)));
}

#[tokio::test]
async fn slow_drip_sends_headers_at_once_then_the_body_at_its_rate() {
    let sim = mail().await;
    sim.inject(
        Fault::SlowDrip {
            bytes_per_sec: 200,
            total: 100,
        },
        2,
    );

    // A client with a whole-request deadline gets the headers, then times out in the body.
    let impatient = client_with_timeout(Duration::from_millis(250));
    let resp = get(&sim, &impatient).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let err = resp.bytes().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    let started = Instant::now();
    let resp = get(&sim, &client_with_timeout(Duration::from_secs(10)))
        .send()
        .await
        .unwrap();
    let body = resp.bytes().await.unwrap();
    let took = started.elapsed();
    assert_eq!(body.len(), 100);
    assert!(took >= Duration::from_millis(400), "100 bytes at 200 B/s took {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
