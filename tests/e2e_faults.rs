//! The fault matrix (docs/reliability.md): one fault per test, at the operator's shipped defaults (10-minute resync,
//! 2 s..5 min backoff, 30 s provider timeout), against the real apiserver, the operator process and the simulators.
//! Each test names the fault, the expected end state, and checks it. Faults that restart the apiserver or etcd need
//! their own control plane: tests/e2e_faults_control_plane.rs (`make soak`).
//!
//! Tests that need the provider to be read again soon after an out-of-band change set the object's own
//! `spec.resyncInterval: 10s` (a user setting); the operator's default stays 10 minutes.

mod support;

#[path = "soak/defaults.rs"]
mod defaults;
#[path = "soak/proxy.rs"]
mod proxy;

use std::time::Duration;

use defaults::OPERATOR_DEFAULTS as DEFAULTS;
use k8s_openapi::api::core::v1::Secret;
use kube::api::DeleteParams;
use provider_simulators::Fault;
use provider_simulators::mail::MailSim;
use support::bench::{SimulatedProvider, manifest};
use support::edna::{self as edna_bench, EdnaBench};
use support::envelope::{self as envelope_bench, EnvelopeBench, MAILBOX, PLAIN_FIELDS};
use support::lease::{LEASE, election_args, wait_for_holder_to_be};
use support::mail::{self, MailBench};
use support::{Cluster, Operator, TestNamespace, eventually};

const OWN_RESYNC: &str = "  resyncInterval: 10s\n";

fn fresh_key(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

// ------------------------------------------------------------------------------------------------ provider answers

/// Fault: the provider answers 500, then 502, then 503 to the write. End state: Ready, one webhook, four sets.
#[tokio::test(flavor = "multi_thread")]
async fn provider_500_502_503_are_retried_with_backoff_until_ready() {
    let bench = MailBench::start_with("fault-5xx", DEFAULTS).await;
    for status in [500, 502, 503] {
        bench.sim.inject_for("webhook/set", Fault::status(status), 1);
    }
    let url = bench.receiver.url("/5xx");
    bench.apply("r", &mail::block(&url, ""));
    bench.wait_reason("r", "ProviderUnavailable").await;
    bench.wait_ready("r");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
    assert_eq!(bench.sim.count("webhook/set"), 4, "three failures, one success");
}

/// Fault: 429 with Retry-After: 4 on the envelope add. End state: Ready, one callback; the retry waited ≥ 4 s.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_429_with_retry_after_is_honoured_then_ready() {
    let bench = EnvelopeBench::start_with("fault-429", DEFAULTS).await;
    bench
        .sim
        .inject_for("callback/add", Fault::RateLimited { retry_after_secs: 4 }, 1);
    let url = bench.receiver.url("/429");
    bench.apply("r", &envelope_bench::block(&url, PLAIN_FIELDS));
    bench.wait_ready("r");
    let adds: Vec<_> = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "callback/add")
        .collect();
    let waited = adds[1].at.duration_since(adds[0].at).unwrap();
    assert_eq!(adds[0].status, 429);
    assert!(waited >= Duration::from_secs(4), "retried after {waited:?}");
    assert_eq!(bench.callbacks().len(), 1);
}

/// Fault: edna never answers the set (the 30 s provider timeout fires). End state: ProviderTimeout, then Ready
/// with the URL set.
#[tokio::test(flavor = "multi_thread")]
async fn provider_timeout_is_reported_and_retried_until_ready() {
    let bench = EdnaBench::start_with("fault-timeout", DEFAULTS).await;
    bench.sim.inject_for("callback/set", Fault::Hang, 1);
    let url = bench.receiver.url("/edna/timeout");
    bench.apply("r", &edna_bench::on_shop(&format!("    statusCallbackUrl: {url}\n")));
    let api = bench.api();
    support::wait_for_reason(&api, "r", "ProviderTimeout", Duration::from_secs(60)).await;
    bench.wait_ready("r");
    assert_eq!(bench.shop_urls().unwrap().status_callback_url, Some(url));
}

