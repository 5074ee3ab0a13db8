//! `make bench`: how fast and how lean the operator is from 100 to 10,000 registrations.
//!
//! Runs against the real control plane (`scripts/bench` starts it), provider simulators in this process with an
//! injected latency, and the operator's release binary as a separate process. Prints figures; asserts nothing about
//! time. Usage: `cargo bench --bench scale -- [--sizes 100,1000,10000] [--latency-ms 20] [--concurrency 64]
//! [--namespaces 50] [--resync 10m] [--rest 3m] [--providers mail,edna,envelope] [--shards 1] [--no-null]`.

#[path = "../../tests/support/mod.rs"]
mod support;

mod fleet;
mod null_controller;
mod observe;
mod report;

use std::time::{Duration, Instant};

use report::Figures;

#[derive(Clone, Debug)]
pub struct Options {
    pub sizes: Vec<usize>,
    pub latency: Duration,
    pub concurrency: u16,
    pub namespaces: usize,
    pub resync: Duration,
    /// The at-rest window after all Ready.
    pub rest: Duration,
    /// Which providers the registrations use, round-robin.
    pub providers: Vec<String>,
    /// Operator processes, one per shard (`--watch-label-selector`); registrations are spread round-robin.
    pub shards: usize,
    /// Run the null controller's round before the operator's, per size (off with `--no-null`).
    pub null: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Options {
        sizes: value("--sizes")
            .unwrap_or_else(|| "100,1000,10000".into())
            .split(',')
            .map(|s| s.trim().parse().expect("--sizes takes numbers"))
            .collect(),
        latency: Duration::from_millis(value("--latency-ms").map_or(20, |v| v.parse().expect("--latency-ms"))),
        concurrency: value("--concurrency").map_or(64, |v| v.parse().expect("--concurrency")),
        namespaces: value("--namespaces").map_or(50, |v| v.parse().expect("--namespaces")),
        // The operator's shipped default: a shorter interval puts drift checks of the first objects into the time
        // to all Ready, work the null controller does not do (`--resync 60s --rest 3m` measures their cost at rest).
        resync: humantime::parse_duration(&value("--resync").unwrap_or_else(|| "10m".into())).expect("--resync"),
        rest: humantime::parse_duration(&value("--rest").unwrap_or_else(|| "3m".into())).expect("--rest"),
        providers: value("--providers")
            .unwrap_or_else(|| "mail,edna,envelope".into())
            .split(',')
            .map(|p| p.trim().to_string())
            .collect(),
        shards: value("--shards").map_or(1, |v| v.parse().expect("--shards takes a number")),
        null: !args.iter().any(|a| a == "--no-null"),
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let cluster = support::Cluster::connect().await;
    let mut all: Vec<Figures> = Vec::new();
    let mut nulls: Vec<Figures> = Vec::new();
    for &n in &options.sizes {
        // The floor first, on the same apiserver, with the same N, namespaces and creation driver.
        if options.null {
            let started = Instant::now();
            eprintln!("== N = {n}, null controller");
            let figures = fleet::run_round(&cluster, &options, n, fleet::Subject::Null).await;
            eprintln!("   round took {:.0?}", started.elapsed());
            report::write_json(&figures);
            nulls.push(figures);
        }
        let started = Instant::now();
        eprintln!("== N = {n}, operator ({} shard(s))", options.shards);
        let subject = fleet::Subject::Operator { shards: options.shards };
        let figures = fleet::run_round(&cluster, &options, n, subject).await;
        eprintln!("   round took {:.0?}", started.elapsed());
        report::write_json(&figures);
        all.push(figures);
    }
    report::print_table(&options, &all, &nulls);
}
