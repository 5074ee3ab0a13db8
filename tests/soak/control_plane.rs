//! A private control plane (etcd + kube-apiserver from `scripts/cluster`, in its own state dir and ports) for tests
//! that restart the apiserver or etcd: restarting the shared instance would break every other test running.
//!
//! A restart keeps etcd's data (unlike `scripts/cluster up`, which starts from an empty etcd): the process is stopped
//! and started again with its exact command line, and its pid file is updated so `scripts/cluster down` stops it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Cluster;

pub struct PrivateControlPlane {
    pub state_dir: PathBuf,
    pub cluster: Cluster,
}

fn repo() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

impl PrivateControlPlane {
    /// Starts an instance in `target/cluster/<name>-<random>` (free ports) and installs the CRD.
    pub async fn start(name: &str) -> PrivateControlPlane {
        crate::support::init_crypto();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let state_dir = PathBuf::from(repo()).join(format!("target/cluster/{name}-{suffix}"));
        let out = Command::new(format!("{}/scripts/cluster", repo()))
            .arg("up")
            .env("CLUSTER_STATE_DIR", &state_dir)
            .env("CLUSTER_ETCD_PORT", "auto")
            .env("CLUSTER_ETCD_PEER_PORT", "auto")
            .env("CLUSTER_APISERVER_PORT", "auto")
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/cluster up");
        assert!(
            out.status.success(),
            "scripts/cluster up ({}) failed:\n{}",
            state_dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let kubeconfig = state_dir.join("admin.kubeconfig");
        let cluster = connect(&kubeconfig).await;
        let crd = format!("{}/crds/callbackregistrations.callback-operator.io.yaml", repo());
        cluster.kubectl_ok(&["apply", "--server-side", "-f", &crd]);
        cluster.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/callbackregistrations.callback-operator.io",
        ]);
        PrivateControlPlane { state_dir, cluster }
    }

    /// The etcd client port.
    pub fn etcd_port(&self) -> u16 {
        let env = std::fs::read_to_string(self.state_dir.join("cluster.env")).expect("cluster.env");
        env.lines()
            .find_map(|l| l.strip_prefix("ETCD_PORT="))
            .and_then(|p| p.trim().parse().ok())
            .expect("ETCD_PORT in cluster.env")
    }

    /// Stops `process` (`kube-apiserver` or `etcd`) with SIGTERM and starts it again with the same command line;
    /// waits until the apiserver answers /readyz again.
    pub async fn restart(&self, process: &str) {
        let stopped = self.stop(process);
        self.start_again(stopped).await;
    }

    /// Stops `process` with SIGTERM; returns what [`start_again`](Self::start_again) needs to bring it back.
    pub fn stop(&self, process: &str) -> Stopped {
        let pid_file = self.state_dir.join(format!("run/{process}.pid"));
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the pid file")
            .trim()
            .parse()
            .unwrap();
        let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
            .expect("the process's command line")
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        wait_exit(pid, Duration::from_secs(30));
        Stopped {
            process: process.to_string(),
            argv,
        }
    }

    /// Starts a stopped process again with its old command line; waits until the apiserver answers /readyz.
    pub async fn start_again(&self, stopped: Stopped) {
        let Stopped { process, argv } = stopped;
        let pid_file = self.state_dir.join(format!("run/{process}.pid"));
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.state_dir.join(format!("logs/{process}.log")))
            .unwrap();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting the process again");
        std::fs::write(&pid_file, child.id().to_string()).unwrap();
        // The child is reaped by `scripts/cluster down` (it kills by pid); dropping the handle does not kill it.
        drop(child);
        self.wait_ready(Duration::from_secs(120)).await;
    }

    /// Waits until the apiserver answers /readyz (and therefore reaches etcd).
    pub async fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self
                .cluster
                .kubectl(&["--request-timeout=3s", "get", "--raw", "/readyz"]);
            if out.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "the apiserver did not become ready again");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

impl Drop for PrivateControlPlane {
    fn drop(&mut self) {
        let _ = Command::new(format!("{}/scripts/cluster", repo()))
            .arg("down")
            .env("CLUSTER_STATE_DIR", &self.state_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(self.state_dir.join("etcd-data"));
    }
}

/// A client for `kubeconfig` (what `Cluster::connect` does for the shared instance, without the env variable).
pub async fn connect(kubeconfig: &Path) -> Cluster {
    let config = kube::config::Kubeconfig::read_from(kubeconfig).expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(config, &kube::config::KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    let client = kube::Client::try_from(config).expect("a kube client");
    Cluster {
        kubeconfig: kubeconfig.to_path_buf(),
        client,
    }
}

fn wait_exit(pid: u32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Path::new(&format!("/proc/{pid}")).exists() {
        // A zombie of ours (a process this test restarted earlier) has exited: reap it.
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && stat.split_whitespace().nth(2) == Some("Z")
        {
            break;
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A control-plane process stopped by [`PrivateControlPlane::stop`].
pub struct Stopped {
    process: String,
    argv: Vec<String>,
}
