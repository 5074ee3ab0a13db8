//! The local control plane (`scripts/cluster`) is a real Kubernetes API server.
//!
//! These tests need a running instance: `make test` starts one, or run
//! `scripts/cluster up && eval "$(scripts/cluster env)"` before `cargo test`.
//! They read the cluster from `E2E_KUBECONFIG` / `E2E_CLUSTER_STATE_DIR` only (never the user's current context)
//! and call `kubectl` from `PATH`. Each test works in its own namespace / names, so they run in parallel with others.
//! Only std is used on purpose: this file checks the harness itself, independently of the operator's client code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HOW_TO_RUN: &str = "these tests need the real local control plane: run `make test`, or \
     `scripts/cluster up && eval \"$(scripts/cluster env)\"` and then `cargo test`";

fn admin_kubeconfig() -> PathBuf {
    let path = std::env::var_os("E2E_KUBECONFIG").unwrap_or_else(|| panic!("E2E_KUBECONFIG is not set; {HOW_TO_RUN}"));
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "E2E_KUBECONFIG={} does not exist (is the cluster down?); {HOW_TO_RUN}",
        path.display()
    );
    path
}

fn state_dir() -> PathBuf {
    let dir = std::env::var_os("E2E_CLUSTER_STATE_DIR")
        .unwrap_or_else(|| panic!("E2E_CLUSTER_STATE_DIR is not set; {HOW_TO_RUN}"));
    PathBuf::from(dir)
}

fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster")
}

/// A name unique to this test process and call, usable as a DNS label.
fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 100_000_000;
    format!("{prefix}-{}-{t}-{n}", std::process::id())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs `kubectl --kubeconfig <kubeconfig> <args>`, feeding `stdin` if given.
fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=30s")
        .args(args);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run kubectl ({e}); is the tools bin dir on PATH? {HOW_TO_RUN}"));
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn kubectl_ok(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(kubeconfig, args, stdin);
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("kubectl {}", args.join(" ")), &out)
    );
    text(&out.stdout)
}

/// Retries `kubectl` until it succeeds (discovery and RBAC caches settle asynchronously) or the deadline passes.
fn kubectl_eventually(kubeconfig: &Path, args: &[&str], stdin: Option<&str>, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let out = kubectl(kubeconfig, args, stdin);
        if out.status.success() {
            return text(&out.stdout);
        }
        if Instant::now() > deadline {
            panic!(
                "{}",
                describe(&format!("kubectl {} (retried for {within:?})", args.join(" ")), &out)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn cluster(state: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(cluster_script());
    cmd.args(args).env("CLUSTER_STATE_DIR", state).stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cluster_script().display()))
}

fn cluster_ok(state: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = cluster(state, args, envs);
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("scripts/cluster {}", args.join(" ")), &out)
    );
    text(&out.stdout)
}

fn create_namespace(kubeconfig: &Path, prefix: &str) -> String {
    let ns = unique(prefix);
    kubectl_ok(kubeconfig, &["create", "namespace", &ns], None);
    ns
}

/// The server's gitVersion from `kubectl version -o json`.
fn server_git_version(kubeconfig: &Path) -> String {
    let out = kubectl_ok(kubeconfig, &["version", "-o", "json"], None);
    let server = out
        .split("\"serverVersion\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no serverVersion in:\n{out}"));
    let after = server
        .split("\"gitVersion\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no gitVersion in:\n{out}"));
    after.split('"').nth(1).unwrap_or_default().to_string()
}

#[test]
fn server_reports_v1_37_2_and_readyz_prints_ok() {
    let kc = admin_kubeconfig();
    assert_eq!(server_git_version(&kc), "v1.37.2");
    let client = kubectl_ok(&kc, &["version", "--client", "-o", "json"], None);
    assert!(
        client.contains("\"gitVersion\": \"v1.37.2\""),
        "kubectl client version:\n{client}"
    );
    assert_eq!(kubectl_ok(&kc, &["get", "--raw", "/readyz"], None).trim(), "ok");
    let verbose = kubectl_ok(&kc, &["get", "--raw", "/readyz?verbose"], None);
    assert!(verbose.contains("[+]etcd ok"), "/readyz?verbose:\n{verbose}");
    assert!(verbose.contains("readyz check passed"), "/readyz?verbose:\n{verbose}");
}

