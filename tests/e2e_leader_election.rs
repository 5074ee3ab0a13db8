//! Two operator processes and one Lease: exactly one reconciles; when the leader dies or stalls the other takes
//! over within the lease duration without duplicating anything at the provider; SIGTERM during busy reconciles
//! finishes them, releases the Lease and leaves nothing half-written.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use support::lease::{LEASE, election_args, lease_spec, wait_for_holder, wait_for_holder_to_be};
use support::mail::{self, MailBench};
use support::metrics::{scrape, total, value};
use support::{Cluster, Operator, TestNamespace, eventually};

/// Lease duration for these tests: long enough that a loaded machine never misses a renewal, short enough to wait.
const DURATION: &str = "8s";
const DURATION_SECS: u64 = 8;

fn start_elected(cluster: &Cluster, ns: &str, identity: &str, extra: &[&str]) -> Operator {
    let mut args = election_args(ns, identity, DURATION);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Operator::start(cluster, &[ns], &args)
}

/// A mail bench whose operator competes for the Lease in the bench's namespace as `identity`.
async fn elected_bench(prefix: &str, identity: &str, extra: &[&str]) -> (Cluster, String, MailBench) {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, prefix).await;
    let ns_name = ns.name.clone();
    let bench = MailBench::start_in(cluster.clone(), ns, |ns| {
        start_elected(&cluster, &ns.name, identity, extra)
    })
    .await;
    (cluster, ns_name, bench)
}

/// Waits for the process to exit (panics after `timeout`).
async fn exit_status(operator: &mut Operator, what: &str, timeout: Duration) -> std::process::ExitStatus {
    eventually(what, timeout, || {
        let exited = operator.try_wait();
        async move { exited }
    })
    .await
}

/// `webhook/set` calls per URL, from the simulator's own request log.
fn sets_per_url(bench: &MailBench) -> BTreeMap<String, usize> {
    let mut sets = BTreeMap::new();
    for request in bench
        .sim
        .requests()
        .iter()
        .filter(|r| r.op == "webhook/set" && r.status == 200)
    {
        let url = request.body["url"].as_str().unwrap_or_default().to_string();
        *sets.entry(url).or_default() += 1;
    }
    sets
}

async fn metrics_of(operator: &Operator) -> String {
    eventually("the metrics endpoint", Duration::from_secs(20), || {
        scrape(operator.metrics_port)
    })
    .await
}

async fn wait_readyz(operator: &Operator, query: &str, status: u16) -> String {
    eventually(
        &format!("/readyz{query} to answer {status}"),
        Duration::from_secs(30),
        || async {
            let (code, body) = operator.readyz(query).await;
            (code == status).then_some(body)
        },
    )
    .await
}

