//! Wiring: the CallbackRegistration watch (feeding the claim index, then the packed cache: `cached.rs`), the
//! metadata-only Secret watch mapped through the Secret index, re-triggers for released identities, bounded
//! concurrency, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject};
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn};

use super::backoff::Backoff;
use super::breaker::CredentialBreaker;
use super::cached::CachedRegistration;
use super::change_filter::ChangeFilter;
use super::decode;
use super::event_queue::{self, EventQueue};
use super::guard::BindingGuard;
use super::indexes::Indexes;
use super::reconcile::{error_policy, reconcile};
use super::recorder::EventRecorder;
use super::relist::{Listed, Sweep, WatchBackoff};
use super::resync::ResyncQueue;
use super::secret_cache::SecretCache;
use super::trigger_queue::TriggerQueue;
use super::written_copies::WrittenCopies;
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
    /// The shard's label selector on the registration watch (`shard.rs`); `None`: every registration.
    pub shard_selector: Option<String>,
    /// The operator's RoleBinding in each watched namespace, kept while the namespace holds registrations
    /// (namespace-scoped installs; `guard.rs`).
    pub guard_binding: Option<String>,
    /// Reports the controller loop's progress (`/livez`).
    pub progress: super::Progress,
}

/// Runs the controller until `shutdown` resolves; in-flight reconciliations finish first. `client` makes the
/// requests (each bounded by its timeouts); `watch_client` holds the long-lived watches (no read timeout: the watcher
/// has its own idle timeout).
pub async fn run_controller(
    client: kube::Client,
    watch_client: kube::Client,
    providers: Providers,
    metrics: Metrics,
    options: ControllerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    on_synced: impl Fn() + Send + Sync + 'static,
) {
    let (store, mut writer) = reflector::store::<CachedRegistration>();
    // The store is declared synced at once: this stream never hands the reflector a relist (`relist.rs` turns them
    // into applies and deletes), and the controller would otherwise hold every reconciliation until one arrives.
    // What the wait was for — reconciling only once every object is known, so no claimant acts before an older one
    // of the same identity is indexed — is kept by holding every trigger until each namespace's watcher has listed,
    // then triggering every object at once (`listed` below). Every namespace, not each one: an identity's claimants
    // may live in several namespaces (soak seed 2: after a restart a younger object wrote over the owner's webhook
    // because its namespace was listed before the owner's; it then saw the owner and stopped, but the write was made).
    writer.apply_watcher_event(&WatchEvent::Init);
    writer.apply_watcher_event(&WatchEvent::InitDone);
    let indexes = Arc::new(Indexes::new(providers.clone()).sharded(options.shard_selector.is_some()));
    let (retrigger, retriggered) = futures::channel::mpsc::unbounded::<ObjectRef<CallbackRegistration>>();
    let resync = Arc::new(ResyncQueue::default());
    let wake_filter = Arc::new(ChangeFilter::default());
    let written = Arc::new(WrittenCopies::default());
    // Every trigger (watch, Secrets, claim index, resync) waits here, not in the controller's scheduler: twice the
    // slots are with the controller at once, enough to keep each slot busy.
    let triggers = Arc::new(TriggerQueue::new(2 * usize::from(options.concurrency.max(1))));
    let watched_written = written.clone();
    let guard = options
        .guard_binding
        .clone()
        .filter(|name| !name.is_empty())
        .map(|name| Arc::new(BindingGuard::new(client.clone(), name)));

    // The watch of every CallbackRegistration: decoded one by one (a malformed object is skipped, `decode.rs`),
    // relists swept (deletions during a watch gap become Deletes, `relist.rs`), indexed as objects arrive.
    let index = indexes.clone();
    let woken_retrigger = retrigger.clone();
    let (deleted_filter, deleted_resync) = (wake_filter.clone(), resync.clone());
    let (deleted_guard, deleted_store) = (guard.clone(), store.clone());
    let recorder = EventRecorder::new(client.clone(), "callback-operator", options.instance.clone());
    let (events, events_worker) = EventQueue::start(recorder, &metrics, event_queue::CAPACITY, triggers.backlog());
    let deleted_events = events.clone();
    // Whether the current Apply wakes the reconciler, decided before the annotations are stripped (the filter
    // reads them) and read after the reflector and the indexes took the event. The stream is pulled one event at a
    // time through every stage, so one cell carries the decision from the first stage to the last.
    let wakes = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (decide, decided) = (wakes.clone(), wakes);
    let listed = Arc::new(Listed::default());
    let (secrets_listed, retriggers_listed) = (listed.clone(), listed.clone());
    let on_listed = {
        let (listed, store, retrigger, guard) = (listed.clone(), store.clone(), retrigger.clone(), guard.clone());
        move |scope: Option<&str>, all: bool| {
            // A guard left behind (the operator stopped after a namespace's last registration went) is released.
            if let Some(namespace) = scope {
                release_guard(&guard, &store, namespace);
            }
            if !all {
                return;
            }
            listed.mark();
            for obj in store.state() {
                let _ = retrigger.unbounded_send(ObjectRef::from_obj(obj.as_ref()).into_kind_unchecked(()));
            }
            on_synced();
        }
    };
    let stream = registration_watch(
        &watch_client,
        &options.namespaces,
        options.shard_selector.as_deref(),
        &store,
        &metrics,
        Arc::new(on_listed),
    )
    .map(move |event| {
        if let Ok(WatchEvent::Apply(obj)) = &event {
            decide.store(wake_filter.changed(obj), std::sync::atomic::Ordering::SeqCst);
        }
        event
    })
    .modify(|obj: &mut CallbackRegistration| {
        // Managed fields are never read; of the annotations only those the operator acts on are (kubectl's
        // last-applied annotation alone can double an object's size in memory): its own orphan switch and Flux's
        // "reconcile now", whose value status echoes.
        obj.managed_fields_mut().clear();
        obj.annotations_mut().retain(|key, _| {
            key.as_str() == crate::api::ORPHAN_ANNOTATION || key.as_str() == crate::api::RECONCILE_REQUEST_ANNOTATION
        });
    })
    // Indexed while still typed (the claim and Secret indexes read the spec and status), then packed for the cache.
    .inspect(move |event| match event {
        Ok(event) => {
            for woken in index.observe(event) {
                let _ = woken_retrigger.unbounded_send(woken);
            }
            match event {
                // A version other than the one a pass wrote from ends that memory (`written_copies.rs`).
                WatchEvent::Apply(obj) => watched_written.observed(obj),
                WatchEvent::Delete(obj) => {
                    let uid = obj.uid().unwrap_or_default();
                    deleted_filter.forget(obj);
                    deleted_resync.cancel(obj);
                    deleted_events.forget(&uid);
                    watched_written.forget(&uid);
                }
                _ => {}
            }
        }
        Err(err) => warn!(error = %err, "CallbackRegistration watch error"),
    })
    .map(|event| event.map(packed))
    .reflect(writer)
    .inspect(move |event| {
        // After the reflector: the guard goes only once the cache holds no registration of the namespace.
        if let Ok(WatchEvent::Delete(obj)) = event {
            release_guard(&deleted_guard, &deleted_store, &obj.namespace().unwrap_or_default());
        }
    })
    // Only spec, finalizer, deletion and annotation changes wake the reconciler (not our own status writes); a
    // deleted object has nothing left to reconcile. Watch errors stop here (logged above; each watcher retries on
    // its own backoff): passed on, they would make the controller back off its whole trigger stream — every
    // watch, retrigger and resync — for up to 30 s.
    .filter(move |event| {
        futures::future::ready(match event {
            Ok(WatchEvent::Apply(_)) => listed.done() && decided.load(std::sync::atomic::Ordering::SeqCst),
            Ok(WatchEvent::Delete(_)) => false,
            Ok(_) => true,
            Err(_) => false,
        })
    })
    .touched_objects()
    .inspect({
        let progress = options.progress.clone();
        move |_| progress.queued()
    })
    // Into the trigger queue; nothing reaches the controller's scheduler from here (it polls this stream, which keeps
    // the watch, the reflector and the indexes running).
    .filter_map({
        let triggers = triggers.clone();
        move |touched| {
            if let Ok(obj) = &touched {
                let meta = obj.meta();
                triggers.push(
                    meta.namespace.as_deref().unwrap_or_default(),
                    meta.name.as_deref().unwrap_or_default(),
                );
            }
            futures::future::ready(None::<Result<CachedRegistration, watcher::Error>>)
        }
    });

    let context = Arc::new(Context {
        client: client.clone(),
        events: events.clone(),
        metrics: metrics.clone(),
        providers: providers.clone(),
        backoff: Backoff::new(options.settings.backoff_base, options.settings.backoff_max),
        settings: options.settings.clone(),
        breaker: CredentialBreaker::default(),
        indexes: indexes.clone(),
        resync: resync.clone(),
        budget: super::budget::WriteBudget::default(),
        guard,
        progress: options.progress.clone(),
        written,
        triggers: triggers.clone(),
    });

    let abandon_reasons = super::cleanup::Abandoned::ALL.map(super::cleanup::Abandoned::as_str);
    metrics.start_event_counters_at_zero(Providers::NAMES, &abandon_reasons);
    let readiness = spawn_readiness_gauge(store.clone(), context.clone());
    let resyncs = tokio::spawn(async move { resync.run(retrigger).await });
    let secret_users = indexes.clone();
    let (secret_progress, retrigger_progress) = (options.progress.clone(), options.progress.clone());
    let (secret_triggers, retriggers, finished) = (triggers.clone(), triggers.clone(), triggers.clone());
    // Secrets as metadata only: values are read at reconcile time, and served again only while this watch reports
    // them unchanged (`secret_cache.rs`). In the label opt-in mode only labelled Secrets are watched (labelling one
    // later is an Added event that wakes its users).
    let labels = options.settings.secret_selector.as_ref().map(|s| s.as_str());
    let secrets = secret_watch(
        &watch_client,
        &options.namespaces,
        labels,
        indexes.secret_values.clone(),
    )
    .touched_objects();
    Controller::for_stream(stream, store)
        .watches_stream(secrets, move |secret: PartialObjectMeta<Secret>| {
            // Before every namespace is listed, the listing itself triggers every registration.
            if !secrets_listed.done() {
                return Vec::new();
            }
            let namespace = secret.namespace().unwrap_or_default();
            let users = secret_users.secrets.users_of(&namespace, &secret.name_any());
            if !users.is_empty() {
                secret_progress.queued();
            }
            for user in &users {
                secret_triggers.push_ref(user);
            }
            Vec::<ObjectRef<CachedRegistration>>::new()
        })
        // Wakes from the claim index and the resync queue wait for the first listing too (it triggers every object).
        // They go into the trigger queue; what the controller gets is the queue's output.
        .reconcile_on(
            futures::stream::select(
                retriggered
                    .filter(move |_| futures::future::ready(retriggers_listed.done()))
                    .inspect(move |_| retrigger_progress.queued())
                    .filter_map(move |woken| {
                        retriggers.push_ref(&woken);
                        futures::future::ready(None)
                    }),
                triggers.clone().handed(),
            )
            .map(|handed| handed.into_kind_unchecked(())),
        )
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(move |result| {
            use kube::runtime::controller::Error as ControllerError;
            // Every pass's end, whatever its result, frees its room in the trigger queue.
            match &result {
                Ok((obj_ref, _)) => finished.finished(obj_ref),
                Err(ControllerError::ObjectNotFound(obj_ref)) => finished.finished(obj_ref.as_ref()),
                Err(err) => {
                    if let ControllerError::ReconcilerFailed(_, obj_ref) = err {
                        finished.finished(obj_ref.as_ref());
                    }
                    warn!(error = %err, "controller");
                }
            }
            futures::future::ready(())
        })
        .await;
    readiness.abort();
    resyncs.abort();
    events.drain(events_worker, event_queue::DRAIN).await;
    info!("controller stopped");
}