#[test]
fn crd_with_cel_rule_applies_and_violating_object_is_refused_with_the_rule_message() {
    let kc = admin_kubeconfig();
    let group = format!("{}.e2e.callback-operator.test", unique("cel"));
    let crd_name = format!("scalers.{group}");
    let message = "minReplicas must not exceed maxReplicas";
    let crd = format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {crd_name}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: scalers, singular: scaler, kind: Scaler}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [minReplicas, maxReplicas]
            properties:
              minReplicas: {{type: integer}}
              maxReplicas: {{type: integer}}
            x-kubernetes-validations:
            - rule: "self.minReplicas <= self.maxReplicas"
              message: "{message}"
"#
    );
    kubectl_ok(&kc, &["apply", "-f", "-"], Some(&crd));
    kubectl_ok(
        &kc,
        &[
            "wait",
            "--for=condition=Established",
            &format!("crd/{crd_name}"),
            "--timeout=60s",
        ],
        None,
    );

    let ns = create_namespace(&kc, "cel");
    let object = |name: &str, min: i64, max: i64| {
        format!(
            "apiVersion: {group}/v1\nkind: Scaler\nmetadata:\n  name: {name}\n  namespace: {ns}\n\
             spec:\n  minReplicas: {min}\n  maxReplicas: {max}\n"
        )
    };
    // A valid object is accepted (retried: the new type reaches discovery asynchronously).
    kubectl_eventually(
        &kc,
        &["apply", "-f", "-"],
        Some(&object("good", 1, 3)),
        Duration::from_secs(60),
    );

    let bad = kubectl(&kc, &["apply", "-f", "-"], Some(&object("bad", 5, 2)));
    assert!(
        !bad.status.success(),
        "a violating object was accepted:\n{}",
        describe("apply", &bad)
    );
    let err = text(&bad.stderr);
    assert!(
        err.contains(message),
        "refusal does not carry the rule's message:\n{err}"
    );
    assert!(err.contains("Invalid"), "refusal is not a 422 Invalid:\n{err}");

    // Updating the valid object into violation is refused too (transition through the real admission chain).
    let upd = kubectl(&kc, &["apply", "-f", "-"], Some(&object("good", 9, 3)));
    assert!(
        !upd.status.success(),
        "a violating update was accepted:\n{}",
        describe("apply", &upd)
    );
    assert!(text(&upd.stderr).contains(message), "{}", describe("apply", &upd));
    let stored = kubectl_ok(
        &kc,
        &[
            "get",
            "-n",
            &ns,
            &crd_name,
            "good",
            "-o",
            "jsonpath={.spec.minReplicas}",
        ],
        None,
    );
    assert_eq!(stored, "1");

    kubectl_ok(&kc, &["delete", "crd", &crd_name, "--wait=false"], None);
}

#[test]
fn identity_without_grants_gets_403_and_succeeds_after_a_rolebinding() {
    let kc = admin_kubeconfig();
    let state = state_dir();
    let ns = create_namespace(&kc, "rbac");
    let sa = "chart-operator";
    let user = format!("system:serviceaccount:{ns}:{sa}");
    let groups = format!("system:serviceaccounts,system:serviceaccounts:{ns}");
    let sa_kc = PathBuf::from(cluster_ok(&state, &["kubeconfig-for", &user, &groups], &[]).trim());
    assert!(sa_kc.is_file(), "kubeconfig-for did not write {}", sa_kc.display());

    // The identity is what we minted, and RBAC sees it as the ServiceAccount.
    let whoami = kubectl_ok(
        &sa_kc,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username} {.status.userInfo.groups}",
        ],
        None,
    );
    assert!(whoami.contains(&user), "whoami: {whoami}");
    assert!(
        whoami.contains(&format!("system:serviceaccounts:{ns}")),
        "whoami: {whoami}"
    );

    // Without grants: 403 Forbidden.
    let denied = kubectl(&sa_kc, &["get", "configmaps", "-n", &ns, "-v=6"], None);
    assert!(
        !denied.status.success(),
        "listing succeeded without grants:\n{}",
        describe("get", &denied)
    );
    let err = text(&denied.stderr);
    assert!(err.contains("403 Forbidden"), "expected HTTP 403:\n{err}");
    assert!(
        err.contains("Error from server (Forbidden)"),
        "expected Forbidden:\n{err}"
    );
    assert!(
        err.contains(&format!("User \"{user}\" cannot list resource \"configmaps\"")),
        "{err}"
    );
    let can = kubectl(&sa_kc, &["auth", "can-i", "list", "configmaps", "-n", &ns], None);
    assert_eq!(text(&can.stdout).trim(), "no");

    // Grant via Role + RoleBinding to the ServiceAccount subject, exactly as a Helm chart would.
    let rbac = format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: read-configmaps, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: read-configmaps, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-configmaps}}
