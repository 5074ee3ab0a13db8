//! A control plane of the test's own (its own etcd and kube-apiserver, started by `scripts/cluster` with a separate
//! state dir and free ports), for tests that stop, restart or compact it, or that need a worker node to run pods
//! (`start_with_node`): the shared instance stays untouched. Stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Cluster;

pub struct OwnControlPlane {
    pub state: PathBuf,
    pub cluster: Cluster,
}

fn script(state: &Path, args: &[&str]) -> String {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster"))
        .args(args)
        .env("CLUSTER_STATE_DIR", state)
        .env("CLUSTER_ETCD_PORT", "auto")
        .env("CLUSTER_ETCD_PEER_PORT", "auto")
        .env("CLUSTER_APISERVER_PORT", "auto")
        .output()
        .expect("running scripts/cluster");
    assert!(
        out.status.success(),
        "scripts/cluster {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl OwnControlPlane {
    pub async fn start(name: &str) -> OwnControlPlane {
        Self::start_with(name, &["up"]).await
    }

    /// With a worker node (`scripts/cluster up --node`): kubelet, containerd, controller manager and scheduler.
    pub async fn start_with_node(name: &str) -> OwnControlPlane {
        Self::start_with(name, &["up", "--node"]).await
    }

    async fn start_with(name: &str, up: &[&str]) -> OwnControlPlane {
        let state = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/cluster")
            .join(format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        // A failed `up` may have started part of the instance (a node's containers, say): stop it before failing,
        // since no OwnControlPlane exists yet whose drop would.
        if let Err(e) = std::panic::catch_unwind(|| script(&state, up)) {
            let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster"))
                .arg("down")
                .env("CLUSTER_STATE_DIR", &state)
                .output();
            std::panic::resume_unwind(e);
        }
        let cluster = Cluster::connect_to(state.join("admin.kubeconfig")).await;
        OwnControlPlane { state, cluster }
    }

    /// Stops kube-apiserver (etcd keeps running).
    pub fn stop_apiserver(&self) {
        script(&self.state, &["apiserver", "stop"]);
    }

    /// Starts kube-apiserver again on the same port and waits until it is ready.
    pub fn start_apiserver(&self) {
        script(&self.state, &["apiserver", "start"]);
    }

    /// A variable of `scripts/cluster env` for this instance (e.g. `E2E_NODE_CTR`).
    pub fn env(&self, name: &str) -> String {
        let prefix = format!("export {name}=");
        script(&self.state, &["env"])
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("scripts/cluster env prints no {name}"))
    }

    /// Pods reach the host's 127.0.0.1:`port` at the returned address (`scripts/cluster node-expose`).
    pub fn node_expose(&self, port: u16) -> String {
        script(&self.state, &["node-expose", &port.to_string()])
            .trim()
            .to_string()
    }

    /// `scripts/cluster down`, then `scripts/cluster leftovers`: its report, and whether it found nothing.
    pub fn down_and_list_leftovers(&self) -> (bool, String) {
        script(&self.state, &["down"]);
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster"))
            .arg("leftovers")
            .env("CLUSTER_STATE_DIR", &self.state)
            .output()
            .expect("running scripts/cluster leftovers");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Deletes `key` (below /registry) in etcd behind the apiserver's back, then compacts etcd.
    pub fn etcd_delete_and_compact(&self, key: &str) {
        script(&self.state, &["etcd-delete-and-compact", key]);
    }
}

impl Drop for OwnControlPlane {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster"))
            .arg("down")
            .env("CLUSTER_STATE_DIR", &self.state)
            .output();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
