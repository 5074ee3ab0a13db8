//! One round of the benchmark: N registrations mixed across the three providers and many namespaces.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use callback_operator::api::CallbackRegistration;
use futures::StreamExt;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use provider_simulators::Receiver;
use provider_simulators::edna::{Channel, EdnaConfig, EdnaSimulator};
use provider_simulators::envelope::{EnvelopeConfig, EnvelopeSimulator};
use provider_simulators::mail::{MailConfig, MailSimulator};
use serde_json::json;

use crate::Options;
use crate::observe::{self, RssSampler};
use crate::report::{self, Figures, ShardFigures};
use crate::support::metrics::total;
use crate::support::{Cluster, Operator, TestNamespace};

/// What reconciles the round's registrations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Subject {
    /// The operator's release binary: one process, or one per shard (`--watch-label-selector`, docs/scaling.md).
    Operator { shards: usize },
    /// The do-nothing controller in this process (`null_controller.rs`): finalizer + one status write, shaped like
    /// the operator's with `operator_status`.
    Null { operator_status: bool },
}

impl Subject {
    /// The name its figures carry.
    fn name(self) -> &'static str {
        match self {
            Subject::Operator { .. } => "operator",
            Subject::Null { operator_status: false } => report::NULL,
            Subject::Null { operator_status: true } => report::NULL_SHAPED,
        }
    }
}

/// The label a registration of shard `k` carries (shard 0 is the default shard: no label), and each shard's selector.
fn shard_label(k: usize) -> Option<String> {
    (k > 0).then(|| format!("s{k}"))
}

fn shard_selector(k: usize) -> String {
    match shard_label(k) {
        Some(name) => format!("sharding.callback-operator.io/key={name}"),
        None => "!sharding.callback-operator.io/key".into(),
    }
}

/// Provider round-trips one new registration needs by design (the latency floor's numerator).
pub fn calls_by_design(provider: &str) -> u32 {
    match provider {
        "mail" => 2,     // webhook/get, webhook/set
        "edna" => 1,     // callback/set (no read-back)
        "envelope" => 2, // callback/list, callback/add
        _ => 0,
    }
}

fn mailbox(ns_index: usize) -> String {
    format!("00000000-0000-4000-8000-{ns_index:012}")
}

