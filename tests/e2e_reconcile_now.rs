//! "Reconcile now" (`reconcile.fluxcd.io/requestedAt`) end to end, at the shipped 10-minute resync: a new value wakes
//! the registration at once for a provider read and drift repair, and `status.lastHandledReconcileAt` echoes it; the
//! same value again (or an unrelated annotation) writes nothing; a credential breaker still holds; edna, which cannot
//! be read back, re-asserts its URLs.

mod support;

use std::time::{Duration, Instant};

use provider_simulators::edna::CallbackUrls;
use serde_json::json;
use support::bench::{Bench, SimulatedProvider};
use support::edna::{EdnaBench, SHOP_SUBJECT_ID, on_shop};
use support::mail::{self, MailBench};
use support::{eventually, wait_for_event};

const ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// `kubectl annotate --overwrite`, the way a user or a script asks for a reconcile.
fn annotate<S: SimulatedProvider>(bench: &Bench<S>, name: &str, key: &str, value: &str) {
    bench.cluster.kubectl_ok(&[
        "annotate",
        "--overwrite",
        "-n",
        &bench.ns.name,
        &format!("cbr/{name}"),
        &format!("{key}={value}"),
    ]);
}

async fn last_handled<S: SimulatedProvider>(bench: &Bench<S>, name: &str) -> Option<String> {
    bench.api().get(name).await.ok()?.status?.last_handled_reconcile_at
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_request_repairs_drift_at_once_at_the_default_resync() {
    let bench = MailBench::start("reconcile-now").await; // shipped defaults: 10-minute resync
    let url = bench.receiver.url("/now");
    bench.apply("now", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("now");

    // Out of band: someone edits the webhook at the provider.
    let mut changed = serde_json::to_value(bench.sim.webhook(&bench.creds.key, &url).unwrap()).unwrap();
    changed["max_parallel"] = json!(77);
    changed["events"]["email_status"] = json!(["opened"]);
    bench.sim.put_webhook(&bench.creds.key, changed).unwrap();
    // Nothing else would find it for ten minutes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel,
        77,
        "drift stays until asked"
    );

    let requested = "2026-12-02T07:00:00.000000000Z";
    let asked = Instant::now();
    annotate(&bench, "now", ANNOTATION, requested);
    eventually("drift repaired after the request", Duration::from_secs(5), || async {
        let hook = bench.sim.webhook(&bench.creds.key, &url)?;
        (hook.max_parallel == 20 && hook.events.email_status.len() == 3).then_some(())
    })
    .await;
    let repaired_in = asked.elapsed();
    eventually(
        "lastHandledReconcileAt echoes the request",
        Duration::from_secs(5),
        || async { (last_handled(&bench, "now").await.as_deref() == Some(requested)).then_some(()) },
    )
    .await;
    println!("reconcile-now: drift repaired {repaired_in:?} after the annotation; lastHandledReconcileAt={requested}");
    let events = wait_for_event(&bench.cluster.client, &bench.ns.name, "now", "DriftCorrected").await;
    assert!(events.iter().any(|(_, r, _)| r == "DriftCorrected"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_value_again_writes_nothing() {
    let bench = MailBench::start("reconcile-same").await;
    let url = bench.receiver.url("/same");
    bench.apply("same", &mail::block(&url, ""));
    bench.wait_ready("same");
    let requested = "1";
    annotate(&bench, "same", ANNOTATION, requested);
    eventually("the request handled", Duration::from_secs(10), || async {
        (last_handled(&bench, "same").await.as_deref() == Some(requested)).then_some(())
    })
    .await;
    // Let the pass that echoed the value settle (its Events are published after the status write).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let writes = || bench.sim.count("webhook/set") + bench.sim.count("webhook/delete");
    let status_writes =
        || async { support::metrics::total(&bench.operator.metrics().await, "callback_operator_status_writes_total") };
    let (writes_before, passes_before) = (writes(), bench.reconciliations().await);
    let status_writes_before = status_writes().await;

    // The same value again (a no-op at the apiserver), then an unrelated annotation (a real change that wakes the
    // object once): neither is a new request.
    annotate(&bench, "same", ANNOTATION, requested);
    annotate(&bench, "same", "example.com/note", "unrelated");
    let woken = eventually("the unrelated annotation's pass", Duration::from_secs(10), || async {
        let passes = bench.reconciliations().await;
        (passes > passes_before).then_some(passes)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let obj = bench.api().get("same").await.unwrap();
    let passes_after = bench.reconciliations().await;
    let status_writes_after = status_writes().await;
    println!(
        "same value again: provider writes {writes_before} -> {}, status writes {status_writes_before} -> \
         {status_writes_after}, passes {passes_before} -> {passes_after}",
        writes()
    );
    assert_eq!(writes(), writes_before, "no provider write");
    assert_eq!(status_writes_after, status_writes_before, "no status write");
    assert_eq!(
        passes_after, woken,
        "one pass for the annotation change, then quiet: no loop"
    );
    assert_eq!(
        obj.status.unwrap().last_handled_reconcile_at.as_deref(),
        Some(requested)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_does_not_bypass_the_credential_breaker() {
    let bench = MailBench::start("reconcile-breaker").await;
    let wrong = "wrong-key-reconcile-0123456789";
    bench
        .ns
        .put_secret("bad", &[("apiKey", wrong), ("endpoint", bench.sim.base_url())])
        .await;
    let url = bench.receiver.url("/bad");
    bench.cluster.apply_ok(
        &bench
            .registration("bad", &mail::block(&url, ""), "")
            .replace("name: creds", "name: bad"),
    );
    bench.wait_reason("bad", "InvalidCredentials").await;
    let calls = || bench.sim.count_for(wrong, "webhook/get") + bench.sim.count_for(wrong, "webhook/set");
    let before = calls();

    annotate(&bench, "bad", ANNOTATION, "after-rejection");
    eventually("the request handled", Duration::from_secs(10), || async {
        (last_handled(&bench, "bad").await.as_deref() == Some("after-rejection")).then_some(())
    })
    .await;
    assert_eq!(
        calls(),
        before,
        "the rejected key is not tried again: the Secret did not change"
    );

    // A fixed Secret is what lifts the breaker (the Secret change wakes it by itself; the request is not needed).
    bench
        .ns
        .put_secret(
            "bad",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    bench.wait_reason("bad", "Synced").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_makes_edna_reassert_long_before_its_interval() {
    let bench = EdnaBench::start("reconcile-edna").await; // shipped defaults: edna re-asserts every 6 h
    let url = bench.receiver.url("/mine");
    bench.apply("mine", &on_shop(&format!("    statusCallbackUrl: {url}\n")));
    bench.wait_ready("mine");
    let ours = CallbackUrls {
        status_callback_url: Some(url.clone()),
        in_message_callback_url: None,
        message_matcher_callback_url: None,
    };
    let intruder = CallbackUrls {
        status_callback_url: Some(bench.receiver.url("/someone-else")),
        ..ours.clone()
    };
    bench
        .sim
        .put_callback_urls(&bench.creds.key, Some(SHOP_SUBJECT_ID), intruder.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(bench.shop_urls(), Some(intruder), "edna is not read: nothing notices");

    let asked = Instant::now();
    annotate(&bench, "mine", ANNOTATION, "edna-1");
    eventually(
        "the URLs re-asserted after the request",
        Duration::from_secs(5),
        || async { (bench.shop_urls() == Some(ours.clone())).then_some(()) },
    )
    .await;
    println!(
        "reconcile-now (edna): re-asserted {:?} after the annotation",
        asked.elapsed()
    );
    eventually(
        "lastHandledReconcileAt echoes the request",
        Duration::from_secs(5),
        || async { (last_handled(&bench, "mine").await.as_deref() == Some("edna-1")).then_some(()) },
    )
    .await;
    bench.wait_event("mine", "Reasserted").await;

    // Handled once: the unchanged value makes no further write.
    let sets = bench.sim.count("callback/set");
    annotate(&bench, "mine", "example.com/note", "unrelated");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        bench.sim.count("callback/set"),
        sets,
        "no re-assert without a new request"
    );
}
