//! Sharding by label (docs/scaling.md): two operator processes on one namespace, the default shard
//! (`!sharding.callback-operator.io/key`) and shard `b` (`sharding.callback-operator.io/key=b`). Moving an object
//! between them is a label change: the old shard forgets it without cleanup, the new one adopts it without a
//! provider write, and exactly one shard owns it afterwards.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::install::{documents, kind_of, render};
use support::mail::{self, MailBench};
use support::metrics::total;
use support::{Cluster, Operator, eventually, ready_condition};

const DEFAULT_SHARD: &str = "!sharding.callback-operator.io/key";
const SHARD_B: &str = "sharding.callback-operator.io/key=b";

/// The bench's operator is the default shard; the second process is shard `b`.
async fn two_shards(prefix: &str) -> (MailBench, Operator) {
    let bench = MailBench::start_with(prefix, &["--watch-label-selector", DEFAULT_SHARD]).await;
    let shard_b = Operator::start(&bench.cluster, &[&bench.ns.name], &["--watch-label-selector", SHARD_B]);
    (bench, shard_b)
}

fn move_to_b(bench: &MailBench, name: &str) {
    bench.cluster.kubectl_ok(&[
        "label",
        "cbr",
        name,
        "-n",
        &bench.ns.name,
        "sharding.callback-operator.io/key=b",
    ]);
}

async fn reconciliations(operator: &Operator) -> f64 {
    total(&operator.metrics().await, "callback_operator_reconciliations_total")
}

/// What a shard's readiness gauge counts (every registration in its cache).
async fn cached(operator: &Operator) -> f64 {
    total(&operator.metrics().await, "callback_operator_registrations")
}

