//! Wiring: the CallbackRegistration watch (feeding the claim index), the metadata-only Secret watch mapped through
//! the Secret index, re-triggers for released identities, bounded concurrency, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Api, ResourceExt};
use tracing::{info, warn};

use super::backoff::Backoff;
use super::breaker::CredentialBreaker;
use super::change_filter::ChangeFilter;
use super::indexes::Indexes;
use super::reconcile::{error_policy, reconcile};
use super::recorder::EventRecorder;
use super::resync::ResyncQueue;
use super::{Context, Settings};
use crate::api::CallbackRegistration;
use crate::providers::Providers;
use crate::telemetry::Metrics;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub settings: Settings,
    /// Reconciliations in flight at once: also the first rate limit on the providers.
    pub concurrency: u16,
    /// The Event reporter instance (pod name).
    pub instance: Option<String>,
    /// Namespaces to watch; empty means every namespace (cluster-scoped RBAC).
    pub namespaces: Vec<String>,
}

/// Runs the controller until `shutdown` resolves; in-flight reconciliations finish first.
pub async fn run_controller(
    client: kube::Client,
    providers: Providers,
    metrics: Metrics,
    options: ControllerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    on_synced: impl Fn() + Send + Sync + 'static,
) {
    let (store, writer) = reflector::store();
    let indexes = Arc::new(Indexes::new(providers.clone()));
    let (retrigger, retriggered) = futures::channel::mpsc::unbounded::<ObjectRef<CallbackRegistration>>();
    let resync = Arc::new(ResyncQueue::default());
    let wake_filter = Arc::new(ChangeFilter::default());

    // The watch of every CallbackRegistration: managed fields dropped (memory), indexed as objects arrive.
    let index = indexes.clone();
    let late_owner_retrigger = retrigger.clone();
    let (deleted_filter, deleted_resync) = (wake_filter.clone(), resync.clone());
    let on_synced: Arc<dyn Fn() + Send + Sync> = Arc::new(on_synced);
    let on_listed = on_synced.clone();
    let stream = scoped_watch::<CallbackRegistration>(&client, &options.namespaces, on_listed)
        .modify(|obj: &mut CallbackRegistration| {
            // Neither is read by the operator; kubectl's last-applied annotation alone can double an object's size.
            obj.managed_fields_mut().clear();
            obj.annotations_mut().clear();
        })
        .reflect(writer)
        .inspect(move |event| match event {
            Ok(event) => {
                for woken in index.observe(event) {
                    let _ = late_owner_retrigger.unbounded_send(woken);
                }
                match event {
                    WatchEvent::Delete(obj) => {
                        deleted_filter.forget(obj);
                        deleted_resync.cancel(obj);
                    }
                    WatchEvent::InitDone => on_synced(),
                    _ => {}
                }
            }
            Err(err) => warn!(error = %err, "CallbackRegistration watch error"),
        })
        // Only spec, finalizer and deletion changes wake the reconciler (not our own status writes); a deleted
        // object has nothing left to reconcile.
        .filter(move |event| {
            futures::future::ready(match event {
                Ok(WatchEvent::Apply(obj) | WatchEvent::InitApply(obj)) => wake_filter.changed(obj),
                Ok(WatchEvent::Delete(_)) => false,
                _ => true,
            })
        })
        .touched_objects();

    let recorder = EventRecorder::new(client.clone(), "callback-operator", options.instance.clone());
    let context = Arc::new(Context {
        client: client.clone(),
        recorder,
        metrics: metrics.clone(),
        providers: providers.clone(),
        backoff: Backoff::new(options.settings.backoff_base, options.settings.backoff_max),
        settings: options.settings.clone(),
        breaker: CredentialBreaker::default(),
        indexes: indexes.clone(),
        retrigger: retrigger.clone(),
        resync: resync.clone(),
    });

    let readiness = spawn_readiness_gauge(store.clone(), providers, metrics.clone());
    let resyncs = tokio::spawn(async move { resync.run(retrigger).await });
    let secret_users = indexes.clone();
    // Secrets as metadata only: values are read at reconcile time and never cached.
    let secrets =
        scoped_watch::<PartialObjectMeta<Secret>>(&client, &options.namespaces, Arc::new(|| {})).touched_objects();
    Controller::for_stream(stream, store)
        .watches_stream(secrets, move |secret: PartialObjectMeta<Secret>| {
            let namespace = secret.namespace().unwrap_or_default();
            secret_users.secrets.users_of(&namespace, &secret.name_any())
        })
        .reconcile_on(retriggered)
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                match err {
                    kube::runtime::controller::Error::ObjectNotFound(_) => {}
                    other => warn!(error = %other, "controller"),
                }
            }
        })
        .await;
    readiness.abort();
    resyncs.abort();
    info!("controller stopped");
}

