//! `managementPolicy: Observe` end to end (issue 16, must-show 4): a webhook that exists at the provider before any
//! object is adopted into status and reported as drifted with the exact fields; no provider write across
//! reconciles, resyncs and deletion; switching to full management repairs it with the fewest writes (one `set` at
//! Unisender Go; one `add` plus one `remove` at DocStudio, which has no update). edna cannot be read: it says so.

mod support;

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::edna::{self, EdnaBench};
use support::envelope::{self, EnvelopeBench, MAILBOX};
use support::mail::{self, MailBench};
use support::{eventually, ready_condition};

const OBSERVE: &str = "  managementPolicy: Observe\n";

fn mail_writes(bench: &MailBench) -> u64 {
    bench.sim.count("webhook/set") + bench.sim.count("webhook/delete")
}

fn envelope_writes(bench: &EnvelopeBench) -> u64 {
    bench.sim.count("callback/add") + bench.sim.count("callback/remove")
}

/// A webhook set by hand in the provider's console: max_parallel 50, one email status.
fn pre_existing_mail_webhook(bench: &MailBench, url: &str) -> u64 {
    let hook = bench
        .sim
        .put_webhook(
            &bench.creds.key,
            json!({"url": url, "status": "active", "event_format": "json_post", "max_parallel": 50,
                   "events": {"email_status": ["delivered"]}}),
        )
        .unwrap();
    hook.id
}

async fn set_policy(bench_api: &kube::Api<callback_operator::api::CallbackRegistration>, name: &str, policy: &str) {
    bench_api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"managementPolicy": policy}})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pre_existing_webhook_is_adopted_and_reported_drifted_with_the_exact_fields_and_nothing_is_written() {
    let bench = MailBench::start("observe-mail").await;
    let url = bench.receiver.url("/pre");
    let id = pre_existing_mail_webhook(&bench, &url);
    bench
        .cluster
        .apply_ok(&bench.registration("pre", &mail::block(&url, "    maxParallel: 20\n"), OBSERVE));

    let (status, message) = bench.wait_reason("pre", "Drifted").await;
    println!("Drifted message: {message}");
    assert_eq!(status, "False");
    assert!(message.contains("max_parallel (50 → 20)"), "{message}");
    assert!(
        message.contains("events.email_status ([delivered] → [delivered, hard_bounced, spam])"),
        "{message}"
    );
    assert!(bench.condition_true("pre", "Stalled").await);
    let obj = bench.api().get("pre").await.unwrap();
    let recorded = obj.status.as_ref().unwrap();
    let registration = recorded.registration.as_ref().expect("the found webhook is recorded");
    assert_eq!(
        registration.id.as_deref(),
        Some(id.to_string().as_str()),
        "adopted: its provider id"
    );
    assert_eq!(registration.urls, vec![url.clone()]);
    assert_eq!(recorded.applied_hash, None, "nothing was applied");
    bench.wait_event("pre", "Adopted").await;

    // A spec edit reconciles again (at the shipped resync nothing else would): still only reads.
    bench
        .api()
        .patch(
            "pre",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"mail": {"maxParallel": 30}}})),
        )
        .await
        .unwrap();
    let api = bench.api();
    eventually("the edited spec judged", Duration::from_secs(30), || async {
        let obj = api.get("pre").await.ok()?;
        let (_, reason, message) = ready_condition(&obj)?;
        (obj.status?.observed_generation == Some(2) && reason == "Drifted" && message.contains("(50 → 30)"))
            .then_some(())
    })
    .await;

    // Nothing at the provider for another object: reported, not created.
    let absent = bench.receiver.url("/absent");
    bench
        .cluster
        .apply_ok(&bench.registration("absent", &mail::block(&absent, ""), OBSERVE));
    let (status, _) = bench.wait_reason("absent", "NotFoundAtProvider").await;
    assert_eq!(status, "False");
    assert!(bench.sim.webhook(&bench.creds.key, &absent).is_none());

    // Deleting observed objects removes nothing at the provider.
    bench.delete_and_wait_gone("pre").await;
    bench.delete_and_wait_gone("absent").await;
    let (_, note) = bench.wait_event("pre", "Orphaned").await;
    assert!(note.contains("managementPolicy Observe"), "{note}");
    let hook = bench.sim.webhook(&bench.creds.key, &url).expect("the webhook stays");
    assert_eq!(hook.max_parallel, 50, "untouched");
    let reads = bench.sim.count("webhook/get");
    let writes = mail_writes(&bench);
    println!("mail provider requests: {reads} webhook/get, {writes} writes (set + delete)");
    assert!(reads >= 3, "the provider was read: {reads}");
    assert_eq!(writes, 0, "no provider write while observing, nor on deletion");
}