pub async fn run_round(cluster: &Cluster, options: &Options, n: usize, subject: Subject) -> Figures {
    let shards = match subject {
        Subject::Operator { shards } => shards.max(1),
        Subject::Null { .. } => 1,
    };
    let run = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let namespaces = options.namespaces.min(n).max(1);
    let per_ns = n.div_ceil(namespaces);

    // Simulators with the injected latency, one account per namespace and provider.
    let receiver = Receiver::start().await.expect("receiver");
    let keys: Vec<String> = (0..namespaces).map(|i| format!("bench-{run}-key-{i}")).collect();
    let mail = MailSimulator::start(MailConfig {
        keys: keys.clone(),
        latency: options.latency,
        ..MailConfig::default()
    })
    .await
    .expect("mail simulator");
    let channels = keys
        .iter()
        .flat_map(|k| {
            (0..per_ns).map(move |j| {
                (
                    k.clone(),
                    Channel::active(
                        j as i64 + 1,
                        &format!("ch{j}"),
                        &format!("S{j}"),
                        1000 + j as i64,
                        "WHATSAPP",
                    ),
                )
            })
        })
        .collect();
    let edna = EdnaSimulator::start(EdnaConfig {
        keys: keys.clone(),
        channels,
        latency: options.latency,
        ..EdnaConfig::default()
    })
    .await
    .expect("edna simulator");
    let envelope = EnvelopeSimulator::start(EnvelopeConfig {
        tokens: keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), vec![mailbox(i)]))
            .collect(),
        latency: options.latency,
        ..EnvelopeConfig::default()
    })
    .await
    .expect("envelope simulator");

    let mut test_namespaces = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let ns = TestNamespace::new(cluster, &format!("bench-{run}-{i}")).await;
        ns.put_secret("mail", &[("apiKey", key), ("endpoint", mail.base_url())])
            .await;
        ns.put_secret("edna", &[("apiKey", key), ("endpoint", edna.base_url())])
            .await;
        ns.put_secret("envelope", &[("token", key), ("endpoint", envelope.base_url())])
            .await;
        test_namespaces.push(ns);
    }

    // The objects: round-robin over providers and namespaces.
    let objects: Vec<(String, CallbackRegistration)> = (0..n)
        .map(|i| {
            let ns_index = i % namespaces;
            let ns = test_namespaces[ns_index].name.clone();
            let provider = options.providers[i % options.providers.len()].as_str();
            let name = format!("r{i}");
            let url = receiver.url(&format!("/{ns}/{name}"));
            let index_in_ns = i / namespaces;
            let block = match provider {
                "mail" => json!({"mail": {"url": url, "events": {"emailStatus": ["delivered", "hard_bounced"]}}}),
                "edna" => json!({"edna": {"subjectId": 1000 + index_in_ns as i64, "statusCallbackUrl": url}}),
                _ => json!({"envelope": {"mailbox": mailbox(ns_index), "url": url, "retries": 3, "timeoutMs": 5000}}),
            };
            let mut spec = json!({"credentialsRef": {"name": provider}});
            spec.as_object_mut().unwrap().extend(block.as_object().unwrap().clone());
            let mut metadata = json!({"name": name, "namespace": ns});
            if let Some(shard) = shard_label(i % shards) {
                metadata["labels"] = json!({"sharding.callback-operator.io/key": shard});
            }
            let obj: CallbackRegistration = serde_json::from_value(json!({
                "apiVersion": "callback-operator.io/v1alpha1", "kind": "CallbackRegistration",
                "metadata": metadata, "spec": spec,
            }))
            .unwrap();
            (provider.to_string(), obj)
        })
        .collect();
    let mut by_provider: BTreeMap<String, usize> = BTreeMap::new();
    for (p, _) in &objects {
        *by_provider.entry(p.clone()).or_default() += 1;
    }

    // The operator under test (release build), cluster-wide, one process per shard — or the null controller — and
    // our own watch.
    let (observed, watch_task) = observe::watch(cluster.client.clone());
    let resync = humantime::format_duration(options.resync).to_string();
    let concurrency = options.concurrency.to_string();
    let mut operators: Vec<Operator> = Vec::new();
    let mut null_controller = None;
    match subject {
        Subject::Operator { .. } => {
            for k in 0..shards {
                let selector = shard_selector(k);
                let mut args = vec![
                    "--concurrency",
                    &concurrency,
                    "--resync-interval",
                    &resync,
                    "--log-level",
                    "warn",
                    "--backoff-base",
                    "2s",
                    "--provider-timeout",
                    "30s",
                ];
                if shards > 1 {
                    args.extend(["--watch-label-selector", selector.as_str()]);
                }
                operators.push(Operator::start(cluster, &[], &args));
            }
        }
        Subject::Null { operator_status } => {
            null_controller = Some(crate::null_controller::start(
                cluster.client.clone(),
                options.concurrency,
                operator_status,
            ));
        }
    }
    let pids: Vec<u32> = operators.iter().map(Operator::pid).collect();
    let samplers: Vec<RssSampler> = pids.iter().map(|pid| RssSampler::start(*pid)).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Create as fast as the apiserver takes them.
    let metrics_before = observe::apiserver_metrics(&cluster.client).await;
    let requests_before = observe::apiserver_requests(&metrics_before);
    eprintln!(
        "   apiserver before the round: heap in use {}",
        observe::apiserver_heap_in_use(&metrics_before)
    );
    let cpu_before = observe::CpuSplit::now(&pids);
    let started = Instant::now();
    futures::stream::iter(objects.iter().cloned())
        .for_each_concurrent(64, |(_, obj)| {
            let api: Api<CallbackRegistration> =
                Api::namespaced(cluster.client.clone(), obj.metadata.namespace.as_deref().unwrap());
            async move { create(&api, &obj).await }
        })
        .await;
    let created_in = started.elapsed();
    eprintln!("   created {n} in {created_in:.1?}");

    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut progress_at = Instant::now() + Duration::from_secs(60);
    loop {
        let (ready, errors) = {
            let seen = observed.lock().unwrap();
            (seen.ready_at.len(), seen.watch_errors)
        };
        if ready >= n || Instant::now() > deadline {
            break;
        }
        if Instant::now() > progress_at {
            eprintln!(
                "   {ready}/{n} Ready after {:.0?} (watch errors {errors})",
                started.elapsed()
            );
            progress_at += Duration::from_secs(60);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ready_count, ready_in) = {
        let seen = observed.lock().unwrap();
        let last = seen.ready_at.values().max().copied().unwrap_or(started);
        if seen.watch_errors > 0 {
            eprintln!(
                "   the bench's watch answered {} error(s), the first: {}",
                seen.watch_errors,
                seen.first_watch_error.as_deref().unwrap_or("-")
            );
        }
        (seen.ready_at.len(), last.duration_since(started))
    };
    eprintln!("   {ready_count}/{n} Ready after {ready_in:.1?}");
    let cpu = observe::CpuSplit::now(&pids).since(cpu_before);
    if options.apiserver_work {
        let work_before = observe::apiserver_work(&metrics_before);
        for (key, value) in observe::apiserver_work(&observe::apiserver_metrics(&cluster.client).await) {
            let delta = value - work_before.get(&key).copied().unwrap_or(0.0);
            if delta.abs() > 0.0 {
                eprintln!("   apiserver work: {key} {delta:.1}");
            }
        }
    }
    eprintln!(
        "   CPU-s from the first create to all Ready: kube-apiserver {:.1}, etcd {:.1}, bench process {:.1}, operator {:.1}",
        cpu.apiserver.as_secs_f64(),
        cpu.etcd.as_secs_f64(),
        cpu.bench.as_secs_f64(),
        cpu.operator.as_secs_f64()
    );
    // Short of all Ready at the deadline: whether the objects are not Ready or the watch fell behind, a LIST tells.
    let ready_listed = if ready_count < n {
        let listed = observe::ready_by_list(cluster.client.clone()).await;
        eprintln!(
            "   a LIST {:.0?} after the first create finds {} Ready",
            started.elapsed(),
            listed.map_or("(the listing failed)".into(), |r| format!("{r}/{n}"))
        );
        listed
    } else {
        None
    };
    let versions_at_ready: u32 = observed.lock().unwrap().versions.values().map(|(_, c)| c).sum();
    // The operator posts its Events in the background (its `event_queue.rs`), after all Ready at a burst: the requests
    // are counted once they are all posted, so every request a new registration costs is in the figure.
    let events_posted_in = match subject {
        Subject::Operator { .. } => Some(events_posted(&operators, started).await),
        Subject::Null { .. } => None,
    };
    let requests_at_ready = observe::apiserver_requests(&observe::apiserver_metrics(&cluster.client).await);
    if options.apiserver_work {
        // The first object of each provider as the apiserver stores it (status and managedFields included); read
        // after the requests are counted, so these GETs are not in the figures.
        for (_, obj) in objects.iter().take(options.providers.len()) {
            let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
                cluster.client.clone(),
                obj.metadata.namespace.as_deref().unwrap(),
                &kube::api::ApiResource::erase::<CallbackRegistration>(&()),
            );
            if let Ok(got) = api.get(obj.metadata.name.as_deref().unwrap()).await {
                let status = serde_json::to_string(&got.data["status"]).unwrap_or_default();
                eprintln!(
                    "   {} as stored: {} bytes, its status {} bytes",
                    got.metadata.name.as_deref().unwrap_or("?"),
                    serde_json::to_string(&got).unwrap_or_default().len(),
                    status.len()
                );
            }
        }
    }
    let apiserver_requests_per_registration: BTreeMap<String, f64> = requests_at_ready
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - requests_before.get(k).copied().unwrap_or(0.0)) / n as f64,
            )
        })
        .filter(|(_, per)| *per >= 0.01)
        .collect();
    let calls_at_ready = provider_calls(&mail, &edna, &envelope);
    let peaks: Vec<u64> = samplers.iter().map(|s| *s.peak.lock().unwrap()).collect();
    let mut per_shard: Vec<ShardFigures> = Vec::new();
    for (k, operator) in operators.iter().enumerate() {
        let metrics = operator.metrics().await;
        let objects = objects
            .iter()
            .enumerate()
            .filter(|(i, _)| i % shards == k)
            .count()
            .max(1);
        let writes: f64 = crate::support::metrics::parse(&metrics)
            .iter()
            .filter(|s| s.name == "callback_operator_provider_requests_total")
            .filter(|s| {
                s.labels
                    .get("operation")
                    .is_some_and(|op| WRITES.contains(&op.as_str()))
            })
            .map(|s| s.value)
            .sum();
        per_shard.push(ShardFigures {
            shard: shard_selector(k),
            objects,
            provider_writes_per_object: writes / objects as f64,
            provider_requests_per_object: total(&metrics, "callback_operator_provider_requests_total") / objects as f64,
            status_writes_per_object: total(&metrics, "callback_operator_status_writes_total") / objects as f64,
            peak_rss_mib: peaks[k] as f64 / 1048576.0,
            rest_rss_mib: 0.0,
            rest_rss_mib_per_1000: 0.0,
        });
    }
    let peak_rss: u64 = peaks.iter().sum();

    // At rest (`--rest`, 3 min by default) with nothing to do; CPU over the last 60 s of it. The null controller has no
    // rest to measure.
    let writes_before = provider_writes(&calls_at_ready);
    let rest = match subject {
        Subject::Operator { .. } => options.rest,
        Subject::Null { .. } => Duration::ZERO,
    };
    let cpu_window = rest.min(Duration::from_secs(60));
    tokio::time::sleep(rest - cpu_window).await;
    let cpu_of = |pids: &[u32]| pids.iter().map(|pid| observe::cpu_time(*pid)).sum::<Duration>();
    let cpu_before = cpu_of(&pids);
    let cpu_started = Instant::now();
    tokio::time::sleep(cpu_window).await;
    let cpu_at_rest =
        cpu_of(&pids).saturating_sub(cpu_before).as_secs_f64() / cpu_started.elapsed().as_secs_f64().max(f64::EPSILON);
    let calls_at_rest = provider_calls(&mail, &edna, &envelope);
    let provider_writes_at_rest = provider_writes(&calls_at_rest) - writes_before;
    let versions_after_rest: u32 = observed.lock().unwrap().versions.values().map(|(_, c)| c).sum();
    let (mut rss_at_rest, mut anon_at_rest, mut file_at_rest) = (0, 0, 0);
    for (k, pid) in pids.iter().enumerate() {
        let (rss, anon, file) = observe::rss_by_kind(*pid);
        (rss_at_rest, anon_at_rest, file_at_rest) = (rss_at_rest + rss, anon_at_rest + anon, file_at_rest + file);
        let shard = &mut per_shard[k];
        shard.rest_rss_mib = rss as f64 / 1048576.0;
        shard.rest_rss_mib_per_1000 = shard.rest_rss_mib * 1000.0 / shard.objects as f64;
    }

    // Delete everything and count what the providers still hold.
    let delete_started = Instant::now();
    eprintln!(
        "   at rest: RSS {:.1} MiB (anonymous {:.1}, file {:.1}), CPU {:.2} %, provider writes {provider_writes_at_rest}, \
         status writes {}",
        rss_at_rest as f64 / 1048576.0,
        anon_at_rest as f64 / 1048576.0,
        file_at_rest as f64 / 1048576.0,
        cpu_at_rest * 100.0,
        versions_after_rest - versions_at_ready
    );
    for ns in &test_namespaces {
        delete_all(&Api::namespaced(cluster.client.clone(), &ns.name)).await;
    }
    let all: Api<CallbackRegistration> = Api::all(cluster.client.clone());
    let prefix = format!("bench-{run}-");
    loop {
        let left = all
            .list_metadata(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|o| {
                        o.metadata
                            .namespace
                            .as_deref()
                            .is_some_and(|ns| ns.starts_with(&prefix))
                    })
                    .count()
            })
            .unwrap_or(usize::MAX);
        if left == 0 || delete_started.elapsed() > Duration::from_secs(1800) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let deleted_in = delete_started.elapsed();
    let left_mail: usize = keys.iter().map(|k| mail.webhooks(k).len()).sum();
    let left_envelope: usize = (0..namespaces).map(|i| envelope.callbacks(&mailbox(i)).len()).sum();
    let edna_urls_left: usize = keys.iter().map(|k| edna.state(k).len()).sum();

    let exit = operators.iter_mut().map(|o| o.terminate().code()).max().flatten();
    if let Some(task) = null_controller {
        task.abort();
    }
    watch_task.abort();
    drop(samplers);

    Figures {
        n,
        subject: subject.name().into(),
        shards,
        per_shard,
        by_provider: by_provider.clone(),
        concurrency: options.concurrency,
        latency_ms: options.latency.as_millis() as u64,
        created_in_s: created_in.as_secs_f64(),
        ready_count,
        ready_listed,
        ready_in_s: ready_in.as_secs_f64(),
        ready_after_last_create_s: ready_in.saturating_sub(created_in).as_secs_f64(),
        events_posted_in_s: events_posted_in.map(|d| d.as_secs_f64()),
        apiserver_requests_per_registration,
        latency_floor_s: latency_floor(&objects, options),
        calls_per_registration: per_registration(&calls_at_ready, &by_provider),
        status_writes_per_registration: versions_at_ready as f64 / n as f64,
        peak_rss_mib: peak_rss as f64 / 1048576.0,
        rest_rss_mib: rss_at_rest as f64 / 1048576.0,
        rest_rss_anon_mib: anon_at_rest as f64 / 1048576.0,
        rest_rss_file_mib: file_at_rest as f64 / 1048576.0,
        rest_window_s: rest.as_secs_f64(),
        rest_cpu_percent: cpu_at_rest * 100.0,
        rest_provider_writes: provider_writes_at_rest,
        rest_status_writes: versions_after_rest - versions_at_ready,
        deleted_in_s: deleted_in.as_secs_f64(),
        left_at_providers: left_mail + left_envelope,
        edna_urls_kept_by_design: edna_urls_left,
        operator_exit: exit,
    }
}

