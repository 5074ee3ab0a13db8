//! The committed CRD matches the types, and the CEL rules behave (evaluated locally; the apiserver enforces the
//! rest of the schema, which the end-to-end tests cover).

use serde_json::json;

use super::*;

#[test]
fn committed_crd_matches_the_generated_one() {
    let committed = include_str!("../../crds/callbackregistrations.callback-operator.io.yaml");
    assert!(
        committed == crd_yaml(),
        "crds/ is stale: run `cargo run -- crd > crds/callbackregistrations.callback-operator.io.yaml`"
    );
}

#[test]
fn helm_chart_crds_are_identical_to_the_top_level_crds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read_dir = |dir: &str| -> std::collections::BTreeMap<String, String> {
        std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|err| panic!("reading {dir}: {err}"))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect()
    };
    let top = read_dir("crds");
    let chart = read_dir("charts/callback-operator/crds");
    assert!(!top.is_empty());
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "charts/callback-operator/crds/ must hold the same files as crds/: run `make crd`"
    );
    for (name, text) in &top {
        assert!(
            chart[name] == *text,
            "charts/callback-operator/crds/{name} differs from crds/{name}: run `make crd`"
        );
    }
}

fn mail_spec() -> serde_json::Value {
    json!({
        "credentialsRef": {"name": "creds"},
        "mail": {"url": "https://hooks.example/u", "events": {"emailStatus": ["delivered"]}}
    })
}

fn registration(spec: serde_json::Value) -> CallbackRegistration {
    let mut obj: CallbackRegistration = serde_json::from_value(json!({
        "apiVersion": "callback-operator.io/v1alpha1",
        "kind": "CallbackRegistration",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": spec,
    }))
    .expect("valid object");
    obj.status = None;
    obj
}

#[test]
fn one_provider_block_is_accepted() {
    assert!(registration(mail_spec()).validate_cel().is_ok());
}

#[test]
fn two_provider_blocks_are_refused() {
    let mut spec = mail_spec();
    spec["edna"] = json!({"statusCallbackUrl": "https://a.example/s"});
    let err = registration(spec).validate_cel().unwrap_err();
    assert!(format!("{err:?}").contains("exactly one provider block"), "{err:?}");
}

#[test]
fn switching_provider_is_refused() {
    let old = registration(mail_spec());
    let new = registration(json!({
        "credentialsRef": {"name": "creds"},
        "edna": {"statusCallbackUrl": "https://a.example/s"}
    }));
    let err = new.validate_cel_update(&old).unwrap_err();
    assert!(format!("{err:?}").contains("cannot be switched"), "{err:?}");
}

#[test]
fn http_urls_are_refused() {
    let mut spec = mail_spec();
    spec["mail"]["url"] = json!("http://hooks.example/u");
    let err = registration(spec).validate_cel().unwrap_err();
    assert!(format!("{err:?}").contains("https"), "{err:?}");
}

#[test]
fn edna_needs_one_url_and_at_most_one_subject_form() {
    let none = registration(json!({"credentialsRef": {"name": "c"}, "edna": {"subjectId": 5}}));
    assert!(format!("{:?}", none.validate_cel().unwrap_err()).contains("at least one"));
    let both = registration(json!({"credentialsRef": {"name": "c"}, "edna": {
        "subjectId": 5, "subject": "shop", "statusCallbackUrl": "https://a.example/s"}}));
    assert!(format!("{:?}", both.validate_cel().unwrap_err()).contains("at most one of subjectId and subject"));
}

#[test]
fn short_resync_intervals_are_refused() {
    let mut spec = mail_spec();
    spec["resyncInterval"] = json!("5s");
    assert!(registration(spec.clone()).validate_cel().is_err());
    spec["resyncInterval"] = json!("10m");
    assert!(registration(spec).validate_cel().is_ok());
}

#[test]
fn the_schema_has_no_defaults() {
    let yaml = crd_yaml();
    assert!(!yaml.contains("default:"), "GitOps-neutral spec: no schema defaults");
}