/// Called when a watcher has listed for the first time: its scope (`None`: the cluster), and whether it was the last.
type OnListed = Arc<dyn Fn(Option<&str>, bool) + Send + Sync>;

/// The CallbackRegistration watch events of every watched namespace (all when empty), as plain applies and
/// deletes: one watcher per namespace, each decoding its objects one by one and sweeping its own relists against the
/// shared cache, so several namespaces keep one correct cache. `on_listed(scope, all)` runs when a watcher has listed
/// for the first time (`all`: it was the last one to).
///
/// With a shard selector the apiserver sends only this shard's objects, and an object whose labels stop matching
/// arrives as a Delete: it leaves the cache, the claim index and the resync queue, and its finalizer is left alone
/// (a Delete event never reaches the reconciler, so no cleanup runs): the shard it moved to adopts it.
fn registration_watch(
    client: &kube::Client,
    namespaces: &[String],
    shard_selector: Option<&str>,
    store: &reflector::Store<CachedRegistration>,
    metrics: &Metrics,
    on_listed: OnListed,
) -> BoxStream<'static, Result<WatchEvent<CallbackRegistration>, watcher::Error>> {
    let resource = ApiResource::erase::<CallbackRegistration>(&());
    let scopes: Vec<Option<String>> = match namespaces {
        [] => vec![None],
        many => many.iter().cloned().map(Some).collect(),
    };
    let total = scopes.len();
    let listed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let streams = scopes.into_iter().map(|scope| {
        let api: Api<DynamicObject> = match &scope {
            None => Api::all_with(client.clone(), &resource),
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        };
        let (metrics, store, listed, on_listed) = (metrics.clone(), store.clone(), listed.clone(), on_listed.clone());
        let mut sweep = Sweep::new(scope.clone());
        let mut first_list = true;
        let mut config = watcher::Config::default().any_semantic();
        if let Some(selector) = shard_selector {
            config = config.labels(selector);
        }
        watcher::watcher(api, config)
            .backoff(WatchBackoff::default())
            .filter_map(move |event| futures::future::ready(event.map(|e| decode::event(e, &metrics)).transpose()))
            .flat_map(move |event| {
                let events = match event {
                    Ok(event) => {
                        let swept = sweep.step(event, || unpacked(&store, scope.as_deref()));
                        if swept.listed && std::mem::take(&mut first_list) {
                            let all = listed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == total;
                            on_listed(scope.as_deref(), all);
                        }
                        swept.events.into_iter().map(Ok).collect()
                    }
                    Err(err) => vec![Err(err)],
                };
                futures::stream::iter(events)
            })
            .boxed()
    });
    futures::stream::select_all(streams).boxed()
}

