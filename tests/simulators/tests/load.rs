//! Load check: the simulators must carry the benchmark (10,000 registrations, 20 ms latency).
//! Ignored by default; run with `cargo test -p provider-simulators --release --test load -- --ignored`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use provider_simulators::common::Receiver;
use provider_simulators::edna::{EdnaConfig, EdnaSimulator};
use provider_simulators::mail::{MailConfig, MailSimulator};
use serde_json::json;
use tokio::sync::Semaphore;

const N: usize = 10_000;
const CONCURRENCY: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load check, run on demand"]
async fn ten_thousand_registrations_with_url_checks_and_20ms_latency() {
    let receiver = Arc::new(Receiver::start().await.unwrap());
    let checks = std::env::var_os("SIM_LOAD_NO_CHECKS").is_none();
    let mail = MailSimulator::start(MailConfig {
        keys: vec!["k".into()],
        latency: Duration::from_millis(20),
        switches: provider_simulators::mail::MailSwitches {
            activation_check: checks,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let edna = EdnaSimulator::start(EdnaConfig {
        keys: vec!["k".into()],
        latency: Duration::from_millis(20),
        switches: provider_simulators::edna::EdnaSwitches {
            url_check: checks,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let client = support::client_with_timeout(Duration::from_secs(30));
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(2 * N);
    for i in 0..N {
        let (c, g, r) = (client.clone(), gate.clone(), receiver.clone());
        let url = format!("{}/ru/transactional/api/v1/webhook/set.json", mail_base(&mail));
        tasks.push(tokio::spawn(async move {
            let _permit = g.acquire().await.unwrap();
            let hook = json!({"url": r.url(&format!("m/{i}")), "events": {"email_status": ["delivered"]}});
            c.post(url)
                .header("X-API-KEY", "k")
                .json(&hook)
                .send()
                .await
                .unwrap()
                .status()
        }));
        let (c, g, r) = (client.clone(), gate.clone(), receiver.clone());
        let url = format!("{}/api/callback/set", edna.base_url());
        tasks.push(tokio::spawn(async move {
            let _permit = g.acquire().await.unwrap();
            let set = json!({"statusCallbackUrl": r.url(&format!("e/{i}"))});
            c.post(url)
                .header("X-API-KEY", "k")
                .json(&set)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let elapsed = started.elapsed();
    eprintln!("{} calls in {elapsed:?}", 2 * N);
    assert_eq!(mail.webhooks("k").len(), N);
    if checks {
        assert_eq!(receiver.hits().len(), 2 * N);
    }
    assert!(elapsed < Duration::from_secs(120));
}

fn mail_base(mail: &provider_simulators::mail::MailSim) -> String {
    format!("http://{}", mail.addr())
}
