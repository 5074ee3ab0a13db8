//! The Helm chart under test: rendering, installing, the chart ServiceAccount's own identity, RBAC checks, and the
//! operator process configured exactly as the chart's Deployment configures it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::{Cluster, Operator, TestNamespace};

pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/callback-operator")
}

/// Runs helm against the test cluster only.
pub fn helm(cluster: &Cluster, args: &[&str]) -> Output {
    Command::new("helm")
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("helm on PATH (eval \"$(scripts/cluster env)\")")
}

/// Runs helm and panics with its output unless it succeeds; returns stdout.
pub fn helm_ok(cluster: &Cluster, args: &[&str]) -> String {
    let out = helm(cluster, args);
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `--set` arguments for the given `key=value` pairs.
fn set_args(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| ["--set".to_string(), v.to_string()])
        .collect()
}

/// `helm template` of the chart as release `release` in `namespace`.
pub fn render(cluster: &Cluster, release: &str, namespace: &str, values: &[&str]) -> String {
    let chart = chart_dir().display().to_string();
    let mut args = vec![
        "template",
        release,
        chart.as_str(),
        "--namespace",
        namespace,
        "--include-crds",
    ];
    let sets = set_args(values);
    args.extend(sets.iter().map(String::as_str));
    helm_ok(cluster, &args)
}

/// The documents of a multi-document YAML stream, as JSON values (empty documents dropped).
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|doc| {
            let value: Value = serde::Deserialize::deserialize(doc).expect("helm renders valid YAML");
            (!value.is_null()).then_some(value)
        })
        .collect()
}

