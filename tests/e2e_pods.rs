//! The chart as real pods: a control plane of the test's own with a worker node (`scripts/cluster up --node`), the
//! operator's image built here from this build's binary by the same tool as `make image` and loaded into the node,
//! and `helm install` of the unmodified chart (two replicas, shipped defaults but the image and the simulator's
//! endpoint). One test walks the whole life of a release, since every step needs the previous one's state:
//!
//! 1. install: both pods Ready through their own probes, one holds the Lease, a registration becomes Ready;
//! 2. the pod itself: read-only root filesystem, non-root user, the memory limit in its cgroup;
//! 3. the leader pod deleted: the other takes over, a registration created meanwhile becomes Ready, no duplicate
//!    webhook and no second write for the first registration at the provider;
//! 4. `helm upgrade` with a changed value: the pods roll, no registration is ever seen un-Ready, no provider write;
//! 5. `helm uninstall`: the pods go; registrations, their finalizers and their webhooks stay (docs/install.md: delete
//!    registrations first if their webhooks should go); a reinstall then finishes a deletion made meanwhile;
//! 6. `scripts/cluster down`: no process, mount, link or cgroup directory left (`scripts/cluster leftovers`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use callback_operator::api::CallbackRegistration;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use provider_simulators::Receiver;
use provider_simulators::mail::{MailConfig, MailSim, MailSimulator};
use support::bench::manifest;
use support::install::chart_dir;
use support::lease::{lease_spec, wait_for_holder};
use support::own_cluster::OwnControlPlane;
use support::{Cluster, TestNamespace, eventually, mail, ready_condition};

const RELEASE: &str = "callback-operator";
const IMAGE: &str = "docker.io/library/callback-operator:e2e";
const SET: &str = "webhook/set";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn helm(cluster: &Cluster, args: &[&str]) -> String {
    run(Command::new("helm")
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG"))
}

/// The operator image from this test build's binary (scripts/oci-image, as `make image` does with the release
/// binary), imported into the node's containerd where the kubelet finds it (imagePullPolicy Never).
fn load_image(plane: &OwnControlPlane) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let archive = plane.state.join("operator.oci.tar");
    run(Command::new(repo.join("scripts/oci-image"))
        .current_dir(repo)
        .args(["--dockerfile", "Dockerfile", "--name", IMAGE, "--binary"])
        .arg(env!("CARGO_BIN_EXE_callback-operator"))
        .arg("--out")
        .arg(&archive));
    run(Command::new(plane.env("E2E_NODE_CTR"))
        .args([
            "--address",
            &plane.env("E2E_NODE_CONTAINERD_SOCKET"),
            "-n",
            "k8s.io",
            "images",
            "import",
        ])
        .arg(&archive));
}

fn install_args<'a>(verb: &'a str, namespace: &'a str, endpoint: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = [
        verb,
        RELEASE,
        &chart_dir().display().to_string(),
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "300s",
        "--set",
        "image.tag=e2e",
        "--set",
        "image.pullPolicy=Never",
        "--set",
        &format!("allowedEndpoints={{{endpoint}}}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for value in extra {
        args.extend(["--set".to_string(), value.to_string()]);
    }
    args
}

async fn release_pods(cluster: &Cluster, namespace: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let selector = format!("app.kubernetes.io/instance={RELEASE}");
    api.list(&ListParams::default().labels(&selector))
        .await
        .expect("listing the release's pods")
        .items
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap()
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until exactly `n` pods of the release exist, all Ready and none terminating; returns them.
async fn wait_ready_pods(cluster: &Cluster, namespace: &str, n: usize) -> Vec<Pod> {
    eventually(
        &format!("{n} Ready pods of the release"),
        Duration::from_secs(240),
        || async {
            let pods = release_pods(cluster, namespace).await;
            (pods.len() == n && pods.iter().all(is_ready)).then_some(pods)
        },
    )
    .await
}

async fn holder(cluster: &Cluster, namespace: &str) -> String {
    let lease = format!("{RELEASE}-leader");
    wait_for_holder(cluster, namespace, &lease, Duration::from_secs(120)).await
}

async fn wait_registration_ready(api: &Api<CallbackRegistration>, name: &str) {
    eventually(
        &format!("registration {name} Ready"),
        Duration::from_secs(120),
        || async {
            let obj = api.get(name).await.ok()?;
            (ready_condition(&obj)?.0 == "True").then_some(())
        },
    )
    .await
}

/// The host-side pid of the operator container of `pod` (from the node's containerd).
fn container_pid(plane: &OwnControlPlane, pod: &Pod) -> u32 {
    let id = pod.status.as_ref().unwrap().container_statuses.as_ref().unwrap()[0]
        .container_id
        .clone()
        .expect("a started container");
    let id = id.trim_start_matches("containerd://");
    let tasks = run(Command::new(plane.env("E2E_NODE_CTR")).args([
        "--address",
        &plane.env("E2E_NODE_CONTAINERD_SOCKET"),
        "-n",
        "k8s.io",
        "tasks",
        "ls",
    ]));
    tasks
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f[1].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("container {id} in `ctr tasks ls`:\n{tasks}"))
}

