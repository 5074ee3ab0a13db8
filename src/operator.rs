//! `callback-operator run`: logging, the Kubernetes client, the provider clients, the HTTP endpoints and the
//! controller, with graceful shutdown on SIGTERM / Ctrl-C.

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tracing::info;

use crate::cli::RunArgs;
use crate::controller::{ControllerOptions, Providers, Settings, run_controller};
use crate::providers::endpoint::EndpointPolicy;
use crate::providers::http::HttpClient;
use crate::providers::mail::MailProvider;
use crate::server::{Readiness, router, serve};
use crate::telemetry::{Metrics, init_logging};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // One rustls crypto provider for the whole binary (kube uses ring; reqwest must not pick another).
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging(&args.log_level, args.log_format == "json");

    let client = kube_client(&args).await?;
    let metrics = Metrics::new();
    let http = HttpClient::new(args.provider_timeout, metrics.clone()).context("building the HTTP client")?;
    let providers = Providers {
        mail: MailProvider::new(http.clone()),
    };
    let options = ControllerOptions {
        settings: Settings {
            resync_interval: args.resync_interval,
            edna_reassert_interval: args.edna_reassert_interval,
            backoff_base: args.backoff_base,
            backoff_max: args.backoff_max,
            endpoints: EndpointPolicy::new(args.allowed_endpoints.clone()),
        },
        concurrency: args.concurrency,
        instance: args.instance.clone(),
        namespaces: args.namespaces.clone(),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested: finishing in-flight reconciliations");
        let _ = stop_tx.send(true);
    });

    let readiness = Readiness::new(false);
    let server = tokio::spawn(serve(
        args.metrics_addr,
        router(metrics.clone(), readiness.clone()),
        stopped(stop_rx.clone()),
    ));

    let synced = readiness.clone();
    run_controller(
        client,
        providers,
        metrics,
        options,
        stopped(stop_rx.clone()),
        move || synced.set_synced(),
    )
    .await;
    // Give the metrics server a moment to answer a last scrape, then leave.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    info!("stopped");
    Ok(())
}

async fn kube_client(args: &RunArgs) -> anyhow::Result<kube::Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// Resolves once the shutdown flag is set.
async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
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
