//! The leader Lease as the tests see it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

use super::{Cluster, eventually};

/// The Lease's spec, if the Lease exists.
pub async fn lease_spec(cluster: &Cluster, namespace: &str, name: &str) -> Option<LeaseSpec> {
    let api: kube::Api<Lease> = kube::Api::namespaced(cluster.client.clone(), namespace);
    api.get_opt(name).await.expect("reading the Lease").and_then(|l| l.spec)
}

/// The holder, once the Lease has one (panics after `timeout`).
pub async fn wait_for_holder(cluster: &Cluster, namespace: &str, name: &str, timeout: Duration) -> String {
    eventually(
        &format!("Lease {namespace}/{name} to have a holder"),
        timeout,
        || async {
            lease_spec(cluster, namespace, name)
                .await
                .and_then(|s| s.holder_identity)
        },
    )
    .await
}

/// Waits until `holder` holds the Lease.
pub async fn wait_for_holder_to_be(cluster: &Cluster, namespace: &str, name: &str, holder: &str, timeout: Duration) {
    eventually(
        &format!("{holder} to hold Lease {namespace}/{name}"),
        timeout,
        || async {
            let spec = lease_spec(cluster, namespace, name).await?;
            (spec.holder_identity.as_deref() == Some(holder)).then_some(())
        },
    )
    .await
}

/// Flags that make an operator process compete for Lease `callback-operator` in `namespace` as `identity`.
pub fn election_args(namespace: &str, identity: &str, duration: &str) -> Vec<String> {
    [
        "--leader-election",
        "--leader-election-namespace",
        namespace,
        "--leader-election-lease-duration",
        duration,
        "--instance",
        identity,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub const LEASE: &str = "callback-operator";