fn lease_time(time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>) -> SystemTime {
    SystemTime::from(time.expect("the Lease carries the time").0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_only_the_leader_reconciles_and_the_follower_takes_over_when_the_leader_dies() {
    let (cluster, ns_name, mut bench) = elected_bench("le-two", "replica-a", &[]).await;
    let mut other = start_elected(&cluster, &ns_name, "replica-b", &[]);
    let a_leads = wait_for_holder(&cluster, &ns_name, LEASE, Duration::from_secs(30)).await == "replica-a";
    let follower_id = if a_leads { "replica-b" } else { "replica-a" };
    let (leader, follower_op) = if a_leads {
        (&bench.operator, &other)
    } else {
        (&other, &bench.operator)
    };

    // /readyz reflects leadership; a standby is still healthy with leadership excluded.
    wait_readyz(leader, "", 200).await;
    let body = wait_readyz(follower_op, "", 503).await;
    assert!(body.contains("standing by for the leader Lease"), "{body}");
    wait_readyz(follower_op, "?exclude=leader", 200).await;

    let urls: Vec<String> = (0..3).map(|i| bench.receiver.url(&format!("/two-{i}"))).collect();
    for (i, url) in urls.iter().enumerate() {
        bench.apply(&format!("r{i}"), &mail::block(url, ""));
    }
    for i in 0..3 {
        bench.wait_ready(&format!("r{i}"));
    }

    // Exactly one reconciles: every provider call and status write is the leader's.
    let leader_metrics = metrics_of(leader).await;
    let follower_metrics = metrics_of(follower_op).await;
    assert_eq!(value(&leader_metrics, "callback_operator_leader", &[]), Some(1.0));
    assert_eq!(value(&follower_metrics, "callback_operator_leader", &[]), Some(0.0));
    assert!(total(&leader_metrics, "callback_operator_status_writes_total") >= 3.0);
    assert_eq!(total(&follower_metrics, "callback_operator_status_writes_total"), 0.0);
    assert_eq!(
        total(&follower_metrics, "callback_operator_provider_requests_total"),
        0.0
    );
    assert_eq!(total(&follower_metrics, "callback_operator_reconciliations_total"), 0.0);
    // Every request the simulator saw came from the leader (compared on one consistent snapshot: a resync may
    // land between a scrape and a read of the log).
    let sim = bench.sim.clone();
    eventually(
        "the leader's request count to equal the simulator's",
        Duration::from_secs(20),
        || {
            let sim = sim.clone();
            async move {
                let text = scrape(leader.metrics_port).await?;
                (total(&text, "callback_operator_provider_requests_total") == sim.requests().len() as f64).then_some(())
            }
        },
    )
    .await;
    assert_eq!(bench.sim.count("webhook/set"), 3);

    // The leader dies without releasing anything: the follower takes over once the Lease expires.
    if a_leads {
        bench.operator.kill();
    } else {
        other.kill();
    }
    let follower_op = if a_leads { &other } else { &bench.operator };
    let killed = Instant::now();
    let last_renewal = lease_time(lease_spec(&cluster, &ns_name, LEASE).await.unwrap().renew_time.as_ref());
    wait_for_holder_to_be(
        &cluster,
        &ns_name,
        LEASE,
        follower_id,
        Duration::from_secs(3 * DURATION_SECS),
    )
    .await;
    let took_over = killed.elapsed();
    let acquired = lease_time(
        lease_spec(&cluster, &ns_name, LEASE)
            .await
            .unwrap()
            .acquire_time
            .as_ref(),
    );
    let gap = acquired.duration_since(last_renewal).unwrap_or_default();
    eprintln!("takeover: {took_over:?} after the kill, {gap:?} after the dead leader's last renewal");
    // The Lease is free only `DURATION` after the last renewal; kube-lease-manager then clears it and waits a random
    // 0.1–1 s before taking it (so two followers cannot both win), and followers check on that schedule.
    assert!(
        gap <= Duration::from_secs(DURATION_SECS + 2),
        "the follower took over {gap:?} after the leader's last renewal (lease duration {DURATION})"
    );
    wait_readyz(follower_op, "", 200).await;

    // The new leader keeps what exists (no second set for r0..r2) and handles new work.
    let late = bench.receiver.url("/two-late");
    bench.apply("late", &mail::block(&late, ""));
    bench.wait_ready("late");
    bench
        .api()
        .delete("r0", &Default::default())
        .await
        .expect("deleting r0");
    let sim = bench.sim.clone();
    let key = bench.creds.key.clone();
    let gone = urls[0].clone();
    eventually(
        "r0's webhook removed by the new leader",
        Duration::from_secs(30),
        || {
            let sim = sim.clone();
            let key = key.clone();
            let gone = gone.clone();
            async move { sim.webhook(&key, &gone).is_none().then_some(()) }
        },
    )
    .await;

    let sets = sets_per_url(&bench);
    assert!(sets.values().all(|&n| n == 1), "no URL was registered twice: {sets:?}");
    assert_eq!(sets.len(), 4);
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 3);
    let new_leader_metrics = metrics_of(follower_op).await;
    assert_eq!(value(&new_leader_metrics, "callback_operator_leader", &[]), Some(1.0));
    assert!(total(&new_leader_metrics, "callback_operator_status_writes_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_leader_that_lost_its_lease_stops_reconciling_and_exits_non_zero() {
    let (cluster, ns_name, mut bench) = elected_bench("le-stall", "stalling", &[]).await;
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "stalling", Duration::from_secs(30)).await;
    let standby = start_elected(&cluster, &ns_name, "standby", &[]);
    let first = bench.receiver.url("/stall-1");
    bench.apply("first", &mail::block(&first, ""));
    bench.wait_ready("first");

    // The leader stops renewing without dying (a long GC pause, a frozen node): the standby takes over.
    bench.operator.signal("STOP");
    wait_for_holder_to_be(
        &cluster,
        &ns_name,
        LEASE,
        "standby",
        Duration::from_secs(3 * DURATION_SECS),
    )
    .await;
    let second = bench.receiver.url("/stall-2");
    bench.apply("second", &mail::block(&second, ""));
    bench.wait_ready("second");

    // Woken up, the old leader finds the Lease gone and leaves (the Deployment restarts it as a follower).
    bench.operator.signal("CONT");
    let status = exit_status(&mut bench.operator, "the old leader to exit", Duration::from_secs(30)).await;
    assert!(!status.success(), "losing the Lease exits non-zero: {status:?}");
    let log = bench.operator.log();
    assert!(log.contains("lost the leader Lease"), "{log}");

    let sets = sets_per_url(&bench);
    assert_eq!(sets.get(&first), Some(&1), "{sets:?}");
    assert_eq!(sets.get(&second), Some(&1), "{sets:?}");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 2);
    assert_eq!(
        lease_spec(&cluster, &ns_name, LEASE)
            .await
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("standby")
    );
    drop(standby);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_busy_reconciles_finishes_them_releases_the_lease_and_leaves_nothing_half_written() {
    const OBJECTS: usize = 6;
    const SHUTDOWN_TIMEOUT_SECS: u64 = 20;
    // The chart gives the pod 5 s more than the operator's own shutdown timeout.
    let grace_period = Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 5);
    // Below the harness's 3 s provider timeout, so calls are slow but succeed.
    let latency = Duration::from_secs(2);

    let busy_args = ["--concurrency", "2", "--shutdown-timeout", "20s"];
    let (cluster, ns_name, mut bench) = elected_bench("le-term", "busy", &busy_args).await;
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "busy", Duration::from_secs(30)).await;
    // Every provider call takes 2 s; two workers; each new registration needs one `set`.
    bench.sim.set_latency(latency);
    let urls: Vec<String> = (0..OBJECTS)
        .map(|i| bench.receiver.url(&format!("/busy-{i}")))
        .collect();
    let all: String = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            format!(
                "---\n{}",
                bench.registration(&format!("b{i}"), &mail::block(url, ""), "")
            )
        })
        .collect();
    bench.cluster.apply_ok(&all);
    let sim = bench.sim.clone();
    eventually("the first webhooks to be created", Duration::from_secs(60), || {
        let sim = sim.clone();
        async move { (sim.count("webhook/set") >= 2).then_some(()) }
    })
    .await;
    // Both workers went straight on to their next reconciliation: a third of the way into its first call, both are
    // waiting on the provider when SIGTERM arrives.
    tokio::time::sleep(latency / 3).await;

    let answered_before = bench.sim.requests().len();
    let sets_before = bench.sim.count("webhook/set");
    assert!(sets_before < OBJECTS as u64, "still busy when SIGTERM arrives");
    bench.operator.signal("TERM");
    let asked = Instant::now();
    let status = exit_status(&mut bench.operator, "the operator to exit after SIGTERM", grace_period).await;
    let took = asked.elapsed();
    let answered_after = bench.sim.requests().len();
    let sets_after = bench.sim.count("webhook/set");
    eprintln!(
        "exited {took:?} after SIGTERM; provider calls answered: {answered_before} before, {answered_after} at exit; \
         webhooks created: {sets_before} before, {sets_after} at exit"
    );
    assert!(status.success(), "a requested shutdown exits 0: {status:?}");
    assert!(
        answered_after > answered_before,
        "the provider calls in flight at SIGTERM were waited for, not dropped"
    );
    let log = bench.operator.log();
    assert!(
        !log.contains("did not finish in time"),
        "every in-flight reconciliation finished:\n{log}"
    );
    let lease = lease_spec(&cluster, &ns_name, LEASE).await.unwrap();
    assert_eq!(lease.holder_identity, None, "the Lease was released on the way out");

    // Every reconciliation that started provider work finished it: each `set` that reached the provider (counted on
    // arrival) was answered and is in the log (recorded once answered), and answered with success.
    assert_eq!(
        bench.sim.arrived("webhook/set"),
        bench.sim.count("webhook/set"),
        "a set in flight at SIGTERM was dropped"
    );
    assert!(
        bench
            .sim
            .requests()
            .iter()
            .filter(|r| r.op == "webhook/set")
            .all(|r| r.status == 200),
        "every set answered with success"
    );

    // Nothing half-written: a webhook exists at the provider exactly when its object's status records it, and
    // only on objects that carry the finalizer (so a delete would still remove it).
    let api = bench.api();
    for (i, url) in urls.iter().enumerate() {
        let obj = api.get(&format!("b{i}")).await.unwrap();
        let recorded = obj
            .status
            .as_ref()
            .and_then(|s| s.registration.as_ref())
            .is_some_and(|r| r.urls.contains(url));
        let at_provider = bench.sim.webhook(&bench.creds.key, url).is_some();
        assert_eq!(recorded, at_provider, "b{i}: status and provider agree");
        if at_provider {
            assert!(
                obj.metadata
                    .finalizers
                    .unwrap_or_default()
                    .contains(&"callback-operator.io/cleanup".to_string()),
                "b{i} holds a webhook, so it carries the finalizer"
            );
        }
    }

    // A fresh process finishes the rest without registering anything twice.
    bench.sim.set_latency(Duration::ZERO);
    let _successor = start_elected(&cluster, &ns_name, "successor", &[]);
    for i in 0..OBJECTS {
        bench.wait_ready(&format!("b{i}"));
    }
    let sets = sets_per_url(&bench);
    assert_eq!(sets.len(), OBJECTS);
    assert!(sets.values().all(|&n| n == 1), "no URL registered twice: {sets:?}");
}