/// Secret metadata events in the watched namespaces (all when empty); they trigger reconciliations and keep `cache`
/// current (each watcher's relists are swept against it: a Secret deleted during a watch gap is dropped).
fn secret_watch(
    client: &kube::Client,
    namespaces: &[String],
    labels: Option<&str>,
    cache: Arc<SecretCache>,
) -> BoxStream<'static, Result<WatchEvent<PartialObjectMeta<Secret>>, watcher::Error>> {
    let mut config = watcher::Config::default().any_semantic();
    if let Some(labels) = labels {
        config = config.labels(labels);
    }
    let apis: Vec<(Option<String>, Api<PartialObjectMeta<Secret>>)> = match namespaces {
        [] => vec![(None, Api::all(client.clone()))],
        many => many
            .iter()
            .map(|ns| (Some(ns.clone()), Api::namespaced(client.clone(), ns)))
            .collect(),
    };
    futures::stream::select_all(apis.into_iter().map(|(scope, api)| {
        let cache = cache.clone();
        // Whether this watcher has listed once: its first listing wakes nobody (the registrations' own first listing
        // triggers every object), a later one wakes the users of what changed during the gap.
        let mut listed_once = false;
        watcher::watcher(api, config.clone())
            .backoff(WatchBackoff::default())
            .flat_map(move |event| {
                let mut vanished = Vec::new();
                let mut wakes = true;
                if let Ok(event) = &event {
                    let identity =
                        |meta: &PartialObjectMeta<Secret>| (meta.namespace().unwrap_or_default(), meta.name_any());
                    match event {
                        WatchEvent::Init => cache.relist_started(scope.as_deref()),
                        WatchEvent::InitDone => {
                            vanished = cache.relist_done(scope.as_deref());
                            listed_once = true;
                        }
                        WatchEvent::Apply(meta) => {
                            let (namespace, name) = identity(meta);
                            cache.observed(
                                &namespace,
                                &name,
                                meta.metadata.resource_version.as_deref().unwrap_or(""),
                            );
                        }
                        WatchEvent::InitApply(meta) => {
                            // A listed Secret wakes its users only if it changed (or appeared) since the watch last
                            // saw it: at start-up that would be a second pass of every object right after its first
                            // (an immediate retry after a failure, bypassing the backoff), after a gap a pass of
                            // every user of every Secret.
                            let (namespace, name) = identity(meta);
                            let version = meta.metadata.resource_version.as_deref().unwrap_or("");
                            let before = cache.observed(&namespace, &name, version);
                            wakes = listed_once && before.as_deref() != Some(version);
                        }
                        WatchEvent::Delete(meta) => {
                            let (namespace, name) = identity(meta);
                            cache.gone(&namespace, &name);
                        }
                    }
                }
                let event = wakes.then_some(event);
                // A Secret deleted during a watch gap gets no Delete from the relist: one is made up here, so its
                // users are woken as for any deletion.
                let made_up = vanished.into_iter().map(|(namespace, name)| {
                    Ok(WatchEvent::Delete(
                        ObjectMeta {
                            name: Some(name),
                            namespace: Some(namespace),
                            ..ObjectMeta::default()
                        }
                        .into_response_partial::<Secret>(),
                    ))
                });
                futures::stream::iter(event.into_iter().chain(made_up))
            })
            .boxed()
    }))
    // Errors stop here, as for the registrations' watch (see there).
    .filter(|event| {
        if let Err(err) = event {
            warn!(error = %err, "Secret watch error");
        }
        futures::future::ready(event.is_ok())
    })
    .boxed()
}

