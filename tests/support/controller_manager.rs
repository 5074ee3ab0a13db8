//! kube-controller-manager running only the namespace controller, for tests that need a namespace deletion to
//! finish (`scripts/cluster up` starts none: without it a deleted namespace stays Terminating forever). Built and
//! cached by `scripts/cluster tools`; its path comes from `scripts/cluster env` as `E2E_KUBE_CONTROLLER_MANAGER`.

use std::process::{Child, Command, Stdio};

use super::Cluster;

pub struct NamespaceController {
    child: Child,
    log_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl NamespaceController {
    pub fn start(cluster: &Cluster) -> NamespaceController {
        let binary = std::env::var("E2E_KUBE_CONTROLLER_MANAGER")
            .expect("E2E_KUBE_CONTROLLER_MANAGER (eval \"$(scripts/cluster env)\")");
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("kube-controller-manager.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(binary)
            .arg(format!("--kubeconfig={}", cluster.kubeconfig.display()))
            .args([
                "--controllers=namespace-controller",
                "--leader-elect=false",
                "--secure-port=0",
                "--concurrent-namespace-syncs=2",
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting kube-controller-manager");
        NamespaceController {
            child,
            log_path,
            _dir: dir,
        }
    }
}

impl Drop for NamespaceController {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("---- kube-controller-manager log (last lines) ----");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
