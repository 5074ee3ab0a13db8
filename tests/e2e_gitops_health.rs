//! GitOps health proven with the GitOps tools' own code on real objects: the operator (shipped defaults) drives
//! registrations into every state against the simulators, then each object, as the apiserver serves it, is judged by
//! the shipped Argo CD health script (evaluated by gopher-lua, Argo CD's Lua engine) and by kstatus (what Flux's
//! `wait` / `healthChecks` use). Prints the table `state | Argo CD health | message | kstatus`.

mod support;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use provider_simulators::Fault;
use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};
use serde_json::{Value, json};
use support::gitops::{self, Judged};
use support::mail::{self, MailBench};
use support::{eventually, wait_gone};

/// Holds a deleted object after the operator's cleanup, so "being deleted" can be looked at.
const HOLD: &str = "gitops-test.example/hold";

/// Another mail simulator accepting the bench's key, whose every call fails with `fault` (one provider per failure
/// mode, so no fault reaches another object's calls).
async fn failing_sim(bench: &MailBench, fault: Fault) -> MailSim {
    let sim = MailSimulator::start(MailConfig {
        keys: vec![bench.creds.key.clone()],
        ..MailConfig::default()
    })
    .await
    .expect("starting a mail simulator");
    sim.inject(fault, 1_000_000);
    sim
}

/// The object exactly as the apiserver serves it (what Argo CD and Flux read).
fn live(bench: &MailBench, name: &str) -> Value {
    let out = bench
        .cluster
        .kubectl_ok(&["get", "-n", &bench.ns.name, "cbr", name, "-o", "json"]);
    serde_json::from_str(&out).unwrap()
}

/// `reason: message` of condition `kind`, as the health script quotes it.
fn quoted(object: &Value, kind: &str) -> String {
    let condition = object["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {object}"));
    format!(
        "{}: {}",
        condition["reason"].as_str().unwrap(),
        condition["message"].as_str().unwrap()
    )
}

/// `kubectl apply` of a mail registration to the receiver's `path`, using the Secret `creds`.
fn apply(bench: &MailBench, name: &str, creds: &str, path: &str, spec_extra: &str) {
    let url = bench.receiver.url(path);
    bench
        .cluster
        .apply_ok(&bench.registration_using(name, creds, &mail::block(&url, ""), spec_extra));
}

struct Row {
    state: String,
    argo: Judged,
    kstatus: Judged,
}

fn judge(rows: &mut Vec<Row>, state: &str, object: &Value) -> (Judged, Judged) {
    let (argo, kstatus) = (gitops::argo_health(object), gitops::kstatus(object));
    rows.push(Row {
        state: state.to_string(),
        argo: argo.clone(),
        kstatus: kstatus.clone(),
    });
    (argo, kstatus)
}

