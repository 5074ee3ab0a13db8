//! A mail test bench: namespace, Unisender Go simulator, HTTPS receiver, credentials Secret, operator process.

use provider_simulators::Receiver;
use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};

use super::{Cluster, Operator, TestNamespace};

pub struct MailBench {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub sim: MailSim,
    pub receiver: Receiver,
    pub operator: Operator,
    pub key: String,
}

impl MailBench {
    /// Everything up, the Secret `creds` holding a valid key and the simulator's endpoint.
    pub async fn start(prefix: &str) -> MailBench {
        Self::start_with(prefix, &[]).await
    }

    pub async fn start_with(prefix: &str, operator_args: &[&str]) -> MailBench {
        let cluster = Cluster::connect().await;
        let ns = TestNamespace::new(&cluster, prefix).await;
        let for_operator = cluster.clone();
        Self::start_in(cluster, ns, move |ns| {
            Operator::start(&for_operator, &[&ns.name], operator_args)
        })
        .await
    }

    /// The bench in an existing namespace, with an operator process started by `operator` once the simulator, the
    /// receiver and the Secret are up (e.g. one running as the Helm chart's ServiceAccount).
    pub async fn start_in(
        cluster: Cluster,
        ns: TestNamespace,
        operator: impl FnOnce(&TestNamespace) -> Operator,
    ) -> MailBench {
        let key = format!("mail-key-{}", uuid::Uuid::new_v4().simple());
        let sim = MailSimulator::start(MailConfig {
            keys: vec![key.clone()],
            ..MailConfig::default()
        })
        .await
        .expect("starting the mail simulator");
        let receiver = Receiver::start().await.expect("starting the receiver");
        ns.put_secret("creds", &[("apiKey", &key), ("endpoint", sim.base_url())])
            .await;
        let operator = operator(&ns);
        MailBench {
            cluster,
            ns,
            sim,
            receiver,
            operator,
            key,
        }
    }

    /// A CallbackRegistration for `url` with the given extra `mail:` lines (YAML, indented by 4).
    pub fn registration(&self, name: &str, url: &str, mail_extra: &str, spec_extra: &str) -> String {
        format!(
            "apiVersion: callback-operator.io/v1alpha1
kind: CallbackRegistration
metadata:
  name: {name}
  namespace: {ns}
spec:
  credentialsRef:
    name: creds
{spec_extra}  mail:
    url: {url}
    events:
      emailStatus: [delivered, hard_bounced, spam]
{mail_extra}",
            ns = self.ns.name
        )
    }

    pub fn api(&self) -> kube::Api<callback_operator::api::CallbackRegistration> {
        self.cluster.registrations(&self.ns.name)
    }

    /// Waits for `kubectl wait --for=condition=Ready` on `name`.
    pub fn wait_ready(&self, name: &str) {
        self.cluster.wait_ready(&self.ns.name, name);
    }
}
