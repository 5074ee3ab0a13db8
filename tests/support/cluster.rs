//! The local kube-apiserver, reached only through the kubeconfig `scripts/cluster` wrote (never the user's context).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use tokio::sync::OnceCell;

/// The running control plane.
#[derive(Clone)]
pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub client: kube::Client,
}

static CRD_INSTALLED: OnceCell<()> = OnceCell::const_new();

impl Cluster {
    /// Connects to the cluster named by `E2E_KUBECONFIG` and installs the CRD. Fails loudly, never skips.
    pub async fn connect() -> Cluster {
        super::init_crypto();
        let path = std::env::var("E2E_KUBECONFIG").unwrap_or_else(|_| {
            panic!(
                "E2E_KUBECONFIG is not set: the end-to-end tests need the local control plane. \
                 Run `make test`, or `scripts/cluster up && eval \"$(scripts/cluster env)\"` first."
            )
        });
        let kubeconfig = PathBuf::from(path);
        let client = client_for(&kubeconfig).await;
        let cluster = Cluster { kubeconfig, client };
        CRD_INSTALLED.get_or_init(|| async { cluster.install_crd() }).await;
        cluster
    }

    /// Connects to another control plane (e.g. a test's own instance, see `own_cluster.rs`) and installs the CRD there.
    pub async fn connect_to(kubeconfig: PathBuf) -> Cluster {
        super::init_crypto();
        let client = client_for(&kubeconfig).await;
        let cluster = Cluster { kubeconfig, client };
        cluster.install_crd();
        cluster
    }

    /// Applies the CRD from crds/ and waits until it is served.
    fn install_crd(&self) {
        let crd = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/crds/callbackregistrations.callback-operator.io.yaml"
        );
        self.kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", crd]);
        self.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/callbackregistrations.callback-operator.io",
        ]);
    }

    /// Runs kubectl against this cluster only.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_input(args, None)
    }

    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl on PATH (eval \"$(scripts/cluster env)\")");
        if let Some(text) = input {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().expect("kubectl ran")
    }

    /// Runs kubectl and panics with its output when it fails; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` of `yaml`; returns (success, combined output).
    pub fn apply(&self, yaml: &str) -> (bool, String) {
        let out = self.kubectl_with_input(&["apply", "-f", "-"], Some(yaml));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// The CallbackRegistrations of `namespace`.
    pub fn registrations(&self, namespace: &str) -> Api<callback_operator::api::CallbackRegistration> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `kubectl wait --for=condition=Ready` on the CallbackRegistration `namespace/name` (60 s).
    pub fn wait_ready(&self, namespace: &str, name: &str) {
        self.kubectl_ok(&[
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            "--timeout=60s",
            &format!("cbr/{name}"),
        ]);
    }

    pub fn apply_ok(&self, yaml: &str) {
        let (ok, text) = self.apply(yaml);
        assert!(ok, "kubectl apply failed:\n{text}\n---\n{yaml}");
    }
}

/// A namespace of one test; deleted on drop (best effort: without kube-controller-manager it stays Terminating,
/// which is harmless since every test uses a fresh name).
pub struct TestNamespace {
    pub name: String,
    client: kube::Client,
}

impl TestNamespace {
    pub async fn new(cluster: &Cluster, prefix: &str) -> TestNamespace {
        let name = format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let api: Api<Namespace> = Api::all(cluster.client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns)
            .await
            .expect("creating the test namespace");
        TestNamespace {
            name,
            client: cluster.client.clone(),
        }
    }

    /// Creates or replaces a Secret with string data.
    pub async fn put_secret(&self, name: &str, data: &[(&str, &str)]) {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.name);
        let string_data: std::collections::BTreeMap<String, String> =
            data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": self.name},
            "stringData": string_data,
        }))
        .unwrap();
        let params = kube::api::PatchParams::apply("e2e-test").force();
        // Replace the data wholesale: a rotated Secret must not keep old keys.
        let _ = api.delete(name, &DeleteParams::default()).await;
        api.patch(name, &params, &kube::api::Patch::Apply(&secret))
            .await
            .expect("writing the Secret");
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let client = self.client.clone();
        let name = self.name.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let api: Api<Namespace> = Api::all(client);
                let _ = api.delete(&name, &DeleteParams::default()).await;
            });
        }
    }
}

/// A client for the cluster `kubeconfig` names (panics with the reason otherwise: test set-up).
async fn client_for(kubeconfig: &std::path::Path) -> kube::Client {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    kube::Client::try_from(config).expect("a kube client")
}
