//! A watch gap with a deletion in it, on a control plane of the test's own: the owner of a URL is deleted while the
//! apiserver is down (directly in etcd), etcd is compacted, the apiserver comes back, the operator's watch gets 410
//! Gone and lists again. The relist is swept against the cache (`relist.rs`): the ghost owner leaves the cache and the
//! claim index, and the claimant that waited with Conflict takes over — without restarting the operator, at the
//! default resync, with the operator watching two namespaces (one watcher each, one shared cache).

mod support;

use std::time::{Duration, Instant};

use support::bench::manifest;
use support::mail::{self, MailBench};
use support::own_cluster::OwnControlPlane;
use support::{Operator, TestNamespace, eventually};

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_deleted_during_a_watch_gap_is_swept_from_the_relist_and_the_waiting_claimant_takes_over() {
    let own = OwnControlPlane::start("relist").await;
    let ns = TestNamespace::new(&own.cluster, "relist").await;
    let other = TestNamespace::new(&own.cluster, "relist-other").await;
    let kubeconfig = own.cluster.kubeconfig.clone();
    let other_name = other.name.clone();
    let bench = MailBench::start_in(own.cluster.clone(), ns, move |ns| {
        Operator::start_with_kubeconfig(&kubeconfig, &[&ns.name, &other_name], &[])
    })
    .await;
    let operator_pid = bench.operator.pid();

    let url = bench.receiver.url("/shared");
    bench.apply("owner", &mail::block(&url, "    maxParallel: 20\n"));
    bench.wait_ready("owner");
    tokio::time::sleep(Duration::from_millis(1100)).await; // creation times have one-second resolution
    bench.apply("young", &mail::block(&url, "    maxParallel: 50\n"));
    bench.wait_reason("young", "Conflict").await;
    // A bystander in the other watched namespace, which must survive its namespace's relist untouched.
    other
        .put_secret(
            "creds",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    let bystander = bench.receiver.url("/bystander");
    bench.cluster.apply_ok(&manifest(
        &other.name,
        "bystander",
        "creds",
        "mail",
        &mail::block(&bystander, ""),
        "",
    ));
    bench.cluster.wait_ready(&other.name, "bystander");

    // The gap: apiserver down, the owner deleted behind its back, history compacted away, apiserver back.
    own.stop_apiserver();
    own.etcd_delete_and_compact(&format!(
        "/registry/callback-operator.io/callbackregistrations/{}/owner",
        bench.ns.name
    ));
    let gap_closed = Instant::now();
    own.start_apiserver();
    assert!(bench.api().get_opt("owner").await.unwrap().is_none());

    // Watchers retry every ≤ 5 s, and the relist after the 410 follows at once.
    eventually("the waiting claimant Ready", Duration::from_secs(30), || async {
        bench.condition_true("young", "Ready").await.then_some(())
    })
    .await;
    eprintln!("took over {:?} after the apiserver came back", gap_closed.elapsed());
    assert_eq!(
        bench.sim.webhook(&bench.creds.key, &url).unwrap().max_parallel,
        50,
        "the identity passed to the waiting claimant"
    );
    assert!(
        bench.operator.log().contains("410") || bench.operator.log().contains("too old"),
        "the watch got 410 Gone"
    );
    assert_eq!(bench.operator.pid(), operator_pid);

    // The ghost is gone from the cache too: the readiness gauge (refreshed every 15 s) counts the two live objects.
    eventually("the cache holds no ghost", Duration::from_secs(40), || async {
        let metrics = bench.operator.metrics().await;
        let ready = metrics
            .lines()
            .find(|l| l.starts_with("callback_operator_registrations{") && l.contains("ready=\"True\""))?
            .rsplit(' ')
            .next()?
            .to_string();
        let not_ready = metrics
            .lines()
            .any(|l| l.starts_with("callback_operator_registrations{") && !l.contains("ready=\"True\""));
        (ready == "2" && !not_ready).then_some(())
    })
    .await;
    assert!(bench.sim.webhook(&bench.creds.key, &bystander).is_some());
}