pub fn kind_of(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

/// An installed release; uninstalled on drop (cluster-scoped RBAC would otherwise outlive the test).
pub struct Release {
    pub name: String,
    pub namespace: TestNamespace,
    pub values: Vec<String>,
    cluster: Cluster,
}

impl Release {
    /// `helm install` (no `--wait`: this control plane has no kubelet to run the pods) into a fresh namespace.
    pub async fn install(cluster: &Cluster, prefix: &str, values: &[&str]) -> Release {
        let namespace = TestNamespace::new(cluster, prefix).await;
        let name = format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        let chart = chart_dir().display().to_string();
        let mut args = vec!["install", name.as_str(), chart.as_str(), "--namespace", &namespace.name];
        let sets = set_args(values);
        args.extend(sets.iter().map(String::as_str));
        let out = helm_ok(cluster, &args);
        assert!(out.contains("STATUS: deployed"), "{out}");
        Release {
            name,
            namespace,
            values: values.iter().map(|v| v.to_string()).collect(),
            cluster: cluster.clone(),
        }
    }

    /// What the release installed, as helm renders it.
    pub fn manifest(&self) -> Vec<Value> {
        documents(&helm_ok(
            &self.cluster,
            &["get", "manifest", &self.name, "--namespace", &self.namespace.name],
        ))
    }

    /// The object of `kind` the release installed (the first one).
    pub fn object(&self, kind: &str) -> Value {
        self.manifest()
            .into_iter()
            .find(|d| kind_of(d) == kind)
            .unwrap_or_else(|| panic!("the release has no {kind}"))
    }

    pub fn service_account(&self) -> String {
        self.object("ServiceAccount")["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The user name Kubernetes gives the chart's ServiceAccount.
    pub fn user(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace.name,
            self.service_account()
        )
    }

    /// A kubeconfig that authenticates as the chart's ServiceAccount (a client certificate with the same user and
    /// groups a ServiceAccount token carries), so the operator runs with exactly the chart's RBAC.
    pub fn service_account_kubeconfig(&self) -> PathBuf {
        let state = std::env::var("E2E_CLUSTER_STATE_DIR").expect("E2E_CLUSTER_STATE_DIR (scripts/cluster env)");
        let groups = format!("system:serviceaccounts,system:serviceaccounts:{}", self.namespace.name);
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster"))
            .args(["kubeconfig-for", &self.user(), &groups])
            .env("CLUSTER_STATE_DIR", state)
            .output()
            .expect("running scripts/cluster kubeconfig-for");
        assert!(
            out.status.success(),
            "kubeconfig-for failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    /// The environment the chart's Deployment gives the container, with the downward-API fields filled in as the
    /// kubelet would for a pod named `pod`.
    pub fn container_env(&self, pod: &str) -> Vec<(String, String)> {
        let deployment = self.object("Deployment");
        let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .expect("the container has env")
            .clone();
        env.iter()
            .map(|var| {
                let name = var["name"].as_str().unwrap().to_string();
                let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                    Some("metadata.name") => pod.to_string(),
                    Some("metadata.namespace") => self.namespace.name.clone(),
                    Some(other) => panic!("unexpected fieldRef {other}"),
                    None => var["value"].as_str().unwrap_or_default().to_string(),
                };
                (name, value)
            })
            .collect()
    }

    /// Starts the operator binary as pod `pod` of this release: the chart's environment, the ServiceAccount's
    /// identity, plus the harness's test flags (loopback endpoints, fast resync).
    pub fn start_operator(&self, pod: &str, namespaces: &[&str], extra: &[&str]) -> Operator {
        Operator::start_with_env(
            &self.service_account_kubeconfig(),
            namespaces,
            extra,
            &self.container_env(pod),
        )
    }

    /// `kubectl auth can-i <request>` as the chart's ServiceAccount (`request` is split on spaces, e.g.
    /// `"patch callbackregistrations.callback-operator.io --subresource=status"`), in `namespace` (None: in every
    /// namespace at once, i.e. cluster-wide).
    pub fn can_i(&self, request: &str, namespace: Option<&str>) -> bool {
        let user = format!("--as={}", self.user());
        let mut args: Vec<&str> = vec!["auth", "can-i"];
        args.extend(request.split_whitespace());
        args.push(&user);
        match namespace {
            Some(ns) => args.extend(["--namespace", ns]),
            None => args.push("--all-namespaces"),
        }
        let out = self.cluster.kubectl(&args);
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match answer.as_str() {
            "yes" => true,
            "no" => false,
            _ => panic!(
                "kubectl {args:?} gave neither yes nor no: {answer} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(
            &self.cluster,
            &["uninstall", &self.name, "--namespace", &self.namespace.name],
        );
    }
}

/// The core mail lifecycle against whatever operator `bench` runs: a registration becomes Ready with its webhook
/// at the provider (and an Event recorded), one whose Secret appears later becomes Ready then, and deleting both
/// removes their webhooks and the objects.
pub async fn mail_lifecycle(bench: &super::mail::MailBench) {
    use std::time::Duration;

    use kube::api::DeleteParams;

    use super::mail;

    let now = bench.receiver.url("/now");
    bench.apply("now", &mail::block(&now, ""));
    bench.wait_ready("now");
    assert!(
        bench.sim.webhook(&bench.creds.key, &now).is_some(),
        "the webhook is at the provider"
    );
    // Events follow the provider call and the status write: wait for it (a cluster-wide operator may be busy with
    // other tests' leftovers when Ready is seen).
    let events = super::wait_for_event(&bench.cluster.client, &bench.ns.name, "now", "Created").await;
    assert!(
        events.iter().any(|(_, reason, _)| reason == "Created"),
        "the Created Event was recorded: {events:?}"
    );

    let later = bench.receiver.url("/later");
    let yaml = bench
        .registration("later", &mail::block(&later, ""), "")
        .replace("name: creds", "name: later-creds");
    bench.cluster.apply_ok(&yaml);
    super::wait_for_reason(&bench.api(), "later", "CredentialsNotFound", Duration::from_secs(60)).await;
    bench
        .ns
        .put_secret(
            "later-creds",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    bench.wait_ready("later");
    assert!(bench.sim.webhook(&bench.creds.key, &later).is_some());

    for name in ["now", "later"] {
        bench.api().delete(name, &DeleteParams::default()).await.unwrap();
    }
    super::wait_gone(&bench.api(), &["now", "later"], Duration::from_secs(60)).await;
    assert!(
        bench.sim.webhooks(&bench.creds.key).is_empty(),
        "deleting removed both webhooks"
    );
}