subjects:
- {{kind: ServiceAccount, name: {sa}, namespace: {ns}}}
"#
    );
    kubectl_ok(&kc, &["apply", "-f", "-"], Some(&rbac));
    kubectl_eventually(&sa_kc, &["get", "configmaps", "-n", &ns], None, Duration::from_secs(30));
    kubectl_ok(
        &sa_kc,
        &["create", "configmap", "made-by-sa", "-n", &ns, "--from-literal=k=v"],
        None,
    );

    // The grant is namespaced: other namespaces and other verbs stay forbidden.
    let other = kubectl(&sa_kc, &["get", "configmaps", "-n", "default"], None);
    assert!(
        text(&other.stderr).contains("Forbidden"),
        "{}",
        describe("get -n default", &other)
    );
    let del = kubectl(&sa_kc, &["delete", "configmap", "made-by-sa", "-n", &ns], None);
    assert!(text(&del.stderr).contains("Forbidden"), "{}", describe("delete", &del));
}

/// Pids this state dir's pid files name.
fn pids_of(state: &Path) -> Vec<u32> {
    ["etcd", "kube-apiserver"]
        .iter()
        .map(|n| {
            let f = state.join("run").join(format!("{n}.pid"));
            let s = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            s.trim().parse().unwrap()
        })
        .collect()
}

/// Live (non-zombie) processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = text(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 (after the parenthesised comm) is the state; Z = zombie, i.e. exited.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .map(|rest| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Stops the second instance even when an assertion fails half-way.
struct Down(PathBuf);
impl Drop for Down {
    fn drop(&mut self) {
        let _ = cluster(&self.0, &["down"], &[]);
    }
}

#[test]
fn second_instance_with_own_state_and_ports_runs_alongside_and_down_leaves_no_stray_process() {
    let first_kc = admin_kubeconfig();
    let state = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique("cluster-second"));
    let auto = [
        ("CLUSTER_ETCD_PORT", "auto"),
        ("CLUSTER_ETCD_PEER_PORT", "auto"),
        ("CLUSTER_APISERVER_PORT", "auto"),
    ];
    let guard = Down(state.clone());

    let up = cluster_ok(&state, &["up"], &auto);
    let second_kc = state.join("admin.kubeconfig");
    assert!(
        up.contains(&format!("export E2E_KUBECONFIG={}", second_kc.display())),
        "up printed:\n{up}"
    );
    assert_ne!(
        std::fs::canonicalize(&second_kc).unwrap(),
        std::fs::canonicalize(&first_kc).unwrap(),
        "second instance must have its own kubeconfig"
    );
    let pids = pids_of(&state);
    assert!(pids.iter().all(|p| alive(*p)), "pids {pids:?} not all alive");

    // Both answer, on different ports, and are separate clusters.
    assert_eq!(kubectl_ok(&second_kc, &["get", "--raw", "/readyz"], None).trim(), "ok");
    assert_eq!(server_git_version(&second_kc), "v1.37.2");
    let first_server = kubectl_ok(
        &first_kc,
        &[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
        None,
    );
    let second_server = kubectl_ok(
        &second_kc,
        &[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
        None,
    );
    assert_ne!(first_server, second_server);
    let only_here = unique("only-in-second");
    kubectl_ok(&second_kc, &["create", "namespace", &only_here], None);
    let absent = kubectl(&first_kc, &["get", "namespace", &only_here], None);
    assert!(
        text(&absent.stderr).contains("NotFound"),
        "{}",
        describe("get ns on first", &absent)
    );

    // `up` on a healthy instance is a no-op: same processes, same data.
    cluster_ok(&state, &["up"], &auto);
    assert_eq!(pids_of(&state), pids);
    kubectl_ok(&second_kc, &["get", "namespace", &only_here], None);

    // `down` stops exactly these processes and leaves none behind; the first instance is untouched.
    cluster_ok(&state, &["down"], &[]);
    for pid in &pids {
        assert!(!alive(*pid), "pid {pid} still alive after down");
    }
    let strays = processes_mentioning(&format!("{}/", state.display()));
    assert!(strays.is_empty(), "stray processes after down: {strays:?}");
    assert!(!second_kc.exists(), "down should remove the admin kubeconfig");
    assert_eq!(kubectl_ok(&first_kc, &["get", "--raw", "/readyz"], None).trim(), "ok");

    // `down` again is safe.
    cluster_ok(&state, &["down"], &[]);
    drop(guard);
    let _ = std::fs::remove_dir_all(&state);
}
