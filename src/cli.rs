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
    /// Say what the operator would do for one registration — create, update (a field diff), adopt, nothing, or a
    /// conflict with another object — reading the provider and writing nothing there. Exit 0: nothing pending;
    /// 2: provider changes pending; 1: an error, or the object would not be applied (conflict, missing Secret, ...).
    Plan(Box<PlanArgs>),
    /// Print CallbackRegistration YAML for every webhook a provider account holds (edna cannot be listed: a
    /// template), observe-only by default, ready to commit.
    Import(Box<ImportArgs>),
}

/// What `plan` and `import` need to reach the cluster and the providers the way the operator does.
#[derive(clap::Args, Debug, Clone)]
pub struct ToolArgs {
    /// Path to a kubeconfig; absent means KUBECONFIG, ~/.kube/config, or in-cluster configuration.
    #[arg(long, env = "CALLBACK_OPERATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Extra provider base URLs credential Secrets may name under `endpoint` (as the operator's flag).
    #[arg(long, env = "CALLBACK_OPERATOR_ALLOWED_ENDPOINTS", value_delimiter = ',')]
    pub allowed_endpoints: Vec<String>,

    /// A file holding the fingerprint key (as the operator's flag); account ids then match what status records.
    #[arg(long, env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_FILE")]
    pub fingerprint_key_file: Option<PathBuf>,

