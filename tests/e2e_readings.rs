//! Issue #14 end to end: the operator stays right, and never writes in a loop, under the other readings of each
//! provider's contract (the simulators' switches). The whole provider suite also runs once per reading:
//! `make test-readings` (scripts/test-readings).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use provider_simulators::common::UrlNormalisation;
use provider_simulators::edna::{CallbackUrls, SuccessShape};
use provider_simulators::envelope::{DateEcho, RemovedAnswer};
use provider_simulators::mail::ReceiverCheckFailure;
use support::edna::{EdnaBench, LATE_CHANNEL_ID, SHOP_SUBJECT_ID, on_shop};
use support::envelope::{self, EnvelopeBench, MAILBOX, PLAIN_FIELDS};
use support::mail::{self, MailBench};
use support::{eventually, metrics};

/// Tests that count writes over several resyncs run the drift check every 3 s instead of 10 min, so ten resyncs
/// take half a minute; nothing else in them depends on the interval.
const FAST_RESYNC: &[&str] = &["--resync-interval", "3s"];
/// Everything else is event-driven and runs at the shipped default.
const DEFAULT_RESYNC: &[&str] = &["--resync-interval", "10m"];

// ---------------------------------------------------------------------------------------------------------------
// DocStudio: dates echoed as null or as epoch milliseconds (must-show 2)
// ---------------------------------------------------------------------------------------------------------------