async fn wait_condition(bench: &MailBench, name: &str, kind: &str, reason: &str) {
    eventually(
        &format!("{name}: {kind}=True with reason {reason}"),
        Duration::from_secs(60),
        || async {
            let obj = bench.api().get(name).await.ok()?;
            obj.status?
                .conditions
                .iter()
                .any(|c| c.type_ == kind && c.status == "True" && c.reason == reason)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn argo_cd_and_kstatus_judge_every_state_of_real_objects() {
    let mut bench = MailBench::start("gitops-health").await; // shipped defaults
    let mut rows = Vec::new();
    let key = bench.creds.key.clone();
    let flaky = failing_sim(&bench, Fault::status(503)).await;
    let refusing = failing_sim(
        &bench,
        Fault::Status {
            status: 400,
            body: json!({"status": "error", "code": 2707, "message": "max_parallel is out of range"}),
        },
    )
    .await;
    let secrets: [(&str, &str, &str); 4] = [
        ("bad", "wrong-key-gitops-0123456789", bench.sim.base_url()),
        ("flaky", &key, flaky.base_url()),
        ("refusing", &key, refusing.base_url()),
        // Not allowed by the operator's --allowed-endpoints (only the loopback simulators are).
        ("elsewhere", &key, "https://api.elsewhere.example"),
    ];
    for (name, api_key, endpoint) in secrets {
        bench
            .ns
            .put_secret(name, &[("apiKey", api_key), ("endpoint", endpoint)])
            .await;
    }

    // Ready (and the owner of /shared).
    apply(&bench, "ready", "creds", "/shared", "");
    bench.wait_ready("ready");
    let (argo, kstatus) = judge(&mut rows, "Ready", &live(&bench, "ready"));
    assert_eq!((argo.status.as_str(), kstatus.status.as_str()), ("Healthy", "Current"));
    assert_eq!(argo.message, quoted(&live(&bench, "ready"), "Ready"));

    // Reconciling: the provider answers 503, retried with backoff; and a credentials Secret still to come.
    apply(&bench, "retrying", "flaky", "/retrying", "");
    wait_condition(&bench, "retrying", "Reconciling", "ProviderUnavailable").await;
    apply(&bench, "waiting", "not-yet", "/waiting", "");
    wait_condition(&bench, "waiting", "Reconciling", "CredentialsNotFound").await;
    for (state, name) in [
        ("Reconciling (provider 503, retrying)", "retrying"),
        ("Reconciling (credentials Secret missing)", "waiting"),
    ] {
        let object = live(&bench, name);
        let (argo, kstatus) = judge(&mut rows, state, &object);
        assert_eq!(
            (argo.status.as_str(), kstatus.status.as_str()),
            ("Progressing", "InProgress"),
            "{state}"
        );
        assert_eq!(argo.message, quoted(&object, "Reconciling"), "{state}");
    }

    // Stalled, one object per class: rejected credentials (breaker), ownership, the provider refusing the request,
    // a gate on the Secret (endpoint not allowed).
    apply(&bench, "bad-credentials", "bad", "/bad", "");
    apply(&bench, "conflict", "creds", "/shared", "");
    apply(&bench, "refused", "refusing", "/refused", "");
    apply(&bench, "endpoint-denied", "elsewhere", "/denied", "");
    for (state, name, reason) in [
        ("Stalled: credentials rejected", "bad-credentials", "InvalidCredentials"),
        ("Stalled: ownership conflict", "conflict", "Conflict"),
        ("Stalled: provider refused (permanent)", "refused", "ProviderRejected"),
        (
            "Stalled: gate (endpoint not allowed)",
            "endpoint-denied",
            "EndpointNotAllowed",
        ),
    ] {
        wait_condition(&bench, name, "Stalled", reason).await;
        let object = live(&bench, name);
        let (argo, kstatus) = judge(&mut rows, state, &object);
        assert_eq!(
            (argo.status.as_str(), kstatus.status.as_str()),
            ("Degraded", "Failed"),
            "{state}"
        );
        assert_eq!(argo.message, quoted(&object, "Stalled"), "{state}");
        assert!(
            quoted(&object, "Stalled").ends_with(&kstatus.message),
            "{state}: {kstatus:?}"
        );
    }

    // Suspended.
    apply(&bench, "suspended", "creds", "/suspended", "  suspend: true\n");
    bench.wait_reason("suspended", "Suspended").await;
    let object = live(&bench, "suspended");
    let (argo, kstatus) = judge(&mut rows, "Suspended", &object);
    // kstatus has no "suspended": it reads Ready=Unknown as InProgress (nothing is verified at the provider while
    // suspended). docs/gitops.md says how to keep a suspended registration out of Flux's health checks.
    assert_eq!(
        (argo.status.as_str(), kstatus.status.as_str()),
        ("Suspended", "InProgress")
    );
    assert_eq!(argo.message, quoted(&object, "Ready"));

    // Being deleted: another controller's finalizer holds the object after the operator's cleanup ran.
    apply(&bench, "deleting", "creds", "/deleting", "");
    bench.wait_ready("deleting");
    bench
        .api()
        .patch(
            "deleting",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": [callback_operator::api::FINALIZER, HOLD]}})),
        )
        .await
        .unwrap();
    bench.api().delete("deleting", &DeleteParams::default()).await.unwrap();
    eventually(
        "the operator's cleanup done, the object held",
        Duration::from_secs(30),
        || async {
            let obj = bench.api().get("deleting").await.ok()?;
            (obj.metadata.finalizers.as_deref() == Some(&[HOLD.to_string()][..])).then_some(())
        },
    )
    .await;
    let (argo, kstatus) = judge(&mut rows, "being deleted", &live(&bench, "deleting"));
    assert_eq!(
        (argo.status.as_str(), kstatus.status.as_str()),
        ("Progressing", "Terminating")
    );
    assert_eq!(
        argo.message,
        "Being deleted (deletionPolicy Delete): the operator removes the registration at the provider first"
    );

    // Right after a spec change, before the operator has looked at it: stop the operator first, so the object is
    // read with observedGeneration behind, deterministically.
    bench.operator.kill();
    bench
        .api()
        .patch(
            "ready",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"mail": {"maxParallel": 30}}})),
        )
        .await
        .unwrap();
    let object = live(&bench, "ready");
    assert_eq!(object["metadata"]["generation"], 2);
    assert_eq!(object["status"]["observedGeneration"], 1);
    let (argo, kstatus) = judge(&mut rows, "spec changed, not yet observed", &object);
    assert_eq!(
        (argo.status.as_str(), kstatus.status.as_str()),
        ("Progressing", "InProgress")
    );
    assert!(argo.message.contains("generation 2"), "{argo:?}");
    // And a new object the operator has not seen at all (no status yet).
    apply(&bench, "unseen", "creds", "/unseen", "");
    let (argo, kstatus) = judge(&mut rows, "created, no status yet", &live(&bench, "unseen"));
    assert_eq!(argo.status, "Progressing", "{argo:?}");
    // kstatus' known limit (docs/gitops.md): without conditions there is nothing to wait for.
    assert_eq!(kstatus.status, "Current", "{kstatus:?}");
    let unseen_kstatus = kstatus.status.clone();

    // The operator back: the spec change is acted on, and both tools call it healthy again.
    bench.restart_operator();
    eventually("generation 2 Ready", Duration::from_secs(30), || async {
        let obj = bench.api().get("ready").await.ok()?;
        let status = obj.status?;
        (status.observed_generation == Some(2)
            && status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"))
        .then_some(())
    })
    .await;
    let (argo, kstatus) = judge(&mut rows, "spec change acted on", &live(&bench, "ready"));
    assert_eq!((argo.status.as_str(), kstatus.status.as_str()), ("Healthy", "Current"));

    println!("\n| object state | Argo CD health | Argo CD message | kstatus | kstatus message |");
    println!("| --- | --- | --- | --- | --- |");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.state, row.argo.status, row.argo.message, row.kstatus.status, row.kstatus.message
        );
    }
    println!("(kstatus on an object with no status yet: {unseen_kstatus})");

    // Let the held object go.
    bench
        .api()
        .patch(
            "deleting",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    wait_gone(&bench.api(), &["deleting"], Duration::from_secs(30)).await;
}

