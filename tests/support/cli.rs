//! The read-only commands (`plan`, `import`) as a user runs them: the binary under test, against the test's control
//! plane, allowing the loopback simulators as endpoints the way the test operator does.

use std::io::Write;
use std::process::{Command, Stdio};

use super::Cluster;

/// What one command run printed and how it exited.
#[derive(Debug)]
pub struct CliRun {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `callback-operator <args>` with the cluster's kubeconfig, feeding `input` on stdin.
pub fn run(cluster: &Cluster, args: &[&str], input: Option<&str>) -> CliRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callback-operator"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["--allowed-endpoints", "http://127.0.0.1"])
        .env_remove("KUBECONFIG")
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the callback-operator binary");
    if let Some(text) = input {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().expect("the command ran");
    CliRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}