/// Fault: a slow provider, 3 s per call. End state: Ready, exactly one callback added.
#[tokio::test(flavor = "multi_thread")]
async fn slow_provider_seconds_per_call_still_converges_without_duplicates() {
    let bench = EnvelopeBench::start_with("fault-slow", DEFAULTS).await;
    bench.sim.set_latency(Duration::from_secs(3));
    let url = bench.receiver.url("/slow");
    bench.apply("r", &envelope_bench::block(&url, PLAIN_FIELDS));
    bench.wait_ready("r");
    assert_eq!(bench.callbacks().len(), 1);
    assert_eq!(bench.sim.count("callback/add"), 1);
}

/// Fault: the connection is reset in the middle of the response body (a proxy cuts two answers). End state:
/// Ready, one webhook.
#[tokio::test(flavor = "multi_thread")]
async fn connection_reset_mid_body_is_retried_until_ready() {
    let bench = MailBench::start_with("fault-reset", DEFAULTS).await;
    let sim_addr: std::net::SocketAddr = bench
        .sim
        .base_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = proxy::ResetProxy::start(sim_addr).await;
    let endpoint = format!("http://{}/ru/transactional/api/v1", proxy.addr);
    bench
        .ns
        .put_secret("proxied", &[("apiKey", &bench.creds.key), ("endpoint", &endpoint)])
        .await;
    proxy.reset_next(2);
    let url = bench.receiver.url("/reset");
    bench
        .cluster
        .apply_ok(&bench.registration_using("r", "proxied", &mail::block(&url, ""), ""));
    bench.wait_ready("r");
    assert_eq!(proxy.pending(), 0, "both answers were cut");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
}

// ---------------------------------------------------------------------------- the answer to a write is lost

/// Fault: mail handles the set, then the connection closes before the answer. End state: Ready, one webhook.
#[tokio::test(flavor = "multi_thread")]
async fn response_dropped_after_a_mail_write_converges_to_one_webhook() {
    let bench = MailBench::start_with("fault-drop-mail", DEFAULTS).await;
    bench.sim.inject_for("webhook/set", Fault::CrashAfterAdd, 1);
    let url = bench.receiver.url("/drop");
    bench.apply("r", &mail::block(&url, ""));
    bench.wait_ready("r");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
}

/// Fault: edna handles the set, then the answer is lost. End state: Ready, the URL set once more (idempotent).
#[tokio::test(flavor = "multi_thread")]
async fn response_dropped_after_an_edna_write_converges_to_the_url() {
    let bench = EdnaBench::start_with("fault-drop-edna", DEFAULTS).await;
    bench.sim.inject_for("callback/set", Fault::CrashAfterAdd, 1);
    let url = bench.receiver.url("/edna/drop");
    bench.apply("r", &edna_bench::on_shop(&format!("    statusCallbackUrl: {url}\n")));
    bench.wait_ready("r");
    assert_eq!(bench.shop_urls().unwrap().status_callback_url, Some(url));
}

/// Fault: DocStudio adds the callback, then the answer is lost (the add is not idempotent). End state: Ready,
/// exactly one callback, its id in status.
#[tokio::test(flavor = "multi_thread")]
async fn response_dropped_after_an_envelope_add_leaves_one_callback() {
    let bench = EnvelopeBench::start_with("fault-drop-env", DEFAULTS).await;
    bench.sim.inject_for("callback/add", Fault::CrashAfterAdd, 1);
    let url = bench.receiver.url("/drop");
    bench.apply("r", &envelope_bench::block(&url, PLAIN_FIELDS));
    bench.wait_ready("r");
    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    bench.wait_recorded_id("r", &callbacks[0].id.to_string()).await;
}

// ------------------------------------------------------- the operator dies between a provider write and status

/// Fault: SIGKILL after mail stored the webhook, before the status write. End state (after a restart): Ready,
/// one webhook.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_a_mail_write_and_its_status_write() {
    let mut bench = MailBench::start_with("fault-kill-mail", DEFAULTS).await;
    bench.sim.inject_for("webhook/set", Fault::HangAfterHandling, 1);
    let url = bench.receiver.url("/kill");
    bench.apply("r", &mail::block(&url, ""));
    let (sim, key) = (bench.sim.clone(), bench.creds.key.clone());
    eventually("the webhook at the provider", Duration::from_secs(30), || {
        let found = sim.webhook(&key, &url).is_some();
        async move { found.then_some(()) }
    })
    .await;
    bench.operator.kill();
    assert!(
        bench.registration_status("r").await.is_none(),
        "killed before the status write"
    );
    bench.sim.clear_faults();
    bench.restart_operator();
    bench.wait_ready("r");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
}