#[tokio::test(flavor = "multi_thread")]
async fn resyncs_of_an_observed_webhook_only_read() {
    // About the periodic resync under Observe: a short interval so several resyncs fit in the test.
    let bench = MailBench::start_with("observe-resync", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/resync");
    pre_existing_mail_webhook(&bench, &url);
    bench
        .cluster
        .apply_ok(&bench.registration("watched", &mail::block(&url, "    maxParallel: 20\n"), OBSERVE));
    bench.wait_reason("watched", "Drifted").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let version = bench.api().get("watched").await.unwrap().metadata.resource_version;
    let reads = bench.sim.count("webhook/get");
    // Three resync intervals of the test operator (4 s each).
    tokio::time::sleep(Duration::from_secs(14)).await;
    let resyncs = bench.sim.count("webhook/get") - reads;
    println!("resyncs under Observe: {resyncs} reads, {} writes", mail_writes(&bench));
    assert!(resyncs >= 2, "the provider was re-read on each resync: {resyncs}");
    assert_eq!(mail_writes(&bench), 0, "no provider write across resyncs");
    assert_eq!(
        bench.api().get("watched").await.unwrap().metadata.resource_version,
        version,
        "an unchanged observation writes no status"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_to_full_management_repairs_the_observed_webhook_with_one_write() {
    let bench = MailBench::start("observe-full").await;
    let url = bench.receiver.url("/switch");
    let id = pre_existing_mail_webhook(&bench, &url);
    bench
        .cluster
        .apply_ok(&bench.registration("switch", &mail::block(&url, "    maxParallel: 20\n"), OBSERVE));
    bench.wait_reason("switch", "Drifted").await;
    assert_eq!(mail_writes(&bench), 0);

    set_policy(&bench.api(), "switch", "Full").await;
    let (status, _) = bench.wait_reason("switch", "Synced").await;
    assert_eq!(status, "True");
    let hook = bench.sim.webhook(&bench.creds.key, &url).unwrap();
    assert_eq!(hook.max_parallel, 20);
    assert_eq!(hook.events.email_status.len(), 3);
    assert_eq!(hook.id, id, "the same webhook, repaired in place");
    let log: Vec<String> = bench
        .sim
        .requests()
        .into_iter()
        .map(|r| r.op)
        .filter(|op| op == "webhook/set" || op == "webhook/delete")
        .collect();
    println!("writes after switching to Full: {log:?}");
    assert_eq!(log, vec!["webhook/set".to_string()], "exactly one write");
    let (_, note) = bench.wait_event("switch", "DriftCorrected").await;
    assert!(note.contains("max_parallel"), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_managed_webhook_changed_by_hand_while_observed_is_repaired_with_one_write_back_under_full() {
    let bench = MailBench::start("observe-roundtrip").await;
    let url = bench.receiver.url("/managed");
    bench.apply(
        "managed",
        &mail::block(
            &url,
            "    maxParallel: 20
",
        ),
    );
    bench.wait_ready("managed");
    set_policy(&bench.api(), "managed", "Observe").await;
    bench.wait_reason("managed", "Observed").await;
    let writes = mail_writes(&bench);

    let mut changed = serde_json::to_value(bench.sim.webhook(&bench.creds.key, &url).unwrap()).unwrap();
    changed["max_parallel"] = json!(77);
    bench.sim.put_webhook(&bench.creds.key, changed).unwrap();
    // A spec edit that changes nothing at the provider wakes the object (the shipped resync is 10 minutes).
    bench
        .api()
        .patch(
            "managed",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resyncInterval": "1h"}})),
        )
        .await
        .unwrap();
    let (_, message) = bench.wait_reason("managed", "Drifted").await;
    assert!(message.contains("max_parallel (77 → 20)"), "{message}");
    assert_eq!(mail_writes(&bench), writes, "observing writes nothing");

    // The read made while observing is never taken for the record of a write: Full repairs it.
    set_policy(&bench.api(), "managed", "Full").await;
    bench.wait_reason("managed", "Synced").await;
    assert_eq!(bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel, 20);
    assert_eq!(mail_writes(&bench), writes + 1, "one write");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_observed_docstudio_callback_is_replaced_with_one_add_and_one_remove_once_managed() {
    let bench = EnvelopeBench::start("observe-envelope").await;
    let url = bench.receiver.url("/cb");
    let existing = bench
        .sim
        .put_callback(
            MAILBOX,
            json!({"url": url, "retries": 7, "timeout": 5000, "filter": {}}),
        )
        .unwrap();
    bench
        .cluster
        .apply_ok(&bench.registration("cb", &envelope::block(&url, envelope::PLAIN_FIELDS), OBSERVE));
    let (_, message) = bench.wait_reason("cb", "Drifted").await;
    println!("Drifted message: {message}");
    assert!(message.contains("retries (7 → 3)"), "{message}");
    bench.wait_recorded_id("cb", &existing.id.to_string()).await;
    assert_eq!(envelope_writes(&bench), 0);

    // DocStudio has no update: the fewest writes that change a callback are one add and one remove.
    set_policy(&bench.api(), "cb", "Full").await;
    bench.wait_reason("cb", "Synced").await;
    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0].retries, 3);
    let log: Vec<String> = bench
        .sim
        .requests()
        .into_iter()
        .map(|r| r.op)
        .filter(|op| op == "callback/add" || op == "callback/remove")
        .collect();
    println!("writes after switching to Full: {log:?}");
    assert_eq!(log, vec!["callback/add".to_string(), "callback/remove".to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn observing_edna_says_it_cannot_be_read_and_calls_nothing() {
    let bench = EdnaBench::start("observe-edna").await;
    let url = bench.receiver.url("/edna");
    bench.cluster.apply_ok(&bench.registration(
        "unreadable",
        &edna::on_shop(&format!("    statusCallbackUrl: {url}\n")),
        OBSERVE,
    ));
    let (status, message) = bench.wait_reason("unreadable", "ObserveUnsupported").await;
    assert_eq!(status, "False");
    assert!(message.contains("cannot be read back"), "{message}");
    bench.delete_and_wait_gone("unreadable").await;
    assert!(
        bench.sim.requests().is_empty(),
        "no edna call at all: {:?}",
        bench.sim.requests()
    );
}
