//! DocStudio (envelope) end to end: real apiserver, the operator process, the envelope simulator over HTTP.
//! DocStudio has no update and no idempotency, so most tests count callbacks: there must always be exactly one.

mod support;

use std::time::{Duration, Instant};

use kube::api::DeleteParams;
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSimulator, User};
use provider_simulators::{Fault, Receiver};
use serde_json::json;
use support::bench::manifest;
use support::envelope::{self, EnvelopeBench, MAILBOX, PLAIN_FIELDS};
use support::{Cluster, Operator, TestNamespace, eventually, ready_condition, wait_for_reason, wait_gone};

#[tokio::test(flavor = "multi_thread")]
async fn applied_registration_becomes_ready_and_the_simulator_holds_exactly_one_callback_with_the_desired_fields() {
    // Also about what resyncs do with DocStudio's normalised echo: a short interval so two resyncs fit in the test.
    let bench = EnvelopeBench::start_with("env-apply", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/docstudio");
    // Upper-case uuids, an offset date, lists in any order: DocStudio echoes them normalised, and the operator
    // must see that as equal (no replacement on every resync).
    let fields = "    retries: 4
    timeoutMs: 2500
    successCode: 204
    filter:
      labels: [AAAAAAAA-0000-4000-8000-000000000001]
      statuses: [WAITING, COMPLETED]
      subject: Invoice
      receiveDateFrom: \"2026-01-02T03:04:05+02:00\"
      expireDateTo: \"2026-12-31T23:59:59Z\"
      scopes: [outbox, inbox]
";
    bench.apply("orders", &envelope::block(&url, fields));
    bench.wait_ready("orders");

    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "exactly one callback: {callbacks:?}");
    let callback = &callbacks[0];
    assert_eq!(callback.url, url);
    assert_eq!(
        (callback.retries, callback.timeout, callback.success_code),
        (4, 2500, 204)
    );
    assert_eq!(callback.auth_type(), "NONE");
    let filter = serde_json::to_value(&callback.filter).unwrap();
    assert_eq!(filter["label"], json!(["aaaaaaaa-0000-4000-8000-000000000001"]));
    let mut statuses = callback.filter.status.clone().unwrap();
    statuses.sort();
    assert_eq!(statuses, ["COMPLETED", "WAITING"]);
    assert_eq!(filter["subject"], json!("Invoice"));
    assert_eq!(filter["receiveDateFrom"], json!("2026-01-02T01:04:05.000Z"));
    assert_eq!(filter["expireDateTo"], json!("2026-12-31T23:59:59.000Z"));
    let mut scopes = callback.filter.scope.clone().unwrap();
    scopes.sort();
    assert_eq!(scopes, ["inbox", "outbox"]);

    let obj = bench.api().get("orders").await.unwrap();
    let status = obj.status.clone().unwrap();
    assert_eq!(status.provider.as_deref(), Some("envelope"));
    assert_eq!(status.target.as_deref(), Some(url.as_str()));
    let registration = status.registration.unwrap();
    assert_eq!(registration.id, Some(callback.id.to_string()));
    assert_eq!(registration.mailbox.as_deref(), Some(MAILBOX));
    assert_eq!(registration.urls, vec![url.clone()]);
    assert!(registration.account.unwrap().starts_with(bench.sim.base_url()));
    assert_eq!(
        bench.sim.count_for(&bench.creds.token, "callback/add"),
        1,
        "the token was used as Bearer"
    );

    // Resyncs compare the normalised echo as equal: nothing is replaced.
    bench.wait_for_lists(2).await;
    assert_eq!(bench.sim.count("callback/add"), 1);
    assert_eq!(bench.sim.count("callback/remove"), 0);
    let table = bench.cluster.kubectl_ok(&["get", "cbr", "-n", &bench.ns.name]);
    assert!(
        table.contains("envelope") && table.contains(&url) && table.contains("True"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_add_answer_is_adopted_on_the_next_pass_leaving_exactly_one_callback() {
    let bench = EnvelopeBench::start("env-lost").await;
    bench.sim.inject_for("callback/add", Fault::CrashAfterAdd, 1);
    let url = bench.receiver.url("/lost");
    bench.apply("lost", &envelope::block(&url, PLAIN_FIELDS));
    bench.wait_ready("lost");

    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "exactly one callback: {callbacks:?}");
    assert_eq!(bench.sim.count("callback/add"), 1, "never added twice");
    bench.wait_recorded_id("lost", &callbacks[0].id.to_string()).await;
    bench
        .wait_event_mentioning("lost", "Adopted", &callbacks[0].id.to_string())
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_killed_between_add_and_status_write_leaves_exactly_one_callback_after_restart() {
    let mut bench = EnvelopeBench::start("env-kill").await;
    // The add is performed, and its answer held back until the operator gives up: kill it inside that window.
    bench.sim.inject_for("callback/add", Fault::HangAfterHandling, 1);
    let url = bench.receiver.url("/killed");
    bench.apply("killed", &envelope::block(&url, PLAIN_FIELDS));
    eventually("the add reached the simulator", Duration::from_secs(30), || async {
        (bench.callbacks().len() == 1).then_some(())
    })
    .await;
    bench.operator.kill();
    assert!(
        bench.registration_status("killed").await.and_then(|r| r.id).is_none(),
        "the operator died before recording the id"
    );

    bench.restart_operator();
    bench.wait_ready("killed");
    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "exactly one callback: {callbacks:?}");
    assert_eq!(bench.sim.count("callback/add"), 1, "never added twice");
    bench.wait_recorded_id("killed", &callbacks[0].id.to_string()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_existing_callback_with_the_same_url_is_adopted_not_duplicated() {
    let bench = EnvelopeBench::start("env-adopt").await;
    let url = bench.receiver.url("/existing");
    let existing = bench
        .sim
        .put_callback(
            MAILBOX,
            json!({"filter": {}, "url": url, "retries": 3, "timeout": 5000}),
        )
        .unwrap();
    bench.apply("existing", &envelope::block(&url, PLAIN_FIELDS));
    bench.wait_ready("existing");

    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "exactly one callback: {callbacks:?}");
    assert_eq!(callbacks[0].id, existing.id, "the existing callback is kept");
    assert_eq!(bench.sim.count("callback/add"), 0);
    bench.wait_recorded_id("existing", &existing.id.to_string()).await;
    bench
        .wait_event_mentioning("existing", "Adopted", &existing.id.to_string())
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_change_leaves_exactly_one_callback_with_the_new_fields_and_the_old_id_gone() {
    let bench = EnvelopeBench::start("env-change").await;
    let url = bench.receiver.url("/change");
    bench.apply("change", &envelope::block(&url, PLAIN_FIELDS));
    bench.wait_ready("change");
    let old = bench.callbacks()[0].id;

    let changed = "    retries: 7\n    timeoutMs: 9000\n    filter:\n      statuses: [EXPIRED]\n";
    bench.apply("change", &envelope::block(&url, changed));
    let new = eventually("the callback replaced", Duration::from_secs(30), || async {
        let callbacks = bench.callbacks();
        (callbacks.len() == 1 && callbacks[0].id != old).then(|| callbacks[0].clone())
    })
    .await;
    assert_eq!((new.retries, new.timeout), (7, 9000));
    assert_eq!(new.filter.status, Some(vec!["EXPIRED".to_string()]));
    assert!(bench.callbacks().iter().all(|c| c.id != old), "the old id is gone");
    bench.wait_recorded_id("change", &new.id.to_string()).await;
    let (_, note) = bench
        .wait_event_mentioning("change", "Updated", &new.id.to_string())
        .await;
    assert!(note.contains(&old.to_string()), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_basic_auth_password_replaces_the_callback_and_the_password_is_never_shown() {
    let bench = EnvelopeBench::start("env-basic").await;
    let first = format!("first-hook-pw-{}", uuid::Uuid::new_v4().simple());
    let second = format!("second-hook-pw-{}", uuid::Uuid::new_v4().simple());
    bench
        .ns
        .put_secret("hook-auth", &[("user", "hook-user"), ("pass", &first)])
        .await;
    let url = bench.receiver.url("/basic");
    let fields = format!(
        "{PLAIN_FIELDS}    basicAuthSecretRef:\n      name: hook-auth\n      usernameKey: user\n      passwordKey: pass\n"
    );
    bench.apply("basic", &envelope::block(&url, &fields));
    bench.wait_ready("basic");
    let before = bench.callbacks();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].login.as_deref(), Some("hook-user"));
    assert_eq!(before[0].password.as_deref(), Some(first.as_str()));
    assert_eq!(before[0].auth_type(), "BASIC");

    let rotated_at = Instant::now();
    bench
        .ns
        .put_secret("hook-auth", &[("user", "hook-user"), ("pass", &second)])
        .await;
    let after = eventually(
        "the callback replaced with the new password",
        Duration::from_secs(30),
        || async {
            let callbacks = bench.callbacks();
            (callbacks.len() == 1 && callbacks[0].password.as_deref() == Some(second.as_str()))
                .then(|| callbacks[0].clone())
        },
    )
    .await;
    eprintln!("basic-auth rotation picked up in {:?}", rotated_at.elapsed());
    assert_ne!(after.id, before[0].id);
    bench.wait_recorded_id("basic", &after.id.to_string()).await;
    bench
        .wait_event_mentioning("basic", "Updated", "basic-auth credentials")
        .await;

    // A provider error that echoes the password must not carry it into status, Events or the log either.
    let third = format!("third-hook-pw-{}", uuid::Uuid::new_v4().simple());
    let echo = Fault::Status {
        status: 400,
        body: json!({"code": 400, "message": format!("password {third} is not accepted")}),
    };
    bench.sim.inject_for("callback/add", echo, 1);
    bench
        .ns
        .put_secret("hook-auth", &[("user", "hook-user"), ("pass", &third)])
        .await;
    // The refusal stalls the object (ProviderRejected waits for the user), so its trace is the Event; the user then
    // writes the Secret once more, which is what wakes the object again at the default resync.
    bench
        .wait_event_mentioning("basic", "ProviderRejected", "password <redacted> is not accepted")
        .await;
    bench
        .ns
        .put_secret("hook-auth", &[("user", "hook-user"), ("pass", &third)])
        .await;
    eventually("the third password applied", Duration::from_secs(30), || async {
        let callbacks = bench.callbacks();
        (callbacks.len() == 1 && callbacks[0].password.as_deref() == Some(third.as_str())).then_some(())
    })
    .await;
    bench.wait_ready("basic");

    let status = bench
        .cluster
        .kubectl_ok(&["get", "cbr", "basic", "-n", &bench.ns.name, "-o", "yaml"]);
    let events = bench
        .cluster
        .kubectl_ok(&["get", "events", "-n", &bench.ns.name, "-o", "yaml"]);
    let log = bench.operator.log();
    assert!(
        log.contains("ProviderRejected"),
        "the operator logged the refusal:\n{log}"
    );
    for (place, text) in [("status", &status), ("Events", &events), ("operator log", &log)] {
        for password in [&first, &second, &third] {
            assert!(!text.contains(password.as_str()), "the password appears in the {place}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_token_is_shared_by_registrations_renewed_after_expiry_and_renewed_once_after_revocation() {
    // An expired or revoked token is met on the next periodic resync: a short interval so resyncs fit in the test.
    let bench = EnvelopeBench::start_with("env-login", &["--resync-interval", "4s"]).await;
    let names: Vec<String> = (0..5).map(|i| format!("login-{i}")).collect();
    for name in &names {
        let url = bench.receiver.url(&format!("/{name}"));
        bench.cluster.apply_ok(&bench.registration_using(
            name,
            "login-creds",
            &envelope::block(&url, PLAIN_FIELDS),
            "",
        ));
    }
    for name in &names {
        bench.wait_ready(name);
    }
    assert_eq!(bench.callbacks().len(), names.len());
    assert_eq!(bench.sim.login_count(), 1, "one login for every registration");

    // 12 simulated hours later the token is refused: one new login serves everyone.
    bench.sim.advance_clock(Duration::from_secs(12 * 3600 + 60));
    eventually("a new login after expiry", Duration::from_secs(30), || async {
        (bench.sim.login_count() == 2).then_some(())
    })
    .await;
    bench.wait_for_lists(2 * names.len() as u64).await;
    assert_eq!(bench.sim.login_count(), 2);

    // Revoked tokens: 401, exactly one re-login, no credential failure.
    bench.sim.revoke_tokens();
    eventually("a new login after revocation", Duration::from_secs(30), || async {
        (bench.sim.login_count() == 3).then_some(())
    })
    .await;
    bench.wait_for_lists(2 * names.len() as u64).await;
    assert_eq!(bench.sim.login_count(), 3);
    for name in &names {
        let obj = bench.api().get(name).await.unwrap();
        assert_eq!(ready_condition(&obj).map(|c| c.0), Some("True".to_string()), "{name}");
    }
    assert_eq!(bench.callbacks().len(), names.len(), "nothing was duplicated");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_login_password_stalls_with_invalid_credentials() {
    let bench = EnvelopeBench::start("env-badpw").await;
    let wrong = format!("wrong-pw-{}", uuid::Uuid::new_v4().simple());
    bench
        .ns
        .put_secret(
            "bad-creds",
            &[
                ("login", &bench.creds.login),
                ("password", &wrong),
                ("endpoint", bench.sim.base_url()),
            ],
        )
        .await;
    let url = bench.receiver.url("/refused");
    bench
        .cluster
        .apply_ok(&bench.registration_using("refused", "bad-creds", &envelope::block(&url, PLAIN_FIELDS), ""));
    let (status, message) =
        wait_for_reason(&bench.api(), "refused", "InvalidCredentials", Duration::from_secs(30)).await;
    assert_eq!(status, "False");
    assert!(!message.contains(&wrong), "{message}");
    assert!(bench.callbacks().is_empty());
    assert_eq!(bench.sim.login_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_deleted_behind_the_operators_back_is_recreated_on_the_next_resync() {
    // About drift found by the periodic resync: a short interval so one resync fits in the test.
    let bench = EnvelopeBench::start_with("env-drift", &["--resync-interval", "4s"]).await;
    let url = bench.receiver.url("/drift");
    bench.apply("drift", &envelope::block(&url, PLAIN_FIELDS));
    bench.wait_ready("drift");
    let old = bench.callbacks()[0].id;
    bench.wait_recorded_id("drift", &old.to_string()).await;

    assert!(bench.sim.remove_callback(MAILBOX, old));
    let new = eventually("the callback re-created", Duration::from_secs(30), || async {
        let callbacks = bench.callbacks();
        (callbacks.len() == 1).then(|| callbacks[0].clone())
    })
    .await;
    assert_ne!(new.id, old);
    assert_eq!(new.url, url);
    bench.wait_recorded_id("drift", &new.id.to_string()).await;
    bench
        .wait_event_mentioning("drift", "DriftCorrected", &new.id.to_string())
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_registration_removes_the_callback_at_the_provider_and_orphan_leaves_it() {
    let bench = EnvelopeBench::start("env-delete").await;
    let gone = bench.receiver.url("/gone");
    let kept = bench.receiver.url("/kept");
    bench.apply("gone", &envelope::block(&gone, PLAIN_FIELDS));
    bench.cluster.apply_ok(&bench.registration(
        "kept",
        &envelope::block(&kept, PLAIN_FIELDS),
        "  deletionPolicy: Orphan\n",
    ));
    bench.wait_ready("gone");
    bench.wait_ready("kept");
    assert_eq!(bench.callbacks().len(), 2);

    bench.api().delete("gone", &DeleteParams::default()).await.unwrap();
    bench.api().delete("kept", &DeleteParams::default()).await.unwrap();
    wait_gone(&bench.api(), &["gone", "kept"], Duration::from_secs(30)).await;
    let left: Vec<String> = bench.callbacks().into_iter().map(|c| c.url).collect();
    assert_eq!(left, vec![kept], "Delete removed its callback, Orphan left its one");
    assert_eq!(bench.sim.count("callback/remove"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_apply_refuses_invalid_envelope_input_with_the_rules_message() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "env-invalid").await;
    let object = |fields: &str| {
        let block = format!("    url: https://hooks.example/docstudio\n{fields}");
        manifest(&ns.name, "bad", "creds", "envelope", &block, "")
    };
    let valid = format!("    mailbox: {MAILBOX}\n");
    let cases = [
        (
            format!("{valid}    retries: 11\n    timeoutMs: 5000\n"),
            "spec.envelope.retries: Invalid value: 11: spec.envelope.retries in body should be less than or equal to 10",
        ),
        (
            format!("{valid}    retries: 3\n    timeoutMs: 99\n"),
            "spec.envelope.timeoutMs: Invalid value: 99: spec.envelope.timeoutMs in body should be greater than or equal to 100",
        ),
        (
            "    mailbox: my-mailbox\n    retries: 3\n    timeoutMs: 5000\n".to_string(),
            "spec.envelope.mailbox in body should match",
        ),
        (
            format!("{valid}    retries: 3\n    timeoutMs: 5000\n    filter:\n      statuses: [WAITING, ARCHIVED]\n"),
            "spec.envelope.filter.statuses[1]: Unsupported value: \"ARCHIVED\": supported values: \"WAITING\", \"COMPLETED\", \"CANCELLED\", \"EXPIRED\"",
        ),
    ];
    for (fields, expected) in cases {
        let (ok, output) = cluster.apply(&object(&fields));
        assert!(!ok, "accepted:\n{fields}");
        assert!(output.contains(expected), "expected {expected:?} in:\n{output}");
    }
    let api: kube::Api<callback_operator::api::CallbackRegistration> =
        kube::Api::namespaced(cluster.client.clone(), &ns.name);
    assert!(api.get_opt("bad").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_manifest_becomes_ready_against_the_demo_simulator_credentials() {
    // The credentials the demo starts the simulator binary with (--envelope-token, --envelope-user).
    const DEMO_MAILBOX: &str = "3f2b6c1e-9d4a-4e7b-8c2d-5a6f7e8d9c01";
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "env-example").await;
    let sim = EnvelopeSimulator::start(EnvelopeConfig {
        tokens: vec![("demo-envelope-token".into(), vec![DEMO_MAILBOX.into()])],
        users: vec![User {
            login: "demo@example.com".into(),
            password: "demo-password".into(),
            mailboxes: vec![DEMO_MAILBOX.into()],
        }],
        ..EnvelopeConfig::default()
    })
    .await
    .unwrap();
    let receiver = Receiver::start().await.unwrap();
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/envelope.yaml")).unwrap();
    // Into this test's namespace, at this test's simulator and receiver ports.
    let documents: Vec<&str> = manifest
        .split("\n---\n")
        .filter(|d| !d.contains("kind: Namespace"))
        .collect();
    let yaml = documents
        .join("\n---\n")
        .replace("namespace: callback-demo", &format!("namespace: {}", ns.name))
        .replace("http://127.0.0.1:18083", sim.base_url())
        .replace("https://127.0.0.1:18443/", &receiver.url("/"));
    cluster.apply_ok(&yaml);
    let _operator = Operator::start(&cluster, &[&ns.name], &[]);
    cluster.wait_ready(&ns.name, "signed-contracts");
    cluster.wait_ready(&ns.name, "expiring-envelopes");

    let callbacks = sim.callbacks(DEMO_MAILBOX);
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    let contracts = callbacks
        .iter()
        .find(|c| c.url.ends_with("/docstudio/contracts"))
        .unwrap();
    assert_eq!(contracts.login.as_deref(), Some("docstudio"));
    assert_eq!((contracts.retries, contracts.timeout), (5, 10000));
    assert_eq!(sim.login_count(), 1, "the login Secret was exchanged for a token");
}
