//! Bad input is refused by `kubectl apply` against the real apiserver, with the schema's or CEL rule's message.

mod support;

use support::{Cluster, TestNamespace};

fn registration(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: callback-operator.io/v1alpha1\nkind: CallbackRegistration\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"
    )
}

const GOOD_MAIL: &str = "  credentialsRef:\n    name: creds\n  mail:\n    url: https://hooks.example/u\n    events:\n      emailStatus: [delivered]\n";

/// (case, spec, expected fragment of kubectl's error)
fn bad_specs() -> Vec<(&'static str, String, &'static str)> {
    let long_url = format!("https://hooks.example/{}", "a".repeat(480));
    vec![
        (
            "http url",
            GOOD_MAIL.replace("https://hooks.example/u", "http://hooks.example/u"),
            "must be an absolute https:// URL",
        ),
        (
            "url with a space",
            GOOD_MAIL.replace("https://hooks.example/u", "\"https://hooks.example/a b\""),
            "spec.mail.url",
        ),
        (
            "url over 500 characters",
            GOOD_MAIL.replace("https://hooks.example/u", &long_url),
            "Too long",
        ),
        (
            "unknown status",
            format!("{GOOD_MAIL}    status: paused\n"),
            "Unsupported value: \"paused\"",
        ),
        (
            "unknown event format",
            format!("{GOOD_MAIL}    eventFormat: xml\n"),
            "Unsupported value: \"xml\"",
        ),
        (
            "maxParallel below 5",
            format!("{GOOD_MAIL}    maxParallel: 4\n"),
            "should be greater than or equal to 5",
        ),
        (
            "maxParallel above 100",
            format!("{GOOD_MAIL}    maxParallel: 101\n"),
            "should be less than or equal to 100",
        ),
        (
            "unknown email status",
            GOOD_MAIL.replace("[delivered]", "[delivered, bounced]"),
            "Unsupported value: \"bounced\"",
        ),
        (
            "empty email status list",
            GOOD_MAIL.replace("[delivered]", "[]"),
            "should have at least 1 items",
        ),
        (
            "events without emailStatus",
            GOOD_MAIL.replace("      emailStatus: [delivered]\n", "      spamBlock: true\n"),
            "emailStatus: Required value",
        ),
        (
            "no url",
            GOOD_MAIL.replace("    url: https://hooks.example/u\n", ""),
            "url: Required value",
        ),
        (
            "no credentialsRef",
            GOOD_MAIL.replace("  credentialsRef:\n    name: creds\n", ""),
            "credentialsRef: Required value",
        ),
        (
            "two provider blocks",
            format!("{GOOD_MAIL}  edna:\n    statusCallbackUrl: https://a.example/s\n"),
            "exactly one provider block must be set",
        ),
        (
            "no provider block",
            "  credentialsRef:\n    name: creds\n".to_string(),
            "exactly one provider block must be set",
        ),
        (
            "unknown deletion policy",
            format!("{GOOD_MAIL}  deletionPolicy: Keep\n"),
            "Unsupported value: \"Keep\"",
        ),
        (
            "resync interval too short",
            format!("{GOOD_MAIL}  resyncInterval: 5s\n"),
            "resyncInterval must be at least 10s",
        ),
        (
            "resync interval not a duration",
            format!("{GOOD_MAIL}  resyncInterval: soon\n"),
            "spec.resyncInterval",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_specs_are_refused_at_apply_time_with_a_clear_message() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "schema").await;
    let cases = bad_specs();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for (i, (case, spec, expected)) in cases.iter().enumerate() {
        let (ok, output) = cluster.apply(&registration(&ns.name, &format!("bad-{i}"), spec));
        if ok || !output.contains(expected) {
            failures.push(format!("{case}: accepted={ok}, expected {expected:?} in:\n{output}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // And none of them was stored.
    let stored = cluster.kubectl_ok(&["get", "cbr", "-n", &ns.name, "-o", "name"]);
    assert!(stored.trim().is_empty(), "{stored}");
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_the_provider_block_after_creation_is_refused() {
    let cluster = Cluster::connect().await;
    let ns = TestNamespace::new(&cluster, "schema-switch").await;
    cluster.apply_ok(&registration(&ns.name, "switch", GOOD_MAIL));
    let edna = "  credentialsRef:\n    name: creds\n  edna:\n    statusCallbackUrl: https://a.example/s\n";
    let (ok, output) = cluster.apply(&registration(&ns.name, "switch", edna));
    assert!(!ok, "switch accepted: {output}");
    assert!(
        output.contains("the provider block cannot be switched after creation"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_explain_documents_the_fields() {
    let cluster = Cluster::connect().await;
    let text = cluster.kubectl_ok(&["explain", "callbackregistrations.spec.mail.maxParallel"]);
    assert!(text.contains("5..100"), "{text}");
    let text = cluster.kubectl_ok(&["explain", "cbr.spec.deletionPolicy"]);
    assert!(text.contains("Orphan"), "{text}");
}
