//! The Helm chart against the local control plane: lint, server-side dry run, `helm install` in both modes, and the
//! operator process run with the chart ServiceAccount's own identity — its RBAC is enough (the mail lifecycle
//! passes) and not more (`kubectl auth can-i`, and the rendered rules themselves).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use support::bench::manifest;
use support::install::{Release, chart_dir, documents, helm_ok, kind_of, mail_lifecycle, render};
use support::lease::wait_for_holder;
use support::mail::MailBench;
use support::{Cluster, TestNamespace};
use tokio::sync::RwLock;

/// A cluster-wide operator reconciles every namespace, so it must not run beside this binary's namespace-scoped
/// operators: it takes this lock exclusively, they share it.
static OPERATORS: RwLock<()> = RwLock::const_new(());

const CR: &str = "callbackregistrations.callback-operator.io";

/// (API group, resource, resource names) → verbs.
type Grants = BTreeMap<(String, String, Vec<String>), BTreeSet<String>>;

fn grants(rules: &[(&str, &str, &[&str], &[&str])]) -> Grants {
    rules
        .iter()
        .map(|(group, resource, names, verbs)| {
            (
                (
                    group.to_string(),
                    resource.to_string(),
                    names.iter().map(|n| n.to_string()).collect(),
                ),
                verbs.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect()
}

/// What the operator needs wherever it watches registrations.
fn watch_grants() -> Grants {
    grants(&[
        (
            "callback-operator.io",
            "callbackregistrations",
            &[],
            &["get", "list", "watch", "patch"],
        ),
        ("callback-operator.io", "callbackregistrations/status", &[], &["patch"]),
        ("", "secrets", &[], &["get", "list", "watch"]),
        ("events.k8s.io", "events", &[], &["create", "patch"]),
    ])
}

/// What the operator needs in a watched namespace of a namespace-scoped install: the watch grants, and keeping its
/// own RoleBinding (`binding`) while registrations there await cleanup.
fn namespaced_watch_grants(binding: &str) -> Grants {
    let mut out = watch_grants();
    out.extend(grants(&[(
        "rbac.authorization.k8s.io",
        "rolebindings",
        &[binding],
        &["get", "patch"],
    )]));
    out
}

/// What the operator needs for its Lease, in the release namespace.
fn lease_grants(lease: &str) -> Grants {
    grants(&[
        ("coordination.k8s.io", "leases", &[], &["create"]),
        ("coordination.k8s.io", "leases", &[lease], &["get", "patch"]),
    ])
}

/// What the operator needs for its fingerprint key Secret, in the release namespace: create it once (a name cannot
/// limit `create`), read that one back. Never update: an existing key is kept.
fn fingerprint_key_grants(secret: &str) -> Grants {
    grants(&[("", "secrets", &[], &["create"]), ("", "secrets", &[secret], &["get"])])
}

/// `a` and `b` merged (two Roles in one namespace).
fn merged(mut a: Grants, b: Grants) -> Grants {
    for (key, verbs) in b {
        a.entry(key).or_default().extend(verbs);
    }
    a
}

/// The rules of one Role or ClusterRole, merged per (group, resource, names).
fn rules_of(role: &Value) -> Grants {
    let mut out = Grants::new();
    for rule in role["rules"].as_array().cloned().unwrap_or_default() {
        let list = |field: &str| -> Vec<String> {
            rule[field]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        for group in list("apiGroups") {
            for resource in list("resources") {
                out.entry((group.clone(), resource, list("resourceNames")))
                    .or_default()
                    .extend(list("verbs"));
            }
        }
    }
    out
}

/// (kind, namespace) → rules, for every Role and ClusterRole in `docs` (Roles of one namespace merged).
fn roles(docs: &[Value]) -> BTreeMap<(String, String), Grants> {
    let mut out: BTreeMap<(String, String), Grants> = BTreeMap::new();
    for d in docs.iter().filter(|d| matches!(kind_of(d), "Role" | "ClusterRole")) {
        let namespace = d["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let entry = out.entry((kind_of(d).to_string(), namespace)).or_default();
        *entry = merged(std::mem::take(entry), rules_of(d));
    }
    out
}

fn env_value(docs: &[Value], name: &str) -> Option<String> {
    let deployment = docs.iter().find(|d| kind_of(d) == "Deployment").unwrap();
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

fn key_secret(docs: &[Value]) -> String {
    env_value(docs, "CALLBACK_OPERATOR_FINGERPRINT_KEY_SECRET").expect("the chart names the fingerprint key Secret")
}

fn lease_name(docs: &[Value]) -> String {
    let deployment = docs.iter().find(|d| kind_of(d) == "Deployment").unwrap();
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "CALLBACK_OPERATOR_LEADER_ELECTION_LEASE_NAME")
        .and_then(|e| e["value"].as_str())
        .expect("the chart names the Lease")
        .to_string()
}

fn assert_no_wildcards(docs: &[Value]) {
    for doc in docs.iter().filter(|d| matches!(kind_of(d), "Role" | "ClusterRole")) {
        for rule in doc["rules"].as_array().unwrap() {
            for field in ["apiGroups", "resources", "verbs", "resourceNames"] {
                let values = rule[field].as_array().cloned().unwrap_or_default();
                assert!(
                    !values.iter().any(|v| v.as_str().is_some_and(|s| s.contains('*'))),
                    "wildcard in {field} of {}: {rule}",
                    doc["metadata"]["name"]
                );
            }
            assert!(rule.get("nonResourceURLs").is_none(), "no non-resource URLs: {rule}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_passes_helm_lint_and_a_server_side_dry_run_in_both_modes() {
    let cluster = Cluster::connect().await;
    let chart = chart_dir().display().to_string();
    for values in [
        vec![],
        vec!["watchNamespaces={a,b}"],
        vec![
            "metrics.serviceMonitor.enabled=true",
            "metrics.prometheusRule.enabled=true",
            "metrics.grafanaDashboard.enabled=true",
            "replicas=1",
            "leaderElection.enabled=false",
        ],
        vec![
            "networkPolicy.enabled=true",
            "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
            "secretLabelSelector=callback-operator.io/credentials=true",
            "fingerprintKey.existingSecret=my-key",
        ],
    ] {
        let mut args = vec!["lint", chart.as_str(), "--strict"];
        for v in &values {
            args.extend(["--set", v]);
        }
        let out = helm_ok(&cluster, &args);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }

    let release_ns = TestNamespace::new(&cluster, "dry").await;
    let watched = TestNamespace::new(&cluster, "dry-w").await;
    for values in [
        vec![],
        vec![format!("watchNamespaces={{{}}}", watched.name)],
        vec!["networkPolicy.enabled=true".to_string()],
        // The dashboard ConfigMap (the PrometheusRule needs the Prometheus Operator's CRDs, which this cluster lacks;
        // promtool checks it in e2e_observability).
        vec!["metrics.grafanaDashboard.enabled=true".to_string()],
    ] {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let manifest = render(&cluster, "dry", &release_ns.name, &values);
        let out = cluster.kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(&manifest));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "server-side dry run refused the chart:\n{text}");
        for kind in [
            "deployment.apps",
            "serviceaccount",
            "service",
            "role.rbac.authorization.k8s.io",
            "poddisruptionbudget.policy",
        ] {
            assert!(text.contains(kind), "{kind} in the dry run:\n{text}");
        }
    }

    // Settings that would make two replicas both write are refused at render time.
    let out = support::install::helm(
        &cluster,
        &["template", "x", &chart, "--set", "leaderElection.enabled=false"],
    );
    assert!(
        !out.status.success(),
        "replicas 2 without leader election must be refused"
    );
    // The schema catches typos and bad values.
    for bad in [
        "replica=2",
        "logFormat=xml",
        "concurrency=0",
        "leaderElection.leaseDuration=soon",
    ] {
        let out = support::install::helm(&cluster, &["template", "x", &chart, "--set", bad]);
        assert!(!out.status.success(), "{bad} must be refused by values.schema.json");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rendered_rbac_is_exactly_what_the_operator_needs_with_no_wildcards_and_no_secret_writes() {
    let cluster = Cluster::connect().await;

    // Cluster-wide: one ClusterRole for the watched resources, one Role for the Lease in the release namespace.
    let docs = documents(&render(&cluster, "rbac", "ops", &[]));
    assert_no_wildcards(&docs);
    let lease = lease_name(&docs);
    let key = key_secret(&docs);
    let release_role = merged(lease_grants(&lease), fingerprint_key_grants(&key));
    let expected: BTreeMap<(String, String), Grants> = [
        (("ClusterRole".to_string(), String::new()), watch_grants()),
        (("Role".to_string(), "ops".to_string()), release_role.clone()),
    ]
    .into();
    assert_eq!(roles(&docs), expected);

    // Namespace-scoped: the same rules granted in each watched namespace only; nothing cluster-scoped grants
    // anything. (The rules are a ClusterRole that only RoleBindings reference, because a namespaced Role would be
    // deleted with its namespace before the registrations there are cleaned up: see docs/install.md, section 10.)
    let docs = documents(&render(&cluster, "rbac", "ops", &["watchNamespaces={shop,billing}"]));
    assert_no_wildcards(&docs);
    assert!(
        !docs.iter().any(|d| kind_of(d) == "ClusterRoleBinding"),
        "namespace-scoped mode grants nothing cluster-wide"
    );
    let cluster_role = docs
        .iter()
        .find(|d| kind_of(d) == "ClusterRole")
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .expect("the rules");
    let bound_in: BTreeSet<String> = docs
        .iter()
        .filter(|d| kind_of(d) == "RoleBinding" && d["roleRef"]["name"] == cluster_role.as_str())
        .map(|d| {
            assert_eq!(d["roleRef"]["kind"], "ClusterRole", "{d}");
            d["metadata"]["namespace"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        bound_in,
        ["billing".to_string(), "shop".to_string()].into(),
        "the rules are granted in exactly the watched namespaces"
    );
    let binding = docs
        .iter()
        .find(|d| kind_of(d) == "RoleBinding" && d["metadata"]["namespace"] == "shop")
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .expect("a RoleBinding in each watched namespace");
    let expected: BTreeMap<(String, String), Grants> = [
        (
            ("ClusterRole".to_string(), String::new()),
            namespaced_watch_grants(&binding),
        ),
        (("Role".to_string(), "ops".to_string()), release_role),
    ]
    .into();
    assert_eq!(roles(&docs), expected);
    // Every binding names the chart's ServiceAccount and nothing else.
    for binding in docs.iter().filter(|d| kind_of(d).ends_with("Binding")) {
        let subjects = binding["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1, "{binding}");
        assert_eq!(subjects[0]["kind"], "ServiceAccount");
        assert_eq!(subjects[0]["namespace"], "ops");
    }

    // The label opt-in mode: Secrets only through lists (the operator sends the label selector); no get by name.
    let docs = documents(&render(
        &cluster,
        "rbac",
        "ops",
        &["secretLabelSelector=callback-operator.io/credentials=true"],
    ));
    let cluster_role = &roles(&docs)[&("ClusterRole".to_string(), String::new())];
    assert_eq!(
        cluster_role[&(String::new(), "secrets".to_string(), vec![])],
        ["list", "watch"].iter().map(|v| v.to_string()).collect::<BTreeSet<_>>()
    );
    assert_eq!(
        env_value(&docs, "CALLBACK_OPERATOR_SECRET_LABEL_SELECTOR").as_deref(),
        Some("callback-operator.io/credentials=true")
    );

    // A fingerprint key given to the chart: mounted as a file, and no API access to any Secret of the release.
    let docs = documents(&render(
        &cluster,
        "rbac",
        "ops",
        &["fingerprintKey.existingSecret=my-key"],
    ));
    assert_eq!(
        roles(&docs)[&("Role".to_string(), "ops".to_string())],
        lease_grants(&lease)
    );
    assert_eq!(
        env_value(&docs, "CALLBACK_OPERATOR_FINGERPRINT_KEY_FILE").as_deref(),
        Some("/etc/callback-operator/fingerprint-key/key")
    );

    // Without leader election there is no Lease rule at all.
    let docs = documents(&render(
        &cluster,
        "rbac",
        "ops",
        &["replicas=1", "leaderElection.enabled=false"],
    ));
    assert!(
        roles(&docs)
            .values()
            .all(|g| g.keys().all(|(group, _, _)| group != "coordination.k8s.io"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_wide_install_gives_the_service_account_enough_for_the_mail_lifecycle_and_no_more() {
    let _exclusive = OPERATORS.write().await;
    let cluster = Cluster::connect().await;
    let release = Release::install(&cluster, "cw", &[]).await;
    let elsewhere = TestNamespace::new(&cluster, "cw-other").await;
    let rel = Some(release.namespace.name.as_str());
    let other = Some(elsewhere.name.as_str());
    let lease = lease_name(&release.manifest());

    // Enough: everything the operator does, in every namespace.
    for request in [
        format!("list {CR}"),
        format!("watch {CR}"),
        format!("patch {CR}"),
        "list secrets".into(),
        "watch secrets".into(),
    ] {
        assert!(release.can_i(&request, None), "can {request} cluster-wide");
    }
    for request in [
        format!("get {CR}"),
        format!("patch {CR} --subresource=status"),
        "get secrets".into(),
        "create events.events.k8s.io".into(),
        "patch events.events.k8s.io".into(),
    ] {
        assert!(release.can_i(&request, other), "can {request} in any namespace");
    }
    assert!(release.can_i("create leases.coordination.k8s.io", rel));
    assert!(release.can_i(&format!("get leases.coordination.k8s.io/{lease}"), rel));
    assert!(release.can_i(&format!("patch leases.coordination.k8s.io/{lease}"), rel));
    // The fingerprint key: created once in the release namespace, never changed.
    let key = key_secret(&release.manifest());
    assert!(release.can_i("create secrets", rel));
    assert!(release.can_i(&format!("get secrets/{key}"), rel));
    for verb in ["update", "patch", "delete"] {
        assert!(
            !release.can_i(&format!("{verb} secrets/{key}"), rel),
            "must not {verb} the key"
        );
    }

    // No more: no Secret writes outside the release namespace, no spec writes or deletes, no other Lease, nothing else, no wildcards.
    for verb in ["create", "update", "patch", "delete", "deletecollection"] {
        assert!(
            !release.can_i(&format!("{verb} secrets"), other),
            "must not {verb} secrets"
        );
        assert!(
            !release.can_i(&format!("{verb} secrets"), None),
            "must not {verb} secrets"
        );
    }
    for verb in ["create", "update", "delete"] {
        assert!(
            !release.can_i(&format!("{verb} {CR}"), other),
            "must not {verb} registrations"
        );
    }
    assert!(!release.can_i(&format!("update {CR} --subresource=status"), other));
    assert!(!release.can_i("get leases.coordination.k8s.io/someone-elses-lease", rel));
    assert!(!release.can_i(&format!("update leases.coordination.k8s.io/{lease}"), rel));
    assert!(!release.can_i("create leases.coordination.k8s.io", other));
    assert!(!release.can_i("list leases.coordination.k8s.io", rel));
    for request in ["get configmaps", "list pods", "list namespaces", "create events", "* *"] {
        assert!(!release.can_i(request, other), "must not {request}");
    }
    assert!(!release.can_i("* *", None), "no wildcard grants");

    // Enough in practice: the operator process with exactly this identity and the chart's settings (cluster-wide
    // watch, leader election in the release namespace) runs the lifecycle.
    let ns = TestNamespace::new(&cluster, "cw-mail").await;
    let bench = MailBench::start_in(cluster.clone(), ns, |_| release.start_operator("cw-pod-0", &[], &[])).await;
    mail_lifecycle(&bench).await;
    let holder = wait_for_holder(&cluster, &release.namespace.name, &lease, Duration::from_secs(30)).await;
    assert_eq!(holder, "cw-pod-0", "the process led through the chart's Lease");
    assert_no_rbac_denials(&bench.operator.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_scoped_install_runs_the_mail_lifecycle_and_reaches_nothing_outside_the_watched_namespace() {
    let _shared = OPERATORS.read().await;
    let cluster = Cluster::connect().await;
    let watched = TestNamespace::new(&cluster, "nsw").await;
    let unwatched = TestNamespace::new(&cluster, "nso").await;
    let release = Release::install(&cluster, "nss", &[&format!("watchNamespaces={{{}}}", watched.name)]).await;
    let rel = Some(release.namespace.name.as_str());
    let inside = Some(watched.name.as_str());
    let outside = Some(unwatched.name.as_str());
    let lease = lease_name(&release.manifest());

    for request in [
        format!("list {CR}"),
        format!("watch {CR}"),
        format!("patch {CR}"),
        format!("patch {CR} --subresource=status"),
        "get secrets".into(),
        "list secrets".into(),
        "watch secrets".into(),
        "create events.events.k8s.io".into(),
    ] {
        assert!(
            release.can_i(&request, inside),
            "can {request} in the watched namespace"
        );
        assert!(!release.can_i(&request, outside), "must not {request} outside it");
        assert!(!release.can_i(&request, None), "must not {request} cluster-wide");
    }
    for verb in ["create", "update", "patch", "delete"] {
        assert!(
            !release.can_i(&format!("{verb} secrets"), inside),
            "must not {verb} secrets"
        );
    }
    assert!(release.can_i("create leases.coordination.k8s.io", rel));
    assert!(release.can_i(&format!("patch leases.coordination.k8s.io/{lease}"), rel));
    assert!(!release.can_i("create leases.coordination.k8s.io", inside));
    let key = key_secret(&release.manifest());
    assert!(release.can_i(&format!("get secrets/{key}"), rel));
    assert!(
        !release.can_i("get secrets/another-secret", rel),
        "only the key Secret in the release namespace"
    );
    assert!(!release.can_i("list secrets", rel));
    assert!(!release.can_i(&format!("update secrets/{key}"), rel));
    assert!(
        !release.can_i(&format!("list {CR}"), rel),
        "not even the release namespace is watched"
    );
    assert!(!release.can_i("* *", inside));
    assert!(!release.can_i("* *", rel));

    // A registration outside the watched namespace is never touched.
    let stranger = manifest(
        &unwatched.name,
        "stranger",
        "creds",
        "mail",
        "    url: https://hooks.example/x\n    events:\n      emailStatus: [delivered]\n",
        "",
    );
    cluster.apply_ok(&stranger);

    let bench = MailBench::start_in(cluster.clone(), watched, |ns| {
        release.start_operator("nss-pod-0", &[&ns.name], &[])
    })
    .await;
    mail_lifecycle(&bench).await;
    assert_eq!(
        wait_for_holder(&cluster, &release.namespace.name, &lease, Duration::from_secs(30)).await,
        "nss-pod-0"
    );
    let api: kube::Api<callback_operator::api::CallbackRegistration> =
        kube::Api::namespaced(cluster.client.clone(), &unwatched.name);
    let untouched = api.get("stranger").await.unwrap();
    assert!(untouched.status.is_none(), "no status outside the watched namespace");
    assert!(
        untouched.metadata.finalizers.unwrap_or_default().is_empty(),
        "no finalizer outside the watched namespace"
    );
    assert_no_rbac_denials(&bench.operator.log());
}

/// The chart's permissions were enough: the apiserver never refused the operator.
fn assert_no_rbac_denials(log: &str) {
    assert!(
        !log.contains("is forbidden: User"),
        "the operator was refused by RBAC:\n{log}"
    );
}