/// Fault: SIGKILL after edna stored the URL, before the status write. End state: Ready, the URL held.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_an_edna_write_and_its_status_write() {
    let mut bench = EdnaBench::start_with("fault-kill-edna", DEFAULTS).await;
    bench.sim.inject_for("callback/set", Fault::HangAfterHandling, 1);
    let url = bench.receiver.url("/edna/kill");
    bench.apply("r", &edna_bench::on_shop(&format!("    statusCallbackUrl: {url}\n")));
    eventually("the URL at edna", Duration::from_secs(30), || {
        let held = bench.shop_urls().and_then(|u| u.status_callback_url) == Some(url.clone());
        async move { held.then_some(()) }
    })
    .await;
    bench.operator.kill();
    bench.sim.clear_faults();
    bench.restart_operator();
    bench.wait_ready("r");
    assert_eq!(bench.shop_urls().unwrap().status_callback_url, Some(url));
}

/// Fault: SIGKILL after DocStudio added the callback, before the status write (the classic duplicate). End state:
/// Ready, exactly one callback (adopted, not added again), its id in status.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_between_an_envelope_add_and_its_status_write() {
    let mut bench = EnvelopeBench::start_with("fault-kill-env", DEFAULTS).await;
    bench.sim.inject_for("callback/add", Fault::HangAfterHandling, 1);
    let url = bench.receiver.url("/kill");
    bench.apply("r", &envelope_bench::block(&url, PLAIN_FIELDS));
    eventually("the callback at DocStudio", Duration::from_secs(30), || {
        let n = bench.callbacks().len();
        async move { (n == 1).then_some(()) }
    })
    .await;
    bench.operator.kill();
    bench.sim.clear_faults();
    bench.restart_operator();
    bench.wait_ready("r");
    let callbacks = bench.callbacks();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(bench.sim.count("callback/add"), 1, "adopted, not added again");
    bench.wait_recorded_id("r", &callbacks[0].id.to_string()).await;
}

/// Fault: two replicas; the leader is SIGKILLed after its write reached mail, before its status write. End
/// state: the standby takes the Lease (15 s default duration) and the object is Ready with one webhook, the same
/// `set` repeated at most once.
#[tokio::test(flavor = "multi_thread")]
async fn leader_loss_mid_write_with_two_replicas() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "fault-leader").await;
    let ns_name = ns.name.clone();
    let args = |identity: &str| {
        let mut args = election_args(&ns_name, identity, "15s");
        args.extend(DEFAULTS.iter().map(|s| s.to_string()));
        args
    };
    let (first, second) = (args("first"), args("second"));
    let for_first = cluster.clone();
    let mut bench = MailBench::start_in(cluster.clone(), ns, move |ns| {
        let args: Vec<&str> = first.iter().map(String::as_str).collect();
        Operator::start(&for_first, &[&ns.name], &args)
    })
    .await;
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "first", Duration::from_secs(30)).await;
    let second_args: Vec<&str> = second.iter().map(String::as_str).collect();
    let _standby = Operator::start(&cluster, &[&ns_name], &second_args);
    bench.sim.inject_for("webhook/set", Fault::HangAfterHandling, 1);
    let url = bench.receiver.url("/leader");
    bench.apply("r", &mail::block(&url, ""));
    let (sim, key) = (bench.sim.clone(), bench.creds.key.clone());
    eventually("the webhook at the provider", Duration::from_secs(30), || {
        let found = sim.webhook(&key, &url).is_some();
        async move { found.then_some(()) }
    })
    .await;
    bench.operator.kill();
    bench.sim.clear_faults();
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "second", Duration::from_secs(60)).await;
    bench.wait_ready("r");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
    // The killed leader's status write never happened, so to the standby the registration never synced: it repeats
    // the same create-or-replace `set` once (keyed by url: the same webhook, not a second one), and no more.
    let sets: Vec<_> = bench
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.op == "webhook/set" && r.body["url"] == *url)
        .collect();
    assert!(sets.len() <= 2, "the lost set, then at most its one repeat: {sets:?}");
    assert!(
        sets.iter().all(|s| s.body == sets[0].body),
        "the repeat is the same object: {sets:?}"
    );
}

