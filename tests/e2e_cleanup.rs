//! Cleanup that cannot succeed ends: at `--cleanup-deadline` (abandoned: Warning Event `CleanupAbandoned`, metric
//! `cleanup_abandoned_total{provider,reason}`, webhook left at the provider), or at once with the annotation
//! `callback-operator.io/orphan: "true"` — with the credentials Secret deleted first, and with the provider answering
//! 503. Everything else runs at the operator's defaults.

mod support;

use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use provider_simulators::Fault;
use serde_json::json;
use support::eventually;
use support::mail::{self, MailBench};

/// The tests about the deadline shorten it (the default, 5 m, is too long to wait for); the annotation tests keep it.
const DEADLINE: &str = "12s";

/// How the cleanup is made to fail.
#[derive(Clone, Copy)]
enum Failure {
    SecretGone,
    Provider503,
}

/// A Ready registration whose deletion then cannot be cleaned up; returns its webhook URL once the delete was issued.
async fn failing_deletion(bench: &MailBench, failure: Failure) -> String {
    let url = bench.receiver.url("/stuck");
    bench.apply("stuck", &mail::block(&url, ""));
    bench.wait_ready("stuck");
    match failure {
        Failure::SecretGone => {
            let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(bench.cluster.client.clone(), &bench.ns.name);
            secrets.delete("creds", &DeleteParams::default()).await.unwrap();
        }
        Failure::Provider503 => bench.sim.inject_for("webhook/delete", Fault::status(503), 1000),
    }
    bench.api().delete("stuck", &DeleteParams::default()).await.unwrap();
    url
}

async fn still_there_after(bench: &MailBench, wait: Duration) {
    tokio::time::sleep(wait).await;
    assert!(
        bench.api().get_opt("stuck").await.unwrap().is_some(),
        "the cleanup is retried, not given up, before the deadline"
    );
}

async fn wait_gone(bench: &MailBench, within: Duration) -> Duration {
    let start = Instant::now();
    let api = bench.api();
    eventually("the registration gone", within, || async {
        api.get_opt("stuck").await.unwrap().is_none().then_some(())
    })
    .await;
    start.elapsed()
}

async fn abandoned_metric(bench: &MailBench, reason: &str) -> bool {
    let line = format!("callback_operator_cleanup_abandoned_total{{provider=\"mail\",reason=\"{reason}\"}} 1");
    bench.operator.metrics().await.lines().any(|l| l == line)
}

async fn deadline_case(prefix: &str, failure: Failure) {
    // About the cleanup deadline: shortened so the test can wait for it.
    let bench = MailBench::start_with(prefix, &["--cleanup-deadline", DEADLINE]).await;
    let deleted = Instant::now();
    let url = failing_deletion(&bench, failure).await;
    still_there_after(&bench, Duration::from_secs(5)).await;
    wait_gone(&bench, Duration::from_secs(30)).await;
    let took = deleted.elapsed();
    assert!(
        took >= Duration::from_secs(10),
        "abandoned only at the deadline: {took:?}"
    );
    let (kind, note) = bench
        .wait_event_mentioning("stuck", "CleanupAbandoned", "--cleanup-deadline")
        .await;
    assert_eq!(kind, "Warning");
    assert!(note.contains(&url), "the note names what stays: {note}");
    assert!(
        abandoned_metric(&bench, "deadline").await,
        "{}",
        bench.operator.metrics().await
    );
    assert!(
        bench.sim.webhook(&bench.creds.key, &url).is_some(),
        "the webhook stays at the provider"
    );
    if let Failure::Provider503 = failure {
        assert!(bench.sim.count("webhook/delete") >= 2, "the removal was retried");
    }
    assert!(bench.operator.log().contains("cleanup abandoned"), "the log records it");
}

async fn annotation_case(prefix: &str, failure: Failure) {
    let bench = MailBench::start(prefix).await;
    let url = failing_deletion(&bench, failure).await;
    if let Failure::Provider503 = failure {
        eventually("a removal attempt", Duration::from_secs(10), || async {
            (bench.sim.count("webhook/delete") >= 1).then_some(())
        })
        .await;
    }
    still_there_after(&bench, Duration::from_secs(3)).await;
    let orphan = json!({"metadata": {"annotations": {"callback-operator.io/orphan": "true"}}});
    bench
        .api()
        .patch("stuck", &PatchParams::default(), &Patch::Merge(&orphan))
        .await
        .unwrap();
    let took = wait_gone(&bench, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "orphaned at once: {took:?}");
    let (kind, note) = bench
        .wait_event_mentioning("stuck", "CleanupAbandoned", "callback-operator.io/orphan")
        .await;
    assert_eq!(kind, "Warning");
    assert!(note.contains(&url), "{note}");
    assert!(
        abandoned_metric(&bench, "annotation").await,
        "{}",
        bench.operator.metrics().await
    );
    assert!(
        bench.sim.webhook(&bench.creds.key, &url).is_some(),
        "the webhook stays at the provider"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_deleted_first_cleanup_is_abandoned_at_the_deadline_with_a_warning_and_a_metric() {
    deadline_case("cleanup-nosecret", Failure::SecretGone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_503_cleanup_is_retried_then_abandoned_at_the_deadline_with_a_warning_and_a_metric() {
    deadline_case("cleanup-503", Failure::Provider503).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_deleted_first_the_orphan_annotation_lets_the_object_go_at_once() {
    annotation_case("orphan-nosecret", Failure::SecretGone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_503_the_orphan_annotation_lets_the_object_go_at_once() {
    annotation_case("orphan-503", Failure::Provider503).await;
}
