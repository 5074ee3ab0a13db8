//! The read-only commands `plan` and `import`: they reach the cluster and the providers the way the operator does
//! (kubeconfig, credentials from Secrets, the allowed endpoints, the fingerprint key read but never created) and
//! never write to a provider. Secret values are never printed.

mod import;
mod plan;

use std::time::Duration;

use anyhow::Context as _;

pub use import::import;
pub use plan::plan;

use crate::cli::ToolArgs;
use crate::providers::{EndpointPolicy, HttpClient, ProviderOptions, Providers};
use crate::telemetry::Metrics;

/// edna's re-assert interval as the operator ships it (what `plan` judges a due re-assert by).
const EDNA_REASSERT_INTERVAL: Duration = Duration::from_secs(6 * 3600);

/// What both commands work with.
struct Tools {
    client: kube::Client,
    providers: Providers,
    endpoints: EndpointPolicy,
}

async fn connect(args: &ToolArgs) -> anyhow::Result<Tools> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    let client = kube::Client::try_from(config)?;
    // Account ids in status are keyed with the operator's key: read it so ownership and "already applied" match.
    let key = match &args.fingerprint_key_file {
        Some(file) => crate::fingerprint_key::from_file(file)?,
        None => {
            let namespace = crate::fingerprint_key::namespace(args.fingerprint_key_namespace.as_deref(), &client);
            match crate::fingerprint_key::load(&client, &namespace, &args.fingerprint_key_secret).await? {
                Some(key) => key,
                None => {
                    eprintln!(
                        "note: no fingerprint key Secret {namespace}/{} (the operator has not run against this \
                         cluster): account ids are compared by Secret name only",
                        args.fingerprint_key_secret
                    );
                    rand::random::<[u8; 32]>().to_vec()
                }
            }
        }
    };
    crate::providers::set_fingerprint_key(key).map_err(anyhow::Error::msg)?;
    let http = HttpClient::new(args.provider_timeout, Metrics::new()).context("building the HTTP client")?;
    Ok(Tools {
        client,
        providers: Providers::new(&ProviderOptions {
            http,
            reassert_interval: EDNA_REASSERT_INTERVAL,
        }),
        endpoints: EndpointPolicy::parse(args.allowed_endpoints.clone()).map_err(anyhow::Error::msg)?,
    })
}

/// `NAMESPACE/NAME`.
fn split_key(text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_string(), name.to_string()))
        }
        _ => anyhow::bail!("{text:?} is not NAMESPACE/NAME"),
    }
}
