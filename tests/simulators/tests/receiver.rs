//! The HTTPS webhook receiver: status control, hit recording, and going down with pooled
//! connections open.

mod support;

use std::time::Duration;

use provider_simulators::common::{Receiver, probe, probe_client};
use reqwest::Method;

#[tokio::test]
async fn receiver_answers_configured_status_records_hits_and_goes_down() {
    let receiver = Receiver::start().await.unwrap();
    assert!(receiver.cert_pem().contains("BEGIN CERTIFICATE"));
    let client = probe_client(Duration::from_secs(2));
    let url = receiver.url("a/b?x=1");
    assert!(url.starts_with("https://127.0.0.1:"));

    assert_eq!(probe(&client, Method::HEAD, &url).await, Ok(200));
    receiver.set_status(503);
    assert_eq!(probe(&client, Method::GET, &url).await, Ok(503));
    receiver.set_path_status("/a/b", 204);
    assert_eq!(probe(&client, Method::POST, &url).await, Ok(204));
    assert_eq!(receiver.hit_count("HEAD", "/a/b"), 1);
    assert_eq!(receiver.hits()[0].path, "/a/b?x=1");

    // The probe client holds a pooled keep-alive connection now; down must still fail it.
    receiver.set_down(true);
    assert!(probe(&client, Method::HEAD, &url).await.is_err());
    assert!(probe(&client, Method::HEAD, &url).await.is_err());
    receiver.set_down(false);
    assert_eq!(probe(&client, Method::HEAD, &url).await, Ok(204));
    assert_eq!(receiver.hits().len(), 4, "calls while down are not recorded");
    receiver.clear_hits();
    assert!(receiver.hits().is_empty());
}

#[tokio::test]
async fn a_client_that_checks_certificates_refuses_the_self_signed_receiver() {
    let receiver = Receiver::start().await.unwrap();
    let strict = support::client();
    assert!(strict.head(receiver.url("/")).send().await.is_err());
}

#[tokio::test]
async fn receiver_admin_sets_status_and_lists_hits() {
    let receiver = Receiver::start().await.unwrap();
    let client = probe_client(Duration::from_secs(2));
    let set = client
        .post(receiver.url("/_sim/status"))
        .json(&serde_json::json!({"status": 503, "path": "/down"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    assert_eq!(probe(&client, Method::HEAD, &receiver.url("/down")).await, Ok(503));
    assert_eq!(probe(&client, Method::HEAD, &receiver.url("/up")).await, Ok(200));
    let hits: serde_json::Value = client
        .get(receiver.url("/_sim/hits"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 2, "admin calls are not hits");
    assert_eq!(hits[0]["status"], 503);
}