/// Releases the RoleBinding guard of `namespace` once the cache holds no registration there (`guard.rs`).
fn release_guard(guard: &Option<Arc<BindingGuard>>, store: &reflector::Store<CachedRegistration>, namespace: &str) {
    let Some(guard) = guard.clone() else { return };
    let empty = {
        let store = store.clone();
        let namespace = namespace.to_string();
        move || {
            !store
                .state()
                .iter()
                .any(|o| o.namespace().as_deref() == Some(namespace.as_str()))
        }
    };
    if !empty() {
        return;
    }
    let namespace = namespace.to_string();
    tokio::spawn(async move { guard.release(&namespace, empty).await });
}

/// Keeps `callback_operator_registrations{provider,ready}` and `callback_operator_credential_breakers_open{provider}`
/// current from the store's summaries (cheap: a scan every 15 s, nothing unpacked). A breaker whose Secret no
/// registration names is closed here.
fn spawn_readiness_gauge(
    store: reflector::Store<CachedRegistration>,
    context: Arc<Context>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut counts: std::collections::HashMap<crate::telemetry::ReadinessLabels, i64> =
                std::collections::HashMap::new();
            for obj in store.state() {
                let summary = obj.summary();
                let labels = crate::telemetry::ReadinessLabels {
                    provider: summary.provider.unwrap_or("unknown").to_string(),
                    ready: summary.ready.to_string(),
                };
                *counts.entry(labels).or_default() += 1;
            }
            context.metrics.set_registrations(counts);
            let secrets_in_use = context.indexes.secrets.in_use();
            context.breaker.forget_unused(|key| {
                key.split_once('/')
                    .is_some_and(|(ns, name)| secrets_in_use.contains(&(ns.to_string(), name.to_string())))
            });
            context
                .metrics
                .set_credential_breakers_open(context.breaker.open_by_provider(Providers::NAMES));
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    })
}

