//! Command line: `run` (the controller) and `crd` (the CRD YAML). Every flag can also come from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "callback-operator",
    version,
    about = "Keeps webhook/callback registrations true at edna Pulse, Unisender Go and DocStudio"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller (kubeconfig, or in-cluster configuration).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinition YAML (what crds/ holds).
    Crd,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Path to a kubeconfig; absent means KUBECONFIG, ~/.kube/config, or in-cluster configuration.
    #[arg(long, env = "CALLBACK_OPERATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Extra provider base URL prefixes (comma-separated) that credential Secrets may name under `endpoint`,
    /// on top of each provider's public hosts.
    #[arg(long, env = "CALLBACK_OPERATOR_ALLOWED_ENDPOINTS", value_delimiter = ',')]
    pub allowed_endpoints: Vec<String>,

    /// Default drift-check interval when a registration does not set spec.resyncInterval.
    #[arg(long, env = "CALLBACK_OPERATOR_RESYNC_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub resync_interval: Duration,

    /// How often edna URLs are re-asserted (edna cannot be read back; every set makes edna probe the receiver).
    #[arg(long, env = "CALLBACK_OPERATOR_EDNA_REASSERT_INTERVAL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub edna_reassert_interval: Duration,

    /// Reconciliations in flight at once (also the first rate limit on providers).
    #[arg(long, env = "CALLBACK_OPERATOR_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,

    /// Timeout of every provider HTTP request.
    #[arg(long, env = "CALLBACK_OPERATOR_PROVIDER_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub provider_timeout: Duration,

    /// First retry delay after a transient error; doubles per consecutive failure up to --backoff-max.
    #[arg(long, env = "CALLBACK_OPERATOR_BACKOFF_BASE", default_value = "2s", value_parser = humantime::parse_duration)]
    pub backoff_base: Duration,

    #[arg(long, env = "CALLBACK_OPERATOR_BACKOFF_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    pub backoff_max: Duration,

    /// Where /metrics, /livez and /readyz are served.
    #[arg(long, env = "CALLBACK_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `callback_operator=debug,kube=warn`.
    #[arg(long, env = "CALLBACK_OPERATOR_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format: json or text.
    #[arg(long, env = "CALLBACK_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,

    /// Watch only these namespaces (comma-separated; needs only namespaced Roles). Empty: every namespace.
    #[arg(long, env = "CALLBACK_OPERATOR_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Identity used for Events and the leader Lease (defaults to the pod name in POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
}
