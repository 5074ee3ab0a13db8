//! A leader whose apiserver connection hangs (a loopback proxy in front of the apiserver stops forwarding; the
//! standby talks to the apiserver directly), at the default Lease of 15 s: the leader cannot renew and cannot even
//! read its Lease, steps down on its own timer, drains and exits — all before the standby may acquire the Lease. The
//! timeline comes from both operators' logs, the moment the leader's process was seen gone, and the provider's own
//! request log: no provider request falls between the old leader's exit and the new leader's acquisition.

mod support;

use std::time::{Duration, SystemTime};

use support::mail::{self, MailBench};
use support::proxy::HangingProxy;
use support::{Cluster, Operator, TestNamespace, eventually};

fn election(namespace: &str, identity: &str) -> Vec<String> {
    // The default Lease duration (15 s): this test is about the production arithmetic.
    [
        "--leader-election",
        "--leader-election-namespace",
        namespace,
        "--instance",
        identity,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The time of the first JSON log line whose message contains `message`.
fn logged_at(log: &str, message: &str) -> Option<SystemTime> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["message"].as_str().is_some_and(|m| m.contains(message)))
        .and_then(|entry| humantime::parse_rfc3339_weak(entry["timestamp"].as_str()?.trim_end_matches('Z')).ok())
}

fn apiserver_port(cluster: &Cluster) -> u16 {
    let text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("server: https://127.0.0.1:"))
        .and_then(|port| port.parse().ok())
        .expect("the apiserver port in the kubeconfig")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_whose_apiserver_connection_hangs_stops_writing_before_the_standby_acquires_the_lease() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "le-hang").await;
    let proxy = HangingProxy::start(apiserver_port(&cluster)).await;
    let dir = tempfile::tempdir().unwrap();
    let proxied = proxy.kubeconfig(&cluster.kubeconfig, dir.path());
    let ns_name = ns.name.clone();
    let mut bench = MailBench::start_in(cluster.clone(), ns, |ns| {
        let args = election(&ns.name, "hung");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Operator::start_with_kubeconfig(&proxied, &[&ns.name], &args)
    })
    .await;
    support::lease::wait_for_holder_to_be(
        &cluster,
        &ns_name,
        support::lease::LEASE,
        "hung",
        Duration::from_secs(30),
    )
    .await;
    let standby_args = election(&ns_name, "standby");
    let standby_args: Vec<&str> = standby_args.iter().map(String::as_str).collect();
    let standby = Operator::start(&cluster, &[&ns_name], &standby_args);

    // Work in flight at the provider when the connection hangs: 2 s per provider call.
    bench.sim.set_latency(Duration::from_secs(2));
    let urls: Vec<String> = (0..4).map(|i| bench.receiver.url(&format!("/hang-{i}"))).collect();
    for (i, url) in urls.iter().enumerate() {
        bench.apply(&format!("hang-{i}"), &mail::block(url, ""));
    }
    eventually("the leader at the provider", Duration::from_secs(30), || async {
        (bench.sim.arrived("webhook/set") >= 1).then_some(())
    })
    .await;
    proxy.hang();
    let hung_at = SystemTime::now();

    let exited_at = eventually("the hung leader to exit", Duration::from_secs(30), || {
        let exited = bench.operator.try_wait().map(|status| (status, SystemTime::now()));
        async move { exited }
    })
    .await;
    let (status, exited_at) = exited_at;
    assert!(!status.success(), "losing the Lease exits non-zero: {status:?}");
    support::lease::wait_for_holder_to_be(
        &cluster,
        &ns_name,
        support::lease::LEASE,
        "standby",
        Duration::from_secs(30),
    )
    .await;
    let acquired_at = eventually("the standby's log of acquiring", Duration::from_secs(10), || {
        let at = logged_at(&standby.log(), "acquired the leader Lease");
        async move { at }
    })
    .await;
    let stepped_down_at =
        logged_at(&bench.operator.log(), "lost the leader Lease").expect("the leader logged its step-down");

    let secs = |t: SystemTime| t.duration_since(hung_at).map(|d| d.as_secs_f64()).unwrap_or(-1.0);
    eprintln!(
        "after the hang: stepped down at +{:.2}s, exited by +{:.2}s, standby acquired at +{:.2}s",
        secs(stepped_down_at),
        secs(exited_at),
        secs(acquired_at)
    );
    assert!(
        stepped_down_at < exited_at && exited_at < acquired_at,
        "the old leader is gone before the new one starts"
    );
    for request in bench.sim.requests() {
        assert!(
            request.at < exited_at || request.at > acquired_at,
            "a provider request between the old leader's exit and the new leader's start: {} at +{:.2}s",
            request.op,
            secs(request.at)
        );
    }

    // The standby finishes the work without duplicates.
    bench.sim.set_latency(Duration::ZERO);
    for i in 0..urls.len() {
        bench.wait_ready(&format!("hang-{i}"));
    }
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), urls.len());
    drop(standby);
}
