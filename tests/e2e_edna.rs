//! edna Pulse end to end: real apiserver, the operator process, the edna simulator over HTTP (with its real HEAD
//! check against an HTTPS receiver on 127.0.0.1).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use provider_simulators::Fault;
use provider_simulators::edna::{CallbackUrls, EdnaErrorStyle};
use serde_json::json;
use support::bench::manifest;
use support::edna::{EdnaBench, LATE_CHANNEL_ID, LATE_SUBJECT, SHOP_SUBJECT, SHOP_SUBJECT_ID, on_shop};
use support::{Cluster, TestNamespace, eventually, readings};

fn urls(status: Option<&str>, in_message: Option<&str>, matcher: Option<&str>) -> CallbackUrls {
    CallbackUrls {
        status_callback_url: status.map(str::to_string),
        in_message_callback_url: in_message.map(str::to_string),
        message_matcher_callback_url: matcher.map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn applied_registrations_set_exactly_their_urls_for_the_channel_and_tenant_wide_without_a_subject() {
    let bench = EdnaBench::start("edna-apply").await;
    let status = bench.receiver.url("/edna/status");
    let inbound = bench.receiver.url("/edna/in");
    let matcher = bench.receiver.url("/edna/templates");
    bench.apply(
        "channel",
        &on_shop(&format!(
            "    statusCallbackUrl: {status}\n    inMessageCallbackUrl: {inbound}\n"
        )),
    );
    bench.apply("tenant", &format!("    messageMatcherCallbackUrl: {matcher}\n"));
    // Under the reading of edna's code table that refuses a messageMatcher-only set, the operator says so and
    // stalls; the tenant object then owns an inbound URL too (written on every channel, and channel 1001's own
    // inbound URL re-asserted after it).
    let mut tenant_inbound = None;
    if readings::is("edna", "require_status_or_in_message", "true") {
        let (_, message) = bench.wait_reason("tenant", "InvalidSpec").await;
        assert!(
            message.contains("url-not-specified") && message.contains("alongside"),
            "{message}"
        );
        let other = bench.receiver.url("/edna/tenant-in");
        bench.apply(
            "tenant",
            &format!("    messageMatcherCallbackUrl: {matcher}\n    inMessageCallbackUrl: {other}\n"),
        );
        tenant_inbound = Some(other);
    }
    bench.wait_ready("channel");
    bench.wait_ready("tenant");

    // What each channel holds is the same under both readings of a tenant-wide set (written on every channel, or
    // a tenant default the channel inherits); so is the tenant entry itself.
    assert_eq!(
        bench.sim.effective_state(&bench.creds.key),
        BTreeMap::from([(SHOP_SUBJECT_ID, urls(Some(&status), Some(&inbound), Some(&matcher)))]),
        "exactly the owned URLs: for subjectId {SHOP_SUBJECT_ID} its own, and the tenant-wide one"
    );
    assert_eq!(
        bench.sim.callback_urls(&bench.creds.key, None),
        Some(urls(None, tenant_inbound.as_deref(), Some(&matcher))),
        "tenant-wide: only the tenant object's field"
    );
    let tenant_sets: Vec<_> = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "callback/set" && r.body.get("messageMatcherCallbackUrl").is_some())
        .collect();
    assert!(
        tenant_sets.iter().all(|r| r.body.get("subjectId").is_none()),
        "a tenant-wide set sends no subjectId: {tenant_sets:?}"
    );
    assert!(
        bench.receiver.hit_count("HEAD", "/edna/status") >= 1,
        "edna's HEAD check reached the receiver"
    );

    let obj = bench.api().get("channel").await.unwrap();
    let st = obj.status.clone().unwrap();
    assert_eq!(st.provider.as_deref(), Some("edna"));
    assert_eq!(st.target, Some(format!("{status}, {inbound}")));
    assert!(st.applied_hash.is_some());
    let registration = st.registration.unwrap();
    assert_eq!(registration.subject_id, Some(SHOP_SUBJECT_ID));
    assert_eq!(registration.urls, vec![status.clone(), inbound.clone()]);
    assert!(registration.last_synced_time.is_some());
    assert!(registration.account.unwrap().starts_with(bench.sim.base_url()));
    let tenant = bench.api().get("tenant").await.unwrap().status.unwrap();
    assert_eq!(tenant.registration.unwrap().subject_id, None);

    let (_, note) = bench.wait_event("channel", "Created").await;
    assert!(note.contains(&format!("subjectId {SHOP_SUBJECT_ID}")), "{note}");
    let table = bench.cluster.kubectl_ok(&["get", "cbr", "-n", &bench.ns.name]);
    assert!(
        table.contains("edna") && table.contains(&matcher) && table.contains("True"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subject_name_is_resolved_and_a_channel_activated_later_becomes_ready_without_user_action() {
    let bench = EdnaBench::start("edna-subject").await;
    let shop = bench.receiver.url("/shop");
    let late = bench.receiver.url("/late");
    bench.apply(
        "named",
        &format!("    subject: {SHOP_SUBJECT}\n    statusCallbackUrl: {shop}\n"),
    );
    bench.wait_ready("named");
    assert_eq!(bench.shop_urls(), Some(urls(Some(&shop), None, None)));
    let named = bench.api().get("named").await.unwrap().status.unwrap();
    assert_eq!(named.registration.unwrap().subject_id, Some(SHOP_SUBJECT_ID));

    bench.apply(
        "late",
        &format!("    subject: {LATE_SUBJECT}\n    statusCallbackUrl: {late}\n"),
    );
    let (ready, message) = bench.wait_reason("late", "ChannelNotActive").await;
    assert_eq!(ready, "False");
    assert!(message.contains(LATE_SUBJECT), "{message}");
    assert!(
        bench.condition_true("late", "Reconciling").await,
        "waiting, not stalled"
    );
    assert_eq!(
        bench.sim.state(&bench.creds.key).len(),
        1,
        "nothing set for an inactive channel"
    );

    assert!(bench.sim.activate_channel(&bench.creds.key, LATE_CHANNEL_ID, 2002));
    bench.wait_ready("late");
    assert_eq!(
        bench.sim.callback_urls(&bench.creds.key, Some(2002)),
        Some(urls(Some(&late), None, None))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_receiver_shows_endpoint_unavailable_then_ready_once_it_answers() {
    let bench = EdnaBench::start("edna-receiver").await;
    let url = bench.receiver.url("/hook");
    bench.receiver.set_down(true);
    bench.apply("hook", &on_shop(&format!("    statusCallbackUrl: {url}\n")));
    let (ready, message) = bench.wait_reason("hook", "EndpointUnavailable").await;
    assert_eq!(ready, "False");
    assert!(message.contains("error-callback-url-not-available"), "{message}");
    assert!(bench.condition_true("hook", "Reconciling").await);
    assert!(bench.sim.state(&bench.creds.key).is_empty());

    bench.receiver.set_down(false);
    bench.wait_ready("hook");
    assert_eq!(bench.shop_urls(), Some(urls(Some(&url), None, None)));
    assert!(bench.sim.count("callback/set") >= 2, "retried with backoff");
}

/// Drives every `callback/set` answer through the operator under one of the simulator's error styles.
async fn every_edna_answer_reaches_its_reason(prefix: &str, style: EdnaErrorStyle, with_http_failures: bool) {
    let bench = EdnaBench::start(prefix).await;
    bench.sim.set_error_style(style);
    let good = bench.receiver.url("/good");
    let down = bench.receiver.url("/down");
    bench.receiver.set_path_status("/down", 503);
    let limited_key = format!("{}-templates-only", bench.creds.key);
    bench
        .sim
        .add_additional_key(&limited_key, &bench.creds.key, &["channels"]);
    let endpoint = bench.sim.base_url().to_string();
    bench
        .ns
        .put_secret("wrong", &[("apiKey", "not-an-edna-key"), ("endpoint", &endpoint)])
        .await;
    bench
        .ns
        .put_secret("limited", &[("apiKey", &limited_key), ("endpoint", &endpoint)])
        .await;

    // Answers the simulator gives by itself.
    let natural = [
        (
            "unknown-subject",
            "    subjectId: 9999\n".to_string(),
            "creds",
            "SubjectNotFound",
            "Stalled",
        ),
        (
            "unknown-name",
            "    subject: nobody\n".to_string(),
            "creds",
            "SubjectNotFound",
            "Stalled",
        ),
        (
            "unreachable",
            String::new(),
            "creds",
            "EndpointUnavailable",
            "Reconciling",
        ),
        ("bad-key", String::new(), "wrong", "InvalidCredentials", "Stalled"),
        (
            "no-webhooks-group",
            String::new(),
            "limited",
            "InvalidCredentials",
            "Stalled",
        ),
    ];
    for (name, subject, secret, _, _) in &natural {
        let url = if *name == "unreachable" { &down } else { &good };
        let yaml = bench
            .registration(name, &format!("{subject}    statusCallbackUrl: {url}\n"), "")
            .replace("name: creds", &format!("name: {secret}"));
        bench.cluster.apply_ok(&yaml);
    }
    for (name, _, _, reason, condition) in &natural {
        let (ready, message) = bench.wait_reason(name, reason).await;
        assert_eq!(ready, "False", "{name}");
        assert!(bench.condition_true(name, condition).await, "{name}: {condition}");
        assert!(
            !message.contains(&bench.creds.key) && !message.contains("not-an-edna-key"),
            "{message}"
        );
        if *name == "unreachable" {
            assert!(message.contains("error-callback-url-not-available"), "{message}");
        }
        if *name == "unknown-subject" {
            assert!(message.contains("error-subject-unknown"), "{message}");
        }
        if *name == "no-webhooks-group" {
            assert!(message.contains("webhooks"), "{message}");
        }
    }
    for (name, ..) in &natural {
        bench.delete_and_wait_gone(name).await;
    }
    assert!(bench.sim.state(&bench.creds.key).is_empty());

    // Codes the schema keeps the operator from provoking: edna's answer is injected in the style's own shape.
    let mut injected = vec![
        (
            "max-length",
            injected_code(style, "error-callback-url-max-length"),
            "InvalidSpec",
            "Stalled",
        ),
        (
            "not-https",
            injected_code(style, "error-callback-url-not-https"),
            "InvalidSpec",
            "Stalled",
        ),
        (
            "no-url",
            injected_code(style, "url-not-specified"),
            "InvalidSpec",
            "Stalled",
        ),
    ];
    if with_http_failures {
        injected.push((
            "rate-limited",
            Fault::RateLimited { retry_after_secs: 1 },
            "RateLimited",
            "Reconciling",
        ));
        injected.push(("unavailable", Fault::status(503), "ProviderUnavailable", "Reconciling"));
    }
    for (name, fault, reason, condition) in injected {
        bench.sim.inject_for("callback/set", fault, 1000);
        bench.apply(name, &on_shop(&format!("    statusCallbackUrl: {good}\n")));
        let (_, message) = bench.wait_reason(name, reason).await;
        assert!(bench.condition_true(name, condition).await, "{name}: {condition}");
        if reason == "InvalidSpec" {
            let code = match name {
                "max-length" => "error-callback-url-max-length",
                "not-https" => "error-callback-url-not-https",
                _ => "url-not-specified",
            };
            assert!(message.contains(code), "{name}: {message}");
        }
        bench.delete_and_wait_gone(name).await;
        bench.sim.clear_faults();
    }
}

/// The body edna would send for `code` in `style` (the simulator's own shapes: see its README).
fn injected_code(style: EdnaErrorStyle, code: &str) -> Fault {
    match style {
        EdnaErrorStyle::Http200Code => Fault::Status {
            status: 200,
            body: json!({"code": code}),
        },
        EdnaErrorStyle::Http400Code => Fault::Status {
            status: 400,
            body: json!({"code": code}),
        },
        EdnaErrorStyle::Problem => Fault::Status {
            status: 400,
            body: json!({"type": "about:blank", "title": code, "status": 400, "detail": format!("{code}: refused")}),
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_edna_answer_reaches_its_reason_when_errors_come_under_http_200() {
    every_edna_answer_reaches_its_reason("edna-codes-200", EdnaErrorStyle::Http200Code, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_edna_answer_reaches_its_reason_when_errors_come_under_http_400() {
    every_edna_answer_reaches_its_reason("edna-codes-400", EdnaErrorStyle::Http400Code, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_edna_answer_reaches_its_reason_when_errors_come_as_problem_bodies() {
    every_edna_answer_reaches_its_reason("edna-codes-problem", EdnaErrorStyle::Problem, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_is_not_tried_again_until_the_secret_changes() {
    let bench = EdnaBench::start("edna-badkey").await;
    let endpoint = bench.sim.base_url().to_string();
    let bad = "rejected-edna-key";
    bench
        .ns
        .put_secret("shared", &[("apiKey", bad), ("endpoint", &endpoint)])
        .await;
    let url = bench.receiver.url("/hook");
    for (name, subject) in [
        ("by-id", format!("subjectId: {SHOP_SUBJECT_ID}")),
        ("by-name", format!("subject: {SHOP_SUBJECT}")),
    ] {
        let yaml = bench
            .registration(name, &format!("    {subject}\n    statusCallbackUrl: {url}\n"), "")
            .replace("name: creds", "name: shared");
        bench.cluster.apply_ok(&yaml);
    }
    for name in ["by-id", "by-name"] {
        let (_, message) = bench.wait_reason(name, "InvalidCredentials").await;
        assert!(message.contains("not retried until Secret"), "{message}");
        assert!(!message.contains(bad), "no key in messages: {message}");
    }
    let calls = || bench.sim.count_for(bad, "callback/set") + bench.sim.count_for(bad, "channel-profile");
    let before = calls();
    assert!(
        (1..=2).contains(&before),
        "at most one call per object before the breaker: {before}"
    );

    // Wake both objects several times (metadata changes, the stalled resync) and give them time to call.
    let reconciled = bench.reconciliations().await;
    for round in 0..2 {
        for name in ["by-id", "by-name"] {
            let patch = json!({"metadata": {"annotations": {"test/poke": round.to_string()}}});
            bench
                .api()
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    eventually("the objects were reconciled again", Duration::from_secs(30), || async {
        (bench.reconciliations().await >= reconciled + 4).then_some(())
    })
    .await;
    assert_eq!(
        calls(),
        before,
        "no edna call with a rejected key until its Secret changes"
    );

    bench
        .ns
        .put_secret("shared", &[("apiKey", &bench.creds.key), ("endpoint", &endpoint)])
        .await;
    bench.wait_ready("by-id");
    bench.wait_ready("by-name");
    assert_eq!(calls(), before);
    assert_eq!(bench.shop_urls(), Some(urls(Some(&url), None, None)));
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_sharing_a_channel_coexist_on_different_fields_and_the_younger_on_the_same_field_waits_for_the_owner() {
    let bench = EdnaBench::start("edna-owners").await;
    let a = bench.receiver.url("/a-status");
    let b = bench.receiver.url("/b-inbound");
    let c = bench.receiver.url("/c-status");
    let on_channel = |field: &str, url: &str| on_shop(&format!("    {field}: {url}\n"));
    bench.apply("owner", &on_channel("statusCallbackUrl", &a));
    bench.apply("neighbour", &on_channel("inMessageCallbackUrl", &b));
    bench.wait_ready("owner");
    bench.wait_ready("neighbour");
    assert_eq!(
        bench.shop_urls(),
        Some(urls(Some(&a), Some(&b), None)),
        "different fields of one channel coexist"
    );

    // Creation times have one-second resolution: make sure the contender is younger.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bench.apply("contender", &on_channel("statusCallbackUrl", &c));
    let (_, message) = bench.wait_reason("contender", "Conflict").await;
    assert!(message.contains(&format!("{}/owner", bench.ns.name)), "{message}");
    assert!(message.contains("statusCallbackUrl"), "{message}");
    assert!(bench.condition_true("contender", "Stalled").await);
    assert_eq!(
        bench.shop_urls(),
        Some(urls(Some(&a), Some(&b), None)),
        "the younger object never overwrote the owner's field"
    );

    bench.delete_and_wait_gone("owner").await;
    bench.wait_ready("contender");
    assert_eq!(
        bench.shop_urls(),
        Some(urls(Some(&c), Some(&b), None)),
        "the field went to the contender; the neighbour's field is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_registration_warns_that_edna_keeps_the_urls_and_calls_nothing() {
    let bench = EdnaBench::start("edna-delete").await;
    let status = bench.receiver.url("/kept-status");
    let inbound = bench.receiver.url("/kept-in");
    bench.apply(
        "leaving",
        &on_shop(&format!(
            "    statusCallbackUrl: {status}\n    inMessageCallbackUrl: {inbound}\n"
        )),
    );
    bench.wait_ready("leaving");
    bench.sim.clear_requests();

    bench.delete_and_wait_gone("leaving").await;
    let (kind, note) = bench.wait_event("leaving", "RemoteDeletionUnsupported").await;
    assert_eq!(kind, "Warning");
    assert!(
        note.contains(&status) && note.contains(&inbound) && note.contains(&format!("subjectId {SHOP_SUBJECT_ID}")),
        "{note}"
    );
    assert!(
        bench.sim.requests().is_empty(),
        "no provider call pretends to delete: {:?}",
        bench.sim.requests()
    );
    assert_eq!(
        bench.shop_urls(),
        Some(urls(Some(&status), Some(&inbound), None)),
        "edna still holds the URLs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_apply_refuses_bad_edna_specs_with_the_rules_messages() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "edna-schema").await;
    let registration = |name: &str, edna: &str| manifest(&ns.name, name, "creds", "edna", edna, "");
    let long = format!(
        "https://hooks.example/{}",
        "x".repeat(501 - "https://hooks.example/".len())
    );
    assert_eq!(long.len(), 501);
    let cases = [
        (
            "http-url",
            "    statusCallbackUrl: http://hooks.example/s\n".to_string(),
            "must be an absolute https:// URL",
        ),
        (
            "long-url",
            format!("    inMessageCallbackUrl: {long}\n"),
            "may not be more than 500",
        ),
        (
            "no-url",
            "    subjectId: 5\n".to_string(),
            "set at least one of statusCallbackUrl, inMessageCallbackUrl and messageMatcherCallbackUrl",
        ),
        (
            "both-subjects",
            "    subjectId: 5\n    subject: shop_wa\n    statusCallbackUrl: https://hooks.example/s\n".to_string(),
            "set at most one of subjectId and subject",
        ),
    ];
    for (name, edna, expected) in cases {
        let (ok, output) = cluster.apply(&registration(name, &edna));
        assert!(!ok, "{name} must be refused:\n{output}");
        assert!(output.contains(expected), "{name}: expected {expected:?} in:\n{output}");
    }
    let api: kube::Api<callback_operator::api::CallbackRegistration> =
        kube::Api::namespaced(cluster.client.clone(), &ns.name);
    assert!(api.list(&Default::default()).await.unwrap().items.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_no_op_resync_makes_no_provider_call_and_writes_nothing() {
    let bench = EdnaBench::start("edna-noop").await;
    let url = bench.receiver.url("/quiet");
    bench.cluster.apply_ok(&bench.registration(
        "quiet",
        &format!("    subject: {SHOP_SUBJECT}\n    statusCallbackUrl: {url}\n"),
        "  resyncInterval: 10s\n",
    ));
    bench.wait_ready("quiet");
    let settled = bench.api().get("quiet").await.unwrap().status.unwrap();
    // The status write wakes the object once more; let that pass before counting.
    let after_ready = bench.reconciliations().await;
    eventually("the post-Ready reconciliation", Duration::from_secs(30), || async {
        (bench.reconciliations().await > after_ready).then_some(())
    })
    .await;
    bench.sim.clear_requests();
    let reconciled = bench.reconciliations().await;

    // Wake it: a metadata change, a touched credentials Secret, and the 10s periodic resync.
    let patch = json!({"metadata": {"annotations": {"test/poke": "1"}}});
    bench
        .api()
        .patch("quiet", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(bench.cluster.client.clone(), &bench.ns.name);
    let label = json!({"metadata": {"labels": {"test/touched": "yes"}}});
    secrets
        .patch("creds", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    eventually("three more reconciliations", Duration::from_secs(30), || async {
        (bench.reconciliations().await >= reconciled + 3).then_some(())
    })
    .await;

    assert!(
        bench.sim.requests().is_empty(),
        "a no-op resync calls neither callback/set nor channel-profile: {:?}",
        bench.sim.requests()
    );
    let now = bench.api().get("quiet").await.unwrap().status.unwrap();
    assert_eq!(now, settled, "status untouched: no lastSyncedTime churn");
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_urls_are_reasserted_after_the_reassert_interval() {
    let bench = EdnaBench::start_with("edna-reassert", &["--edna-reassert-interval", "3s"]).await;
    let url = bench.receiver.url("/mine");
    bench.apply("mine", &on_shop(&format!("    statusCallbackUrl: {url}\n")));
    bench.wait_ready("mine");
    let intruder = bench.receiver.url("/someone-else");
    bench.sim.put_callback_urls(
        &bench.creds.key,
        Some(SHOP_SUBJECT_ID),
        urls(Some(&intruder), None, None),
    );

    eventually("the URL re-asserted", Duration::from_secs(30), || async {
        (bench.shop_urls() == Some(urls(Some(&url), None, None))).then_some(())
    })
    .await;
    let (_, note) = bench.wait_event("mine", "Reasserted").await;
    assert!(note.contains(&url), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_removed_from_the_spec_stays_at_edna_and_the_event_says_so() {
    let bench = EdnaBench::start("edna-dropfield").await;
    let status = bench.receiver.url("/status");
    let inbound = bench.receiver.url("/inbound");
    let both = on_shop(&format!(
        "    statusCallbackUrl: {status}\n    inMessageCallbackUrl: {inbound}\n"
    ));
    bench.apply("shrinking", &both);
    bench.wait_ready("shrinking");

    let one = on_shop(&format!("    statusCallbackUrl: {status}\n"));
    bench.apply("shrinking", &one);
    let (_, note) = bench.wait_event("shrinking", "Updated").await;
    assert!(note.contains(&format!("edna keeps {inbound}")), "{note}");
    bench.wait_ready("shrinking");
    let registration = bench
        .api()
        .get("shrinking")
        .await
        .unwrap()
        .status
        .unwrap()
        .registration
        .unwrap();
    assert_eq!(registration.urls, vec![status.clone()]);
    assert_eq!(
        bench.shop_urls(),
        Some(urls(Some(&status), Some(&inbound), None)),
        "edna cannot clear a field, and the operator does not pretend it did"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_that_lost_its_field_to_an_older_one_writes_it_again_once_the_owner_is_gone() {
    let bench = EdnaBench::start("edna-takeback").await;
    let elder_in = bench.receiver.url("/elder-in");
    let elder_status = bench.receiver.url("/elder-status");
    let junior_status = bench.receiver.url("/junior-status");
    bench.apply("elder", &on_shop(&format!("    inMessageCallbackUrl: {elder_in}\n")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    bench.apply("junior", &on_shop(&format!("    statusCallbackUrl: {junior_status}\n")));
    bench.wait_ready("elder");
    bench.wait_ready("junior");

    // The older object starts claiming the younger one's field: it wins and overwrites it at edna.
    bench.apply(
        "elder",
        &on_shop(&format!(
            "    inMessageCallbackUrl: {elder_in}\n    statusCallbackUrl: {elder_status}\n"
        )),
    );
    bench.wait_reason("junior", "Conflict").await;
    eventually("the elder's status URL at edna", Duration::from_secs(30), || async {
        (bench.shop_urls() == Some(urls(Some(&elder_status), Some(&elder_in), None))).then_some(())
    })
    .await;

    // Once the owner is gone the younger object must write again: its old record no longer describes edna.
    bench.delete_and_wait_gone("elder").await;
    bench.wait_ready("junior");
    eventually(
        "the junior's status URL back at edna",
        Duration::from_secs(30),
        || async { (bench.shop_urls() == Some(urls(Some(&junior_status), Some(&elder_in), None))).then_some(()) },
    )
    .await;
}
