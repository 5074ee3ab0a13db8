//! The bench's output: one table on stdout, the same figures as JSON under target/bench/.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Options;

/// One shard's own figures (from its /metrics and /proc), per object of that shard.
#[derive(Debug, Serialize)]
pub struct ShardFigures {
    pub shard: String,
    pub objects: usize,
    pub provider_writes_per_object: f64,
    pub provider_requests_per_object: f64,
    pub status_writes_per_object: f64,
    pub peak_rss_mib: f64,
    pub rest_rss_mib: f64,
    pub rest_rss_mib_per_1000: f64,
}

#[derive(Debug, Serialize)]
pub struct Figures {
    pub n: usize,
    /// "operator", `NULL` or `NULL_SHAPED`.
    pub subject: String,
    pub shards: usize,
    pub per_shard: Vec<ShardFigures>,
    pub by_provider: BTreeMap<String, usize>,
    pub concurrency: u16,
    pub latency_ms: u64,
    pub created_in_s: f64,
    pub ready_count: usize,
    /// Ready by a LIST at the deadline, when the bench's watch had not seen all Ready by then.
    pub ready_listed: Option<usize>,
    pub ready_in_s: f64,
    /// From the last create accepted to all Ready: the operator's own tail once the apiserver took every object.
    pub ready_after_last_create_s: f64,
    /// From the first create to the operator's last Event posted (it posts them in the background: after all Ready
    /// at a burst); `None` for the null controller, which posts none.
    pub events_posted_in_s: Option<f64>,
    /// Requests the apiserver served from the first create to all Ready and every Event posted, per registration
    /// (every client).
    pub apiserver_requests_per_registration: BTreeMap<String, f64>,
    pub latency_floor_s: f64,
    pub calls_per_registration: BTreeMap<String, f64>,
    pub status_writes_per_registration: f64,
    pub peak_rss_mib: f64,
    pub rest_rss_mib: f64,
    /// The rest RSS split: anonymous (heap, stacks) and file-backed (the binary's code and read-only data).
    pub rest_rss_anon_mib: f64,
    pub rest_rss_file_mib: f64,
    pub rest_window_s: f64,
    pub rest_cpu_percent: f64,
    pub rest_provider_writes: u64,
    pub rest_status_writes: u32,
    pub deleted_in_s: f64,
    pub left_at_providers: usize,
    pub edna_urls_kept_by_design: usize,
    pub operator_exit: Option<i32>,
}

/// The subject of a null controller round.
pub const NULL: &str = "null controller";
/// The subject of a null controller round writing the operator's status shape (`--rounds null-shaped`).
pub const NULL_SHAPED: &str = "null controller, operator's status shape";

/// The floor for `f`: the mean time to all Ready of the plain null controller's rounds of its size (before and after
/// the operator's by default), and how many rounds that is.
fn null_floor(f: &Figures, nulls: &[Figures]) -> Option<(f64, usize)> {
    let times: Vec<f64> = nulls
        .iter()
        .filter(|null| null.n == f.n && null.subject == NULL)
        .map(|null| null.ready_in_s)
        .collect();
    (!times.is_empty()).then(|| (times.iter().sum::<f64>() / times.len() as f64, times.len()))
}

pub fn write_json(figures: &Figures) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench");
    std::fs::create_dir_all(dir).expect("creating target/bench");
    let path = match (figures.subject.as_str(), figures.shards) {
        ("operator", 1) => format!("{dir}/scale-{}.json", figures.n),
        ("operator", k) => format!("{dir}/scale-{}-{k}-shards.json", figures.n),
        (NULL_SHAPED, _) => format!("{dir}/scale-{}-null-shaped.json", figures.n),
        // The last of the null controller's rounds of the size (each is printed in the table).
        _ => format!("{dir}/scale-{}-null.json", figures.n),
    };
    std::fs::write(&path, serde_json::to_string_pretty(figures).unwrap()).expect("writing the JSON");
    eprintln!("   wrote {path}");
}

