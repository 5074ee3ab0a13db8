//! The randomized soak: a seeded list of operations across the three providers and several namespaces, run against
//! a private control plane (so the apiserver can be restarted), the operator process at its shipped defaults and
//! the simulators; at quiescent points a model of what the objects ask for is compared with every simulator.
//!
//! `short_soak` runs in `make test`; `long_soak` is `make soak` (`scripts/soak --seed N --ops M`).

#[path = "soak/mod.rs"]
mod harness;
mod support;

use harness::control_plane::PrivateControlPlane;
use harness::runner::{Settings, soak};

/// A few hundred operations, one seed: part of `make test` (about 3 minutes). Without apiserver restarts, which
/// `make soak` adds (each costs the operator a relist).
#[tokio::test(flavor = "multi_thread")]
async fn short_soak() {
    let cp = PrivateControlPlane::start("soak-short").await;
    soak(&cp, Settings::from_env(7, 200, false)).await;
}

/// `make soak`: SOAK_SEED / SOAK_OPS (default 1,000 operations).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: run by `make soak` (scripts/soak)"]
async fn long_soak() {
    let cp = PrivateControlPlane::start("soak-long").await;
    soak(&cp, Settings::from_env(1, 1000, true)).await;
}

/// Prints the operations of SOAK_SEED / SOAK_OPS without running them (to read a failing prefix).
#[test]
#[ignore = "a tool: cargo test --test soak print_ops -- --ignored --nocapture"]
fn print_ops() {
    let settings = Settings::from_env(1, 1000, true);
    for (i, op) in harness::ops::generate(settings.seed, settings.ops, settings.apiserver_restarts)
        .iter()
        .enumerate()
    {
        println!("{:>4}  {op}", i + 1);
    }
}