/// Watch events for `K` in the given namespaces (all when empty). Several namespaces are merged into one
/// stream: their first lists become one Init … InitDone (so the store becomes ready), later relists plain applies
/// (one reflector cannot take interleaved relists), and `on_listed` runs once every namespace has listed. The
/// price: a relist after a watch gap cannot drop objects deleted during the gap from the cache; their next
/// reconcile finds them gone.
fn scoped_watch<K>(
    client: &kube::Client,
    namespaces: &[String],
    on_listed: Arc<dyn Fn() + Send + Sync>,
) -> BoxStream<'static, Result<WatchEvent<K>, watcher::Error>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let config = watcher::Config::default().any_semantic();
    match namespaces {
        [] => watcher::watcher(Api::<K>::all(client.clone()), config)
            .default_backoff()
            .boxed(),
        [one] => watcher::watcher(Api::<K>::namespaced(client.clone(), one), config)
            .default_backoff()
            .boxed(),
        many => {
            let total = many.len();
            let mut listed = std::collections::HashSet::new();
            let mut started = false;
            let streams = many.iter().enumerate().map(|(i, ns)| {
                watcher::watcher(Api::<K>::namespaced(client.clone(), ns), config.clone())
                    .default_backoff()
                    .map(move |event| (i, event))
                    .boxed()
            });
            futures::stream::select_all(streams)
                .flat_map(move |(i, event)| {
                    // The first listing of all namespaces is one Init ... InitDone sequence: the reflector's store
                    // becomes ready only on InitDone, and the controller waits for a ready store before it
                    // reconciles anything. Until every namespace has listed, everything is an InitApply.
                    let initial = listed.len() < total;
                    let mut out = Vec::with_capacity(2);
                    if initial && !started {
                        started = true;
                        out.push(Ok(WatchEvent::Init));
                    }
                    match event {
                        Ok(WatchEvent::Init) => {}
                        Ok(WatchEvent::InitApply(obj) | WatchEvent::Apply(obj)) if initial => {
                            out.push(Ok(WatchEvent::InitApply(obj)))
                        }
                        // Later relists of one namespace become plain applies: one reflector cannot take
                        // interleaved relists.
                        Ok(WatchEvent::InitApply(obj)) => out.push(Ok(WatchEvent::Apply(obj))),
                        Ok(WatchEvent::InitDone) => {
                            if initial && listed.insert(i) && listed.len() == total {
                                on_listed();
                                out.push(Ok(WatchEvent::InitDone));
                            }
                        }
                        other => out.push(other),
                    }
                    futures::stream::iter(out)
                })
                .boxed()
        }
    }
}

/// Keeps `callback_operator_registrations{provider,ready}` current from the store (cheap: a scan every 15 s).
fn spawn_readiness_gauge(
    store: reflector::Store<CallbackRegistration>,
    providers: Providers,
    metrics: Metrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut counts: std::collections::HashMap<crate::telemetry::ReadinessLabels, i64> =
                std::collections::HashMap::new();
            for obj in store.state() {
                let provider = providers.name_of(&obj.spec).unwrap_or("unknown").to_string();
                let ready = obj
                    .status
                    .as_ref()
                    .and_then(|s| super::conditions::ready_state(&s.conditions))
                    .map(|(status, _)| status.to_string())
                    .unwrap_or_else(|| "Unknown".into());
                *counts
                    .entry(crate::telemetry::ReadinessLabels { provider, ready })
                    .or_default() += 1;
            }
            metrics.set_registrations(counts);
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    })
}
