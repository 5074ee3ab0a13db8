//! Unisender Go end to end: real apiserver, the operator process, the mail simulator over HTTP.

mod support;

use std::time::Duration;

use kube::api::DeleteParams;
use support::mail::{self, MailBench};
use support::{eventually, ready_condition};

#[tokio::test(flavor = "multi_thread")]
async fn applied_registration_becomes_ready_and_the_simulator_holds_exactly_the_desired_webhook() {
    let bench = MailBench::start("mail-apply").await;
    let url = bench.receiver.url("/unisender");
    let extra = "    eventFormat: json_post_gzip\n    maxParallel: 20\n    deliveryInfo: true\n    events:\n      emailStatus: [delivered, hard_bounced, spam]\n      spamBlock: true\n";
    bench.apply("orders", &mail::block(&url, extra));
    bench.wait_ready("orders");

    let hooks = bench.sim.webhooks(&bench.creds.key);
    assert_eq!(hooks.len(), 1, "exactly one webhook: {hooks:?}");
    let hook = &hooks[0];
    assert_eq!(hook.url, url);
    assert_eq!(hook.status, "active");
    assert_eq!(hook.event_format, "json_post_gzip");
    assert_eq!(hook.max_parallel, 20);
    assert_eq!(hook.delivery_info, 1);
    assert_eq!(hook.single_event, 0);
    let mut statuses = hook.events.email_status.clone();
    statuses.sort();
    assert_eq!(statuses, ["delivered", "hard_bounced", "spam"]);
    assert_eq!(hook.events.spam_block.as_deref(), Some(&["*".to_string()][..]));

    let obj = bench.api().get("orders").await.unwrap();
    let status = obj.status.clone().unwrap();
    assert_eq!(status.provider.as_deref(), Some("mail"));
    assert_eq!(status.target.as_deref(), Some(url.as_str()));
    assert_eq!(status.observed_generation, obj.metadata.generation);
    let registration = status.registration.unwrap();
    assert_eq!(registration.urls, vec![url.clone()]);
    assert_eq!(registration.provider_status.as_deref(), Some("active"));
    assert!(registration.last_synced_time.is_some());
    assert!(
        obj.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"callback-operator.io/cleanup".to_string())
    );

    // kubectl get shows provider, target, Ready and reason.
    let table = bench.cluster.kubectl_ok(&["get", "cbr", "-n", &bench.ns.name]);
    assert!(
        table.contains("PROVIDER") && table.contains("TARGET") && table.contains("READY") && table.contains("REASON"),
        "{table}"
    );
    assert!(
        table.contains("mail") && table.contains(&url) && table.contains("True") && table.contains("Synced"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_registration_removes_webhook_at_provider_and_orphan_leaves_it() {
    let bench = MailBench::start("mail-delete").await;
    let gone = bench.receiver.url("/gone");
    let kept = bench.receiver.url("/kept");
    bench.apply("gone", &mail::block(&gone, ""));
    bench
        .cluster
        .apply_ok(&bench.registration("kept", &mail::block(&kept, ""), "  deletionPolicy: Orphan\n"));
    bench.wait_ready("gone");
    bench.wait_ready("kept");
    assert_eq!(bench.sim.webhooks(&bench.creds.key).len(), 2);

    bench.api().delete("gone", &DeleteParams::default()).await.unwrap();
    bench.api().delete("kept", &DeleteParams::default()).await.unwrap();
    let api = bench.api();
    eventually(
        "both objects gone (finalizers removed)",
        Duration::from_secs(30),
        || {
            let api = api.clone();
            async move {
                (api.get_opt("gone").await.unwrap().is_none() && api.get_opt("kept").await.unwrap().is_none())
                    .then_some(())
            }
        },
    )
    .await;
    assert!(
        bench.sim.webhook(&bench.creds.key, &gone).is_none(),
        "Delete policy removes the webhook"
    );
    assert!(
        bench.sim.webhook(&bench.creds.key, &kept).is_some(),
        "Orphan policy leaves the webhook"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_secret_reports_credentials_not_found_then_becomes_ready_when_it_appears() {
    let bench = MailBench::start("mail-nosecret").await;
    let url = bench.receiver.url("/late");
    let yaml = bench
        .registration("late", &mail::block(&url, ""), "")
        .replace("name: creds", "name: late-creds");
    bench.cluster.apply_ok(&yaml);
    let api = bench.api();
    let (status, reason, _) = eventually("CredentialsNotFound", Duration::from_secs(30), || {
        let api = api.clone();
        async move {
            api.get("late")
                .await
                .ok()
                .as_ref()
                .and_then(ready_condition)
                .filter(|c| c.1 == "CredentialsNotFound")
        }
    })
    .await;
    assert_eq!((status.as_str(), reason.as_str()), ("False", "CredentialsNotFound"));
    assert_eq!(bench.sim.count("webhook/set"), 0);

    bench
        .ns
        .put_secret(
            "late-creds",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    bench.wait_ready("late");
    assert!(bench.sim.webhook(&bench.creds.key, &url).is_some());
}
