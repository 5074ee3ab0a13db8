//! One end-to-end bench for every provider: a namespace on the real control plane, the provider's simulator with
//! fresh credentials, an HTTPS receiver, the credential Secrets, and the operator process watching the namespace.
//!
//! What differs per provider is a [`SimulatedProvider`] implementation on its simulator handle, in
//! `tests/support/<provider>.rs`; everything else (applying registrations, waiting for conditions and Events,
//! deleting, restarting the operator, reading its metrics) is a method of [`Bench`], the same for all.
//!
//! To add a provider's e2e file:
//!
//! 1. In `tests/support/<provider>.rs`, implement [`SimulatedProvider`] for the simulator handle: start it with
//!    fresh credentials it accepts, name the Secrets to put (the Secret `creds` first), give the YAML key of the
//!    spec block. Add `pub type <Provider>Bench = Bench<<Provider>Sim>;`, a `block(...)` function writing the
//!    provider's spec block (lines indented by 4), and provider-only helpers as `impl Bench<<Provider>Sim>`
//!    methods. Declare the module in `tests/support/mod.rs`.
//! 2. Write `tests/e2e_<provider>.rs` like this:
//!
//! ```ignore
//! mod support;
//!
//! use support::mail::{self, MailBench};
//!
//! #[tokio::test(flavor = "multi_thread")]
//! async fn applied_registration_becomes_ready() {
//!     let bench = MailBench::start("mail-ready").await; // namespace prefix
//!     let url = bench.receiver.url("/hook");
//!     bench.apply("orders", &mail::block(&url, ""));
//!     bench.wait_ready("orders");
//!     assert!(bench.sim.webhook(&bench.creds.key, &url).is_some());
//!     let (kind, _note) = bench.wait_event("orders", "Created").await;
//!     assert_eq!(kind, "Normal");
//!     bench.delete_and_wait_gone("orders").await;
//! }
//! ```
//!
//! `Bench::start_with(prefix, &["--flag", "value"])` passes extra operator arguments; `Bench::start_in` runs the
//! bench in an existing namespace with an operator process of the caller's making (e.g. the Helm chart's identity).

use std::future::Future;
use std::time::Duration;

use callback_operator::api::{CallbackRegistration, Registration};
use provider_simulators::Receiver;

use super::{Cluster, Operator, TestNamespace, events_about, eventually, wait_for_reason};

/// A Secret the bench writes: its name and its string data.
pub type SecretData = (&'static str, Vec<(&'static str, String)>);

/// What a provider's bench needs from its simulator handle.
pub trait SimulatedProvider: Sized {
    /// The credentials the simulator accepts, as the tests read them (e.g. to ask the simulator what they own).
    type Credentials;
    /// The key of the provider's block under `spec` (`mail`, `edna`, `envelope`).
    const SPEC_KEY: &'static str;
    /// Starts the simulator on 127.0.0.1 with freshly made credentials it accepts.
    fn start() -> impl Future<Output = (Self, Self::Credentials)>;
    /// The Secrets to put before the operator starts (the one named `creds` holds `credentials` and the endpoint).
    fn secrets(&self, credentials: &Self::Credentials) -> Vec<SecretData>;
    /// Switches the simulator to the readings `SIM_READING` names for this provider (`support::readings`).
    fn apply_readings(&self);
}

/// A single-key credential (the mail and edna API keys).
pub struct ApiKey {
    pub key: String,
}