/// `all`: the operator's rounds; `nulls`: the null controller's rounds of the same sizes (empty with `--no-null`).
pub fn print_table(options: &Options, all: &[Figures], nulls: &[Figures]) {
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m
                .lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string()))
            .map_or("? memory".into(), |kb| format!(
                "{} GiB",
                kb.parse::<u64>().unwrap_or(0) / 1048576
            ))
    );
    println!(
        "\ncallback-operator scale benchmark — {machine}; provider latency {} ms; concurrency {}; {} namespaces; resync {}; \
         at rest {} (CPU over its last 60 s); {} shard(s)",
        options.latency.as_millis(),
        options.concurrency,
        options.namespaces,
        humantime::format_duration(options.resync),
        humantime::format_duration(options.rest),
        options.shards,
    );
    let header = [
        "N",
        "created s",
        "all Ready s",
        "after last create s",
        "floor s",
        "ratio",
        "null all Ready s",
        "÷ null",
        "ready",
        "status writes/reg",
        "peak RSS MiB",
        "rest RSS MiB",
        "rest CPU %",
        "rest prov writes",
        "rest status writes",
        "delete s",
        "left behind",
    ];
    println!("{}", header.join(" | "));
    println!("{}", header.iter().map(|_| "---").collect::<Vec<_>>().join(" | "));
    for f in all {
        println!(
            "{} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1}x | {} | {} | {}/{}{} | {:.2} | {:.1} | {:.1} | {:.2} | {} | {} | {:.1} | {}",
            f.n,
            f.created_in_s,
            f.ready_in_s,
            f.ready_after_last_create_s,
            f.latency_floor_s,
            f.ready_in_s / f.latency_floor_s.max(f64::EPSILON),
            null_floor(f, nulls).map_or("-".into(), |(mean, rounds)| if rounds > 1 {
                format!("{mean:.1} (mean of {rounds})")
            } else {
                format!("{mean:.1}")
            }),
            null_floor(f, nulls).map_or("-".into(), |(mean, _)| format!(
                "{:.2}x",
                f.ready_in_s / mean.max(f64::EPSILON)
            )),
            f.ready_count,
            f.n,
            f.ready_listed
                .map_or(String::new(), |listed| format!(" (a LIST: {listed})")),
            f.status_writes_per_registration,
            f.peak_rss_mib,
            f.rest_rss_mib,
            f.rest_cpu_percent,
            f.rest_provider_writes,
            f.rest_status_writes,
            f.deleted_in_s,
            f.left_at_providers,
        );
    }
    if options.shards > 1 {
        println!("\nper shard (its own /metrics and RSS, per object of the shard):");
        println!(
            "N | shard | objects | provider writes/obj | provider requests/obj | status writes/obj | peak RSS MiB | \
             rest RSS MiB | rest RSS MiB per 1,000"
        );
        println!("--- | --- | --- | --- | --- | --- | --- | --- | ---");
        for f in all {
            for s in &f.per_shard {
                println!(
                    "{} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.2}",
                    f.n,
                    s.shard,
                    s.objects,
                    s.provider_writes_per_object,
                    s.provider_requests_per_object,
                    s.status_writes_per_object,
                    s.peak_rss_mib,
                    s.rest_rss_mib,
                    s.rest_rss_mib_per_1000
                );
            }
        }
    }
    println!("\nrest RSS by kind (anonymous: heap and stacks; file: the binary's code and data):");
    for f in all {
        println!(
            "  N={}: anonymous {:.1} MiB, file {:.1} MiB",
            f.n, f.rest_rss_anon_mib, f.rest_rss_file_mib
        );
    }
    println!("\nprovider calls per registration (by provider and operation):");
    for f in all {
        let calls: Vec<String> = f
            .calls_per_registration
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        println!("  N={}: {}", f.n, calls.join(", "));
    }
    println!(
        "\napiserver requests per registration, first create to all Ready and every Event posted (all clients; bench \
         creates included):"
    );
    for f in all {
        if let Some(posted) = f.events_posted_in_s {
            println!(
                "  N={}: Events (posted in the background) all posted {posted:.1} s after the first create, {:.1} s after all Ready",
                f.n,
                posted - f.ready_in_s
            );
        }
        let requests: Vec<String> = f
            .apiserver_requests_per_registration
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        println!("  N={}: {}", f.n, requests.join(", "));
    }
    if !nulls.is_empty() {
        println!(
            "\nthe null controller (finalizer + one status write, no Secret read, no Event, no provider call), same run, \
             in the order of its rounds (a warm-up round before them is not shown):"
        );
        for f in nulls {
            let shape = if f.subject == NULL_SHAPED {
                " (the operator's status shape, not in the ÷ null mean)"
            } else {
                ""
            };
            let requests: Vec<String> = f
                .apiserver_requests_per_registration
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect();
            println!(
                "  N={}{shape}: created {:.1} s, all Ready {:.1} s ({}/{}), status writes/reg {:.2}, delete {:.1} s; apiserver \
                 requests per registration: {}",
                f.n,
                f.created_in_s,
                f.ready_in_s,
                f.ready_count,
                f.n,
                f.status_writes_per_registration,
                f.deleted_in_s,
                requests.join(", ")
            );
        }
    }
    println!(
        "\n(edna has no delete method: its URLs stay registered by design — counted separately, not as left behind)"
    );
}
