//! The fault matrix's control-plane faults: each test starts its own etcd + kube-apiserver (scripts/cluster with a
//! private state dir), because restarting the shared instance would break every other test. They take a control
//! plane start each, so they run in `make soak`, not `make test` (`cargo test --test e2e_faults_control_plane --
//! --ignored`).

mod support;

#[path = "soak/control_plane.rs"]
mod control_plane;
#[path = "soak/defaults.rs"]
mod defaults;

use std::time::Duration;

use control_plane::PrivateControlPlane;
use defaults::OPERATOR_DEFAULTS as DEFAULTS;
use serde_json::{Value, json};
use support::mail::{self, MailBench};
use support::{Operator, TestNamespace, eventually};

/// A mail bench (simulator, receiver, Secret, operator at its defaults) on the private control plane.
async fn bench_on(cp: &PrivateControlPlane, prefix: &str) -> MailBench {
    let ns = TestNamespace::new(&cp.cluster, prefix).await;
    let cluster = cp.cluster.clone();
    MailBench::start_in(cp.cluster.clone(), ns, move |ns| {
        Operator::start(&cluster, &[&ns.name], DEFAULTS)
    })
    .await
}

/// Fault: the apiserver restarts while a reconcile is in flight (2 s per provider call), so the status write
/// meets a dead apiserver. End state: Ready with one webhook; an object created afterwards becomes Ready too
/// (the watch resumed).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "own control plane: make soak"]
async fn apiserver_restart_mid_reconcile() {
    let cp = PrivateControlPlane::start("fault-apiserver").await;
    let bench = bench_on(&cp, "fault-apiserver").await;
    bench.sim.set_latency(Duration::from_secs(2));
    let url = bench.receiver.url("/a");
    bench.apply("a", &mail::block(&url, ""));
    let sim = bench.sim.clone();
    eventually("the reconcile under way", Duration::from_secs(30), || {
        let n = sim.arrived("webhook/set");
        async move { (n > 0).then_some(()) }
    })
    .await;
    cp.restart("kube-apiserver").await;
    bench.wait_ready("a");
    let after = bench.receiver.url("/b");
    bench.apply("b", &mail::block(&after, ""));
    bench.wait_ready("b");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 2);
}

/// Fault: the operator (re)starts while the apiserver is away — a pod rescheduled during a control-plane upgrade.
/// End state: it waits for the apiserver instead of exiting (its start-up reads retry), then reconciles: an object
/// applied before the outage and one applied after it are both Ready. (Soak seed 7 found the operator exiting on the
/// first connection error at start-up and reconciling nothing.)
#[tokio::test(flavor = "multi_thread")]
#[ignore = "own control plane: make soak"]
async fn operator_started_while_the_apiserver_is_away_waits_for_it() {
    let cp = PrivateControlPlane::start("fault-startup").await;
    let mut bench = bench_on(&cp, "fault-startup").await;
    let url = bench.receiver.url("/a");
    bench.apply("a", &mail::block(&url, ""));
    bench.wait_ready("a");
    bench.operator.kill();
    let stopped = cp.stop("kube-apiserver");
    let ns = bench.ns.name.clone();
    bench.operator = Operator::start(&cp.cluster, &[&ns], DEFAULTS);
    // Long enough for the start-up reads to fail several times (they retry from 0.5 s, doubling).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        bench.operator.try_wait().is_none(),
        "the operator exited while the apiserver was away"
    );
    cp.start_again(stopped).await;
    let other = bench.receiver.url("/b");
    bench.apply("b", &mail::block(&other, ""));
    bench.wait_ready("b");
    bench.wait_ready("a");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 2);
}

/// Fault: etcd restarts under the apiserver. End state: the existing object still Ready, a spec change and a new
/// object applied afterwards both reach the provider.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "own control plane: make soak"]
async fn etcd_restart() {
    let cp = PrivateControlPlane::start("fault-etcd").await;
    let bench = bench_on(&cp, "fault-etcd").await;
    let url = bench.receiver.url("/a");
    bench.apply("a", &mail::block(&url, ""));
    bench.wait_ready("a");
    cp.restart("etcd").await;
    bench.apply("a", &mail::block(&url, "    maxParallel: 30\n"));
    let other = bench.receiver.url("/b");
    bench.apply("b", &mail::block(&other, ""));
    bench.wait_ready("b");
    let (sim, key) = (bench.sim.clone(), bench.creds.key.clone());
    eventually("the spec change at the provider", Duration::from_secs(60), || {
        let done = sim.webhook(&key, &url).is_some_and(|w| w.max_parallel == 30);
        async move { done.then_some(()) }
    })
    .await;
    bench.wait_ready("a");
}

/// The current etcd revision and a physical compaction at it (etcd's JSON gateway).
async fn compact_etcd(port: u16) -> i64 {
    let http = reqwest::Client::new();
    let range: Value = http
        .post(format!("http://127.0.0.1:{port}/v3/kv/range"))
        .json(&json!({"key": "AA==", "range_end": "AA==", "count_only": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revision: i64 = range["header"]["revision"].as_str().unwrap().parse().unwrap();
    let status = http
        .post(format!("http://127.0.0.1:{port}/v3/kv/compaction"))
        .json(&json!({"revision": revision.to_string(), "physical": true}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "compaction answered {status}");
    revision
}

/// Fault: a watch 410 Gone. The operator is frozen (SIGSTOP) while objects are created, etcd is compacted past
/// its resourceVersion and the apiserver restarted (so its watch cache starts after it); resumed, its watch
/// reconnects with a resourceVersion that is gone. End state: it relists, and the objects created while it was
/// frozen become Ready (one webhook each).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "own control plane: make soak"]
async fn watch_410_gone_relists_and_catches_up() {
    let cp = PrivateControlPlane::start("fault-410").await;
    let bench = bench_on(&cp, "fault-410").await;
    let first = bench.receiver.url("/first");
    bench.apply("first", &mail::block(&first, ""));
    bench.wait_ready("first");
    bench.operator.signal("STOP");
    let (b, c) = (bench.receiver.url("/b"), bench.receiver.url("/c"));
    bench.apply("b", &mail::block(&b, ""));
    bench.apply("c", &mail::block(&c, ""));
    let revision = compact_etcd(cp.etcd_port()).await;
    cp.restart("kube-apiserver").await;
    bench.operator.signal("CONT");
    bench.wait_ready("b");
    bench.wait_ready("c");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 3);
    let log = bench.operator.log();
    let saw_gone = log.contains("410") || log.to_lowercase().contains("too old");
    eprintln!("compacted at revision {revision}; the operator log shows the 410: {saw_gone}");
}