// ----------------------------------------------------------------------------------------------- credentials

/// Fault: the credentials Secret is deleted while a reconcile is in flight (2 s per call), then recreated with a
/// rotated key. End state: CredentialsNotFound, then Ready with the webhook under the new key.
#[tokio::test(flavor = "multi_thread")]
async fn secret_deleted_then_rotated_mid_flight() {
    let bench = MailBench::start_with("fault-secret", DEFAULTS).await;
    bench.sim.set_latency(Duration::from_secs(2));
    let url = bench.receiver.url("/rotate");
    bench.apply("r", &mail::block(&url, ""));
    let sim = bench.sim.clone();
    // A new registration's first call is its `set` (nothing to read before it), answered 2 s after it arrives.
    eventually("the set in flight", Duration::from_secs(30), || {
        let n = sim.arrived("webhook/set");
        async move { (n > 0).then_some(()) }
    })
    .await;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(bench.cluster.client.clone(), &bench.ns.name);
    secrets.delete("creds", &DeleteParams::default()).await.unwrap();
    bench.wait_reason("r", "CredentialsNotFound").await;
    let rotated = fresh_key("rotated");
    bench.sim.add_key(&rotated);
    bench.sim.set_latency(Duration::ZERO);
    bench
        .ns
        .put_secret("creds", &[("apiKey", &rotated), ("endpoint", bench.sim.base_url())])
        .await;
    bench.wait_ready("r");
    assert!(
        bench.sim.webhook(&rotated, &url).is_some(),
        "registered under the new key"
    );
}

/// Fault: the provider revokes the key. End state: InvalidCredentials (Stalled), no further call with it, until
/// the Secret holds a new key: then Ready under that key.
#[tokio::test(flavor = "multi_thread")]
async fn revoked_credentials_stall_without_calls_until_the_secret_changes() {
    let bench = MailBench::start_with("fault-revoked", DEFAULTS).await;
    let url = bench.receiver.url("/revoked");
    bench.apply("r", &mail::block(&url, ""));
    bench.wait_ready("r");
    bench.sim.remove_key(&bench.creds.key);
    // A spec change makes the operator call the provider with the revoked key.
    bench.apply("r", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_reason("r", "InvalidCredentials").await;
    assert!(bench.condition_true("r", "Stalled").await);
    let calls = bench.sim.requests().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(bench.sim.requests().len(), calls, "no call with a rejected key");
    let fresh = fresh_key("reissued");
    bench.sim.add_key(&fresh);
    bench
        .ns
        .put_secret("creds", &[("apiKey", &fresh), ("endpoint", bench.sim.base_url())])
        .await;
    bench.wait_ready("r");
    assert_eq!(bench.sim.webhook(&fresh, &url).unwrap().max_parallel, 20);
}

/// Fault: the DocStudio login token expires and the clock jumps 13 hours. End state: the operator logs in again,
/// the object stays Ready, one callback.
#[tokio::test(flavor = "multi_thread")]
async fn login_token_expiry_with_a_clock_jump_logs_in_again() {
    let bench = EnvelopeBench::start_with("fault-login", DEFAULTS).await;
    let url = bench.receiver.url("/login");
    bench.cluster.apply_ok(&bench.registration_using(
        "r",
        "login-creds",
        &envelope_bench::block(&url, PLAIN_FIELDS),
        OWN_RESYNC,
    ));
    bench.wait_ready("r");
    let logins = bench.sim.login_count();
    bench.sim.advance_clock(Duration::from_secs(13 * 3600));
    let sim = bench.sim.clone();
    eventually("a fresh login after expiry", Duration::from_secs(60), || {
        let n = sim.login_count();
        async move { (n > logins).then_some(()) }
    })
    .await;
    let lists = bench.sim.count("callback/list");
    eventually("a list with the new token", Duration::from_secs(30), || {
        let n = sim.count("callback/list");
        async move { (n > lists).then_some(()) }
    })
    .await;
    bench.wait_ready("r");
    assert_eq!(bench.callbacks().len(), 1);
}

// ------------------------------------------------------------------------------------- changes at the provider

/// Fault: the provider stops the webhook (a day of failed deliveries). End state: re-activated, Event Reactivated.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_stopped_by_the_provider_is_reactivated() {
    let bench = MailBench::start_with("fault-stopped", DEFAULTS).await;
    let url = bench.receiver.url("/stopped");
    bench
        .cluster
        .apply_ok(&bench.registration("r", &mail::block(&url, ""), OWN_RESYNC));
    bench.wait_ready("r");
    bench.sim.set_webhook_status(&bench.creds.key, &url, "stopped");
    let (sim, key) = (bench.sim.clone(), bench.creds.key.clone());
    eventually("the webhook active again", Duration::from_secs(60), || {
        let active = sim.webhook(&key, &url).is_some_and(|w| w.status == "active");
        async move { active.then_some(()) }
    })
    .await;
    bench.wait_event("r", "Reactivated").await;
}

