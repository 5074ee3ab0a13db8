//! `make bench`: how fast and how lean the operator is from 100 to 10,000 registrations.
//!
//! Runs against the real control plane (`scripts/bench` starts it), provider simulators in this process with an
//! injected latency, and the operator's release binary as a separate process. Prints figures; asserts nothing about
//! time. Usage: `cargo bench --bench scale -- [--sizes 100,1000,10000] [--latency-ms 20] [--concurrency 64]
//! [--namespaces 50] [--resync 10m] [--rest 3m] [--providers mail,edna,envelope] [--shards 1] [--no-null]
//! [--rounds warm-up,null,operator,null] [--apiserver-work]`.
//!
//! Rounds: the apiserver's first burst of a size runs ~12 % faster than every later one in the same process (null
//! controller rounds of 10,000 one after another: 40.9, 46.4, 47.7 s; its Go heap in use 140 MiB before the first,
//! 1.1–1.4 GiB after; compacting etcd between rounds changed nothing). So each size starts with a warm-up round (the
//! null controller's, not compared), and the null controller runs before and after the operator: the operator's
//! time ÷ the mean of the two is not skewed by the order (docs/benchmark.md, "Round order").

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
    /// The rounds per size, in order (`--rounds`, default `warm-up,null,operator,null`; `--no-null`: `operator`).
    pub rounds: Vec<Round>,
    /// Print what each round cost the apiserver by its own metrics, and the stored objects' sizes.
    pub apiserver_work: bool,
}

/// One round of a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// The null controller, not compared: the apiserver's first burst is faster than the later ones.
    WarmUp,
    /// The null controller: the floor the operator is compared with (the mean of its rounds of the size).
    Null,
    /// The null controller writing a status shaped like the operator's: the floor with the operator's status.
    NullShaped,
    Operator,
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
        rounds: if args.iter().any(|a| a == "--no-null") {
            vec![Round::Operator]
        } else {
            value("--rounds")
                .unwrap_or_else(|| "warm-up,null,operator,null".into())
                .split(',')
                .map(|r| match r.trim() {
                    "warm-up" => Round::WarmUp,
                    "null" => Round::Null,
                    "null-shaped" => Round::NullShaped,
                    "operator" => Round::Operator,
                    other => panic!("--rounds takes warm-up, null, null-shaped and operator, not {other:?}"),
                })
                .collect()
        },
        apiserver_work: args.iter().any(|a| a == "--apiserver-work"),
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let cluster = support::Cluster::connect().await;
    let mut all: Vec<Figures> = Vec::new();
    let mut nulls: Vec<Figures> = Vec::new();
    for &n in &options.sizes {
        for &round in &options.rounds {
            let started = Instant::now();
            let subject = match round {
                Round::WarmUp => {
                    eprintln!("== N = {n}, null controller (warm-up, not compared)");
                    fleet::Subject::Null { operator_status: false }
                }
                Round::Null => {
                    eprintln!("== N = {n}, null controller");
                    fleet::Subject::Null { operator_status: false }
                }
                Round::NullShaped => {
                    eprintln!("== N = {n}, null controller writing the operator's status shape");
                    fleet::Subject::Null { operator_status: true }
                }
                Round::Operator => {
                    eprintln!("== N = {n}, operator ({} shard(s))", options.shards);
                    fleet::Subject::Operator { shards: options.shards }
                }
            };
            let figures = fleet::run_round(&cluster, &options, n, subject).await;
            eprintln!("   round took {:.0?}", started.elapsed());
            if round == Round::WarmUp {
                continue;
            }
            report::write_json(&figures);
            match round {
                Round::Operator => all.push(figures),
                _ => nulls.push(figures),
            }
        }
    }
    report::print_table(&options, &all, &nulls);
}
