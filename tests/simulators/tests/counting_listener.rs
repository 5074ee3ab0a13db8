//! `CountingListener`: a bystander on a second loopback host that answers `200 {}` and records
//! what reached it.

mod support;

use provider_simulators::Fault;
use provider_simulators::common::CountingListener;
use provider_simulators::mail::{MailConfig, MailSimulator, MailSwitches};
use serde_json::json;
use support::{client, parts};

#[tokio::test]
async fn binds_127_0_0_2_answers_200_to_anything_and_records_method_path_headers_and_body() {
    let bystander = CountingListener::start_on_second_loopback().await.unwrap();
    assert_eq!(bystander.addr().ip().to_string(), "127.0.0.2");
    let (s, b) = parts(
        client()
            .put(bystander.url("/any/path?q=1"))
            .header("X-API-KEY", "k-1")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b), (200, json!({})));
    let (s, _) = parts(client().get(bystander.url("/_sim/state")).send().await.unwrap()).await;
    assert_eq!(s, 200, "no admin API: anything answers 200");
    assert_eq!(bystander.count(), 2);
    let seen = &bystander.requests()[0];
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("PUT", "/any/path?q=1"));
    assert_eq!(seen.header("x-api-key"), Some("k-1"));
    assert_eq!(seen.body, "hello");
}

#[tokio::test]
async fn starts_on_an_explicit_address_and_stops_on_shutdown() {
    let bystander = CountingListener::start("127.0.0.2:0").await.unwrap();
    assert_eq!(bystander.base_url(), format!("http://{}", bystander.addr()));
    bystander.shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(client().get(bystander.url("/")).send().await.is_err());
    assert_eq!(bystander.count(), 0);
}

#[tokio::test]
async fn a_cross_host_redirect_reaches_the_bystander_only_through_a_client_that_follows_it() {
    let bystander = CountingListener::start_on_second_loopback().await.unwrap();
    let sim = MailSimulator::start(MailConfig {
        keys: vec!["key-1".into()],
        switches: MailSwitches {
            activation_check: false,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("{}/webhook/get.json", sim.base_url());
    sim.inject(Fault::redirect(307, &bystander.url("/stolen")), 2);

    let careful = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let resp = careful
        .post(&url)
        .header("X-API-KEY", "key-1")
        .json(&json!({"url": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(bystander.count(), 0, "nothing reached the bystander");

    // A client that follows redirects (reqwest's default) carries a custom key header across hosts.
    let resp = client()
        .post(&url)
        .header("X-API-KEY", "key-1")
        .json(&json!({"url": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = bystander.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/stolen"));
    assert_eq!(
        seen[0].header("x-api-key"),
        Some("key-1"),
        "the leak the operator must not allow"
    );
}
