//! The soak's operations and their seeded generator. The whole list is made from the seed before anything runs
//! (the generator keeps its own shadow of which objects and Secrets exist), so a prefix of it replays exactly.

use std::collections::BTreeSet;
use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::model::Provider;

/// Namespaces the soak spreads objects over.
pub const NAMESPACES: usize = 3;
/// Callback URLs per provider: a small pool, so claims collide (conflicts, adoption of orphans).
pub const URLS: usize = 4;
/// edna fields an object may set on the channel.
pub const EDNA_FIELDS: [&str; 2] = ["statusCallbackUrl", "inMessageCallbackUrl"];

/// How many keys each provider's pool has; the last one is rejected by the provider (a revoked key).
pub fn key_pool(provider: Provider) -> usize {
    match provider {
        Provider::Mail => 3,
        Provider::Edna => 3,
        Provider::Envelope => 2,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    Status(u16),
    RateLimited(u64),
    /// The provider handles the write, then the connection closes before the answer.
    DropAfterWrite,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutOfBand {
    /// Remove the registration at the provider (mail, envelope).
    Delete,
    /// Change a field at the provider (mail maxParallel; edna the field's url).
    Edit,
    /// The provider stops the webhook (mail).
    Stop,
    /// A manual copy of a callback (envelope duplicate).
    Copy,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Create {
        ns: usize,
        name: String,
        provider: Provider,
        url: usize,
        field: usize,
        max_parallel: u32,
        orphan: bool,
        suspend: bool,
    },
    Update {
        ns: usize,
        name: String,
        url: usize,
        max_parallel: u32,
    },
    Delete {
        ns: usize,
        name: String,
    },
    /// Set deletionPolicy Orphan, then delete.
    Orphan {
        ns: usize,
        name: String,
    },
    Suspend {
        ns: usize,
        name: String,
        on: bool,
    },
    /// Put key `key` of the provider's pool into the namespace's Secret (creates it when deleted).
    Rotate {
        ns: usize,
        provider: Provider,
        key: usize,
    },
    DeleteSecret {
        ns: usize,
        provider: Provider,
    },
    Fault {
        provider: Provider,
        op: &'static str,
        kind: FaultKind,
        times: u32,
    },
    KillOperator,
    RestartApiserver,
    OutOfBand {
        provider: Provider,
        kind: OutOfBand,
        key: usize,
        url: usize,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create {
                ns,
                name,
                provider,
                url,
                field,
                max_parallel,
                orphan,
                suspend,
            } => {
                write!(f, "create ns{ns}/{name} {} url{url}", provider.label())?;
                if *provider == Provider::Edna {
                    write!(f, " {}", EDNA_FIELDS[*field])?;
                }
                if *provider == Provider::Mail {
                    write!(f, " maxParallel={max_parallel}")?;
                }
                if *orphan {
                    write!(f, " orphan")?;
                }
                if *suspend {
                    write!(f, " suspended")?;
                }
                Ok(())
            }
            Op::Update {
                ns,
                name,
                url,
                max_parallel,
            } => write!(f, "update ns{ns}/{name} url{url} maxParallel={max_parallel}"),
            Op::Delete { ns, name } => write!(f, "delete ns{ns}/{name}"),
            Op::Orphan { ns, name } => write!(f, "orphan-delete ns{ns}/{name}"),
            Op::Suspend { ns, name, on } => write!(f, "{} ns{ns}/{name}", if *on { "suspend" } else { "resume" }),
            Op::Rotate { ns, provider, key } => {
                let revoked = *key + 1 == key_pool(*provider);
                write!(
                    f,
                    "secret ns{ns}/{} := key{key}{}",
                    provider.secret_name(),
                    if revoked { " (revoked)" } else { "" }
                )
            }
            Op::DeleteSecret { ns, provider } => write!(f, "delete secret ns{ns}/{}", provider.secret_name()),
            Op::Fault {
                provider,
                op,
                kind,
                times,
            } => write!(f, "fault {} {op} {kind:?} x{times}", provider.label()),
            Op::KillOperator => write!(f, "SIGKILL operator, start again"),
            Op::RestartApiserver => write!(f, "restart kube-apiserver"),
            Op::OutOfBand {
                provider,
                kind,
                key,
                url,
            } => write!(f, "out-of-band {kind:?} at {} key{key} url{url}", provider.label()),
        }
    }
}

/// A live object as the generator sees it.
#[derive(Clone, Debug)]
struct Shadow {
    ns: usize,
    name: String,
    suspend: bool,
}

/// `count` operations from `seed`. `apiserver_restarts`: whether RestartApiserver may be drawn.
pub fn generate(seed: u64, count: usize, apiserver_restarts: bool) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live: Vec<Shadow> = Vec::new();
    let mut secrets: BTreeSet<(usize, Provider)> =
        (0..NAMESPACES).flat_map(|ns| Provider::ALL.map(|p| (ns, p))).collect();
    let mut ops = Vec::with_capacity(count);
    // (weight, kind): object lifecycle dominates; faults and restarts are frequent enough to matter.
    let weights: [(u32, &str); 12] = [
        (20, "create"),
        (11, "update"),
        (8, "delete"),
        (3, "orphan"),
        (5, "suspend"),
        (5, "rotate"),
        (2, "delete-secret"),
        (12, "fault"),
        (2, "kill"),
        (if apiserver_restarts { 1 } else { 0 }, "apiserver"),
        (6, "out-of-band"),
        (0, "reserved"),
    ];
    let total: u32 = weights.iter().map(|(w, _)| w).sum();
    for i in 0..count {
        let mut pick = rng.random_range(0..total);
        let mut kind = "create";
        for (w, k) in weights {
            if pick < w {
                kind = k;
                break;
            }
            pick -= w;
        }
        if live.is_empty() && matches!(kind, "update" | "delete" | "orphan" | "suspend") {
            kind = "create";
        }
        let provider = Provider::ALL[rng.random_range(0..3)];
        let op = match kind {
            "create" => {
                let ns = rng.random_range(0..NAMESPACES);
                let name = format!("{}{i}", ["m", "e", "v"][provider as usize]);
                let suspend = rng.random_ratio(1, 12);
                live.push(Shadow {
                    ns,
                    name: name.clone(),
                    suspend,
                });
                Op::Create {
                    ns,
                    name,
                    provider,
                    url: rng.random_range(0..URLS),
                    field: rng.random_range(0..EDNA_FIELDS.len()),
                    max_parallel: [10, 20][rng.random_range(0..2)],
                    orphan: rng.random_ratio(1, 8),
                    suspend,
                }
            }
            "update" => {
                let s = &live[rng.random_range(0..live.len())];
                Op::Update {
                    ns: s.ns,
                    name: s.name.clone(),
                    url: rng.random_range(0..URLS),
                    max_parallel: [10, 20][rng.random_range(0..2)],
                }
            }
            "delete" | "orphan" => {
                let s = live.swap_remove(rng.random_range(0..live.len()));
                if kind == "delete" {
                    Op::Delete { ns: s.ns, name: s.name }
                } else {
                    Op::Orphan { ns: s.ns, name: s.name }
                }
            }
            "suspend" => {
                let idx = rng.random_range(0..live.len());
                live[idx].suspend = !live[idx].suspend;
                let s = &live[idx];
                Op::Suspend {
                    ns: s.ns,
                    name: s.name.clone(),
                    on: s.suspend,
                }
            }
            "rotate" => {
                let ns = rng.random_range(0..NAMESPACES);
                secrets.insert((ns, provider));
                // Mostly valid keys: a revoked key stalls everything using the Secret until the next rotation.
                let pool = key_pool(provider);
                let key = if rng.random_ratio(1, 4) {
                    pool - 1
                } else {
                    rng.random_range(0..pool - 1)
                };
                Op::Rotate { ns, provider, key }
            }
            "delete-secret" => {
                let ns = rng.random_range(0..NAMESPACES);
                if secrets.remove(&(ns, provider)) {
                    Op::DeleteSecret { ns, provider }
                } else {
                    Op::Rotate { ns, provider, key: 0 }
                }
            }
            "fault" => {
                let (read, write) = match provider {
                    Provider::Mail => ("webhook/get", "webhook/set"),
                    Provider::Edna => ("callback/set", "callback/set"),
                    Provider::Envelope => ("callback/list", "callback/add"),
                };
                let kind = match rng.random_range(0..6) {
                    0 => FaultKind::Status(500),
                    1 => FaultKind::Status(502),
                    2 => FaultKind::Status(503),
                    3 => FaultKind::RateLimited(rng.random_range(1..=2)),
                    _ => FaultKind::DropAfterWrite,
                };
                let op = if kind == FaultKind::DropAfterWrite || rng.random_bool(0.5) {
                    write
                } else {
                    read
                };
                Op::Fault {
                    provider,
                    op,
                    kind,
                    times: rng.random_range(1..=2),
                }
            }
            "kill" => Op::KillOperator,
            "apiserver" => Op::RestartApiserver,
            _ => {
                let kind = match provider {
                    Provider::Mail => [OutOfBand::Delete, OutOfBand::Edit, OutOfBand::Stop][rng.random_range(0..3)],
                    Provider::Edna => OutOfBand::Edit,
                    Provider::Envelope => [OutOfBand::Delete, OutOfBand::Copy][rng.random_range(0..2)],
                };
                Op::OutOfBand {
                    provider,
                    kind,
                    key: rng.random_range(0..key_pool(provider) - 1),
                    url: rng.random_range(0..URLS),
                }
            }
        };
        ops.push(op);
    }
    ops
}