/// What the running container looks like from its own /proc entry: (effective uid, root mount options, cgroup
/// memory limit in bytes, result of writing a file at its root).
fn container_facts(pid: u32) -> (String, String, u64, std::io::Result<()>) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(proc.join("status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    // mountinfo fields: id parent major:minor root mountpoint options ...; the container's "/" as it sees it.
    let mountinfo = std::fs::read_to_string(proc.join("mountinfo")).unwrap();
    let root_opts = mountinfo
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .rfind(|f| f[4] == "/")
        .map(|f| f[5].to_string())
        .unwrap();
    let cgroup = std::fs::read_to_string(proc.join("cgroup")).unwrap();
    let memory_path = cgroup
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers.split(',').any(|c| c == "memory").then(|| path.to_string())
        })
        .expect("a memory cgroup (v1)");
    let limit = std::fs::read_to_string(format!("/sys/fs/cgroup/memory{memory_path}/memory.limit_in_bytes"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Through /proc/PID/root the write lands in the container's own mount tree: its read-only flag applies even to
    // root on the host.
    let write = std::fs::write(proc.join("root/written-by-the-test"), b"x");
    (uid, root_opts, limit, write)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chart_runs_as_pods_through_install_failover_upgrade_and_uninstall() {
    let plane = OwnControlPlane::start_with_node("pods").await;
    let cluster = plane.cluster.clone();
    load_image(&plane);

    // The provider on the host's loopback; pods reach it through the node's forwarder.
    let key = format!("mail-key-{}", uuid::Uuid::new_v4().simple());
    let sim: MailSim = MailSimulator::start(MailConfig {
        keys: vec![key.clone()],
        ..MailConfig::default()
    })
    .await
    .unwrap();
    let receiver = Receiver::start().await.unwrap();
    let sim_url = url::Url::parse(sim.base_url()).unwrap();
    let alias = plane.node_expose(sim_url.port().unwrap());
    let endpoint = sim.base_url().replace("127.0.0.1", &alias);

    let system = TestNamespace::new(&cluster, "operator").await;
    let apps = TestNamespace::new(&cluster, "apps").await;
    apps.put_secret("creds", &[("apiKey", &key), ("endpoint", &endpoint)])
        .await;
    let registrations: Api<CallbackRegistration> = Api::namespaced(cluster.client.clone(), &apps.name);
    let register = |name: &str| {
        let url = receiver.url(&format!("/{name}"));
        cluster.apply_ok(&manifest(&apps.name, name, "creds", "mail", &mail::block(&url, ""), ""));
        url
    };

    // 1. install: two pods Ready through their probes, one leader, a registration Ready.
    let args = install_args("install", &system.name, &format!("http://{alias}"), &[]);
    helm(&cluster, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let pods = wait_ready_pods(&cluster, &system.name, 2).await;
    let probe = pods[0].spec.as_ref().unwrap().containers[0]
        .readiness_probe
        .clone()
        .unwrap();
    assert_eq!(probe.http_get.unwrap().path.as_deref(), Some("/readyz?exclude=leader"));
    let leader = holder(&cluster, &system.name).await;
    let names: Vec<String> = pods.iter().map(name).collect();
    assert!(
        names.contains(&leader),
        "the Lease holder {leader} is one of the pods {names:?}"
    );
    let first = register("first");
    wait_registration_ready(&registrations, "first").await;
    assert!(sim.webhook(&key, &first).is_some(), "the webhook is at the provider");
    assert_eq!(sim.count_for(&key, SET), 1, "one provider write for one registration");

    // 2. the running pod: read-only root, non-root, the chart's memory limit in its cgroup.
    for pod in &pods {
        let (uid, root_opts, limit, write) = container_facts(container_pid(&plane, pod));
        assert_eq!(uid, "65532", "{} runs as the image's non-root user", name(pod));
        assert!(
            root_opts.split(',').any(|o| o == "ro"),
            "{}: root mounted {root_opts}",
            name(pod)
        );
        assert_eq!(
            write.unwrap_err().raw_os_error(),
            Some(30),
            "EROFS writing to the root filesystem"
        );
        assert_eq!(
            limit,
            256 * 1024 * 1024,
            "resources.limits.memory 256Mi is the cgroup's limit"
        );
    }

    // 3. the leader pod deleted: the standby takes over; a registration made meanwhile becomes Ready.
    let pods_api: Api<Pod> = Api::namespaced(cluster.client.clone(), &system.name);
    let deleted_at = std::time::Instant::now();
    pods_api.delete(&leader, &DeleteParams::default()).await.unwrap();
    let meanwhile = register("meanwhile");
    let standby = names.iter().find(|n| **n != leader).unwrap().clone();
    let lease = format!("{RELEASE}-leader");
    let new_leader = eventually("a new Lease holder", Duration::from_secs(120), || async {
        let h = lease_spec(&cluster, &system.name, &lease).await?.holder_identity?;
        (h != leader).then_some(h)
    })
    .await;
    // The old leader releases the Lease on SIGTERM, so whichever live replica asks first wins it: the standby, or
    // the ReplicaSet's replacement pod when that starts first (the image is local, it can). Either way it must be a
    // live pod of the release, not the deleted one.
    let live: Vec<String> = release_pods(&cluster, &system.name)
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(name)
        .collect();
    assert!(
        live.contains(&new_leader),
        "the new holder {new_leader} is a live pod: {live:?}"
    );
    eprintln!(
        "leader {leader} deleted; {new_leader} ({}) holds the Lease after {:?}",
        if new_leader == standby {
            "the standby"
        } else {
            "the replacement pod"
        },
        deleted_at.elapsed()
    );
    wait_registration_ready(&registrations, "meanwhile").await;
    wait_registration_ready(&registrations, "first").await;
    assert_eq!(
        sim.webhooks(&key).len(),
        2,
        "one webhook per registration, no duplicate"
    );
    assert_eq!(
        sim.count_for(&key, SET),
        2,
        "the new leader wrote only the new registration"
    );
    wait_ready_pods(&cluster, &system.name, 2).await;

    // 4. helm upgrade with a changed value: the pods roll, nothing goes un-Ready, no provider write.
    let writes_before = sim.count_for(&key, SET);
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (watching, api) = (watching.clone(), registrations.clone());
        tokio::spawn(async move {
            let mut seen_unready = Vec::new();
            while watching.load(Ordering::SeqCst) {
                for obj in api
                    .list(&ListParams::default())
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
                {
                    if ready_condition(&obj).map(|c| c.0) != Some("True".into()) {
                        seen_unready.push((obj.metadata.name.clone(), ready_condition(&obj)));
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen_unready
        })
    };
    let before: Vec<String> = wait_ready_pods(&cluster, &system.name, 2)
        .await
        .iter()
        .map(name)
        .collect();
    let args = install_args("upgrade", &system.name, &format!("http://{alias}"), &["logLevel=debug"]);
    helm(&cluster, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let after = wait_ready_pods(&cluster, &system.name, 2).await;
    assert!(
        after.iter().all(|p| !before.contains(&name(p))),
        "every pod was replaced: {before:?}"
    );
    let leader_after = holder(&cluster, &system.name).await;
    eventually(
        "the new leader to be one of the new pods",
        Duration::from_secs(120),
        || async {
            let h = lease_spec(&cluster, &system.name, &lease).await?.holder_identity?;
            after.iter().any(|p| name(p) == h).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await; // the new leader's first pass over both registrations
    watching.store(false, Ordering::SeqCst);
    let unready = watcher.await.unwrap();
    assert!(
        unready.is_empty(),
        "registrations seen un-Ready during the rollout: {unready:?}"
    );
    assert_eq!(
        sim.count_for(&key, SET),
        writes_before,
        "no provider write during the rollout ({leader_after})"
    );
    assert_eq!(sim.webhooks(&key).len(), 2);

    // 5. helm uninstall: pods gone; registrations and webhooks stay; a deletion waits for an operator.
    helm(
        &cluster,
        &[
            "uninstall",
            RELEASE,
            "--namespace",
            &system.name,
            "--wait",
            "--timeout",
            "120s",
        ],
    );
    eventually("the release's pods gone", Duration::from_secs(120), || async {
        release_pods(&cluster, &system.name).await.is_empty().then_some(())
    })
    .await;
    for reg in ["first", "meanwhile"] {
        let obj = registrations.get(reg).await.unwrap();
        assert_eq!(ready_condition(&obj).unwrap().0, "True", "{reg} keeps its last status");
        assert!(
            !obj.metadata.finalizers.unwrap_or_default().is_empty(),
            "{reg} keeps its finalizer"
        );
    }
    assert_eq!(
        sim.webhooks(&key).len(),
        2,
        "uninstalling removes no webhook at the provider"
    );
    registrations.delete("first", &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        registrations.get_opt("first").await.unwrap().is_some(),
        "a deletion waits for an operator"
    );
    assert!(sim.webhook(&key, &first).is_some());
    let args = install_args("install", &system.name, &format!("http://{alias}"), &[]);
    helm(&cluster, &args.iter().map(String::as_str).collect::<Vec<_>>());
    support::wait_gone(&registrations, &["first"], Duration::from_secs(120)).await;
    assert!(
        sim.webhook(&key, &first).is_none(),
        "the reinstalled operator finished the deletion"
    );
    assert!(sim.webhook(&key, &meanwhile).is_some());

    // 6. down: nothing of the node is left on the machine.
    let (clean, report) = plane.down_and_list_leftovers();
    assert!(clean, "scripts/cluster leftovers after down:\n{report}");
}
