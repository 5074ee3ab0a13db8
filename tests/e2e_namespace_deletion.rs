//! Deleting a watched namespace ends cleanly, cluster-wide and namespace-scoped: the registrations are cleaned up
//! (webhook removed while the credentials are readable) or abandoned at the cleanup deadline with a record that
//! survives the namespace (metric and log: an Event cannot be written into a terminating namespace), and the
//! namespace is gone. The namespace controller of kube-controller-manager runs for these tests only.
//!
//! Two namespaces per test: in `kept` the credentials Secret carries a finalizer of the test's own, so it is still
//! readable (Terminating) when the cleanup runs — the case "credentials allow"; in `lost` it is deleted just before
//! the namespace, so the cleanup cannot remove anything.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::bench::manifest;
use support::controller_manager::NamespaceController;
use support::install::Release;
use support::mail::{self, MailBench};
use support::{Cluster, Operator, TestNamespace, eventually};
use tokio::sync::Mutex;

/// The cluster-wide operator reconciles every namespace: the two tests of this binary must not overlap.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// About the cleanup deadline: shortened so the test can wait for it (the default is 5 m).
const DEADLINE_SECS: u64 = 15;
/// The namespace controller re-checks a namespace whose content still has finalizers about every 15 s.
const NAMESPACE_RECHECK: Duration = Duration::from_secs(20);
const KEEP: &str = "e2e.test/keep";

async fn set_secret_finalizers(cluster: &Cluster, namespace: &str, finalizers: &[&str]) {
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let patch = json!({"metadata": {"finalizers": finalizers}});
    secrets
        .patch("creds", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn wait_namespace_gone(cluster: &Cluster, name: &str, within: Duration) {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    eventually(&format!("namespace {name} gone"), within, || async {
        api.get_opt(name).await.unwrap().is_none().then_some(())
    })
    .await;
}

/// Runs the scenario with `bench` (its namespace is `kept`) and a second namespace `lost` sharing its simulator.
/// `guarded`: a namespace-scoped install, whose operator keeps a finalizer on its RoleBinding in each namespace.
async fn delete_both_namespaces(bench: &MailBench, lost: &TestNamespace, guarded: bool) {
    let cluster = &bench.cluster;
    let kept_url = bench.receiver.url("/kept");
    let lost_url = bench.receiver.url("/lost");
    lost.put_secret(
        "creds",
        &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
    )
    .await;
    bench.apply("kept", &mail::block(&kept_url, ""));
    cluster.apply_ok(&manifest(
        &lost.name,
        "lost",
        "creds",
        "mail",
        &mail::block(&lost_url, ""),
        "",
    ));
    bench.wait_ready("kept");
    cluster.wait_ready(&lost.name, "lost");
    if guarded {
        let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(cluster.client.clone(), &lost.name);
        eventually(
            "the guard on the operator's RoleBinding",
            Duration::from_secs(30),
            || async {
                let listed = bindings.list(&Default::default()).await.ok()?;
                listed
                    .items
                    .iter()
                    .any(|b| {
                        b.metadata
                            .finalizers
                            .iter()
                            .flatten()
                            .any(|f| f == "callback-operator.io/registrations")
                    })
                    .then_some(())
            },
        )
        .await;
    }
    set_secret_finalizers(cluster, &bench.ns.name, &[KEEP]).await;

    // The namespace controller deletes Secrets and registrations in no order it promises: delete `lost`'s Secret
    // first so that its cleanup finds no credentials every time.
    let lost_secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &lost.name);
    lost_secrets.delete("creds", &DeleteParams::default()).await.unwrap();
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let deleted = Instant::now();
    namespaces
        .delete(&bench.ns.name, &DeleteParams::default())
        .await
        .unwrap();
    namespaces.delete(&lost.name, &DeleteParams::default()).await.unwrap();

    // Credentials readable: the webhook is removed and the registration goes; then the test lets its Secret go.
    eventually("the kept webhook removed", Duration::from_secs(30), || async {
        bench.sim.webhook(&bench.creds.key, &kept_url).is_none().then_some(())
    })
    .await;
    let kept_api = bench.api();
    eventually("the kept registration gone", Duration::from_secs(30), || async {
        kept_api.get_opt("kept").await.unwrap().is_none().then_some(())
    })
    .await;
    set_secret_finalizers(cluster, &bench.ns.name, &[]).await;
    wait_namespace_gone(cluster, &bench.ns.name, NAMESPACE_RECHECK + Duration::from_secs(10)).await;

    // Credentials gone with the namespace: abandoned at the deadline, recorded in the metric and the log.
    let deadline = Duration::from_secs(DEADLINE_SECS);
    wait_namespace_gone(
        cluster,
        &lost.name,
        deadline + NAMESPACE_RECHECK + Duration::from_secs(10),
    )
    .await;
    let took = deleted.elapsed();
    eprintln!("namespace with lost credentials gone after {took:?}");
    assert!(took >= deadline, "abandoned only at the deadline: {took:?}");
    assert!(
        bench.sim.webhook(&bench.creds.key, &lost_url).is_some(),
        "nothing could be removed without credentials"
    );
    let metrics = bench.operator.metrics().await;
    // The series exists at 0 from the start (so rules can see its first increase): the abandonment counted it up.
    let abandoned = support::metrics::value(
        &metrics,
        "callback_operator_cleanup_abandoned_total",
        &[("provider", "mail"), ("reason", "deadline")],
    );
    assert!(abandoned.is_some_and(|n| n >= 1.0), "{metrics}");
    let log = bench.operator.log();
    assert!(
        log.lines()
            .any(|l| l.contains("cleanup abandoned") && l.contains(&lost.name) && l.contains(&lost_url)),
        "the log records what stays at the provider"
    );
    // The only refusals allowed: Events into a namespace that is being terminated.
    let denials: Vec<&str> = log
        .lines()
        .filter(|l| l.to_lowercase().contains("forbidden") && !l.contains("being terminated"))
        .collect();
    assert!(denials.is_empty(), "no RBAC denial on the way: {denials:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_wide_install_deleting_a_namespace_cleans_up_or_abandons_and_the_namespace_goes() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::connect().await;
    let _namespaces = NamespaceController::start(&cluster);
    let kept = TestNamespace::new(&cluster, "nsdel-cw-kept").await;
    let lost = TestNamespace::new(&cluster, "nsdel-cw-lost").await;
    let deadline = format!("{DEADLINE_SECS}s");
    let for_operator = cluster.clone();
    let bench = MailBench::start_in(cluster.clone(), kept, move |_| {
        Operator::start(&for_operator, &[], &["--cleanup-deadline", &deadline])
    })
    .await;
    delete_both_namespaces(&bench, &lost, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_scoped_install_deleting_a_watched_namespace_keeps_the_rolebinding_until_cleanup_ends() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::connect().await;
    let _namespaces = NamespaceController::start(&cluster);
    let kept = TestNamespace::new(&cluster, "nsdel-ns-kept").await;
    let lost = TestNamespace::new(&cluster, "nsdel-ns-lost").await;
    let watched = format!("watchNamespaces={{{},{}}}", kept.name, lost.name);
    let release = Release::install(&cluster, "nd", &[&watched]).await;
    let deadline = format!("{DEADLINE_SECS}s");
    let namespaces = [kept.name.clone(), lost.name.clone()];
    let bench = MailBench::start_in(cluster.clone(), kept, |_| {
        let names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        release.start_operator("nsdel-pod-0", &names, &["--cleanup-deadline", &deadline])
    })
    .await;
    delete_both_namespaces(&bench, &lost, true).await;
}