/// Fault: the callback is deleted at DocStudio behind the operator's back. End state: re-created once, the new
/// id in status.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_band_delete_at_the_provider_is_recreated() {
    let bench = EnvelopeBench::start_with("fault-oob-del", DEFAULTS).await;
    let url = bench.receiver.url("/oob");
    bench
        .cluster
        .apply_ok(&bench.registration("r", &envelope_bench::block(&url, PLAIN_FIELDS), OWN_RESYNC));
    bench.wait_ready("r");
    let old = bench.callbacks()[0].id;
    assert!(bench.sim.remove_callback(MAILBOX, old));
    let sim = bench.sim.clone();
    let new = eventually("the callback re-created", Duration::from_secs(60), || {
        let callbacks = sim.callbacks(MAILBOX);
        async move { (callbacks.len() == 1 && callbacks[0].id != old).then(|| callbacks[0].id) }
    })
    .await;
    bench.wait_recorded_id("r", &new.to_string()).await;
}

/// Fault: a field of the webhook is edited at the provider. End state: corrected, Event DriftCorrected.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_band_edit_at_the_provider_is_corrected() {
    let bench = MailBench::start_with("fault-oob-edit", DEFAULTS).await;
    let url = bench.receiver.url("/edit");
    bench
        .cluster
        .apply_ok(&bench.registration("r", &mail::block(&url, "    maxParallel: 20\n"), OWN_RESYNC));
    bench.wait_ready("r");
    let mut edited = serde_json::to_value(bench.sim.webhook(&bench.creds.key, &url).unwrap()).unwrap();
    edited["max_parallel"] = serde_json::json!(77);
    bench.sim.put_webhook(&bench.creds.key, edited).unwrap();
    let (sim, key) = (bench.sim.clone(), bench.creds.key.clone());
    eventually("maxParallel back to 20", Duration::from_secs(60), || {
        let fixed = sim.webhook(&key, &url).is_some_and(|w| w.max_parallel == 20);
        async move { fixed.then_some(()) }
    })
    .await;
    bench.wait_event("r", "DriftCorrected").await;
}

// ------------------------------------------------------------------------------------------- regressions found

/// Found by the soak: with `--namespaces a,b` the operator never reconciled anything (the store never became
/// ready). End state: an object in each watched namespace is Ready.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_watching_several_namespaces_reconciles_in_each() {
    let cluster = Cluster::connect().await;
    let a = TestNamespace::new(&cluster, "fault-ns-a").await;
    let b = TestNamespace::new(&cluster, "fault-ns-b").await;
    let (sim, creds) = <MailSim as SimulatedProvider>::start().await;
    let receiver = provider_simulators::Receiver::start().await.unwrap();
    for ns in [&a, &b] {
        ns.put_secret("creds", &[("apiKey", &creds.key), ("endpoint", sim.base_url())])
            .await;
        let url = receiver.url(&format!("/{}", ns.name));
        cluster.apply_ok(&manifest(&ns.name, "r", "creds", "mail", &mail::block(&url, ""), ""));
    }
    let _operator = Operator::start(&cluster, &[&a.name, &b.name], DEFAULTS);
    cluster.wait_ready(&a.name, "r");
    cluster.wait_ready(&b.name, "r");
    assert_eq!(sim.webhooks(&creds.key).len(), 2);
}
