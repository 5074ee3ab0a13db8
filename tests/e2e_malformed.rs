//! An object the operator cannot decode — stored while a looser schema was installed, then left behind when the real
//! one came back — is reported (log and `callback_operator_malformed_objects_total`) and skipped; every other
//! registration keeps reconciling, whether the bad object was there at the first list or arrives while watching.

mod support;

use std::time::Duration;

use support::mail::{self, MailBench};
use support::{Cluster, eventually};

const CRD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crds/callbackregistrations.callback-operator.io.yaml"
);

/// Our CRD with a spec schema that accepts anything (no types, no rules).
fn looser_crd() -> String {
    let mut crd: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(CRD).unwrap()).unwrap();
    let schema = &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    schema["properties"]["spec"] = serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    if let Some(schema) = schema.as_object_mut() {
        schema.remove("x-kubernetes-validations");
    }
    serde_json::to_string(&crd).unwrap()
}

fn apply_crd(cluster: &Cluster, yaml: &str) {
    let out = cluster.kubectl_with_input(&["apply", "--server-side", "--force-conflicts", "-f", "-"], Some(yaml));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    cluster.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/callbackregistrations.callback-operator.io",
    ]);
}

/// Stores `name` with a maxParallel the Rust types cannot read, under the looser schema, then restores ours.
fn store_malformed(bench: &MailBench, name: &str) {
    apply_crd(&bench.cluster, &looser_crd());
    let bad = bench.registration(
        name,
        &mail::block(&bench.receiver.url("/bad"), "    maxParallel: twenty\n"),
        "",
    );
    // The apiserver may still validate with the old schema for a moment after the CRD changed.
    let mut last = String::new();
    for _ in 0..50 {
        let (ok, text) = bench.cluster.apply(&bad);
        if ok {
            last.clear();
            break;
        }
        last = text;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(last.is_empty(), "storing the malformed object: {last}");
    apply_crd(&bench.cluster, &std::fs::read_to_string(CRD).unwrap());
}

async fn malformed_count(bench: &MailBench) -> f64 {
    bench
        .operator
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("callback_operator_malformed_objects_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_object_is_reported_and_skipped_and_the_others_keep_reconciling() {
    let mut bench = MailBench::start("malformed").await;
    // 1. Present at the first list (a typed list would fail as a whole and the watch would never start).
    bench.operator.kill();
    store_malformed(&bench, "bad-listed");
    bench.restart_operator();
    let first = bench.receiver.url("/first");
    bench.apply("first", &mail::block(&first, ""));
    bench.wait_ready("first");
    assert!(bench.sim.webhook(&bench.creds.key, &first).is_some());
    eventually("the malformed object counted", Duration::from_secs(10), || async {
        (malformed_count(&bench).await >= 1.0).then_some(())
    })
    .await;

    // 2. Arriving while watching.
    let before = malformed_count(&bench).await;
    store_malformed(&bench, "bad-watched");
    eventually(
        "the second malformed object counted",
        Duration::from_secs(10),
        || async { (malformed_count(&bench).await > before).then_some(()) },
    )
    .await;
    let second = bench.receiver.url("/second");
    bench.apply("second", &mail::block(&second, ""));
    bench.wait_ready("second");

    let log = bench.operator.log();
    for name in ["bad-listed", "bad-watched"] {
        assert!(
            log.lines().any(|l| l.contains("does not decode") && l.contains(name)),
            "the log names {name}"
        );
    }
    let api = bench.api();
    for name in ["bad-listed", "bad-watched"] {
        let obj = bench
            .cluster
            .kubectl_ok(&["get", "cbr", name, "-n", &bench.ns.name, "-o", "jsonpath={.status}"]);
        assert!(obj.is_empty(), "the operator never wrote the malformed object: {obj}");
        api.delete(name, &Default::default()).await.unwrap();
    }
}
