//! The soak's world: namespaces on a private control plane, the three simulators with key pools, one receiver,
//! the operator process at its shipped defaults. `apply` performs one operation and tells the model about it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use provider_simulators::Fault;
use provider_simulators::Receiver;
use provider_simulators::edna::{CallbackUrls, Channel, EdnaConfig, EdnaSim, EdnaSimulator};
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSim, EnvelopeSimulator};
use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};
use serde_json::{Value, json};

use super::control_plane::PrivateControlPlane;
use super::defaults::{OPERATOR_DEFAULTS, SOAK_SETTINGS};
use super::model::{Identity, Model, Obj, Provider};
use super::ops::{EDNA_FIELDS, FaultKind, NAMESPACES, Op, OutOfBand, URLS, key_pool};
use crate::support::{Cluster, Operator};

pub const MAILBOX: &str = "6f1c1e1e-0000-4000-8000-00000000504b";
pub const SUBJECT_ID: i64 = 1001;

#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub ops: usize,
    pub faults: usize,
    pub faults_served: u64,
    pub checks: usize,
    pub violations: usize,
    pub operator_restarts: usize,
    pub apiserver_restarts: usize,
    pub out_of_band: usize,
}

pub struct World {
    pub cluster: Cluster,
    pub namespaces: Vec<String>,
    pub mail: MailSim,
    pub edna: EdnaSim,
    pub envelope: EnvelopeSim,
    pub receiver: Receiver,
    /// Per provider: the key pool (the last key is unknown to the simulator: revoked).
    pub keys: BTreeMap<Provider, Vec<String>>,
    pub operator: Operator,
    pub model: Model,
    pub figures: Figures,
    /// Every operator log so far (a killed process's log file goes with its temp dir).
    pub logs: String,
    /// The creation second of the last object per provider: claimants must differ in creation time, or the owner
    /// would be decided by uid (random) and the model could not predict it.
    last_created: BTreeMap<Provider, i64>,
    /// Per provider: how many fault injections so far (a fault window ends only if no newer one began).
    fault_epochs: BTreeMap<Provider, Arc<AtomicU64>>,
}

/// How long an injected fault stays armed: a provider blip, answering the next calls within this window. Faults
/// armed until consumed, whenever that is, all landed on the one object still retrying after the first of them —
/// a chain of a dozen failures that pushed its backoff to the shipped 5-minute maximum, which no real outage looks
/// like and which made every quiescent point wait minutes.
pub const FAULT_WINDOW: Duration = Duration::from_secs(5);

fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl World {
    pub async fn start(cp: &PrivateControlPlane) -> World {
        let cluster = cp.cluster.clone();
        let keys: BTreeMap<Provider, Vec<String>> = Provider::ALL
            .iter()
            .map(|p| {
                (
                    *p,
                    (0..key_pool(*p))
                        .map(|i| fresh(&format!("soak-{}-key{i}", p.label())))
                        .collect(),
                )
            })
            .collect();
        let valid = |p: Provider| keys[&p][..keys[&p].len() - 1].to_vec();
        let mail = MailSimulator::start(MailConfig {
            keys: valid(Provider::Mail),
            ..MailConfig::default()
        })
        .await
        .unwrap();
        let edna = EdnaSimulator::start(EdnaConfig {
            keys: valid(Provider::Edna),
            channels: valid(Provider::Edna)
                .into_iter()
                .map(|k| (k, Channel::active(1, "Shop", "shop_wa", SUBJECT_ID, "WHATSAPP")))
                .collect(),
            ..EdnaConfig::default()
        })
        .await
        .unwrap();
        let envelope = EnvelopeSimulator::start(EnvelopeConfig {
            tokens: valid(Provider::Envelope)
                .into_iter()
                .map(|t| (t, vec![MAILBOX.to_string()]))
                .collect(),
            ..EnvelopeConfig::default()
        })
        .await
        .unwrap();
        let receiver = Receiver::start().await.unwrap();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let namespaces: Vec<String> = (0..NAMESPACES).map(|i| format!("soak{i}-{suffix}")).collect();
        let ns_api: Api<Namespace> = Api::all(cluster.client.clone());
        for ns in &namespaces {
            let obj: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
            ns_api.create(&Default::default(), &obj).await.unwrap();
        }
        let refs: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        let operator = Operator::start(&cluster, &refs, &soak_flags());
        let model = Model {
            revoked: keys.values().map(|pool| pool.last().unwrap().clone()).collect(),
            ..Model::default()
        };
        let mut world = World {
            cluster,
            namespaces,
            mail,
            edna,
            envelope,
            receiver,
            keys,
            operator,
            model,
            figures: Figures::default(),
            logs: String::new(),
            last_created: BTreeMap::new(),
            fault_epochs: Provider::ALL.iter().map(|p| (*p, Arc::default())).collect(),
        };
        for ns in 0..NAMESPACES {
            for p in Provider::ALL {
                world.put_secret(ns, p, 0).await;
            }
        }
        world
    }

    pub fn url(&self, provider: Provider, idx: usize) -> String {
        self.receiver.url(&format!("/{}/{idx}", provider.label()))
    }

    fn endpoint(&self, provider: Provider) -> String {
        match provider {
            Provider::Mail => self.mail.base_url().to_string(),
            Provider::Edna => self.edna.base_url().to_string(),
            Provider::Envelope => self.envelope.base_url().to_string(),
        }
    }

    /// Every credential the soak handed out, labelled, for the log scan.
    pub fn credentials(&self) -> BTreeSet<(String, String)> {
        self.keys
            .iter()
            .flat_map(|(p, pool)| {
                pool.iter()
                    .enumerate()
                    .map(move |(i, k)| (format!("{} key{i}", p.label()), k.clone()))
            })
            .collect()
    }

    /// Total API calls the simulators have served.
    /// Clears `provider`'s unconsumed faults [`FAULT_WINDOW`] from now, unless another fault was injected since.
    fn disarm_after_window(&self, provider: Provider) {
        let epochs = Arc::clone(&self.fault_epochs[&provider]);
        let mine = epochs.fetch_add(1, Ordering::SeqCst) + 1;
        let (mail, edna, envelope) = (self.mail.clone(), self.edna.clone(), self.envelope.clone());
        tokio::spawn(async move {
            tokio::time::sleep(FAULT_WINDOW).await;
            if epochs.load(Ordering::SeqCst) == mine {
                match provider {
                    Provider::Mail => mail.clear_faults(),
                    Provider::Edna => edna.clear_faults(),
                    Provider::Envelope => envelope.clear_faults(),
                }
            }
        });
    }

    /// How many answers the simulators shaped with an injected fault.
    pub fn faults_served(&self) -> u64 {
        [self.mail.requests(), self.edna.requests(), self.envelope.requests()]
            .concat()
            .iter()
            .filter(|r| r.fault.is_some())
            .count() as u64
    }

    pub fn provider_calls(&self) -> u64 {
        (self.mail.requests().len() + self.edna.requests().len() + self.envelope.requests().len()) as u64
    }

    async fn put_secret(&mut self, ns: usize, provider: Provider, key: usize) {
        let value = self.keys[&provider][key].clone();
        let field = if provider == Provider::Envelope {
            "token"
        } else {
            "apiKey"
        };
        let name = provider.secret_name();
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": self.namespaces[ns]},
            "stringData": {field: value, "endpoint": self.endpoint(provider)},
        });
        let api: Api<Secret> = Api::namespaced(self.cluster.client.clone(), &self.namespaces[ns]);
        api.patch(name, &PatchParams::apply("soak").force(), &Patch::Apply(&secret))
            .await
            .expect("writing a Secret");
        let ns_name = self.namespaces[ns].clone();
        self.model.set_secret(&ns_name, provider, Some(value));
    }

    fn registrations(&self, ns: usize) -> Api<callback_operator::api::CallbackRegistration> {
        self.cluster.registrations(&self.namespaces[ns])
    }

    /// The full object for `obj` (server-side apply by the field manager `soak`: what it leaves out is removed).
    fn manifest(&self, ns: usize, name: &str, obj: &Obj) -> Value {
        let block = match obj.provider {
            Provider::Mail => {
                json!({"url": obj.url, "events": {"emailStatus": ["delivered"]}, "maxParallel": obj.max_parallel})
            }
            Provider::Edna => json!({"subjectId": SUBJECT_ID, obj.field.clone(): obj.url}),
            Provider::Envelope => json!({"mailbox": MAILBOX, "url": obj.url, "retries": 3, "timeoutMs": 5000}),
        };
        json!({
            "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
            "metadata": {"name": name, "namespace": self.namespaces[ns]},
            "spec": {
                "credentialsRef": {"name": obj.provider.secret_name()},
                "deletionPolicy": if obj.orphan { "Orphan" } else { "Delete" },
                "suspend": obj.suspend,
                obj.provider.label(): block,
            },
        })
    }

    async fn write(&self, ns: usize, name: &str, obj: &Obj) -> callback_operator::api::CallbackRegistration {
        self.registrations(ns)
            .patch(
                name,
                &PatchParams::apply("soak").force(),
                &Patch::Apply(&self.manifest(ns, name, obj)),
            )
            .await
            .expect("applying a registration")
    }

    fn key(&self, ns: usize, name: &str) -> (String, String) {
        (self.namespaces[ns].clone(), name.to_string())
    }

    /// Performs one operation and records it in the model.
    pub async fn apply(&mut self, op: &Op) {
        self.figures.ops += 1;
        match op {
            Op::Create {
                ns,
                name,
                provider,
                url,
                field,
                max_parallel,
                orphan,
                suspend,
            } => {
                self.wait_for_next_second(*provider).await;
                let mut obj = Obj {
                    provider: *provider,
                    url: self.url(*provider, *url),
                    field: EDNA_FIELDS[*field].to_string(),
                    max_parallel: *max_parallel,
                    orphan: *orphan,
                    suspend: *suspend,
                    created: (0, String::new()),
                    history: BTreeSet::new(),
                    synced_key: None,
                    may_have_synced: BTreeSet::new(),
                };
                let made = self.write(*ns, name, &obj).await;
                let created = made.metadata.creation_timestamp.as_ref().unwrap().0.as_second();
                self.last_created.insert(*provider, created);
                obj.created = (created, made.metadata.uid.clone().unwrap_or_default());
                let key = self.key(*ns, name);
                self.model.create(key, obj);
            }
            Op::Update {
                ns,
                name,
                url,
                max_parallel,
            } => {
                let key = self.key(*ns, name);
                let Some(mut obj) = self.model.objects.get(&key).cloned() else {
                    return;
                };
                obj.url = self.url(obj.provider, *url);
                if obj.provider == Provider::Mail {
                    obj.max_parallel = *max_parallel;
                }
                if self.model.objects.get(&key) == Some(&obj) {
                    // The same spec again: no new generation, no reconcile, nothing repaired.
                    return;
                }
                self.write(*ns, name, &obj).await;
                self.model.update(&key, |o| {
                    o.url = obj.url.clone();
                    o.max_parallel = obj.max_parallel;
                });
            }
            Op::Suspend { ns, name, on } => {
                let key = self.key(*ns, name);
                let Some(mut obj) = self.model.objects.get(&key).cloned() else {
                    return;
                };
                obj.suspend = *on;
                self.write(*ns, name, &obj).await;
                self.model.update(&key, |o| o.suspend = *on);
            }
            Op::Delete { ns, name } | Op::Orphan { ns, name } => {
                let key = self.key(*ns, name);
                let Some(mut obj) = self.model.objects.get(&key).cloned() else {
                    return;
                };
                if matches!(op, Op::Orphan { .. }) && !obj.orphan {
                    obj.orphan = true;
                    self.write(*ns, name, &obj).await;
                    self.model.update(&key, |o| o.orphan = true);
                }
                let _ = self.registrations(*ns).delete(name, &DeleteParams::default()).await;
                self.model.delete(&key);
            }
            Op::Rotate { ns, provider, key } => self.put_secret(*ns, *provider, *key).await,
            Op::DeleteSecret { ns, provider } => {
                let api: Api<Secret> = Api::namespaced(self.cluster.client.clone(), &self.namespaces[*ns]);
                let _ = api.delete(provider.secret_name(), &DeleteParams::default()).await;
                let ns_name = self.namespaces[*ns].clone();
                self.model.set_secret(&ns_name, *provider, None);
            }
            Op::Fault {
                provider,
                op,
                kind,
                times,
            } => {
                self.figures.faults += *times as usize;
                let fault = match kind {
                    FaultKind::Status(s) => Fault::status(*s),
                    FaultKind::RateLimited(secs) => Fault::RateLimited {
                        retry_after_secs: *secs,
                    },
                    FaultKind::DropAfterWrite => Fault::CrashAfterAdd,
                };
                match provider {
                    Provider::Mail => self.mail.inject_for(op, fault, *times),
                    Provider::Edna => self.edna.inject_for(op, fault, *times),
                    Provider::Envelope => self.envelope.inject_for(op, fault, *times),
                }
                self.disarm_after_window(*provider);
            }
            Op::KillOperator => {
                self.logs.push_str(&self.operator.log());
                self.operator.kill();
                let refs: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
                self.operator = Operator::start(&self.cluster, &refs, &soak_flags());
                self.figures.operator_restarts += 1;
                self.model.operator_restarted();
            }
            Op::RestartApiserver => {
                // Only worlds on a private control plane get here (the generator is told).
                self.figures.apiserver_restarts += 1;
            }
            Op::OutOfBand {
                provider,
                kind,
                key,
                url,
            } => self.out_of_band(*provider, *kind, *key, *url),
        }
        self.model.note_possible_syncs();
    }

    /// Changes made at a provider behind the operator's back; the identity is drifted until reconciled.
    fn out_of_band(&mut self, provider: Provider, kind: OutOfBand, key: usize, url: usize) {
        let k = self.keys[&provider][key].clone();
        let u = self.url(provider, url);
        let identity = match provider {
            Provider::Mail => {
                let Some(hook) = self.mail.webhook(&k, &u) else { return };
                match kind {
                    OutOfBand::Delete => {
                        self.mail.remove_webhook(&k, &u);
                    }
                    OutOfBand::Stop => {
                        self.mail.set_webhook_status(&k, &u, "stopped");
                    }
                    _ => {
                        let mut obj = serde_json::to_value(&hook).unwrap();
                        obj["max_parallel"] = json!(77);
                        self.mail.put_webhook(&k, obj).expect("editing a webhook");
                    }
                }
                Identity::Mail { key: k, url: u }
            }
            Provider::Edna => {
                let field = EDNA_FIELDS[url % EDNA_FIELDS.len()];
                let mut urls = self.edna.callback_urls(&k, Some(SUBJECT_ID)).unwrap_or_default();
                let foreign = Some(self.url(provider, URLS + 1));
                match field {
                    "statusCallbackUrl" => urls.status_callback_url = foreign,
                    _ => urls.in_message_callback_url = foreign,
                }
                self.edna
                    .put_callback_urls(&k, Some(SUBJECT_ID), CallbackUrls { ..urls });
                Identity::Edna {
                    key: k,
                    field: field.to_string(),
                }
            }
            Provider::Envelope => {
                let existing = self.envelope.callbacks(MAILBOX).into_iter().find(|c| c.url == u);
                let Some(callback) = existing else { return };
                match kind {
                    OutOfBand::Delete => {
                        self.envelope.remove_callback(MAILBOX, callback.id);
                    }
                    _ => {
                        let copy = json!({"url": u, "filter": {}, "retries": 3, "timeout": 5000});
                        self.envelope.put_callback(MAILBOX, copy).expect("copying a callback");
                    }
                }
                Identity::Envelope { url: u }
            }
        };
        self.figures.out_of_band += 1;
        self.model.drifted.insert(identity);
    }

    /// Sleeps until the wall clock is past the creation second of the last object of `provider`.
    async fn wait_for_next_second(&self, provider: Provider) {
        let Some(&last) = self.last_created.get(&provider) else {
            return;
        };
        loop {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            if now.as_secs() as i64 > last && now.subsec_millis() > 20 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The operator's flags in the soak: the shipped defaults, then the soak's one departure (defaults.rs).
fn soak_flags() -> Vec<&'static str> {
    OPERATOR_DEFAULTS.iter().chain(SOAK_SETTINGS).copied().collect()
}