async fn ten_resyncs_after_ready_make_no_writes(prefix: &str, echo: DateEcho) {
    let bench = EnvelopeBench::start_with(prefix, FAST_RESYNC).await;
    bench.sim.set_date_echo(echo);
    let url = bench.receiver.url("/dates");
    let fields = format!(
        "{PLAIN_FIELDS}    filter:
      receiveDateFrom: \"2026-01-02T03:04:05+02:00\"
      receiveDateTo: \"2026-02-01T00:00:00Z\"
      expireDateFrom: \"2026-03-01T00:00:00Z\"
      expireDateTo: \"2026-12-31T23:59:59Z\"
"
    );
    bench.apply("dates", &envelope::block(&url, &fields));
    bench.wait_ready("dates");
    let (adds, removes) = (bench.sim.count("callback/add"), bench.sim.count("callback/remove"));
    assert_eq!((adds, removes), (1, 0), "one add to become Ready");
    let echoed = serde_json::to_value(&bench.callbacks()[0].filter).unwrap();
    eprintln!("stored filter {echoed}; echoed under {echo:?}");

    let version = bench.api().get("dates").await.unwrap().metadata.resource_version;
    bench.wait_for_lists(10).await;
    assert_eq!(
        (bench.sim.count("callback/add"), bench.sim.count("callback/remove")),
        (1, 0),
        "10 resyncs after Ready: 0 add and 0 remove calls (dates echoed {echo:?})"
    );
    assert_eq!(bench.callbacks().len(), 1);
    let obj = bench.api().get("dates").await.unwrap();
    assert_eq!(
        obj.metadata.resource_version, version,
        "10 resyncs after Ready: no status write either"
    );
    // The callback is the one this object's add created: trusted by the id the add returned (DocStudio has no
    // update), so no fingerprint of the list's spelling is needed to keep it — none is recorded.
    assert_eq!(obj.status.unwrap().observed_hash, None);
    assert!(bench.condition_true("dates", "Ready").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_dates_echoed_as_null_make_no_add_or_remove_over_ten_resyncs() {
    ten_resyncs_after_ready_make_no_writes("rd-env-null", DateEcho::Null).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_dates_echoed_as_epoch_millis_make_no_add_or_remove_over_ten_resyncs() {
    ten_resyncs_after_ready_make_no_writes("rd-env-millis", DateEcho::EpochMillis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_remove_of_a_gone_id_answered_400_is_confirmed_gone_by_a_list() {
    let bench = EnvelopeBench::start_with("rd-env-gone", DEFAULT_RESYNC).await;
    bench.sim.set_removed_answer_named(RemovedAnswer::BadRequest);
    let url = bench.receiver.url("/gone");
    bench.apply("gone", &envelope::block(&url, PLAIN_FIELDS));
    bench.wait_ready("gone");
    let id = bench.callbacks()[0].id;
    bench.wait_recorded_id("gone", &id.to_string()).await;
    assert!(
        bench.sim.remove_callback(MAILBOX, id),
        "removed behind the operator's back"
    );
    bench.sim.clear_requests();

    bench.delete_and_wait_gone("gone").await;
    let ops: Vec<String> = bench.sim.requests().into_iter().map(|r| r.op).collect();
    let removed_at = ops
        .iter()
        .position(|op| op == "callback/remove")
        .expect("a remove was tried");
    assert!(
        ops[removed_at..].iter().any(|op| op == "callback/list"),
        "absence confirmed with a list: {ops:?}"
    );
    assert!(
        !bench
            .events("gone")
            .await
            .iter()
            .any(|(_, r, _)| r == "CleanupAbandoned"),
        "a gone callback is not a failed cleanup"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The write budget (must-show 3)
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_always_answers_differently_stalls_drift_loop_after_the_budget_until_the_spec_changes() {
    let bench = MailBench::start_with("rd-loop", FAST_RESYNC).await;
    // Every answer echoes max_parallel differently from what is stored, and differently each time: no echo
    // fingerprint can settle, so only the write budget stops the writes.
    bench.sim.set_echo_always_differs(Some("max_parallel"));
    bench.sim.set_echo_varies(true);
    let url = bench.receiver.url("/loop");
    bench.apply("loop", &mail::block(&url, ""));

    let (ready, message) = bench.wait_reason("loop", "DriftLoop").await;
    assert_eq!(ready, "False");
    assert!(bench.condition_true("loop", "Stalled").await);
    assert!(
        message.contains("max_parallel"),
        "names the field that keeps differing: {message}"
    );
    assert!(message.contains("3 corrective writes within 1h"), "{message}");
    let sets = bench.sim.count("webhook/set");
    assert_eq!(sets, 1 + 3, "the create, then the budget of 3 corrective writes");

    // Writes stop; reads go on.
    let gets = bench.sim.count("webhook/get");
    eventually("three more resyncs", Duration::from_secs(60), || async {
        (bench.sim.count("webhook/get") >= gets + 3).then_some(())
    })
    .await;
    assert_eq!(bench.sim.count("webhook/set"), sets, "no provider write while stalled");
    let warnings: Vec<_> = bench
        .events("loop")
        .await
        .into_iter()
        .filter(|(_, reason, _)| reason == "DriftLoop")
        .collect();
    assert_eq!(warnings.len(), 1, "one Warning Event: {warnings:?}");
    assert_eq!(warnings[0].0, "Warning");
    let scraped = bench.operator.metrics().await;
    assert_eq!(
        metrics::value(&scraped, "callback_operator_drift_loops_total", &[("provider", "mail")]),
        Some(1.0),
        "counted once"
    );

    // A spec change resumes it. The provider now always answers the same (still differing) value: that is its
    // own spelling, and after the one write it never causes another.
    bench.sim.set_echo_varies(false);
    bench.apply("loop", &mail::block(&url, "    maxParallel: 30\n"));
    bench.wait_ready("loop");
    assert_eq!(bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel, 30);
    let sets = bench.sim.count("webhook/set");
    let gets = bench.sim.count("webhook/get");
    eventually("three more resyncs", Duration::from_secs(60), || async {
        (bench.sim.count("webhook/get") >= gets + 3).then_some(())
    })
    .await;
    assert_eq!(
        bench.sim.count("webhook/set"),
        sets,
        "a stable echo is never written again"
    );
    assert!(bench.condition_true("loop", "Ready").await);
}

// ---------------------------------------------------------------------------------------------------------------
// Unisender Go: an undocumented receiver-check code, a normalised URL
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn mail_an_unknown_receiver_check_code_is_retried_with_a_clear_reason_not_stalled() {
    let bench = MailBench::start_with("rd-mail-check", DEFAULT_RESYNC).await;
    bench
        .sim
        .set_receiver_check_failure_code(ReceiverCheckFailure::Code { http: 422, code: 2799 });
    let url = bench.receiver.url("/late");
    bench.receiver.set_down(true);
    bench.apply("late", &mail::block(&url, ""));
    let (ready, message) = bench.wait_reason("late", "ReceiverCheckFailed").await;
    assert_eq!(ready, "False");
    assert!(
        bench.condition_true("late", "Reconciling").await,
        "retried, not stalled"
    );
    assert!(message.contains("2799") && message.contains("receiver"), "{message}");
    bench.receiver.set_down(false);
    bench.wait_ready("late");
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_a_url_the_provider_normalises_is_found_again_and_never_set_twice() {
    let bench = MailBench::start_with("rd-mail-norm", FAST_RESYNC).await;
    bench
        .sim
        .set_url_normalisation(UrlNormalisation::NormalisedNoTrailingSlash);
    let url = format!("{}/", bench.receiver.url("/norm"));
    let stored = bench.receiver.url("/norm");
    bench.apply("norm", &mail::block(&url, ""));
    bench.wait_ready("norm");
    assert!(
        bench.sim.webhook(&bench.creds.key, &stored).is_some(),
        "stored normalised"
    );
    let gets = bench.sim.count("webhook/get");
    eventually("five resyncs", Duration::from_secs(60), || async {
        (bench.sim.count("webhook/get") >= gets + 5).then_some(())
    })
    .await;
    assert_eq!(
        bench.sim.count("webhook/set"),
        1,
        "set once, found again by the provider's spelling"
    );
    let registration = bench.registration_status("norm").await.unwrap();
    assert_eq!(
        registration.urls,
        vec![stored.clone()],
        "status records the provider's spelling"
    );
    bench.delete_and_wait_gone("norm").await;
    assert!(
        bench.sim.webhooks(&bench.creds.key).is_empty(),
        "removed at the provider"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// edna: only code ok is success; tenant-wide and per-channel objects for one field (must-show 4)
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn edna_a_2xx_without_code_ok_is_a_protocol_error_not_a_registration() {
    let bench = EdnaBench::start_with("rd-edna-html", DEFAULT_RESYNC).await;
    bench.sim.set_success_shape(SuccessShape::HtmlPage);
    let url = bench.receiver.url("/html");
    bench.apply("html", &on_shop(&format!("    statusCallbackUrl: {url}\n")));
    let (ready, message) = bench.wait_reason("html", "ProviderProtocolError").await;
    assert_eq!(ready, "False");
    assert!(bench.condition_true("html", "Reconciling").await);
    assert!(message.contains("code") && message.contains("not JSON"), "{message}");
    bench.sim.set_success_shape(SuccessShape::CodeOk);
    bench.wait_ready("html");
}

fn status_only(url: &str) -> CallbackUrls {
    CallbackUrls {
        status_callback_url: Some(url.to_string()),
        ..CallbackUrls::default()
    }
}

/// What the simulator's channels hold for statusCallbackUrl, by subjectId.
fn status_by_channel(bench: &EdnaBench) -> BTreeMap<i64, Option<String>> {
    bench
        .sim
        .effective_state(&bench.creds.key)
        .into_iter()
        .map(|(subject, urls)| (subject, urls.status_callback_url))
        .collect()
}

async fn wait_channels(bench: &EdnaBench, what: &str, want: &[(i64, &str)]) {
    let want: BTreeMap<i64, Option<String>> = want.iter().map(|(s, u)| (*s, Some(u.to_string()))).collect();
    eventually(what, Duration::from_secs(30), || async {
        (status_by_channel(bench) == want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edna_tenant_wide_and_per_channel_objects_for_one_field_each_hold_exactly_what_they_ask() {
    // Re-asserts every 5 s, so "after a re-assert of each" is seen within the test.
    let bench = EdnaBench::start_with(
        "rd-edna-layers",
        &["--edna-reassert-interval", "5s", "--resync-interval", "10m"],
    )
    .await;
    const OTHER: i64 = 2002;
    assert!(
        bench.sim.activate_channel(&bench.creds.key, LATE_CHANNEL_ID, OTHER),
        "a second channel, with none"
    );
    let tenant = bench.receiver.url("/tenant-status");
    let channel = bench.receiver.url("/channel-status");
    let tenant_block = format!("    statusCallbackUrl: {tenant}\n");
    let channel_block = on_shop(&format!("    statusCallbackUrl: {channel}\n"));

    // After creation.
    bench.apply("tenant", &tenant_block);
    bench.apply("channel", &channel_block);
    bench.wait_ready("tenant");
    bench.wait_ready("channel");
    wait_channels(
        &bench,
        "after creation",
        &[(SHOP_SUBJECT_ID, &channel), (OTHER, &tenant)],
    )
    .await;

    // After a re-assert of each: every tenant-wide write is followed by the channel owner's URL for its channel.
    let sets_before = bench.sim.count("callback/set");
    bench
        .wait_event_mentioning("tenant", "Reasserted", "every channel")
        .await;
    bench
        .wait_event_mentioning("channel", "Reasserted", "cannot be read back")
        .await;
    eventually("two more re-asserts of each", Duration::from_secs(60), || async {
        (bench.sim.count("callback/set") >= sets_before + 6).then_some(())
    })
    .await;
    wait_channels(
        &bench,
        "after re-asserts",
        &[(SHOP_SUBJECT_ID, &channel), (OTHER, &tenant)],
    )
    .await;
    let sets: Vec<_> = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "callback/set" && r.status == 200)
        .collect();
    for (i, set) in sets
        .iter()
        .enumerate()
        .filter(|(_, r)| r.body.get("subjectId").is_none())
    {
        let restored = sets[i + 1..]
            .iter()
            .position(|r| r.body["subjectId"] == SHOP_SUBJECT_ID && r.body["statusCallbackUrl"] == channel.as_str());
        assert!(
            restored.is_some() || i + 1 == sets.len(),
            "tenant-wide set #{} was followed by the channel's own URL: {:?}",
            set.seq,
            sets.iter().map(|r| &r.body).collect::<Vec<_>>()
        );
        if let Some(offset) = restored {
            let between = &sets[i + 1..i + 1 + offset];
            assert!(
                between.iter().all(|r| r.body.get("subjectId").is_some()),
                "no other tenant-wide set in between"
            );
        }
    }

    // After deleting the per-channel object: its channel goes back to the tenant-wide URL.
    bench.delete_and_wait_gone("channel").await;
    let (_, note) = bench.wait_event("channel", "RemoteDeletionUnsupported").await;
    assert!(
        note.contains(&format!("handed subjectId {SHOP_SUBJECT_ID} back")),
        "{note}"
    );
    wait_channels(
        &bench,
        "after deleting the channel object",
        &[(SHOP_SUBJECT_ID, &tenant), (OTHER, &tenant)],
    )
    .await;

    // And after deleting the tenant-wide object (the channel object created again first).
    bench.apply("channel", &channel_block);
    bench.wait_ready("channel");
    wait_channels(
        &bench,
        "the channel object again",
        &[(SHOP_SUBJECT_ID, &channel), (OTHER, &tenant)],
    )
    .await;
    bench.delete_and_wait_gone("tenant").await;
    let (_, note) = bench.wait_event("tenant", "RemoteDeletionUnsupported").await;
    assert!(
        note.contains(&tenant),
        "edna keeps the tenant-wide URL and says so: {note}"
    );
    let sets_before = bench.sim.count("callback/set");
    eventually("a re-assert of the channel object", Duration::from_secs(30), || async {
        (bench.sim.count("callback/set") > sets_before).then_some(())
    })
    .await;
    // The channel holds what its object asks; the other channel keeps what edna cannot clear (no object asks).
    wait_channels(
        &bench,
        "after deleting the tenant object",
        &[(SHOP_SUBJECT_ID, &channel), (OTHER, &tenant)],
    )
    .await;
    assert_eq!(
        bench.sim.effective_callbacks(&bench.creds.key, SHOP_SUBJECT_ID),
        status_only(&channel)
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The matrix itself: every reading scripts/test-readings runs names a real switch and value (no cluster needed)
// ---------------------------------------------------------------------------------------------------------------

fn switched<T: serde::Serialize + serde::de::DeserializeOwned>(defaults: T, reading: &support::readings::Reading) -> T {
    let json = support::readings::apply(serde_json::to_value(defaults).unwrap(), std::slice::from_ref(reading));
    serde_json::from_value(json).unwrap_or_else(|err| panic!("{reading:?} is not a value of that switch: {err}"))
}

#[test]
fn every_reading_of_the_matrix_names_a_switch_and_a_value_the_simulators_accept() {
    use provider_simulators::{edna::EdnaSwitches, envelope::EnvelopeSwitches, mail::MailSwitches};
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-readings")).unwrap();
    let entries: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix('\'')?.strip_suffix('\''))
        .filter(|l| ["mail.", "edna.", "envelope."].iter().any(|p| l.starts_with(p)))
        .collect();
    assert!(entries.len() >= 30, "the matrix lists every reading: {entries:?}");
    for entry in entries {
        let reading = support::readings::parse(entry).remove(0);
        let differs = match reading.provider.as_str() {
            "mail" => switched(MailSwitches::default(), &reading) != MailSwitches::default(),
            "edna" => switched(EdnaSwitches::default(), &reading) != EdnaSwitches::default(),
            "envelope" => switched(EnvelopeSwitches::default(), &reading) != EnvelopeSwitches::default(),
            other => panic!("unknown provider {other}"),
        };
        assert!(differs, "{entry} is not a non-default reading");
    }
}
