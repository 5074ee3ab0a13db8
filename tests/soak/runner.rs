//! Runs a seeded operation list with quiescent checks, prints the figures, and on a violation searches for the
//! shortest failing prefix (binary search over prefixes, each replayed in fresh namespaces with fresh simulators
//! and a fresh operator, checked once at its end).

use std::time::Instant;

use super::checker::Violation;
use super::control_plane::PrivateControlPlane;
use super::ops::{Op, generate};
use super::world::{Figures, World};

pub struct Settings {
    pub seed: u64,
    pub ops: usize,
    /// A quiescent check after every this many operations (and at the end).
    pub check_every: usize,
    /// Look for the shortest failing prefix on a failure.
    pub shrink: bool,
    /// Whether the generator may restart the apiserver (SOAK_APISERVER_RESTARTS=0: not).
    pub apiserver_restarts: bool,
}

impl Settings {
    /// From the environment (`SOAK_SEED`, `SOAK_OPS`, `SOAK_CHECK_EVERY`, `SOAK_SHRINK=0`,
    /// `SOAK_APISERVER_RESTARTS=0|1`), with defaults.
    pub fn from_env(seed: u64, ops: usize, default_restarts: bool) -> Settings {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Settings {
            seed: var("SOAK_SEED").unwrap_or(seed),
            ops: var("SOAK_OPS").map(|v| v as usize).unwrap_or(ops),
            check_every: var("SOAK_CHECK_EVERY").map(|v| v as usize).unwrap_or(25),
            shrink: var("SOAK_SHRINK") != Some(0),
            apiserver_restarts: var("SOAK_APISERVER_RESTARTS").map_or(default_restarts, |v| v != 0),
        }
    }
}

pub struct Failure {
    pub at: usize,
    pub violations: Vec<Violation>,
    /// The last lines of the running operator's log.
    pub log_tail: String,
}

/// Runs `ops` in a fresh world; checks every `check_every` operations (0: only at the end).
async fn run_ops(
    cp: &PrivateControlPlane,
    seed: u64,
    ops: &[Op],
    check_every: usize,
) -> (Figures, u64, Option<Failure>) {
    let mut world = World::start(cp).await;
    for (i, op) in ops.iter().enumerate() {
        if *op == Op::RestartApiserver {
            cp.restart("kube-apiserver").await;
        }
        world.apply(op).await;
        let due = (check_every > 0 && (i + 1) % check_every == 0) || i + 1 == ops.len();
        if due {
            let violations = world.quiescent_check(i + 1 == ops.len()).await;
            if !violations.is_empty() {
                let calls = world.provider_calls();
                let log = world.operator.log();
                // One file per seed: `make soak` may run seeds side by side.
                let path = format!("{}/target/soak-operator-seed{seed}.log", env!("CARGO_MANIFEST_DIR"));
                let _ = std::fs::write(&path, format!("{}{log}", world.logs));
                eprintln!("the operator logs of the failed run: {path}");
                // Every request each simulator answered, one JSON line each (test keys only), to follow an identity.
                let requests = format!("{}/target/soak-requests-seed{seed}.jsonl", env!("CARGO_MANIFEST_DIR"));
                let lines: Vec<String> = [world.mail.requests(), world.edna.requests(), world.envelope.requests()]
                    .concat()
                    .iter()
                    .filter_map(|r| serde_json::to_string(r).ok())
                    .collect();
                let _ = std::fs::write(&requests, lines.join("\n"));
                eprintln!("the simulators' request logs: {requests}");
                let lines: Vec<&str> = log.lines().collect();
                let log_tail = lines[lines.len().saturating_sub(40)..].join("\n");
                let failure = Failure {
                    at: i + 1,
                    violations,
                    log_tail,
                };
                world.figures.faults_served = world.faults_served();
                return (world.figures.clone(), calls, Some(failure));
            }
        }
    }
    let calls = world.provider_calls();
    world.figures.faults_served = world.faults_served();
    (world.figures.clone(), calls, None)
}

/// The soak: panics (after printing the seed, the shortest failing prefix and the violations) on any violation.
pub async fn soak(cp: &PrivateControlPlane, settings: Settings) {
    let ops = generate(settings.seed, settings.ops, settings.apiserver_restarts);
    let started = Instant::now();
    eprintln!(
        "soak: seed {}, {} operations, a quiescent check every {}, apiserver restarts {}",
        settings.seed,
        settings.ops,
        settings.check_every,
        if settings.apiserver_restarts { "on" } else { "off" }
    );
    let (figures, calls, failure) = run_ops(cp, settings.seed, &ops, settings.check_every).await;
    print_figures(&settings, &figures, calls, started.elapsed().as_secs());
    let Some(failure) = failure else { return };
    eprintln!("---- operator log, last lines ----\n{}\n----", failure.log_tail);
    for v in &failure.violations {
        eprintln!("  violation after op {}: {v}", failure.at);
    }
    let mut shortest = failure.at;
    if settings.shrink {
        // Invariant: the prefix `hi` fails; `lo` is the longest prefix known to pass.
        let (mut lo, mut hi) = (0usize, failure.at);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let (_, _, replay) = run_ops(cp, settings.seed, &ops[..mid], 0).await;
            eprintln!(
                "  shrink: prefix {mid} {}",
                if replay.is_some() { "fails" } else { "passes" }
            );
            if replay.is_some() {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        shortest = hi;
    }
    eprintln!("seed {}, shortest failing prefix {shortest} ops:", settings.seed);
    for (i, op) in ops[..shortest].iter().enumerate() {
        eprintln!("  {:>4}  {op}", i + 1);
    }
    panic!(
        "soak seed {} failed with {} violation(s) after op {}; shortest failing prefix {shortest} ops \
         (replay: scripts/soak --seed {} --ops {shortest})",
        settings.seed,
        failure.violations.len(),
        failure.at,
        settings.seed
    );
}

fn print_figures(settings: &Settings, f: &Figures, calls: u64, secs: u64) {
    let per_op = calls as f64 / f.ops.max(1) as f64;
    eprintln!(
        "\n== soak figures (seed {})\n\
         operations             {}\n\
         faults injected        {} ({} answers shaped by them; each armed for {}s)\n\
         out-of-band changes    {}\n\
         quiescent checks       {}\n\
         violations             {}\n\
         provider calls         {} ({per_op:.2} per operation)\n\
         operator restarts      {} (SIGKILL, all survived)\n\
         apiserver restarts     {}\n\
         wall time              {secs} s\n",
        settings.seed,
        f.ops,
        f.faults,
        f.faults_served,
        super::world::FAULT_WINDOW.as_secs(),
        f.out_of_band,
        f.checks,
        f.violations,
        calls,
        f.operator_restarts,
        f.apiserver_restarts,
    );
}
