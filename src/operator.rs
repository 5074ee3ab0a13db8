//! `callback-operator run`: logging, the Kubernetes client, the provider clients, the HTTP endpoints and the
//! controller — run only while holding the leader Lease when leader election is on — with graceful shutdown on
//! SIGTERM / Ctrl-C.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cli::RunArgs;
use crate::controller::{ControllerOptions, SecretSelector, Settings, run_controller};
use crate::leader::{Leadership, LeaseConfig};
use crate::providers::{EndpointPolicy, HttpClient, ProviderOptions, Providers};
use crate::server::{Liveness, Readiness, router, serve};
use crate::telemetry::{Metrics, init_logging};

/// How long releasing the Lease may take on the way out (it expires on its own anyway).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the controller stops.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stop {
    /// SIGTERM or Ctrl-C: finish in-flight work, release the Lease, exit 0.
    Signal,
    /// Leadership lost: another replica may already lead; stop quickly and exit non-zero.
    LostLease,
}

/// Everything the controller needs, built once.
struct Parts {
    client: kube::Client,
    watch_client: kube::Client,
    providers: Providers,
    metrics: Metrics,
    options: ControllerOptions,
    readiness: Readiness,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // One rustls crypto provider for the whole binary (kube uses ring; reqwest must not pick another).
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging(&args.log_level, args.log_format == "json");

    let (client, watch_client) = kube_clients(&args).await?;
    // Before anything is fingerprinted: account ids and applied hashes are keyed with it.
    let key = match &args.fingerprint_key_file {
        Some(file) => crate::fingerprint_key::from_file(file)?,
        None => {
            let namespace = crate::fingerprint_key::namespace(args.fingerprint_key_namespace.as_deref(), &client);
            crate::startup::retrying("fingerprint key", || {
                crate::fingerprint_key::load_or_create(&client, &namespace, &args.fingerprint_key_secret)
            })
            .await?
        }
    };
    crate::providers::set_fingerprint_key(key).map_err(anyhow::Error::msg)?;
    let metrics = Metrics::new();
    let http = HttpClient::new(args.provider_timeout, metrics.clone()).context("building the HTTP client")?;
    let providers = Providers::new(&ProviderOptions {
        http,
        reassert_interval: args.edna_reassert_interval,
    });
    let progress = crate::controller::Progress::default();
    let mut options = controller_options(&args)?;
    options.progress = progress.clone();
    let parts = Parts {
        client,
        watch_client,
        providers,
        metrics,
        options,
        readiness: Readiness::new(args.leader_election),
    };

    let (stop_tx, stop_rx) = watch::channel(None::<Stop>);
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested: finishing in-flight reconciliations");
        on_signal.send_if_modified(|stop| stop.get_or_insert(Stop::Signal) == &Stop::Signal);
    });
    let server = tokio::spawn(serve(
        args.metrics_addr,
        router(
            parts.metrics.clone(),
            parts.readiness.clone(),
            Liveness::new(progress, args.livez_stall_timeout),
        ),
        stop_requested(stop_rx.clone()),
    ));

    let result = if args.leader_election {
        let lease = lease_config(&args, &parts.client);
        run_elected(parts, lease, &args, stop_tx, stop_rx).await
    } else {
        parts.metrics.set_leader(true);
        run_bounded(parts, stop_rx, args.shutdown_timeout, Duration::ZERO).await;
        Ok(())
    };
    // Give the metrics server a moment to answer a last scrape, then leave — at once after a lost Lease, whose
    // exit is part of the step-down arithmetic (docs/install.md, "Leader election").
    if result.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    }
    info!("stopped");
    result
}

/// Waits for the Lease, runs the controller while holding it, and releases it on the way out. Losing the Lease is
/// an error: the process exits non-zero and comes back (restarted by its Deployment) as a clean follower, with no
/// cache, backoff or breaker state left over from its term.
async fn run_elected(
    parts: Parts,
    lease: LeaseConfig,
    args: &RunArgs,
    stop_tx: watch::Sender<Option<Stop>>,
    stop_rx: watch::Receiver<Option<Stop>>,
) -> anyhow::Result<()> {
    let mut leadership = crate::startup::retrying("leader election", || {
        Leadership::join(parts.client.clone(), lease.clone())
    })
    .await?;
    tokio::select! {
        acquired = leadership.acquired() => acquired?,
        _ = stop_requested(stop_rx.clone()) => {
            leadership.release(RELEASE_TIMEOUT).await;
            return Ok(());
        }
    }
    parts.readiness.set_leading(true);
    parts.metrics.set_leader(true);
    let readiness = parts.readiness.clone();
    let metrics = parts.metrics.clone();

    // After a lost Lease the remaining work may take only the drain: the step-down plus the drain end strictly
    // before the Lease can expire for the other replicas (docs/install.md, "Leader election").
    let controller = run_bounded(parts, stop_rx, args.shutdown_timeout, lease.drain());
    tokio::pin!(controller);
    let lost = tokio::select! {
        () = &mut controller => None,
        reason = leadership.lost() => {
            warn!(%reason, "lost the leader Lease: stopping the controller");
            readiness.set_leading(false);
            metrics.set_leader(false);
            stop_tx.send_replace(Some(Stop::LostLease));
            controller.await;
            Some(reason)
        }
    };
    match lost {
        Some(reason) => Err(anyhow::anyhow!(
            "lost the leader Lease ({reason}); exiting so this replica restarts as a follower"
        )),
        None => {
            // Only now, with every in-flight reconciliation finished, may a successor start.
            leadership.release(RELEASE_TIMEOUT).await;
            Ok(())
        }
    }
}

