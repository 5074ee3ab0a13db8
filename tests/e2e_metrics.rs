//! `/metrics`, `/livez` and `/readyz` of the operator process after a known sequence: one registration created
//! after one throttled (429) attempt, then one drift correction.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callback_operator::api::CallbackRegistration;
use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use provider_simulators::Fault;
use support::eventually;
use support::mail::{self, MailBench};
use support::metrics::{parse, scrape, total, value};

/// Counts the distinct statuses an object goes through, as seen by a watch: each is one status write.
fn count_status_changes(api: kube::Api<CallbackRegistration>, name: &str) -> Arc<Mutex<Vec<serde_json::Value>>> {
    let seen = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let record = seen.clone();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    tokio::spawn(async move {
        let mut objects = watcher(api, config).applied_objects().boxed();
        while let Some(Ok(obj)) = objects.next().await {
            let status = serde_json::to_value(&obj.status).unwrap();
            let mut seen = record.lock().unwrap();
            if !status.is_null() && seen.last() != Some(&status) {
                seen.push(status);
            }
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_report_one_create_one_throttled_request_and_one_drift_correction_exactly() {
    // Counts a drift correction, which the periodic resync finds: a short interval so one resync fits in the test.
    let bench = MailBench::start_with("metrics", &["--resync-interval", "4s"]).await;
    let port = bench.operator.metrics_port;
    let statuses = count_status_changes(bench.api(), "orders");
    tokio::time::sleep(Duration::from_millis(500)).await; // the watch is established before the object exists

    // 1. The first create is throttled once (429 with Retry-After: 1), then succeeds.
    bench
        .sim
        .inject_for("webhook/set", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let url = bench.receiver.url("/metrics-orders");
    bench.apply("orders", &mail::block(&url, ""));
    bench.wait_ready("orders");

    // 2. The webhook vanishes at the provider; the next resync puts it back.
    assert!(bench.sim.remove_webhook(&bench.creds.key, &url));
    let sim = bench.sim.clone();
    let key = bench.creds.key.clone();
    eventually("the drift to be corrected", Duration::from_secs(30), || {
        let (sim, key, url) = (sim.clone(), key.clone(), url.clone());
        async move { sim.webhook(&key, &url).map(|_| ()) }
    })
    .await;

    let metrics = eventually(
        "the registrations gauge to count the Ready registration (refreshed every 15 s)",
        Duration::from_secs(40),
        || async {
            let text = scrape(port).await?;
            let ready = value(
                &text,
                "callback_operator_registrations",
                &[("provider", "mail"), ("ready", "True")],
            );
            let drift = value(
                &text,
                "callback_operator_drift_corrections_total",
                &[("provider", "mail")],
            );
            (ready == Some(1.0) && drift == Some(1.0)).then_some(text)
        },
    )
    .await;
    let set = |code: &str| {
        value(
            &metrics,
            "callback_operator_provider_requests_total",
            &[("provider", "mail"), ("operation", "webhook/set"), ("code", code)],
        )
    };
    assert_eq!(set("429"), Some(1.0), "one throttled create:\n{metrics}");
    assert_eq!(set("200"), Some(2.0), "the create and the drift repair:\n{metrics}");
    assert_eq!(
        value(
            &metrics,
            "callback_operator_provider_throttled_requests_total",
            &[("provider", "mail")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &metrics,
            "callback_operator_reconcile_errors_total",
            &[("reason", "RateLimited")]
        ),
        Some(1.0)
    );
    assert_eq!(total(&metrics, "callback_operator_reconcile_errors_total"), 1.0);
    assert_eq!(value(&metrics, "callback_operator_leader", &[]), Some(1.0));
    let reconciliations = total(&metrics, "callback_operator_reconciliations_total");
    assert!(
        reconciliations >= 3.0,
        "create attempt, create, drift repair: {reconciliations}"
    );

    // Every provider request by (operation, code) and every status write, exactly as the other side saw them.
    let sim = bench.sim.clone();
    eventually(
        "the operator's counts to match the simulator's log, the watched status changes and its own timings",
        Duration::from_secs(30),
        || {
            let sim = sim.clone();
            let statuses = statuses.clone();
            async move {
                let text = scrape(port).await?;
                let mut by_sim = std::collections::BTreeMap::<(String, String), f64>::new();
                for r in sim.requests() {
                    *by_sim.entry((r.op.clone(), r.status.to_string())).or_default() += 1.0;
                }
                let by_operator: std::collections::BTreeMap<(String, String), f64> = parse(&text)
                    .into_iter()
                    .filter(|s| s.name == "callback_operator_provider_requests_total")
                    .map(|s| ((s.labels["operation"].clone(), s.labels["code"].clone()), s.value))
                    .collect();
                let writes = total(&text, "callback_operator_status_writes_total");
                let changes = statuses.lock().unwrap().len() as f64;
                // Every reconciliation is also timed.
                let timed = value(&text, "callback_operator_reconcile_duration_seconds_count", &[])
                    == Some(total(&text, "callback_operator_reconciliations_total"));
                (by_sim == by_operator && writes == changes && writes >= 3.0 && timed).then_some(())
            }
        },
    )
    .await;

    // The probes.
    let livez = reqwest::get(format!("http://127.0.0.1:{port}/livez")).await.unwrap();
    assert_eq!(livez.status().as_u16(), 200);
    let (code, body) = bench.operator.readyz("").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("[+]leader ok") && body.contains("[+]sync ok"), "{body}");
}
