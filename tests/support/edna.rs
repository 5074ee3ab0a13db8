//! An edna test bench: namespace, edna Pulse simulator (one account with an active and a pending channel), HTTPS
//! receiver, credentials Secret, operator process.

use std::time::Duration;

use callback_operator::api::CallbackRegistration;
use provider_simulators::Receiver;
use provider_simulators::edna::{CallbackUrls, Channel, EdnaConfig, EdnaSim, EdnaSimulator};

use super::{Cluster, Operator, TestNamespace, events_about, eventually, wait_for_reason};

/// The active channel every bench starts with: sender name `shop_wa`, subjectId 1001.
pub const SHOP_SUBJECT: &str = "shop_wa";
pub const SHOP_SUBJECT_ID: i64 = 1001;
/// `edna:` lines for the `shop_wa` channel by id, followed by `lines` (indented by 4).
pub fn on_shop(lines: &str) -> String {
    format!("    subjectId: {SHOP_SUBJECT_ID}\n{lines}")
}

/// A channel that exists but is not active yet (channel id 2, no subjectId).
pub const LATE_SUBJECT: &str = "late_wa";
pub const LATE_CHANNEL_ID: i64 = 2;

pub struct EdnaBench {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub sim: EdnaSim,
    pub receiver: Receiver,
    pub operator: Operator,
    pub key: String,
}

impl EdnaBench {
    /// Everything up, the Secret `creds` holding a valid key and the simulator's endpoint.
    pub async fn start(prefix: &str) -> EdnaBench {
        Self::start_with(prefix, &[]).await
    }

    pub async fn start_with(prefix: &str, operator_args: &[&str]) -> EdnaBench {
        let cluster = Cluster::connect().await;
        let ns = TestNamespace::new(&cluster, prefix).await;
        let key = format!("edna-key-{}", uuid::Uuid::new_v4().simple());
        let sim = EdnaSimulator::start(EdnaConfig {
            keys: vec![key.clone()],
            channels: vec![
                (
                    key.clone(),
                    Channel::active(1, "Shop", SHOP_SUBJECT, SHOP_SUBJECT_ID, "WHATSAPP"),
                ),
                (
                    key.clone(),
                    Channel::pending(LATE_CHANNEL_ID, "Late", LATE_SUBJECT, "WHATSAPP"),
                ),
            ],
            ..EdnaConfig::default()
        })
        .await
        .expect("starting the edna simulator");
        let receiver = Receiver::start().await.expect("starting the receiver");
        ns.put_secret("creds", &[("apiKey", &key), ("endpoint", sim.base_url())])
            .await;
        let operator = Operator::start(&cluster, &[&ns.name], operator_args);
        EdnaBench {
            cluster,
            ns,
            sim,
            receiver,
            operator,
            key,
        }
    }

    /// A CallbackRegistration with the given `edna:` lines (YAML, indented by 4) and extra spec lines (indented by 2).
    pub fn registration(&self, name: &str, edna_lines: &str, spec_extra: &str) -> String {
        format!(
            "apiVersion: callback-operator.io/v1alpha1
kind: CallbackRegistration
metadata:
  name: {name}
  namespace: {ns}
spec:
  credentialsRef:
    name: creds
{spec_extra}  edna:
{edna_lines}",
            ns = self.ns.name
        )
    }

    /// What the simulator holds for the `shop_wa` channel (subjectId 1001).
    pub fn shop_urls(&self) -> Option<CallbackUrls> {
        self.sim.callback_urls(&self.key, Some(SHOP_SUBJECT_ID))
    }

    /// `kubectl apply` of a registration with these `edna:` lines and the `creds` Secret.
    pub fn apply(&self, name: &str, edna_lines: &str) {
        self.cluster.apply_ok(&self.registration(name, edna_lines, ""));
    }

    pub fn api(&self) -> kube::Api<CallbackRegistration> {
        kube::Api::namespaced(self.cluster.client.clone(), &self.ns.name)
    }

    /// Waits for `kubectl wait --for=condition=Ready` on `name`.
    pub fn wait_ready(&self, name: &str) {
        self.cluster.wait_ready(&self.ns.name, name);
    }

    /// Waits until `name`'s Ready condition has `reason`; returns (status, message).
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

    /// Waits for an Event with `reason` regarding `name`; returns (type, note).
    pub async fn wait_event(&self, name: &str, reason: &str) -> (String, String) {
        eventually(
            &format!("Event {reason} for {name}"),
            Duration::from_secs(30),
            || async {
                events_about(&self.cluster.client, &self.ns.name, name)
                    .await
                    .into_iter()
                    .find(|(_, r, _)| r == reason)
                    .map(|(type_, _, note)| (type_, note))
            },
        )
        .await
    }

    /// Deletes `name` and waits until it is gone (finalizer removed).
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