/// Waits until no operator has an Event waiting to be posted (for at most 10 minutes); the time since `started`.
async fn events_posted(operators: &[Operator], started: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = true;
    loop {
        let mut pending = 0.0;
        for operator in operators {
            pending += total(&operator.metrics().await, "callback_operator_events_pending");
        }
        if std::mem::take(&mut first) {
            eprintln!("   {pending} Events waiting at all Ready");
        }
        if pending == 0.0 || Instant::now() > deadline {
            let posted_in = started.elapsed();
            eprintln!("   Events all posted after {posted_in:.1?} ({pending} still waiting)");
            return posted_in;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates `obj`, retrying what a loaded apiserver may answer at 100,000 objects (a dropped connection, 429, 5xx);
/// "already exists" after a retry means the earlier attempt landed.
async fn create(api: &Api<CallbackRegistration>, obj: &CallbackRegistration) {
    for attempt in 1..=10 {
        match api.create(&PostParams::default(), obj).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.code == 409 && attempt > 1 => return,
            Err(kube::Error::Api(status)) if status.code != 429 && status.code < 500 => {
                panic!("creating a registration: {status:?}")
            }
            Err(err) if attempt == 10 => panic!("creating a registration: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
        }
    }
}

/// Deletes every registration of one namespace, retrying as [`create`] does: a collection delete is idempotent, and
/// its answer (every object it deleted) is large enough at 100,000 objects for a loaded apiserver to cut it off.
async fn delete_all(api: &Api<CallbackRegistration>) {
    for attempt in 1..=10 {
        match api
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
        {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.code != 429 && status.code < 500 => {
                panic!("deleting registrations: {status:?}")
            }
            Err(err) if attempt == 10 => panic!("deleting registrations: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
        }
    }
}

/// The provider round-trips the design needs, divided by the configured concurrency.
fn latency_floor(objects: &[(String, CallbackRegistration)], options: &Options) -> f64 {
    let calls: u32 = objects.iter().map(|(p, _)| calls_by_design(p)).sum();
    calls as f64 * options.latency.as_secs_f64() / f64::from(options.concurrency)
}

/// Calls per (provider, operation), from the simulators' request logs.
fn provider_calls(
    mail: &provider_simulators::mail::MailSim,
    edna: &provider_simulators::edna::EdnaSim,
    envelope: &provider_simulators::envelope::EnvelopeSim,
) -> BTreeMap<(String, String), u64> {
    let mut calls = BTreeMap::new();
    for record in mail
        .requests()
        .into_iter()
        .chain(edna.requests())
        .chain(envelope.requests())
    {
        *calls
            .entry((record.provider.to_string(), record.op.clone()))
            .or_default() += 1;
    }
    calls
}

/// The provider operations that write.
const WRITES: [&str; 5] = [
    "webhook/set",
    "webhook/delete",
    "callback/set",
    "callback/add",
    "callback/remove",
];

fn provider_writes(calls: &BTreeMap<(String, String), u64>) -> u64 {
    calls
        .iter()
        .filter(|((_, op), _)| WRITES.contains(&op.as_str()))
        .map(|(_, n)| n)
        .sum()
}

fn per_registration(
    calls: &BTreeMap<(String, String), u64>,
    by_provider: &BTreeMap<String, usize>,
) -> BTreeMap<String, f64> {
    calls
        .iter()
        .map(|((provider, op), count)| {
            let objects = by_provider.get(provider).copied().unwrap_or(1).max(1);
            (format!("{provider} {op}"), *count as f64 / objects as f64)
        })
        .collect()
}
