//! The chart's observability: the PrometheusRule passes `promtool check rules` and the promtool unit tests in
//! tests/promtool (every alert fires on one series and not on others), the Grafana dashboard loads and every panel
//! queries something, each alert's runbook section exists in docs/operations.md, and every metric the dashboard and
//! the rules name exists in a real scrape of the operator (default settings, all three providers Ready, a throttled
//! request and a rejected credential behind it).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use provider_simulators::Fault;
use serde::Deserialize;
use serde_json::Value;
use support::bench::{SimulatedProvider, manifest};
use support::install::{documents, kind_of, render};
use support::mail::{self, MailBench};
use support::metrics::{parse, scrape, value};
use support::{Cluster, Operator, TestNamespace, eventually, wait_for_reason};

const RULES_FILE: &str = "callback-operator-rules.yaml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ------------------------------------------------------------------------------------------------------ PromQL names

/// Words that are PromQL syntax, not series names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
/// Aggregation operators, which may take their `by (...)`/`without (...)` clause before the parenthesis.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Index just past the bracket closing the one at `start` (`open`/`close`), skipping string literals inside.
fn skip_bracketed(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = skip_string(chars, i) - 1,
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// Index just past the string literal starting at `start` (backslash escapes in "..." and '...').
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn next_non_space(chars: &[char], mut i: usize) -> Option<(usize, char)> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    chars.get(i).map(|c| (i, *c))
}

/// Whether the word at `at` is `by` or `without` (an aggregation's clause before its parenthesis).
fn starts_grouping(chars: &[char], at: usize) -> bool {
    let word: String = chars[at..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    word == "by" || word == "without"
}

/// The series names a PromQL expression selects: identifiers outside label matchers, ranges, strings and grouping
/// lists that are neither functions (followed by `(`) nor keywords. Grafana's `label_values(EXPR, label)` and
/// `$variables` are understood.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let expr = match expr.trim().strip_prefix("label_values(") {
        // Grafana's variable query: the selector is everything before the last comma; without one, only a label.
        Some(rest) => match rest.rsplit_once(',') {
            Some((selector, _)) => selector.to_string(),
            None => return BTreeSet::new(),
        },
        None => expr.to_string(),
    };
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_bracketed(&chars, i, '{', '}');
        } else if c == '[' {
            i = skip_bracketed(&chars, i, '[', ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // Numbers and durations: 0.95, 1e3, 0x1f, 5m.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_non_space(&chars, i);
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if let Some((at, '(')) = next {
                    i = skip_bracketed(&chars, at, '(', ')');
                }
            } else if KEYWORDS.contains(&lower.as_str())
                || matches!(next, Some((_, '(')))
                || (AGGREGATIONS.contains(&lower.as_str()) && next.is_some_and(|(at, _)| starts_grouping(&chars, at)))
            {
                // syntax or a function name
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"sum by (provider, ready) (callback_operator_registrations{namespace=~"$namespace", ready!="True"})"#,
            &["callback_operator_registrations"],
        ),
        (
            r#"histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x="}[by(oops)"}[$__rate_interval])))"#,
            &["a_seconds_bucket"],
        ),
        (
            "sum(rate(b_sum[5m])) / sum(rate(b_count[5m] offset 1h)) > 0.25 and on(job) group_left(pod) up == bool 1",
            &["b_count", "b_sum", "up"],
        ),
        (
            "max by (namespace) (leader{ns=\"a\"}) < 1\n  or absent(leader{ns='a'}) # a comment naming fake_metric",
            &["leader"],
        ),
        (
            "sum(x:recorded:rate5m) or vector(0) unless ignoring (a) y",
            &["x:recorded:rate5m", "y"],
        ),
        ("max without (pod) (topk by (a) (3, z)) + count BY(b)(w)", &["w", "z"]),
        ("sum", &["sum"]),
        (
            "label_values(callback_operator_leader, namespace)",
            &["callback_operator_leader"],
        ),
        ("label_values(namespace)", &[]),
        ("1e3 * 0x1f - .5 + inf", &[]),
    ];
    for (expr, want) in cases {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(metric_names(expr), want, "{expr}");
    }
}