impl ApiKey {
    /// A fresh key `<prefix>-<uuid>`.
    pub fn fresh(prefix: &str) -> ApiKey {
        ApiKey {
            key: format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

pub struct Bench<S: SimulatedProvider> {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub sim: S,
    pub creds: S::Credentials,
    pub receiver: Receiver,
    pub operator: Operator,
    /// The extra arguments the bench started its operator with (None: the caller's own process, `start_in`).
    operator_args: Option<Vec<String>>,
}

impl<S: SimulatedProvider> Bench<S> {
    /// Everything up in a fresh namespace named after `prefix`, the operator with the test defaults.
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, &[]).await
    }

    /// Like [`start`](Self::start), with extra operator arguments (a flag given here replaces the test default).
    pub async fn start_with(prefix: &str, operator_args: &[&str]) -> Self {
        let cluster = Cluster::connect().await;
        let ns = TestNamespace::new(&cluster, prefix).await;
        let for_operator = cluster.clone();
        let mut bench = Self::start_in(cluster, ns, move |ns| {
            Operator::start(&for_operator, &[&ns.name], operator_args)
        })
        .await;
        bench.operator_args = Some(operator_args.iter().map(|a| a.to_string()).collect());
        bench
    }

    /// The bench in an existing namespace, with an operator process started by `operator` once the simulator, the
    /// receiver and the Secrets are up (e.g. one running as the Helm chart's ServiceAccount).
    pub async fn start_in(
        cluster: Cluster,
        ns: TestNamespace,
        operator: impl FnOnce(&TestNamespace) -> Operator,
    ) -> Self {
        let (sim, creds) = S::start().await;
        sim.apply_readings();
        let receiver = Receiver::start().await.expect("starting the receiver");
        for (name, data) in sim.secrets(&creds) {
            let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ns.put_secret(name, &data).await;
        }
        let operator = operator(&ns);
        Bench {
            cluster,
            ns,
            sim,
            creds,
            receiver,
            operator,
            operator_args: None,
        }
    }

    /// Starts a new operator process (after `operator.kill()`) with the arguments the bench started it with.
    pub fn restart_operator(&mut self) {
        let args = self
            .operator_args
            .as_ref()
            .expect("restart_operator needs a bench started by start or start_with");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.operator = Operator::start(&self.cluster, &[&self.ns.name], &args);
    }

    /// A CallbackRegistration using the Secret `creds`: extra `spec_extra` lines (YAML, indented by 2), then the
    /// provider block with `block` lines (indented by 4).
    pub fn registration(&self, name: &str, block: &str, spec_extra: &str) -> String {
        self.registration_using(name, "creds", block, spec_extra)
    }

    /// Like [`registration`](Self::registration), with the credentials Secret `creds`.
    pub fn registration_using(&self, name: &str, creds: &str, block: &str, spec_extra: &str) -> String {
        manifest(&self.ns.name, name, creds, S::SPEC_KEY, block, spec_extra)
    }

    /// `kubectl apply` of a registration with these block lines and the Secret `creds`.
    pub fn apply(&self, name: &str, block: &str) {
        self.cluster.apply_ok(&self.registration(name, block, ""));
    }

    pub fn api(&self) -> kube::Api<CallbackRegistration> {
        self.cluster.registrations(&self.ns.name)
    }

    /// Waits for `kubectl wait --for=condition=Ready` on `name`.
    pub fn wait_ready(&self, name: &str) {
        self.cluster.wait_ready(&self.ns.name, name);
    }

    /// Waits until `name`'s Ready condition has `reason` (60 s); returns (status, message).
    pub async fn wait_reason(&self, name: &str, reason: &str) -> (String, String) {
        wait_for_reason(&self.api(), name, reason, Duration::from_secs(60)).await
    }

    /// Whether the object has a condition `type_` with status True.
    pub async fn condition_true(&self, name: &str, type_: &str) -> bool {
        self.api()
            .get(name)
            .await
            .ok()
            .and_then(|o| o.status)
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == type_ && c.status == "True"))
    }

    /// `status.registration` of `name`.
    pub async fn registration_status(&self, name: &str) -> Option<Registration> {
        self.api().get(name).await.ok()?.status?.registration.map(|r| *r)
    }

    /// The Events about `name`, as (type, reason, note).
    pub async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        events_about(&self.cluster.client, &self.ns.name, name).await
    }

    /// Waits (30 s) for an Event with `reason` about `name`; returns (type, note).
    pub async fn wait_event(&self, name: &str, reason: &str) -> (String, String) {
        self.wait_event_mentioning(name, reason, "").await
    }

    /// Waits (30 s) for an Event with `reason` about `name` whose note contains `text`; returns (type, note).
    pub async fn wait_event_mentioning(&self, name: &str, reason: &str, text: &str) -> (String, String) {
        let what = format!("an Event {reason} about {name} mentioning {text:?}");
        eventually(&what, Duration::from_secs(30), || async {
            self.events(name)
                .await
                .into_iter()
                .find(|(_, r, note)| r == reason && note.contains(text))
                .map(|(type_, _, note)| (type_, note))
        })
        .await
    }

    /// Deletes `name` and waits (30 s) until it is gone (finalizer removed).
    pub async fn delete_and_wait_gone(&self, name: &str) {
        self.api()
            .delete(name, &kube::api::DeleteParams::default())
            .await
            .expect("deleting the registration");
        let api = self.api();
        eventually(
            &format!("{name} gone (finalizer removed)"),
            Duration::from_secs(30),
            || {
                let api = api.clone();
                async move { api.get_opt(name).await.unwrap().is_none().then_some(()) }
            },
        )
        .await;
    }

    /// The operator's count of finished reconciliations (ok + error), from /metrics.
    pub async fn reconciliations(&self) -> u64 {
        self.operator
            .metrics()
            .await
            .lines()
            .filter(|l| l.starts_with("callback_operator_reconciliations_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }
}

/// A CallbackRegistration `namespace/name` using the Secret `creds`: extra `spec_extra` lines (indented by 2), then
/// the `spec_key:` block with `block` lines (indented by 4). For objects made without a bench (schema tests).
pub fn manifest(namespace: &str, name: &str, creds: &str, spec_key: &str, block: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: callback-operator.io/v1alpha1
kind: CallbackRegistration
metadata:
  name: {name}
  namespace: {namespace}
spec:
  credentialsRef:
    name: {creds}
{spec_extra}  {spec_key}:
{block}"
    )
}