/// The leader leaves on SIGTERM (a pod deleted or rolled) and releases the Lease: the standby takes it on the
/// release, not when the Lease would have expired — with a 40 s Lease it leads within 20 s — and a registration
/// created meanwhile becomes Ready once, through it. (Before, the standby slept until the old expiry and a
/// replacement pod starting in between won the free Lease instead: issue 18's failover on real pods.)
#[tokio::test(flavor = "multi_thread")]
async fn the_standby_takes_a_released_lease_at_once() {
    let start = |cluster: &Cluster, ns: &str, identity: &str| {
        let args = election_args(ns, identity, "40s");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Operator::start(cluster, &[ns], &args)
    };
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "le-release").await;
    let ns_name = ns.name.clone();
    let mut bench = MailBench::start_in(cluster.clone(), ns, |ns| start(&cluster, &ns.name, "first")).await;
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "first", Duration::from_secs(30)).await;
    let _standby = start(&cluster, &ns_name, "standby");
    // Let the standby's lease manager read the held Lease and go to sleep until its expiry.
    tokio::time::sleep(Duration::from_secs(3)).await;
    bench.operator.signal("TERM");
    let status = exit_status(
        &mut bench.operator,
        "the leader to exit after SIGTERM",
        Duration::from_secs(30),
    )
    .await;
    assert!(status.success(), "{status:?}");
    let released = Instant::now();
    let url = bench.receiver.url("/after-release");
    bench.apply("after", &mail::block(&url, ""));
    wait_for_holder_to_be(&cluster, &ns_name, LEASE, "standby", Duration::from_secs(20)).await;
    eprintln!(
        "the standby leads {:?} after the release (Lease duration 40 s)",
        released.elapsed()
    );
    bench.wait_ready("after");
    assert_eq!(sets_per_url(&bench).get(&url), Some(&1), "created once");
}
