//! Shared end-to-end harness: the real control plane started by `scripts/cluster` (never a mock), one namespace and
//! one operator process per test, simulators in-process on 127.0.0.1.
#![allow(dead_code, unused_imports)]

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod controller_manager;
pub mod edna;
pub mod envelope;
pub mod gitops;
pub mod install;
pub mod lease;
pub mod mail;
pub mod metrics;
pub mod operator;
pub mod own_cluster;
pub mod proxy;
pub mod readings;
pub mod wait;

pub use cluster::{Cluster, TestNamespace};
pub use operator::Operator;
pub use wait::{events_about, eventually, ready_condition, wait_for_event, wait_for_reason, wait_gone};

/// Installs the rustls crypto provider once per test binary (reqwest is built without one).
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
