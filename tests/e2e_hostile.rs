//! Issue #12 end to end: a tenant cannot turn the operator against anyone. The operator runs as a process at the
//! shipped resync (`--resync-interval 10m`: nothing here waits for a resync), against the simulators' hostile
//! answers, with `--allowed-endpoints http://127.0.0.1`; a bystander on 127.0.0.2 counts every request that reaches
//! a host the allow-list does not name.

mod support;

use provider_simulators::{CountingListener, Fault, SecretForm};
use support::bench::{Bench, SimulatedProvider};
use support::edna::{EdnaBench, on_shop};
use support::envelope::{self, EnvelopeBench, PLAIN_FIELDS};
use support::mail::{self, MailBench};

/// The shipped default, given explicitly so no test depends on the harness's resync.
const DEFAULT_RESYNC: [&str; 2] = ["--resync-interval", "10m"];

/// Every encoded form a hostile provider may echo.
fn forms() -> Vec<SecretForm> {
    vec![
        SecretForm::Plain,
        SecretForm::at_default_boundary(),
        SecretForm::AtTruncationBoundary { offset: 60 },
        SecretForm::JsonEscaped,
        SecretForm::PercentEncoded,
        SecretForm::Base64,
        SecretForm::Base64Url,
        SecretForm::Hex,
    ]
}

/// Fails when any of `secrets`, in any form (or its first half: what a cut through it would leave), appears in the
/// operator's log, the registrations' status or the namespace's Events.
fn assert_nowhere<S: SimulatedProvider>(bench: &Bench<S>, secrets: &[&str]) {
    let places = [
        ("the operator log", bench.operator.log()),
        (
            "status",
            bench
                .cluster
                .kubectl_ok(&["get", "cbr", "-n", &bench.ns.name, "-o", "yaml"]),
        ),
        (
            "Events",
            bench
                .cluster
                .kubectl_ok(&["get", "events.events.k8s.io", "-n", &bench.ns.name, "-o", "yaml"]),
        ),
    ];
    for secret in secrets {
        let mut needles: Vec<String> = forms().iter().map(|f| f.encode(secret)).collect();
        needles.push(secret.bytes().map(|b| format!("{b:02X}")).collect());
        needles.push(secret[..secret.len() / 2].to_string());
        for (place, text) in &places {
            for needle in &needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "{place} holds a form of a secret ({needle}):\n{text}"
                );
            }
        }
    }
}