/// The series name a used name resolves to, and its family: `_bucket`/`_sum`/`_count` of a histogram and `_total`
/// of a counter map to the family `# TYPE` names.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> Option<String> {
    if types.contains_key(name) {
        return Some(name.to_string());
    }
    for (suffix, kinds) in [
        ("_total", &["counter"][..]),
        ("_bucket", &["histogram"][..]),
        ("_sum", &["histogram", "summary"][..]),
        ("_count", &["histogram", "summary"][..]),
    ] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| kinds.contains(&t.as_str()))
        {
            return Some(base.to_string());
        }
    }
    None
}

/// `# TYPE name type` lines of an exposition.
fn metric_types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.trim().to_string()))
        .collect()
}

// ------------------------------------------------------------------------------------------ dashboard and the rules

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dashboard {
    title: String,
    uid: String,
    panels: Vec<Panel>,
    templating: Templating,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Panel {
    id: u32,
    #[serde(rename = "type")]
    kind: String,
    title: String,
    grid_pos: GridPos,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct GridPos {
    x: u32,
    w: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    expr: String,
    ref_id: String,
}

#[derive(Deserialize)]
struct Templating {
    list: Vec<Variable>,
}

#[derive(Deserialize)]
struct Variable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    query: Value,
}

fn dashboard_text() -> String {
    std::fs::read_to_string(repo().join("charts/callback-operator/dashboards/callback-operator.json")).unwrap()
}

/// Loads the dashboard, checks its shape, and returns every PromQL expression in it (panels and variables).
fn dashboard_queries(text: &str) -> Vec<(String, String)> {
    let dashboard: Dashboard = serde_json::from_str(text).expect("the dashboard is valid Grafana JSON");
    assert_eq!(
        (dashboard.title.as_str(), dashboard.uid.as_str()),
        ("callback-operator", "callback-operator")
    );
    let mut ids = BTreeSet::new();
    let mut queries = Vec::new();
    for panel in &dashboard.panels {
        assert!(ids.insert(panel.id), "panel id {} is unique", panel.id);
        assert!(
            panel.grid_pos.x + panel.grid_pos.w <= 24,
            "{} fits the 24-column grid",
            panel.title
        );
        if panel.kind == "row" {
            continue;
        }
        assert!(!panel.targets.is_empty(), "panel {:?} has a target", panel.title);
        let refs: BTreeSet<&str> = panel.targets.iter().map(|t| t.ref_id.as_str()).collect();
        assert_eq!(refs.len(), panel.targets.len(), "{}: refIds are unique", panel.title);
        for target in &panel.targets {
            assert!(
                !target.expr.trim().is_empty(),
                "panel {:?} has an empty query",
                panel.title
            );
            queries.push((format!("panel {:?}", panel.title), target.expr.clone()));
        }
    }
    assert!(
        queries.len() >= 15,
        "the dashboard covers the operator: {} queries",
        queries.len()
    );
    for var in dashboard.templating.list.iter().filter(|v| v.kind == "query") {
        let query = var.query["query"]
            .as_str()
            .or(var.query.as_str())
            .expect("a query variable has a query");
        queries.push((format!("variable ${}", var.name), query.to_string()));
    }
    queries
}

/// The GitHub anchors of a Markdown file's headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// The chart rendered with the dashboard and the rule on, as release "ops" in namespace "ops" (the names the
/// promtool unit tests use).
fn rendered(cluster: &Cluster) -> Vec<Value> {
    documents(&render(
        cluster,
        "ops",
        "ops",
        &[
            "metrics.prometheusRule.enabled=true",
            "metrics.grafanaDashboard.enabled=true",
        ],
    ))
}

/// The rule groups of the rendered PrometheusRule.
fn rule_groups(docs: &[Value]) -> Value {
    let rule = docs
        .iter()
        .find(|d| kind_of(d) == "PrometheusRule")
        .expect("a PrometheusRule when metrics.prometheusRule.enabled");
    rule["spec"].clone()
}

fn alerts(groups: &Value) -> Vec<&Value> {
    groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect()
}

fn run_promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new(repo().join("scripts/promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running scripts/promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("$ promtool {}\n{text}", args.join(" "));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn rendered_rules_pass_promtool_check_and_unit_tests_and_link_their_runbooks() {
    let cluster = Cluster::connect().await;
    let docs = rendered(&cluster);
    let groups = rule_groups(&docs);

    // Off by default: neither object renders without its toggle.
    let defaults = documents(&render(&cluster, "ops", "ops", &[]));
    assert!(!defaults.iter().any(|d| kind_of(d) == "PrometheusRule"));
    assert!(
        !defaults
            .iter()
            .any(|d| kind_of(d) == "ConfigMap" && d["metadata"]["name"].as_str().unwrap().ends_with("-dashboard"))
    );

    // promtool reads the rules and the unit tests (which name the rules file relative to themselves) from one dir.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(RULES_FILE), serde_yaml::to_string(&groups).unwrap()).unwrap();
    let mut test_files = Vec::new();
    for entry in std::fs::read_dir(repo().join("tests/promtool")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
            test_files.push(name);
        }
    }
    test_files.sort();
    assert!(!test_files.is_empty(), "promtool unit tests in tests/promtool");

    let checked = run_promtool(&["check", "rules", RULES_FILE], dir.path());
    assert!(checked.contains("SUCCESS: 6 rules found"), "{checked}");
    let mut args = vec!["test", "rules"];
    args.extend(test_files.iter().map(String::as_str));
    let tested = run_promtool(&args, dir.path());
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert is unit-tested firing (a non-empty exp_alerts) and silent (an empty one); the other series in
    // each test are ones it must not fire on, since promtool compares the whole list of firing alerts.
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for name in &test_files {
        let tests: Value = serde_yaml::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap();
        for case in tests["tests"].as_array().unwrap() {
            for check in case["alert_rule_test"].as_array().into_iter().flatten() {
                let alert = check["alertname"].as_str().unwrap().to_string();
                if check["exp_alerts"].as_array().is_some_and(|a| a.is_empty()) {
                    silent.insert(alert);
                } else {
                    fired.insert(alert);
                }
            }
        }
    }
    let operations = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let sections = anchors(&operations);
    let names: BTreeSet<String> = alerts(&groups)
        .iter()
        .map(|a| a["alert"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "CallbackCleanupAbandoned",
            "CallbackCredentialBreakerOpen",
            "CallbackDriftLoop",
            "CallbackOperatorNoLeader",
            "CallbackProviderErrorRatioHigh",
            "CallbackRegistrationsNotReady",
        ]
        .map(String::from)
        .into()
    );
    for alert in alerts(&groups) {
        let name = alert["alert"].as_str().unwrap();
        assert!(fired.contains(name), "{name} has a promtool test where it fires");
        assert!(
            silent.contains(name),
            "{name} has a promtool test where it stays silent"
        );
        let runbook = alert["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = runbook
            .strip_prefix("docs/operations.md#")
            .expect("runbook_url into docs/operations.md");
        assert_eq!(
            anchor,
            name.to_lowercase(),
            "{name}'s runbook is the section named after it"
        );
        assert!(sections.contains(anchor), "docs/operations.md has a section #{anchor}");
        assert!(alert["labels"]["severity"].is_string(), "{name} has a severity");
        assert!(
            alert["expr"].as_str().unwrap().contains(r#"namespace="ops""#),
            "{name} looks only at the release's series"
        );
    }
    // The rule's selector and runbook base are values.
    let custom = documents(&render(
        &cluster,
        "ops",
        "ops",
        &[
            "metrics.prometheusRule.enabled=true",
            r#"metrics.prometheusRule.selector=job="cb"\,cluster="eu""#,
            "metrics.prometheusRule.runbookBaseUrl=https://git.example/ops.md",
        ],
    ));
    let custom = rule_groups(&custom);
    for alert in alerts(&custom) {
        assert!(
            alert["expr"].as_str().unwrap().contains(r#"{job="cb",cluster="eu""#),
            "{alert}"
        );
        assert!(
            alert["annotations"]["runbook_url"]
                .as_str()
                .unwrap()
                .starts_with("https://git.example/ops.md#")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_loads_from_the_chart_and_every_panel_has_a_query() {
    let cluster = Cluster::connect().await;
    let docs = rendered(&cluster);
    let configmap = docs
        .iter()
        .find(|d| kind_of(d) == "ConfigMap")
        .expect("the dashboard ConfigMap when metrics.grafanaDashboard.enabled");
    assert_eq!(
        configmap["metadata"]["labels"]["grafana_dashboard"], "1",
        "the sidecar's label"
    );
    let shipped = configmap["data"]["callback-operator.json"].as_str().unwrap();
    let file: Value = serde_json::from_str(&dashboard_text()).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(shipped).unwrap(),
        file,
        "the ConfigMap carries the file as is"
    );
    let queries = dashboard_queries(shipped);
    for (where_, expr) in &queries {
        assert!(
            metric_names(expr).iter().all(|n| n.starts_with("callback_operator_")),
            "{where_} queries only the operator's metrics: {expr}"
        );
    }
}

// ------------------------------------------------------------------------------------------------------ the scrape

/// Starts `S`'s simulator with fresh credentials and puts its Secrets in `ns`.
async fn simulator_in<S: SimulatedProvider>(ns: &TestNamespace) -> (S, S::Credentials) {
    let (sim, creds) = S::start().await;
    for (name, data) in sim.secrets(&creds) {
        let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ns.put_secret(name, &data).await;
    }
    (sim, creds)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_dashboard_and_the_rules_use_is_in_a_real_scrape() {
    let cluster = Cluster::connect().await;
    let envelope_ns = TestNamespace::new(&cluster, "obs-envelope").await;
    let edna_ns = TestNamespace::new(&cluster, "obs-edna").await;
    let (_envelope, _) = simulator_in::<provider_simulators::envelope::EnvelopeSim>(&envelope_ns).await;
    let (_edna, _) = simulator_in::<provider_simulators::edna::EdnaSim>(&edna_ns).await;
    let mail_ns = TestNamespace::new(&cluster, "obs-mail").await;
    // One operator process at its shipped defaults watching the three namespaces.
    let watched = [mail_ns.name.clone(), envelope_ns.name.clone(), edna_ns.name.clone()];
    let for_operator = cluster.clone();
    let bench = MailBench::start_in(cluster.clone(), mail_ns, move |_| {
        let watched: Vec<&str> = watched.iter().map(String::as_str).collect();
        Operator::start(&for_operator, &watched, &[])
    })
    .await;

    // mail: the first create is throttled (429 + Retry-After), then Ready.
    bench
        .sim
        .inject_for("webhook/set", Fault::RateLimited { retry_after_secs: 1 }, 1);
    bench.apply("orders", &mail::block(&bench.receiver.url("/obs-orders"), ""));
    // mail: a rejected key trips the credential breaker.
    bench
        .ns
        .put_secret(
            "bad",
            &[
                ("apiKey", "obs-wrong-key-0123456789"),
                ("endpoint", bench.sim.base_url()),
            ],
        )
        .await;
    bench.cluster.apply_ok(
        &bench
            .registration("rejected", &mail::block(&bench.receiver.url("/obs-rejected"), ""), "")
            .replace("name: creds", "name: bad"),
    );
    // envelope and edna: one Ready registration each.
    let envelope_url = bench.receiver.url("/obs-envelope");
    cluster.apply_ok(&manifest(
        &envelope_ns.name,
        "docs",
        "creds",
        "envelope",
        &support::envelope::block(&envelope_url, support::envelope::PLAIN_FIELDS),
        "",
    ));
    let edna_url = bench.receiver.url("/obs-edna");
    cluster.apply_ok(&manifest(
        &edna_ns.name,
        "shop",
        "creds",
        "edna",
        &support::edna::on_shop(&format!("    statusCallbackUrl: {edna_url}\n")),
        "",
    ));
    bench.wait_ready("orders");
    cluster.wait_ready(&envelope_ns.name, "docs");
    cluster.wait_ready(&edna_ns.name, "shop");
    wait_for_reason(&bench.api(), "rejected", "InvalidCredentials", Duration::from_secs(60)).await;

    let port = bench.operator.metrics_port;
    let scraped = eventually(
        "the gauges (refreshed every 15 s) to count every provider's Ready registration and the open breaker",
        Duration::from_secs(45),
        || async {
            let text = scrape(port).await?;
            let ready = |provider: &str| {
                value(
                    &text,
                    "callback_operator_registrations",
                    &[("provider", provider), ("ready", "True")],
                )
            };
            let breaker = value(
                &text,
                "callback_operator_credential_breakers_open",
                &[("provider", "mail")],
            );
            (ready("mail") == Some(1.0)
                && ready("envelope") == Some(1.0)
                && ready("edna") == Some(1.0)
                && breaker == Some(1.0))
            .then_some(text)
        },
    )
    .await;

    // The names every dashboard query and every rule uses.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, expr) in dashboard_queries(&dashboard_text()) {
        for name in metric_names(&expr) {
            used.entry(name).or_default().insert("dashboard".into());
        }
    }
    let groups = rule_groups(&rendered(&cluster));
    for alert in alerts(&groups) {
        for name in metric_names(alert["expr"].as_str().unwrap()) {
            used.entry(name)
                .or_default()
                .insert(format!("rule {}", alert["alert"].as_str().unwrap()));
        }
    }

    let types = metric_types(&scraped);
    let samples = parse(&scraped);
    let mut report = String::new();
    let mut missing = Vec::new();
    for (name, users) in &used {
        let series = samples.iter().filter(|s| &s.name == name).count();
        let family = family_of(name, &types);
        let kind = family.as_ref().and_then(|f| types.get(f)).map_or("-", String::as_str);
        report.push_str(&format!(
            "{name:<55} {kind:<9} {series:>3} series  used by {}\n",
            users.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        if family.is_none() || series == 0 {
            missing.push(name.clone());
        }
    }
    eprintln!("metrics the dashboard and the rules use, in the operator's scrape:\n{report}");
    assert!(
        used.len() >= 12,
        "the dashboard and rules use the operator's metrics: {used:?}"
    );
    assert!(
        missing.is_empty(),
        "not in the scrape: {missing:?}\n{report}\nscrape:\n{scraped}"
    );
    // Labelled series from the error paths, so the panels grouping by code and provider have data.
    let code = |provider: &str, code: &str| {
        samples.iter().any(|s| {
            s.name == "callback_operator_provider_requests_total"
                && s.labels["provider"] == provider
                && s.labels["code"] == code
        })
    };
    assert!(code("mail", "429") && code("mail", "200") && code("envelope", "200") && code("edna", "200"));
    assert!(
        samples
            .iter()
            .any(|s| s.name == "callback_operator_provider_requests_total"
                && s.labels["provider"] == "mail"
                && s.labels["code"].starts_with('4')
                && s.labels["code"] != "429"),
        "the rejected key's answer is counted by its code"
    );

    // The breaker closes when its Secret changes: a valid key makes the registration Ready and the gauge 0 again.
    bench
        .ns
        .put_secret(
            "bad",
            &[("apiKey", &bench.creds.key), ("endpoint", bench.sim.base_url())],
        )
        .await;
    bench.wait_ready("rejected");
    eventually(
        "the open breaker gauge to drop back to 0 (refreshed every 15 s)",
        Duration::from_secs(45),
        || async {
            let text = scrape(port).await?;
            (value(
                &text,
                "callback_operator_credential_breakers_open",
                &[("provider", "mail")],
            ) == Some(0.0))
            .then_some(())
        },
    )
    .await;
}
