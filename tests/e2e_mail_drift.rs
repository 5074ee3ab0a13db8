//! Unisender Go: spec changes, drift repair, re-activation, steady state, conflicts and suspend — end to end.

mod support;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::mail::{self, MailBench};
use support::{eventually, ready_condition, wait_for_event, wait_for_reason};

#[tokio::test(flavor = "multi_thread")]
async fn spec_change_updates_the_provider_moves_observed_generation_and_emits_one_event() {
    let bench = MailBench::start("mail-update").await;
    let url = bench.receiver.url("/u");
    bench.apply("upd", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("upd");
    let api = bench.api();
    api.patch(
        "upd",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"mail": {"maxParallel": 30, "eventFormat": "json_post_gzip"}}})),
    )
    .await
    .unwrap();
    let obj = eventually(
        "observedGeneration to follow the spec",
        Duration::from_secs(30),
        || async {
            let obj = api.get("upd").await.ok()?;
            let status = obj.status.as_ref()?;
            (status.observed_generation == obj.metadata.generation && ready_condition(&obj)?.0 == "True").then_some(obj)
        },
    )
    .await;
    assert_eq!(obj.metadata.generation, Some(2));
    let hook = bench.sim.webhook(&bench.creds.key, &url).unwrap();
    assert_eq!((hook.max_parallel, hook.event_format.as_str()), (30, "json_post_gzip"));
    let updated: Vec<_> = wait_for_event(&bench.cluster.client, &bench.ns.name, "upd", "Updated")
        .await
        .into_iter()
        .filter(|(_, reason, _)| reason == "Updated")
        .collect();
    assert_eq!(updated.len(), 1, "exactly one Updated event: {updated:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn change_behind_the_operators_back_is_repaired_within_one_resync() {
    // About drift found by the periodic resync: a short interval so one resync fits in the test.
    let bench = MailBench::start_with("mail-drift", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/d");
    bench.apply("drift", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("drift");
    let mut changed = serde_json::to_value(bench.sim.webhook(&bench.creds.key, &url).unwrap()).unwrap();
    changed["max_parallel"] = json!(77);
    changed["events"]["email_status"] = json!(["opened"]);
    bench.sim.put_webhook(&bench.creds.key, changed).unwrap();

    // The test operator resyncs every 4 s (±10 %): one resync plus slack.
    eventually("drift repaired", Duration::from_secs(12), || async {
        let hook = bench.sim.webhook(&bench.creds.key, &url)?;
        (hook.max_parallel == 20 && hook.events.email_status.len() == 3).then_some(())
    })
    .await;
    let events = wait_for_event(&bench.cluster.client, &bench.ns.name, "drift", "DriftCorrected").await;
    assert!(events.iter().any(|(_, r, _)| r == "DriftCorrected"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_stopped_by_the_provider_is_reactivated() {
    // A stopped webhook is found by the periodic resync (drift): a short interval so one resync fits in the test.
    let bench = MailBench::start_with("mail-stopped", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/s");
    bench.apply("stopped", &mail::block(&url, ""));
    bench.wait_ready("stopped");
    assert!(bench.sim.set_webhook_status(&bench.creds.key, &url, "stopped"));
    eventually("webhook re-activated", Duration::from_secs(12), || async {
        (bench.sim.webhook(&bench.creds.key, &url)?.status == "active").then_some(())
    })
    .await;
    let events = wait_for_event(&bench.cluster.client, &bench.ns.name, "stopped", "Reactivated").await;
    assert!(events.iter().any(|(_, r, _)| r == "Reactivated"), "{events:?}");
    let obj = bench.api().get("stopped").await.unwrap();
    assert_eq!(ready_condition(&obj).unwrap().0, "True");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopped_webhook_that_cannot_be_reactivated_reports_stopped_by_provider() {
    // Drift found by the periodic resync, then retries until the receiver answers: short resync and backoff.
    let bench = MailBench::start_with(
        "mail-stopped-down",
        &[
            "--resync-interval",
            "4s",
            "--backoff-base",
            "500ms",
            "--backoff-max",
            "8s",
        ],
    )
    .await;
    let url = bench.receiver.url("/sd");
    bench.apply("sd", &mail::block(&url, ""));
    bench.wait_ready("sd");
    // The receiver is gone, so re-activation (which makes the provider GET the URL) fails.
    bench.receiver.set_down(true);
    assert!(bench.sim.set_webhook_status(&bench.creds.key, &url, "stopped"));
    let (status, message) = wait_for_reason(&bench.api(), "sd", "StoppedByProvider", Duration::from_secs(20)).await;
    assert_eq!(status, "False");
    assert!(message.contains("2713") || message.contains("stopped"), "{message}");
    bench.receiver.set_down(false);
    wait_for_reason(&bench.api(), "sd", "Synced", Duration::from_secs(30)).await;
    assert_eq!(bench.sim.webhook(&bench.creds.key, &url).unwrap().status, "active");
}

#[tokio::test(flavor = "multi_thread")]
async fn url_change_sets_the_new_webhook_then_deletes_the_old() {
    let bench = MailBench::start("mail-url").await;
    let old = bench.receiver.url("/old");
    let new = bench.receiver.url("/new");
    bench.apply("move", &mail::block(&old, ""));
    bench.wait_ready("move");
    bench.apply("move", &mail::block(&new, ""));
    eventually("only the new URL registered", Duration::from_secs(30), || async {
        let urls: Vec<String> = bench
            .sim
            .webhooks(&bench.creds.key)
            .into_iter()
            .map(|w| w.url)
            .collect();
        (urls == vec![new.clone()]).then_some(())
    })
    .await;
    let sets: Vec<_> = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "webhook/set" || r.op == "webhook/delete")
        .collect();
    let last_set = sets.iter().rposition(|r| r.op == "webhook/set").unwrap();
    let last_delete = sets.iter().rposition(|r| r.op == "webhook/delete").unwrap();
    assert!(
        last_set < last_delete,
        "the new URL is set before the old one is deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn steady_state_makes_no_provider_writes_and_no_status_writes() {
    // About what a periodic resync does at rest: a short interval so several resyncs fit in the test.
    let bench = MailBench::start_with("mail-steady", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/steady");
    bench.apply("steady", &mail::block(&url, ""));
    bench.wait_ready("steady");
    let api = bench.api();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let version = api.get("steady").await.unwrap().metadata.resource_version;
    let writes = bench.sim.count("webhook/set") + bench.sim.count("webhook/delete");
    let reads = bench.sim.count("webhook/get");

    // Three resync intervals of the test operator (4 s each).
    tokio::time::sleep(Duration::from_secs(14)).await;
    assert_eq!(
        api.get("steady").await.unwrap().metadata.resource_version,
        version,
        "no status write at rest"
    );
    assert_eq!(
        bench.sim.count("webhook/set") + bench.sim.count("webhook/delete"),
        writes,
        "no provider write at rest"
    );
    let resyncs = bench.sim.count("webhook/get") - reads;
    assert!(
        (2..=6).contains(&resyncs),
        "drift was checked on each resync, and only then: {resyncs} reads"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_registrations_of_one_url_the_younger_stalls_with_conflict_until_the_owner_goes() {
    let bench = MailBench::start("mail-conflict").await;
    let url = bench.receiver.url("/shared");
    bench.apply("owner", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("owner");
    bench.apply("intruder", &mail::block(&url, "    maxParallel: 50\n"));
    let (status, message) = wait_for_reason(&bench.api(), "intruder", "Conflict", Duration::from_secs(30)).await;
    assert_eq!(status, "False");
    assert!(
        message.contains(&format!("{}/owner", bench.ns.name)),
        "names the owner: {message}"
    );
    let stalled = bench.api().get("intruder").await.unwrap();
    let conditions = stalled.status.unwrap().conditions;
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == "Conflict")
    );
    assert_eq!(
        bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel,
        20,
        "the owner's webhook is untouched"
    );

    // Deleting a loser never touches what the owner holds.
    bench.apply("bystander", &mail::block(&url, ""));
    wait_for_reason(&bench.api(), "bystander", "Conflict", Duration::from_secs(30)).await;
    bench.api().delete("bystander", &DeleteParams::default()).await.unwrap();
    let api = bench.api();
    eventually("the loser is gone", Duration::from_secs(30), || async {
        api.get_opt("bystander").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(
        bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel,
        20,
        "the owner's webhook survived"
    );
    assert_eq!(bench.sim.count("webhook/delete"), 0);

    bench.api().delete("owner", &DeleteParams::default()).await.unwrap();
    wait_for_reason(&bench.api(), "intruder", "Synced", Duration::from_secs(30)).await;
    assert_eq!(
        bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel,
        50,
        "the identity passed to the other"
    );
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn suspended_registration_makes_no_provider_calls_until_resumed() {
    let bench = MailBench::start("mail-suspend").await;
    let url = bench.receiver.url("/later");
    bench
        .cluster
        .apply_ok(&bench.registration("paused", &mail::block(&url, ""), "  suspend: true\n"));
    let (status, _) = wait_for_reason(&bench.api(), "paused", "Suspended", Duration::from_secs(30)).await;
    assert_eq!(status, "Unknown");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(bench.sim.requests().is_empty(), "no provider call while suspended");
    bench
        .cluster
        .apply_ok(&bench.registration("paused", &mail::block(&url, ""), "  suspend: false\n"));
    bench.wait_ready("paused");
    assert!(bench.sim.webhook(&bench.creds.key, &url).is_some());
}