    /// The operator's fingerprint key Secret, read (never created) so account ids match status.
    #[arg(
        long,
        env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_SECRET",
        default_value = "callback-operator-fingerprint-key"
    )]
    pub fingerprint_key_secret: String,

    /// Namespace of the fingerprint key Secret (default: the kubeconfig context's).
    #[arg(long, env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_NAMESPACE")]
    pub fingerprint_key_namespace: Option<String>,

    /// Timeout of every provider HTTP request.
    #[arg(long, env = "CALLBACK_OPERATOR_PROVIDER_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub provider_timeout: Duration,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    /// A live object, `NAMESPACE/NAME`.
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    pub object: Option<String>,

    /// A manifest holding one CallbackRegistration (`-` for stdin). If that object exists, its status says what
    /// was applied before.
    #[arg(short = 'f', long)]
    pub file: Option<PathBuf>,

    /// The namespace of a manifest that names none (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    #[command(flatten)]
    pub tools: ToolArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// The credentials Secret, `NAMESPACE/NAME`; the registrations are written into that namespace and reference it.
    #[arg(long)]
    pub secret: String,

    /// Which provider the Secret is for.
    #[arg(long, value_parser = ["mail", "envelope", "edna"])]
    pub provider: String,

    /// envelope: the mailbox to list (DocStudio lists one mailbox at a time).
    #[arg(long)]
    pub mailbox: Option<String>,

    /// Leave `managementPolicy: Observe` out: the operator manages the imported webhooks fully once applied.
    #[arg(long)]
    pub full: bool,

    #[command(flatten)]
    pub tools: ToolArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Path to a kubeconfig; absent means KUBECONFIG, ~/.kube/config, or in-cluster configuration.
    #[arg(long, env = "CALLBACK_OPERATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Extra provider base URLs (comma-separated) that credential Secrets may name under `endpoint`, on top of
    /// each provider's public hosts. Compared parsed: scheme, host and port exactly (an entry without a port
    /// allows any port on its host), paths by whole segments; userinfo, queries, fragments and dot segments are
    /// refused. `http://` only where an entry says so.
    #[arg(long, env = "CALLBACK_OPERATOR_ALLOWED_ENDPOINTS", value_delimiter = ',')]
    pub allowed_endpoints: Vec<String>,

    /// Read only Secrets carrying these labels (`key=value` or `key`, comma-separated, all must match), e.g.
    /// `callback-operator.io/credentials=true`. A registration naming another Secret stalls (SecretNotLabelled)
    /// and that Secret's data is never requested. Empty: any Secret in the registration's namespace.
    #[arg(long, env = "CALLBACK_OPERATOR_SECRET_LABEL_SELECTOR", default_value = "")]
    pub secret_label_selector: String,

    /// A file holding the fingerprint (HMAC) key, at least 32 bytes; when set, no key Secret is read or created.
    #[arg(long, env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_FILE")]
    pub fingerprint_key_file: Option<PathBuf>,

    /// The Secret holding the fingerprint key (created with a random key on first start when absent).
    #[arg(
        long,
        env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_SECRET",
        default_value = "callback-operator-fingerprint-key"
    )]
    pub fingerprint_key_secret: String,

    /// Namespace of the fingerprint key Secret (default: the operator's own, from the in-cluster service account
    /// or the kubeconfig context).
    #[arg(long, env = "CALLBACK_OPERATOR_FINGERPRINT_KEY_NAMESPACE")]
    pub fingerprint_key_namespace: Option<String>,

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

    /// How long after a registration's deletion its cleanup may keep failing (credentials gone, provider down,
    /// apiserver refusing) before the operator lets the object go without removing what it registered (Warning
    /// Event CleanupAbandoned, metric cleanup_abandoned_total). The annotation callback-operator.io/orphan: "true"
    /// does it at once.
    #[arg(long, env = "CALLBACK_OPERATOR_CLEANUP_DEADLINE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub cleanup_deadline: Duration,

    /// Timeout of every Kubernetes API request: connecting, sending, and each wait for the answer (watches are not
    /// bounded by it: they have their own idle timeout). A hung apiserver connection then fails a request instead of
    /// holding a reconciliation (and a leader that must step down) forever.
    #[arg(long, env = "CALLBACK_OPERATOR_KUBE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub kube_timeout: Duration,

    /// /livez fails once the controller has made no progress (no reconciliation started or finished) for this long
    /// while work waits (a trigger unserved, or reconciliations in flight), so the kubelet restarts a stuck process.
    #[arg(long, env = "CALLBACK_OPERATOR_LIVEZ_STALL_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub livez_stall_timeout: Duration,

    /// Where /metrics, /livez and /readyz are served.
    #[arg(long, env = "CALLBACK_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `callback_operator=debug,kube=warn`.
    #[arg(long, env = "CALLBACK_OPERATOR_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format: json or text.
    #[arg(long, env = "CALLBACK_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    pub log_format: String,

    /// Shard by label (Flux's convention, docs/scaling.md): reconcile only the CallbackRegistrations this label
    /// selector matches, e.g. `sharding.callback-operator.io/key=shard1`, or `!sharding.callback-operator.io/key` for
    /// the default shard (every object without a shard label). An object whose labels stop matching is forgotten
    /// (no cleanup: the shard it moved to adopts it). Empty: every registration.
    #[arg(long, env = "CALLBACK_OPERATOR_WATCH_LABEL_SELECTOR", default_value = "")]
    pub watch_label_selector: String,

    /// Watch only these namespaces (comma-separated; needs only namespaced Roles). Empty: every namespace.
    #[arg(long, env = "CALLBACK_OPERATOR_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Namespace-scoped installs: the name of the operator's RoleBinding in each watched namespace. While a namespace
    /// holds registrations the operator keeps a finalizer on that binding, so deleting the namespace cannot revoke the
    /// permissions its registrations' cleanup needs (the chart sets it with watchNamespaces).
    #[arg(long, env = "CALLBACK_OPERATOR_RBAC_GUARD_BINDING")]
    pub rbac_guard_binding: Option<String>,

    /// Identity used for Events and the leader Lease (defaults to the pod name in POD_NAME, else the host name
    /// with a random suffix).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,

    /// Compete for a coordination.k8s.io Lease and reconcile only while holding it (the Helm chart turns this on;
    /// off by default so a single process, e.g. in tests, needs no Lease).
    #[arg(long, env = "CALLBACK_OPERATOR_LEADER_ELECTION")]
    pub leader_election: bool,

    /// Namespace of the leader Lease (default: the namespace of the in-cluster service account or kubeconfig context).
    #[arg(long, env = "CALLBACK_OPERATOR_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader Lease; replicas of one installation must share it.
    #[arg(
        long,
        env = "CALLBACK_OPERATOR_LEADER_ELECTION_LEASE_NAME",
        default_value = "callback-operator"
    )]
    pub leader_election_lease_name: String,

    /// How long one renewal keeps the Lease: a follower takes over at most this long after the leader stopped
    /// renewing. The leader renews a third of it before expiry. At least 3s.
    #[arg(long, env = "CALLBACK_OPERATOR_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub leader_election_lease_duration: Duration,

    /// On SIGTERM, how long in-flight reconciliations may take to finish before the process leaves anyway (keep it
    /// below the pod's terminationGracePeriodSeconds so the Lease is still released).
    #[arg(long, env = "CALLBACK_OPERATOR_SHUTDOWN_TIMEOUT", default_value = "25s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["callback-operator", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).expect("valid flags").command {
            Command::Run(args) => *args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn hostile_input_flags_parse() {
        let args = run_args(&[
            "--secret-label-selector",
            "callback-operator.io/credentials=true",
            "--fingerprint-key-secret",
            "k",
        ]);
        assert_eq!(args.secret_label_selector, "callback-operator.io/credentials=true");
        assert_eq!(args.fingerprint_key_secret, "k");
        assert!(run_args(&[]).secret_label_selector.is_empty());
    }

    #[test]
    fn the_shard_selector_defaults_to_every_registration() {
        assert!(run_args(&[]).watch_label_selector.is_empty());
        let shard = run_args(&["--watch-label-selector", "!sharding.callback-operator.io/key"]);
        assert_eq!(shard.watch_label_selector, "!sharding.callback-operator.io/key");
    }

    #[test]
    fn plan_takes_a_file_or_a_live_object_but_not_both() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["callback-operator", "plan"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv)
        };
        assert!(
            matches!(parse(&["shop/orders"]).unwrap().command, Command::Plan(p) if p.object.as_deref() == Some("shop/orders"))
        );
        assert!(matches!(parse(&["-f", "x.yaml"]).unwrap().command, Command::Plan(p) if p.file.is_some()));
        assert!(parse(&[]).is_err());
        assert!(parse(&["shop/orders", "-f", "x.yaml"]).is_err());
    }

    #[test]
    fn import_is_observe_only_unless_full_is_asked_for() {
        let parse = |args: &[&str]| match Cli::try_parse_from([&["callback-operator", "import"], args].concat()) {
            Ok(Cli {
                command: Command::Import(args),
            }) => Ok(*args),
            Ok(_) => unreachable!(),
            Err(err) => Err(err),
        };
        let args = parse(&["--secret", "shop/creds", "--provider", "mail"]).unwrap();
        assert!(!args.full);
        assert!(
            parse(&["--secret", "shop/creds", "--provider", "mail", "--full"])
                .unwrap()
                .full
        );
        assert!(parse(&["--secret", "shop/creds", "--provider", "fax"]).is_err());
    }

    #[test]
    fn leader_election_is_off_unless_asked_for() {
        assert!(!run_args(&[]).leader_election);
        let on = run_args(&[
            "--leader-election",
            "--leader-election-namespace",
            "ops",
            "--leader-election-lease-duration",
            "20s",
        ]);
        assert!(on.leader_election);
        assert_eq!(on.leader_election_namespace.as_deref(), Some("ops"));
        assert_eq!(on.leader_election_lease_name, "callback-operator");
        assert_eq!(on.leader_election_lease_duration, Duration::from_secs(20));
    }
}
