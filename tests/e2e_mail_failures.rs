//! Unisender Go failure handling end to end: rejected credentials, rate limits, provider outages, secret hygiene.

mod support;

use std::time::{Duration, SystemTime};

use provider_simulators::Fault;
use support::mail::{self, MailBench};
use support::{events_about, wait_for_reason};

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_stalls_with_invalid_credentials_and_stops_calling_until_the_secret_changes() {
    let bench = MailBench::start("mail-badkey").await;
    let wrong = "wrong-key-0123456789abcdef";
    bench
        .ns
        .put_secret("bad", &[("apiKey", wrong), ("endpoint", bench.sim.base_url())])
        .await;
    let url_a = bench.receiver.url("/a");
    let url_b = bench.receiver.url("/b");
    bench.cluster.apply_ok(
        &bench
            .registration("a", &mail::block(&url_a, ""), "")
            .replace("name: creds", "name: bad"),
    );
    bench.cluster.apply_ok(
        &bench
            .registration("b", &mail::block(&url_b, ""), "")
            .replace("name: creds", "name: bad"),
    );
    let api = bench.api();
    for name in ["a", "b"] {
        let (status, message) = wait_for_reason(&api, name, "InvalidCredentials", Duration::from_secs(30)).await;
        assert_eq!(status, "False");
        assert!(
            !message.contains(wrong),
            "the key never appears in a condition: {message}"
        );
        let obj = api.get(name).await.unwrap();
        assert!(
            obj.status
                .unwrap()
                .conditions
                .iter()
                .any(|c| c.type_ == "Stalled" && c.status == "True")
        );
    }
    let calls = bench.sim.count_for(wrong, "webhook/get") + bench.sim.count_for(wrong, "webhook/set");
    assert!(
        calls <= 2,
        "the circuit breaker stops the second registration too: {calls} calls"
    );

    // Three resync intervals: not one more call with the rejected key.
    tokio::time::sleep(Duration::from_secs(13)).await;
    let later = bench.sim.count_for(wrong, "webhook/get") + bench.sim.count_for(wrong, "webhook/set");
    assert_eq!(later, calls, "no provider call until the Secret changes");

    bench
        .ns
        .put_secret(
            "bad",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    bench.wait_ready("a");
    bench.wait_ready("b");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_with_retry_after_delays_the_next_call_at_least_that_long() {
    let bench = MailBench::start("mail-429").await;
    bench
        .sim
        .inject_for("webhook/set", Fault::RateLimited { retry_after_secs: 3 }, 1);
    let url = bench.receiver.url("/rl");
    bench.apply("rl", &mail::block(&url, ""));
    bench.wait_ready("rl");
    let requests = bench.sim.requests();
    let limited = requests
        .iter()
        .position(|r| r.status == 429)
        .expect("the 429 was served");
    let next = &requests[limited + 1];
    let waited = next.at.duration_since(requests[limited].at).unwrap();
    assert!(
        waited >= Duration::from_secs(3),
        "waited only {waited:?} after Retry-After: 3"
    );
    let metrics = bench.operator.metrics().await;
    assert!(
        metrics.contains("callback_operator_provider_throttled_requests_total{provider=\"mail\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_outage_backs_off_exponentially_without_a_hot_loop_then_recovers() {
    // About the retry backoff itself: a short base so five doubling retries fit in the test.
    let bench = MailBench::start_with("mail-5xx", &["--backoff-base", "500ms", "--backoff-max", "8s"]).await;
    // A new registration's only call is its `set`: the outage answers the first five.
    bench.sim.inject_for("webhook/set", Fault::status(503), 5);
    let url = bench.receiver.url("/down");
    bench.apply("down", &mail::block(&url, ""));
    let (status, _) = wait_for_reason(&bench.api(), "down", "ProviderUnavailable", Duration::from_secs(30)).await;
    assert_eq!(status, "False");
    bench.wait_ready("down");

    let times: Vec<SystemTime> = bench
        .sim
        .requests()
        .iter()
        .filter(|r| r.op == "webhook/set")
        .map(|r| r.at)
        .collect();
    assert!(times.len() >= 6, "five failures then a success: {}", times.len());
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap())
        .take(5)
        .collect();
    // Backoff base 500 ms doubling (jitter ±20 %): each gap is longer than the one before.
    for pair in gaps.windows(2) {
        assert!(pair[1] > pair[0], "backoff grows: {gaps:?}");
    }
    assert!(gaps[0] >= Duration::from_millis(350), "no immediate retry: {gaps:?}");
    let events = events_about(&bench.cluster.client, &bench.ns.name, "down").await;
    let warnings = events
        .iter()
        .filter(|(t, r, _)| t == "Warning" && r == "ProviderUnavailable")
        .count();
    assert_eq!(
        warnings, 1,
        "one Warning on the transition, not one per retry: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_value_appears_in_logs_events_or_status() {
    let bench = MailBench::start("mail-secrets").await;
    // A good registration, a rejected key, and a provider outage: every path that writes text.
    let wrong = "leaky-wrong-key-9f8e7d6c5b4a";
    bench
        .ns
        .put_secret("bad", &[("apiKey", wrong), ("endpoint", bench.sim.base_url())])
        .await;
    bench.sim.inject_for("webhook/set", Fault::status(500), 1);
    bench.apply("good", &mail::block(&bench.receiver.url("/g"), ""));
    bench.cluster.apply_ok(
        &bench
            .registration("bad", &mail::block(&bench.receiver.url("/b"), ""), "")
            .replace("name: creds", "name: bad"),
    );
    bench.wait_ready("good");
    wait_for_reason(&bench.api(), "bad", "InvalidCredentials", Duration::from_secs(30)).await;

    let log = bench.operator.log();
    assert!(log.contains("InvalidCredentials"), "the log was captured");
    let status_yaml = bench
        .cluster
        .kubectl_ok(&["get", "cbr", "-n", &bench.ns.name, "-o", "yaml"]);
    let events_yaml = bench
        .cluster
        .kubectl_ok(&["get", "events.events.k8s.io", "-n", &bench.ns.name, "-o", "yaml"]);
    for secret in [bench.creds.key.as_str(), wrong] {
        assert!(!log.contains(secret), "operator log leaks a key");
        assert!(!status_yaml.contains(secret), "status leaks a key");
        assert!(!events_yaml.contains(secret), "Events leak a key");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_outside_the_allow_list_stalls_without_calling_it() {
    let bench = MailBench::start_with("mail-endpoint", &["--allowed-endpoints", "http://127.0.0.2"]).await;
    bench.apply("steer", &mail::block(&bench.receiver.url("/x"), ""));
    let (status, message) = wait_for_reason(&bench.api(), "steer", "EndpointNotAllowed", Duration::from_secs(30)).await;
    assert_eq!(status, "False");
    assert!(message.contains("--allowed-endpoints"), "{message}");
    assert!(
        bench.sim.requests().is_empty(),
        "the disallowed endpoint is never called"
    );
}
