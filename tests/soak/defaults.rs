#![allow(dead_code)]

//! The operator's shipped defaults, spelled out: the test harness passes faster settings unless told otherwise, and
//! the soak and the fault matrix must hold at what users run.

use std::time::Duration;

/// Flags that restore the shipped defaults over the harness's test settings (a later flag of the same name wins).
pub const OPERATOR_DEFAULTS: &[&str] = &[
    "--resync-interval",
    "10m",
    "--backoff-base",
    "2s",
    "--backoff-max",
    "5m",
    "--provider-timeout",
    "30s",
];

/// The shipped resync interval.
pub const RESYNC: Duration = Duration::from_secs(600);