/// Runs the controller until a stop is requested; in-flight reconciliations then get `on_signal` (SIGTERM) or
/// `on_lost_lease` to finish before they are abandoned (an abandoned provider call is adopted, never duplicated,
/// by the next reconciliation: the provider identity is looked up before anything is created).
async fn run_bounded(
    parts: Parts,
    stop_rx: watch::Receiver<Option<Stop>>,
    on_signal: Duration,
    on_lost_lease: Duration,
) {
    let synced = parts.readiness.clone();
    let controller = run_controller(
        parts.client,
        parts.watch_client,
        parts.providers,
        parts.metrics,
        parts.options,
        stop_requested(stop_rx.clone()),
        move || synced.set_synced(),
    );
    let deadline = async {
        let bound = match stop_reason(stop_rx).await {
            Stop::Signal => on_signal,
            Stop::LostLease => on_lost_lease,
        };
        tokio::time::sleep(bound).await;
        bound
    };
    tokio::select! {
        () = controller => {}
        bound = deadline => warn!(?bound, "in-flight reconciliations did not finish in time; abandoning them"),
    }
}

fn controller_options(args: &RunArgs) -> anyhow::Result<ControllerOptions> {
    Ok(ControllerOptions {
        settings: Settings {
            resync_interval: args.resync_interval,
            backoff_base: args.backoff_base,
            backoff_max: args.backoff_max,
            cleanup_deadline: args.cleanup_deadline,
            endpoints: EndpointPolicy::parse(args.allowed_endpoints.clone()).map_err(anyhow::Error::msg)?,
            secret_selector: SecretSelector::parse(&args.secret_label_selector).map_err(anyhow::Error::msg)?,
        },
        concurrency: args.concurrency,
        instance: args.instance.clone(),
        namespaces: args.namespaces.clone(),
        shard_selector: crate::controller::shard_selector(&args.watch_label_selector).map_err(anyhow::Error::msg)?,
        guard_binding: args.rbac_guard_binding.clone(),
        progress: Default::default(),
    })
}

fn lease_config(args: &RunArgs, client: &kube::Client) -> LeaseConfig {
    LeaseConfig {
        namespace: args
            .leader_election_namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| client.default_namespace().to_string()),
        name: args.leader_election_lease_name.clone(),
        identity: crate::leader::identity(args.instance.as_deref()),
        duration: args.leader_election_lease_duration,
    }
}

/// Two clients of one configuration: one for requests, every one bounded by `--kube-timeout` (connect, send, each
/// wait for the answer), and one for watches, without a read timeout (an idle watch is no failure; the watcher has
/// its own idle timeout and reconnects).
async fn kube_clients(args: &RunArgs) -> anyhow::Result<(kube::Client, kube::Client)> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    let mut requests = config.clone();
    requests.connect_timeout = Some(args.kube_timeout);
    requests.write_timeout = Some(args.kube_timeout);
    requests.read_timeout = Some(args.kube_timeout);
    // Counted from when a request is sent, not from when its pooled connection went idle.
    requests.reset_reader_on_write = true;
    let mut watches = config;
    watches.connect_timeout = Some(args.kube_timeout);
    watches.write_timeout = Some(args.kube_timeout);
    Ok((kube::Client::try_from(requests)?, kube::Client::try_from(watches)?))
}

/// Resolves with the first stop requested.
async fn stop_reason(mut rx: watch::Receiver<Option<Stop>>) -> Stop {
    loop {
        if let Some(stop) = rx.borrow_and_update().clone() {
            return stop;
        }
        if rx.changed().await.is_err() {
            // Every sender is gone: nobody can ask any more, so treat it as a shutdown.
            return Stop::Signal;
        }
    }
}

async fn stop_requested(rx: watch::Receiver<Option<Stop>>) {
    stop_reason(rx).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
