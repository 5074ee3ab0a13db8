//! A DocStudio test bench: namespace, envelope simulator (an application token and a login user owning one
//! mailbox), HTTPS receiver, the credential Secrets, the operator process.

use std::time::Duration;

use provider_simulators::Receiver;
use provider_simulators::envelope::{Callback, EnvelopeConfig, EnvelopeSim, EnvelopeSimulator, User};

use super::{Cluster, Operator, TestNamespace, events_about, eventually};
use callback_operator::api::{CallbackRegistration, Registration};

/// The mailbox every bench credential owns.
pub const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-0000000000e1";
/// The envelope fields most tests use (YAML, indented by 4).
pub const PLAIN_FIELDS: &str = "    retries: 3\n    timeoutMs: 5000\n";

pub struct EnvelopeBench {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub sim: EnvelopeSim,
    pub receiver: Receiver,
    pub operator: Operator,
    pub token: String,
    pub login: String,
    pub password: String,
    operator_args: Vec<String>,
}

impl EnvelopeBench {
    /// Everything up; Secret `creds` holds the application token, Secret `login-creds` the login and password,
    /// both with the simulator's endpoint.
    pub async fn start(prefix: &str) -> EnvelopeBench {
        Self::start_with(prefix, &[]).await
    }

    pub async fn start_with(prefix: &str, operator_args: &[&str]) -> EnvelopeBench {
        let cluster = Cluster::connect().await;
        let ns = TestNamespace::new(&cluster, prefix).await;
        let token = format!("envelope-token-{}", uuid::Uuid::new_v4().simple());
        let login = format!("ops-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let password = format!("login-pw-{}", uuid::Uuid::new_v4().simple());
        let sim = EnvelopeSimulator::start(EnvelopeConfig {
            tokens: vec![(token.clone(), vec![MAILBOX.into()])],
            users: vec![User {
                login: login.clone(),
                password: password.clone(),
                mailboxes: vec![MAILBOX.into()],
            }],
            ..EnvelopeConfig::default()
        })
        .await
        .expect("starting the envelope simulator");
        let receiver = Receiver::start().await.expect("starting the receiver");
        ns.put_secret("creds", &[("token", &token), ("endpoint", sim.base_url())])
            .await;
        ns.put_secret(
            "login-creds",
            &[("login", &login), ("password", &password), ("endpoint", sim.base_url())],
        )
        .await;
        let operator = Operator::start(&cluster, &[&ns.name], operator_args);
        EnvelopeBench {
            cluster,
            ns,
            sim,
            receiver,
            operator,
            token,
            login,
            password,
            operator_args: operator_args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Starts a new operator process (after `operator.kill()`), with the same arguments.
    pub fn restart_operator(&mut self) {
        let args: Vec<&str> = self.operator_args.iter().map(String::as_str).collect();
        self.operator = Operator::start(&self.cluster, &[&self.ns.name], &args);
    }

    /// A CallbackRegistration in MAILBOX for `url` using the Secret `creds`; `fields` are the envelope fields
    /// after `url` (YAML, indented by 4; e.g. [`PLAIN_FIELDS`]).
    pub fn registration(&self, name: &str, url: &str, fields: &str) -> String {
        self.registration_with(name, "creds", url, fields, "")
    }

    /// Like [`registration`](Self::registration), with the credentials Secret and extra spec lines (indented by 2).
    pub fn registration_with(&self, name: &str, creds: &str, url: &str, fields: &str, spec_extra: &str) -> String {
        format!(
            "apiVersion: callback-operator.io/v1alpha1
kind: CallbackRegistration
metadata:
  name: {name}
  namespace: {ns}
spec:
  credentialsRef:
    name: {creds}
{spec_extra}  envelope:
    mailbox: {MAILBOX}
    url: {url}
{fields}",
            ns = self.ns.name
        )
    }

    pub fn api(&self) -> kube::Api<CallbackRegistration> {
        self.cluster.registrations(&self.ns.name)
    }

    /// Waits for `kubectl wait --for=condition=Ready` on `name`.
    pub fn wait_ready(&self, name: &str) {
        self.cluster.wait_ready(&self.ns.name, name);
    }

    /// The callbacks the simulator holds in MAILBOX, oldest first.
    pub fn callbacks(&self) -> Vec<Callback> {
        self.sim.callbacks(MAILBOX)
    }

    /// `status.registration` of `name`.
    pub async fn registration_status(&self, name: &str) -> Option<Registration> {
        self.api().get(name).await.ok()?.status?.registration.map(|r| *r)
    }

    /// Waits until `name`'s status records `id`.
    pub async fn wait_recorded_id(&self, name: &str, id: &str) {
        let what = format!("{name} records callback {id}");
        eventually(&what, Duration::from_secs(30), || async {
            let recorded = self.registration_status(name).await.and_then(|r| r.id);
            (recorded.as_deref() == Some(id)).then_some(())
        })
        .await;
    }

    /// Waits for an Event about `name` with `reason` whose note contains `text`; returns the note.
    pub async fn wait_event(&self, name: &str, reason: &str, text: &str) -> String {
        let what = format!("an Event {reason} about {name} mentioning {text:?}");
        eventually(&what, Duration::from_secs(30), || async {
            events_about(&self.cluster.client, &self.ns.name, name)
                .await
                .into_iter()
                .find(|(_, r, note)| r == reason && note.contains(text))
                .map(|(_, _, note)| note)
        })
        .await
    }

    /// Waits until the simulator has served `more` further `callback/list` calls: resyncs happened.
    pub async fn wait_for_lists(&self, more: u64) {
        let target = self.sim.count("callback/list") + more;
        eventually("further resyncs", Duration::from_secs(60), || async {
            (self.sim.count("callback/list") >= target).then_some(())
        })
        .await;
    }
}
