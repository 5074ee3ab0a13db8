//! The GitOps tools' own health code, run on real objects: Argo CD's Lua engine (gopher-lua) evaluating the shipped
//! health script, and Flux's kstatus (sigs.k8s.io/cli-utils). Both are Go programs in tests/tools/gitops, built from
//! Go modules and cached by `scripts/gitops-tools` on first use (like the control plane), so a clean machine needs
//! nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The shipped Argo CD health check.
pub const HEALTH_LUA: &str = "charts/callback-operator/argocd/health.lua";

/// (status, message) as a tool judged it.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub status: String,
    pub message: String,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bin dir holding `argo-health` and `kstatus`, built once per test binary (the script caches across runs).
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new(repo().join("scripts/gitops-tools"))
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/gitops-tools");
        assert!(out.status.success(), "scripts/gitops-tools failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

fn run(tool: &str, args: &[&Path], object: &Value) -> Judged {
    let mut child = Command::new(bin_dir().join(tool))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {tool}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(object.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let judged: Value = serde_json::from_slice(&out.stdout).unwrap();
    Judged {
        status: judged["status"].as_str().unwrap_or_default().to_string(),
        message: judged["message"].as_str().unwrap_or_default().to_string(),
    }
}

/// Argo CD's verdict: the health script evaluated with `obj` = `object`, as Argo CD does.
pub fn argo_health(object: &Value) -> Judged {
    run("argo-health", &[&repo().join(HEALTH_LUA)], object)
}

/// kstatus' verdict (`status.Compute`), as Flux's health checks compute it.
pub fn kstatus(object: &Value) -> Judged {
    run("kstatus", &[], object)
}
