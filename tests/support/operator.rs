//! The operator as a real process (the binary under test), scoped to the test's namespace, logging to a file.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::Cluster;

pub struct Operator {
    child: Child,
    pub log_path: PathBuf,
    pub metrics_port: u16,
    _dir: tempfile::TempDir,
}

impl Operator {
    /// Starts `callback-operator run` watching `namespaces`, allowing the loopback simulators as endpoints.
    pub fn start(cluster: &Cluster, namespaces: &[&str], extra: &[&str]) -> Operator {
        Self::start_with_kubeconfig(&cluster.kubeconfig, namespaces, extra)
    }

    pub fn start_with_kubeconfig(kubeconfig: &std::path::Path, namespaces: &[&str], extra: &[&str]) -> Operator {
        Self::start_with_env(kubeconfig, namespaces, extra, &[])
    }

    /// Like `start_with_kubeconfig`, with extra environment variables (e.g. the chart's Deployment env).
    pub fn start_with_env(
        kubeconfig: &std::path::Path,
        namespaces: &[&str],
        extra: &[&str],
        env: &[(String, String)],
    ) -> Operator {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("operator.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let metrics_port = free_port();
        // The operator runs at its shipped defaults (resync, backoff, provider timeout, cleanup deadline, Lease): an
        // event-driven path must work without a periodic resync to paper over it. Only a test about resync, drift
        // or retries passes a shorter interval in `extra`, with a comment saying why.
        let defaults: Vec<String> = vec![
            "--allowed-endpoints".into(),
            "http://127.0.0.1".into(),
            "--metrics-addr".into(),
            format!("127.0.0.1:{metrics_port}"),
            "--log-level".into(),
            "info,callback_operator=debug".into(),
        ];
        let mut args: Vec<String> = vec!["run".into(), "--kubeconfig".into(), kubeconfig.display().to_string()];
        // No namespaces: watch the whole cluster (the benchmark does).
        if !namespaces.is_empty() {
            args.extend(["--namespaces".to_string(), namespaces.join(",")]);
        }
        // A flag given in `extra` replaces the test default of the same name.
        for pair in defaults.chunks(2) {
            if !extra.contains(&pair[0].as_str()) {
                args.extend(pair.iter().cloned());
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        // A profiler may wrap the binary (`E2E_OPERATOR_WRAPPER=heaptrack make bench`); the pid is then the wrapper's.
        let binary = env!("CARGO_BIN_EXE_callback-operator");
        let mut command = match std::env::var("E2E_OPERATOR_WRAPPER") {
            Ok(wrapper) if !wrapper.is_empty() => {
                let mut words = wrapper.split_whitespace();
                let mut command = Command::new(words.next().unwrap());
                command.args(words).arg(binary);
                command
            }
            _ => Command::new(binary),
        };
        let child = command
            .args(&args)
            .env_remove("KUBECONFIG")
            // As the chart and the image set it (the allocator reads it at process start).
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting the operator binary");
        Operator {
            child,
            log_path,
            metrics_port,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .expect("scraping /metrics")
            .text()
            .await
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("waiting for the operator")
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`, ...) without waiting.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} {} failed", self.child.id());
    }

    /// The exit status if the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("polling the operator process")
    }

    /// `GET /readyz` (with an optional query) as (HTTP status, body).
    pub async fn readyz(&self, query: &str) -> (u16, String) {
        let response = reqwest::get(format!("http://127.0.0.1:{}/readyz{query}", self.metrics_port))
            .await
            .expect("asking /readyz");
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// Kills the process at once (a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- operator log ({}) ----\n{}", self.log_path.display(), self.log());
        }
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