fn provider_writes(bench: &MailBench) -> u64 {
    bench.sim.count("webhook/set") + bench.sim.count("webhook/delete")
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_an_object_to_another_shard_makes_no_provider_write_and_leaves_one_owner() {
    let (bench, shard_b) = two_shards("shards-move").await;
    let url = bench.receiver.url("/orders");
    // Unlabelled: the default shard's.
    bench.apply("orders", &mail::block(&url, ""));
    bench.wait_ready("orders");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 1);
    assert_eq!(
        reconciliations(&shard_b).await,
        0.0,
        "shard b never saw the unlabelled object"
    );
    let writes = provider_writes(&bench);

    move_to_b(&bench, "orders");
    eventually(
        "the default shard forgets the object and shard b holds it",
        Duration::from_secs(60),
        || async { (cached(&bench.operator).await == 0.0 && cached(&shard_b).await == 1.0).then_some(()) },
    )
    .await;
    eventually("shard b reconciled the object", Duration::from_secs(30), || async {
        (reconciliations(&shard_b).await >= 1.0).then_some(())
    })
    .await;
    assert_eq!(
        provider_writes(&bench),
        writes,
        "the hand-over wrote nothing at the provider"
    );
    let obj = bench.api().get("orders").await.unwrap();
    assert!(
        obj.metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .contains(&"callback-operator.io/cleanup".to_string()),
        "the old shard ran no cleanup (the finalizer stays)"
    );
    assert_eq!(ready_condition(&obj).map(|c| c.0).as_deref(), Some("True"));
    assert_eq!(
        bench.sim.webhooks(&bench.creds.key).len(),
        1,
        "still exactly one webhook"
    );

    // Shard b alone acts on it from now on: a spec change is written once, by b; the default shard stays idle.
    let before_default = reconciliations(&bench.operator).await;
    let before_b = reconciliations(&shard_b).await;
    let labelled = bench
        .registration("orders", &mail::block(&url, "    maxParallel: 7\n"), "")
        .replace(
            "  namespace:",
            "  labels:\n    sharding.callback-operator.io/key: b\n  namespace:",
        );
    bench.cluster.apply_ok(&labelled);
    // The simulator applies a call before it logs it: wait for both, then count exactly.
    eventually("the change reaches the provider", Duration::from_secs(30), || async {
        let changed = bench.sim.webhook(&bench.creds.key, &url)?.max_parallel == 7;
        (changed && provider_writes(&bench) > writes).then_some(())
    })
    .await;
    assert_eq!(provider_writes(&bench), writes + 1, "one write for one change");
    // The counter moves when the reconciliation has finished (status and Events after the provider call).
    eventually("shard b counts the reconciliation", Duration::from_secs(30), || async {
        (reconciliations(&shard_b).await > before_b).then_some(())
    })
    .await;
    assert_eq!(
        reconciliations(&bench.operator).await,
        before_default,
        "the default shard no longer reconciles it"
    );

    // Deleting it: shard b cleans up.
    bench.delete_and_wait_gone("orders").await;
    assert!(bench.sim.webhooks(&bench.creds.key).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_moved_to_another_shard_keeps_its_identity_from_the_claimant_left_behind() {
    let (bench, shard_b) = two_shards("shards-owner").await;
    let url = bench.receiver.url("/shared");
    bench.apply("owner", &mail::block(&url, ""));
    bench.wait_ready("owner");
    // Created later, same account and URL, other settings: it waits for the owner (Conflict).
    bench.apply("waiting", &mail::block(&url, "    maxParallel: 9\n"));
    bench.wait_reason("waiting", "Conflict").await;
    let writes = provider_writes(&bench);

    move_to_b(&bench, "owner");
    eventually("shard b holds the owner", Duration::from_secs(60), || async {
        (cached(&shard_b).await == 1.0 && reconciliations(&shard_b).await >= 1.0).then_some(())
    })
    .await;
    // The claimant left behind is not woken by the owner leaving: nothing at the provider changes hands.
    let reconciled_default = reconciliations(&bench.operator).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(reconciliations(&bench.operator).await, reconciled_default);
    assert_eq!(provider_writes(&bench), writes, "no write: one owner, in shard b");
    let (status, _) = bench.wait_reason("waiting", "Conflict").await;
    assert_eq!(status, "False");
    let hook = bench.sim.webhook(&bench.creds.key, &url).unwrap();
    assert_ne!(hook.max_parallel, 9, "the owner's settings stay at the provider");

    // Moving the waiting claimant too (the whole namespace in shard b): b arbitrates as one shard did.
    move_to_b(&bench, "waiting");
    eventually("shard b holds both", Duration::from_secs(60), || async {
        (cached(&shard_b).await == 2.0 && cached(&bench.operator).await == 0.0).then_some(())
    })
    .await;
    bench.wait_reason("waiting", "Conflict").await;
    assert_eq!(provider_writes(&bench), writes, "still no write");
}

/// A rendered Deployment: (its name, its watch selector env, its Lease name, its pod selector's shard label).
type Rendered = (String, Option<String>, Option<String>, Option<String>);

fn deployments(docs: &[Value]) -> Vec<Rendered> {
    docs.iter()
        .filter(|d| kind_of(d) == "Deployment")
        .map(|d| {
            let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap();
            let var = |name: &str| {
                env.iter()
                    .find(|e| e["name"] == name)
                    .and_then(|e| e["value"].as_str().map(str::to_string))
            };
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                var("CALLBACK_OPERATOR_WATCH_LABEL_SELECTOR"),
                var("CALLBACK_OPERATOR_LEADER_ELECTION_LEASE_NAME"),
                d["spec"]["selector"]["matchLabels"]["callback-operator.io/shard"]
                    .as_str()
                    .map(str::to_string),
            )
        })
        .collect()
}

fn lease_names_granted(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .filter(|d| kind_of(d) == "Role")
        .flat_map(|d| d["rules"].as_array().unwrap().clone())
        .filter(|r| r["resources"][0] == "leases" && r["resourceNames"].is_array())
        .flat_map(|r| r["resourceNames"].as_array().unwrap().clone())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chart_renders_one_deployment_and_lease_per_shard() {
    let cluster = Cluster::connect().await;
    let some = |s: &str| Some(s.to_string());

    // Default: no sharding, one Deployment for every registration (no selector).
    let docs = documents(&render(&cluster, "r", "ops", &[]));
    assert_eq!(
        deployments(&docs),
        vec![(
            "r-callback-operator".into(),
            None,
            some("r-callback-operator-leader"),
            None
        )]
    );
    assert_eq!(lease_names_granted(&docs), ["r-callback-operator-leader"]);

    // Two shards: the release's Deployment and Lease become the default shard (unlabelled objects).
    let docs = documents(&render(&cluster, "r", "ops", &["sharding.shards={s1,s2}"]));
    assert_eq!(
        deployments(&docs),
        vec![
            (
                "r-callback-operator".into(),
                some("!sharding.callback-operator.io/key"),
                some("r-callback-operator-leader"),
                None
            ),
            (
                "r-callback-operator-s1".into(),
                some("sharding.callback-operator.io/key=s1"),
                some("r-callback-operator-leader-s1"),
                some("s1")
            ),
            (
                "r-callback-operator-s2".into(),
                some("sharding.callback-operator.io/key=s2"),
                some("r-callback-operator-leader-s2"),
                some("s2")
            ),
        ]
    );
    assert_eq!(
        lease_names_granted(&docs),
        [
            "r-callback-operator-leader",
            "r-callback-operator-leader-s1",
            "r-callback-operator-leader-s2"
        ]
    );

    // Shards with watchNamespaces are refused (the RoleBinding guard is per namespace, not per shard).
    let chart = support::install::chart_dir().display().to_string();
    let refused = support::install::helm(
        &cluster,
        &[
            "template",
            "r",
            &chart,
            "--set",
            "sharding.shards={s1}",
            "--set",
            "watchNamespaces={shop}",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cluster-wide install"));
}