/// The `argocd-cm` snippet carries exactly the shipped script (it is the script, indented under its data key).
#[test]
fn the_argocd_cm_snippet_embeds_the_health_script() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join(gitops::HEALTH_LUA)).unwrap();
    let snippet = std::fs::read_to_string(root.join("charts/callback-operator/argocd/argocd-cm.yaml")).unwrap();
    let config_map: Value = serde_yaml::from_str(&snippet).unwrap();
    assert_eq!(config_map["metadata"]["name"], "argocd-cm");
    assert_eq!(
        config_map["data"]["resource.customizations.health.callback-operator.io_CallbackRegistration"]
            .as_str()
            .unwrap(),
        script
    );
}

/// The GitOps examples parse, and every Flux health check and Argo CD source they hold names what this repository
/// ships (the CRD's group, version and kind; the chart's path).
#[test]
fn the_gitops_examples_name_what_the_repository_ships() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let documents = |file: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(root.join("examples/gitops").join(file)).unwrap();
        serde_yaml::Deserializer::from_str(&text)
            .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
            .collect()
    };
    let kustomizations = documents("flux-kustomizations.yaml");
    let checks: Vec<&Value> = kustomizations
        .iter()
        .filter_map(|k| k["spec"]["healthChecks"].as_array())
        .flatten()
        .collect();
    assert!(!checks.is_empty());
    for check in checks {
        assert_eq!(check["apiVersion"], "callback-operator.io/v1alpha1");
        assert_eq!(check["kind"], "CallbackRegistration");
    }
    let last = kustomizations.last().unwrap();
    let depends: Vec<&str> = last["spec"]["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    let earlier: Vec<&str> = kustomizations[..kustomizations.len() - 1]
        .iter()
        .map(|k| k["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        depends, earlier,
        "the registrations come after the operator and the Secrets"
    );

    let applications = documents("argocd-applications.yaml");
    assert_eq!(applications[0]["spec"]["source"]["path"], "charts/callback-operator");
    assert!(root.join("charts/callback-operator/Chart.yaml").exists());
    let wave = |a: &Value| {
        a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    assert!(
        wave(&applications[0]) < wave(&applications[1]),
        "the operator's wave first"
    );
}

/// The branches no state above reaches, on hand-written objects: an orphaning deletion, a Ready=False without
/// Reconciling or Stalled (not written by this operator, but a script must not call it healthy).
#[test]
fn the_health_script_covers_orphaning_deletion_and_a_bare_ready_false() {
    let orphaning = json!({
        "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
        "metadata": {"name": "o", "generation": 1, "deletionTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"deletionPolicy": "Orphan"},
    });
    let judged = gitops::argo_health(&orphaning);
    assert_eq!(
        (judged.status.as_str(), judged.message.as_str()),
        (
            "Progressing",
            "Being deleted (deletionPolicy Orphan): the registration stays at the provider"
        )
    );
    let bare = json!({
        "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
        "metadata": {"name": "b", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": "False", "reason": "Something", "message": "went wrong"}]},
    });
    let judged = gitops::argo_health(&bare);
    assert_eq!(
        (judged.status.as_str(), judged.message.as_str()),
        ("Degraded", "Something: went wrong")
    );
}