/// A watch event's object packed for the cache.
fn packed(event: WatchEvent<CallbackRegistration>) -> WatchEvent<CachedRegistration> {
    match event {
        WatchEvent::Apply(obj) => WatchEvent::Apply(CachedRegistration::pack(&obj)),
        WatchEvent::InitApply(obj) => WatchEvent::InitApply(CachedRegistration::pack(&obj)),
        WatchEvent::Delete(obj) => WatchEvent::Delete(CachedRegistration::pack(&obj)),
        WatchEvent::Init => WatchEvent::Init,
        WatchEvent::InitDone => WatchEvent::InitDone,
    }
}

/// The cached objects of `scope` (`None`: every namespace), unpacked one at a time as the caller goes: a relist's
/// sweep reads them all, and a typed copy of the whole cache at once would cost what packing saves. Each watcher's
/// sweep unpacks only its own namespace (after an apiserver restart every namespace's watcher relists).
fn unpacked(
    store: &reflector::Store<CachedRegistration>,
    scope: Option<&str>,
) -> impl Iterator<Item = Arc<CallbackRegistration>> {
    let in_scope = move |cached: &Arc<CachedRegistration>| {
        scope.is_none_or(|namespace| cached.meta().namespace.as_deref() == Some(namespace))
    };
    store.state().into_iter().filter(in_scope).filter_map(|cached| {
        cached
            .unpack()
            .inspect_err(|err| warn!(name = %cached.name_any(), error = %err, "cache"))
            .ok()
            .map(Arc::new)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(namespace: &str, name: &str) -> CallbackRegistration {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new(name, spec);
        obj.metadata.namespace = Some(namespace.into());
        obj
    }

    #[test]
    fn a_namespace_watchers_sweep_unpacks_only_its_namespace() {
        let (store, mut writer) = reflector::store::<CachedRegistration>();
        for (namespace, name) in [("a", "one"), ("a", "two"), ("b", "three")] {
            let packed = CachedRegistration::pack(&registration(namespace, name));
            writer.apply_watcher_event(&WatchEvent::Apply(packed));
        }
        let names = |scope| {
            let mut names: Vec<String> = unpacked(&store, scope).map(|obj| obj.name_any()).collect();
            names.sort();
            names
        };
        assert_eq!(names(Some("a")), ["one", "two"]);
        assert_eq!(names(None), ["one", "three", "two"]);
    }
}