/// Waits for `name` to hold `reason` and returns its message; the condition names the cause.
async fn reason_of<S: SimulatedProvider>(bench: &Bench<S>, name: &str, reason: &str) -> String {
    let (status, message) = bench.wait_reason(name, reason).await;
    assert_eq!(status, "False", "{name}: {message}");
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_endpoints_and_redirects_reach_no_other_host_and_stall_with_their_reason() {
    let bystander = CountingListener::start_on_second_loopback().await.unwrap();
    let bench = MailBench::start_with("hostile-steer", &DEFAULT_RESYNC).await;
    let url = bench.receiver.url("/hook");

    // 1. The reported bypass: userinfo that looks like the allowed host, the real host after the `@`.
    let steer = format!("http://127.0.0.1:x@{}/ru/transactional/api/v1", bystander.addr());
    bench
        .ns
        .put_secret("steer", &[("apiKey", &bench.creds.key), ("endpoint", &steer)])
        .await;
    bench
        .cluster
        .apply_ok(&bench.registration_using("steer", "steer", &mail::block(&url, ""), ""));
    let message = reason_of(&bench, "steer", "EndpointNotAllowed").await;
    assert!(message.contains("userinfo"), "{message}");
    assert!(
        !message.contains("127.0.0.1:x"),
        "status never shows userinfo: {message}"
    );

    // 2. Redirects of every kind, to the bystander: stalled, naming the target host, nothing sent there.
    for (i, status) in [301, 302, 303, 307, 308].into_iter().enumerate() {
        let name = format!("redirected-{status}");
        bench.sim.inject(
            Fault::redirect(status, &bystander.url("/ru/transactional/api/v1/webhook/get.json")),
            1,
        );
        bench.apply(&name, &mail::block(&bench.receiver.url(&format!("/r{i}")), ""));
        let message = reason_of(&bench, &name, "ProviderRedirected").await;
        assert!(
            message.contains(&format!("HTTP {status}")) && message.contains("127.0.0.2"),
            "{message}"
        );
    }

    // An honest registration beside them is unaffected.
    bench.apply("honest", &mail::block(&url, ""));
    bench.wait_ready("honest");
    assert_eq!(
        bystander.count(),
        0,
        "a host the allow-list does not name was reached: {:?}",
        bystander.requests()
    );
    assert_nowhere(&bench, &[&bench.creds.key]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirected_docstudio_login_never_resends_the_password() {
    let bystander = CountingListener::start_on_second_loopback().await.unwrap();
    let bench = EnvelopeBench::start_with("hostile-login", &DEFAULT_RESYNC).await;
    for status in [307, 308] {
        bench
            .sim
            .inject_for("login", Fault::redirect(status, &bystander.url("/api/login")), 1);
    }
    bench.cluster.apply_ok(&bench.registration_using(
        "login-redirected",
        "login-creds",
        &envelope::block(&bench.receiver.url("/cb"), PLAIN_FIELDS),
        "",
    ));
    let message = reason_of(&bench, "login-redirected", "ProviderRedirected").await;
    assert!(message.contains("127.0.0.2"), "{message}");
    assert_eq!(
        bystander.count(),
        0,
        "the login body went to {:?}",
        bystander.requests()
    );
    assert_nowhere(&bench, &[&bench.creds.password, &bench.creds.token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn echoed_mail_and_edna_keys_never_reach_logs_events_or_status_in_any_form() {
    // Unisender Go: the error message echoes the X-API-KEY. A new registration's one call is its `set`, and a `set`
    // refused with a code the contract does not list is read as the receiver check failing (retryable).
    // Every `set` echoes while a form is under test, not just the next one: the objects of earlier forms retry on
    // their backoff (2 s), and a retry that took the one queued fault made the new object Ready instead (seen under
    // `make test` load, when the forms took longer than the first backoff). Their retries now echo too.
    let bench = MailBench::start_with("hostile-echo-mail", &DEFAULT_RESYNC).await;
    for (i, form) in forms().into_iter().enumerate() {
        bench.sim.clear_faults();
        bench.sim.inject_for("webhook/set", Fault::echo_secret(form), u32::MAX);
        let name = format!("echo-{i}");
        bench.apply(&name, &mail::block(&bench.receiver.url(&format!("/e{i}")), ""));
        let message = reason_of(&bench, &name, "ReceiverCheckFailed").await;
        assert!(
            message.contains("<redacted>"),
            "the echo was seen and redacted: {message}"
        );
    }
    bench.sim.clear_faults();
    assert_nowhere(&bench, &[&bench.creds.key]);
    drop(bench);

    // edna Pulse: an RFC 7807 problem whose detail echoes the key. One channel field can be claimed by one
    // registration at a time, so each is deleted before the next.
    let bench = EdnaBench::start_with("hostile-echo-edna", &DEFAULT_RESYNC).await;
    for (i, form) in forms().into_iter().enumerate() {
        bench.sim.inject_for("callback/set", Fault::echo_secret(form), 1);
        let name = format!("echo-{i}");
        let url = bench.receiver.url(&format!("/e{i}"));
        bench.apply(&name, &on_shop(&format!("    statusCallbackUrl: {url}\n")));
        reason_of(&bench, &name, "ProviderRejected").await;
        bench.delete_and_wait_gone(&name).await;
    }
    assert_nowhere(&bench, &[&bench.creds.key]);
}

#[tokio::test(flavor = "multi_thread")]
async fn echoed_docstudio_tokens_and_passwords_never_reach_logs_events_or_status() {
    let bench = EnvelopeBench::start_with("hostile-echo-env", &DEFAULT_RESYNC).await;
    let block = |path: &str| envelope::block(&bench.receiver.url(path), PLAIN_FIELDS);

    // The application token, echoed by callback/list in every form.
    for (i, form) in forms().into_iter().enumerate() {
        bench.sim.inject_for("callback/list", Fault::echo_secret(form), 1);
        let name = format!("token-{i}");
        bench.apply(&name, &block(&format!("/t{i}")));
        reason_of(&bench, &name, "ProviderRejected").await;
    }

    // The login token the operator obtained (never in any Secret), echoed by callback/list.
    bench
        .sim
        .inject_for("callback/list", Fault::echo_secret(SecretForm::Base64), 1);
    bench
        .cluster
        .apply_ok(&bench.registration_using("login-token", "login-creds", &block("/lt"), ""));
    reason_of(&bench, "login-token", "ProviderRejected").await;
    let login_token = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "callback/list")
        .filter_map(|r| r.credential)
        .find(|c| c != &bench.creds.token)
        .expect("a call made with the login token");

    // A password, echoed by the login answer (a wrong one: the breaker stalls it as invalid credentials).
    let wrong = format!("wrong-pw-{}", uuid::Uuid::new_v4().simple());
    bench
        .ns
        .put_secret(
            "wrong-login",
            &[
                ("login", &bench.creds.login),
                ("password", &wrong),
                ("endpoint", bench.sim.base_url()),
            ],
        )
        .await;
    bench
        .sim
        .inject_for("login", Fault::echo_secret(SecretForm::PercentEncoded), 1);
    bench
        .cluster
        .apply_ok(&bench.registration_using("wrong-login", "wrong-login", &block("/wl"), ""));
    reason_of(&bench, "wrong-login", "InvalidCredentials").await;

    assert_nowhere(
        &bench,
        &[&bench.creds.token, &login_token, &wrong, &bench.creds.password],
    );
}
