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

/// The soak's one departure from the shipped defaults, said here: `--cleanup-deadline` 90 s instead of 5 min. The
/// generator deletes Secrets under live objects on purpose, and every such object deleted afterwards keeps its
/// finalizer until the deadline; at 5 minutes a quiescent point waits out each of them and 1,000 operations take
/// hours. The deadline's own behaviour at its default is `tests/e2e_cleanup.rs`'s; the soak only needs abandonment to
/// happen (it happens more often this way, which exercises that path more). 90 s stays above the longest fault the
/// generator injects (two 500s or a 429 with backoff: seconds), so no cleanup that would succeed is abandoned.
pub const SOAK_SETTINGS: &[&str] = &["--cleanup-deadline", "90s"];

/// The shipped resync interval.
pub const RESYNC: Duration = Duration::from_secs(600);
