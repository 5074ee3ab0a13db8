//! What the bench watches: readiness and resourceVersion changes per registration (a watch of its own), and the
//! operator process's RSS and CPU from /proc.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callback_operator::api::CallbackRegistration;
use futures::StreamExt;
use kube::Api;
use kube::runtime::watcher::{self, Event};

/// Per-object observations, keyed by uid.
#[derive(Default, Debug)]
pub struct Observed {
    pub ready_at: HashMap<String, Instant>,
    /// resourceVersion changes seen after the object's creation (finalizer add + status writes).
    pub versions: HashMap<String, (String, u32)>,
    /// Errors the watch answered (it re-watches or relists after each); the first is kept to print.
    pub watch_errors: u64,
    pub first_watch_error: Option<String>,
}

pub type Shared = Arc<Mutex<Observed>>;

/// Watches every CallbackRegistration and records readiness and version changes.
pub fn watch(client: kube::Client) -> (Shared, tokio::task::JoinHandle<()>) {
    let shared: Shared = Arc::default();
    let sink = shared.clone();
    let task = tokio::spawn(async move {
        let api: Api<CallbackRegistration> = Api::all(client);
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(err) => {
                    let mut seen = sink.lock().unwrap();
                    seen.watch_errors += 1;
                    seen.first_watch_error.get_or_insert_with(|| err.to_string());
                    continue;
                }
            };
            let objs = match event {
                Event::Apply(o) | Event::InitApply(o) => vec![o],
                _ => continue,
            };
            let mut seen = sink.lock().unwrap();
            for obj in objs {
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                let version = obj.metadata.resource_version.clone().unwrap_or_default();
                let entry = seen.versions.entry(uid.clone()).or_insert_with(|| (version.clone(), 0));
                if entry.0 != version {
                    entry.0 = version;
                    entry.1 += 1;
                }
                if is_ready(&obj) {
                    seen.ready_at.entry(uid).or_insert_with(Instant::now);
                }
            }
        }
    });
    (shared, task)
}

fn is_ready(obj: &CallbackRegistration) -> bool {
    obj.status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// How many registrations a LIST finds Ready, page by page: the ground truth when the watch above may have fallen
/// behind (at 100,000 objects on a loaded apiserver). `None` when the listing fails.
pub async fn ready_by_list(client: kube::Client) -> Option<usize> {
    let api: Api<CallbackRegistration> = Api::all(client);
    let mut params = kube::api::ListParams::default().limit(500);
    let mut ready = 0;
    loop {
        let page = api.list(&params).await.ok()?;
        ready += page.items.iter().filter(|obj| is_ready(obj)).count();
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Some(ready),
        }
    }
}

/// Resident set size of `pid` in bytes (VmRSS), and its peak (VmHWM).
pub fn rss(pid: u32) -> (u64, u64) {
    let field = status_fields(pid);
    (field("VmRSS:"), field("VmHWM:"))
}

/// The resident set of `pid`, whole and split into anonymous and file-backed bytes (VmRSS, RssAnon, RssFile), from
/// one read of its status.
pub fn rss_by_kind(pid: u32) -> (u64, u64, u64) {
    let field = status_fields(pid);
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

/// A reader of `/proc/<pid>/status`'s kB fields, in bytes (0 when absent).
fn status_fields(pid: u32) -> impl Fn(&str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    move |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

/// CPU time (user + system) of `pid` so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime is field 14 and stime 15 of /proc/pid/stat, i.e. 11 and 12 after the state field.
    let clock_ticks = 100; // USER_HZ on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / clock_ticks)
}

/// The processes whose name (`/proc/<pid>/comm`) is `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim_end() == name))
        .collect()
}

/// CPU time of the control plane, this process and the subject's processes: where a round's CPU went.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSplit {
    pub apiserver: Duration,
    pub etcd: Duration,
    pub bench: Duration,
    pub operator: Duration,
}

impl CpuSplit {
    pub fn now(operators: &[u32]) -> Self {
        let sum = |pids: Vec<u32>| pids.into_iter().map(cpu_time).sum::<Duration>();
        Self {
            apiserver: sum(pids_named("kube-apiserver")),
            etcd: sum(pids_named("etcd")),
            bench: cpu_time(std::process::id()),
            operator: sum(operators.to_vec()),
        }
    }

    pub fn since(self, before: Self) -> Self {
        Self {
            apiserver: self.apiserver.saturating_sub(before.apiserver),
            etcd: self.etcd.saturating_sub(before.etcd),
            bench: self.bench.saturating_sub(before.bench),
            operator: self.operator.saturating_sub(before.operator),
        }
    }
}

/// Samples the operator's RSS until dropped, keeping the peak.
pub struct RssSampler {
    pub peak: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(Mutex::new(0));
        let sink = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                let (now, hwm) = rss(pid);
                {
                    let mut p = sink.lock().unwrap();
                    *p = (*p).max(now).max(hwm);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        RssSampler { peak, task }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The apiserver's /metrics text (empty when it does not answer).
pub async fn apiserver_metrics(client: &kube::Client) -> String {
    let request = http::Request::get("/metrics").body(Vec::new()).expect("a request");
    client.request_text(request).await.unwrap_or_default()
}

/// The value of label `name` in a Prometheus sample's label text (`verb="GET",resource="secrets"`), or "".
fn label_value(labels: &str, name: &str) -> String {
    labels
        .split(&format!("{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

/// The apiserver's own request counters (`apiserver_request_total`), summed by verb and resource[/subresource]:
/// what every client (the operator, and the bench's own creates and watch) asked of it. WATCH and the
/// long-running counters are left out.
pub fn apiserver_requests(metrics: &str) -> HashMap<String, f64> {
    let mut totals = HashMap::new();
    for line in metrics.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |name: &str| label_value(labels, name);
        let verb = label("verb");
        if verb == "WATCH" || verb == "CONNECT" {
            continue;
        }
        let (resource, subresource) = (label("resource"), label("subresource"));
        let key = if subresource.is_empty() {
            format!("{verb} {resource}")
        } else {
            format!("{verb} {resource}/{subresource}")
        };
        *totals.entry(key).or_default() += value.parse::<f64>().unwrap_or(0.0);
    }
    totals
}

/// The apiserver's Go heap in use, from its /metrics: what an earlier burst left behind in the apiserver process.
pub fn apiserver_heap_in_use(metrics: &str) -> String {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("go_memstats_heap_inuse_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or("?".into(), |b| format!("{:.0} MiB", b / 1048576.0))
}

/// Sums of the apiserver's own metrics that say how much work a round gave it (`--apiserver-work`): the registrations'
/// watch events and their bytes, the bytes the apiserver allocated, and request time by verb and resource (seconds
/// spent serving, not CPU).
pub fn apiserver_work(metrics: &str) -> std::collections::BTreeMap<String, f64> {
    let mut sums = std::collections::BTreeMap::new();
    for line in metrics.lines() {
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = name_labels.split_once('{').unwrap_or((name_labels, ""));
        let label = |key: &str| label_value(labels, key);
        let key = match name {
            "apiserver_watch_events_total" | "apiserver_watch_events_sizes_sum"
                if label("resource") == "callbackregistrations" =>
            {
                format!("{name} callbackregistrations")
            }
            "apiserver_request_duration_seconds_sum" if label("verb") != "WATCH" => {
                format!(
                    "{name} {} {}/{}",
                    label("verb"),
                    label("resource"),
                    label("subresource")
                )
            }
            "go_memstats_alloc_bytes_total" => name.to_string(),
            _ => continue,
        };
        *sums.entry(key).or_default() += value;
    }
    sums
}
