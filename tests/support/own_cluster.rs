//! A control plane of the test's own (its own etcd and kube-apiserver, started by `scripts/cluster` with a separate
//! state dir and free ports), for tests that stop, restart or compact it: the shared instance stays untouched.
//! Stopped and removed on drop.

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
        let state = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/cluster")
            .join(format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        script(&state, &["up"]);
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
