//! An edna test bench: namespace, edna Pulse simulator (one account with an active and a pending channel), HTTPS
//! receiver, credentials Secret, operator process.

use std::time::Duration;

use callback_operator::api::CallbackRegistration;
use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use provider_simulators::Receiver;
use provider_simulators::edna::{Channel, EdnaConfig, EdnaSim, EdnaSimulator};

use super::{Cluster, Operator, TestNamespace, eventually, ready_condition};

/// The active channel every bench starts with: sender name `shop_wa`, subjectId 1001.
pub const SHOP_SUBJECT: &str = "shop_wa";
pub const SHOP_SUBJECT_ID: i64 = 1001;
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

    pub fn api(&self) -> kube::Api<CallbackRegistration> {
        kube::Api::namespaced(self.cluster.client.clone(), &self.ns.name)
    }

    /// Waits for `kubectl wait --for=condition=Ready` on `name`.
    pub fn wait_ready(&self, name: &str) {
        self.cluster.kubectl_ok(&[
            "wait",
            "-n",
            &self.ns.name,
            "--for=condition=Ready",
            "--timeout=60s",
            &format!("cbr/{name}"),
        ]);
    }

    /// Waits until `name`'s Ready condition has `reason`; returns (status, reason, message).
    pub async fn wait_reason(&self, name: &str, reason: &str) -> (String, String, String) {
        let api = self.api();
        eventually(
            &format!("{name} Ready reason {reason}"),
            Duration::from_secs(60),
            || {
                let api = api.clone();
                async move {
                    api.get_opt(name)
                        .await
                        .ok()
                        .flatten()
                        .as_ref()
                        .and_then(ready_condition)
                        .filter(|c| c.1 == reason)
                }
            },
        )
        .await
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

    /// The Events regarding `name` (events.k8s.io/v1, as the operator's Recorder writes them).
    pub async fn events(&self, name: &str) -> Vec<Event> {
        let api: kube::Api<Event> = kube::Api::namespaced(self.cluster.client.clone(), &self.ns.name);
        api.list(&ListParams::default())
            .await
            .expect("listing Events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect()
    }

    /// Waits for an Event with `reason` regarding `name`; returns its note.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        eventually(
            &format!("Event {reason} for {name}"),
            Duration::from_secs(30),
            || async {
                self.events(name)
                    .await
                    .into_iter()
                    .find(|e| e.reason.as_deref() == Some(reason))
                    .map(|e| e.note.unwrap_or_default())
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
