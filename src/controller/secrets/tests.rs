//! The label opt-in mode, against a recording stand-in for the apiserver: every request for Secrets carries the
//! label selector or asks for metadata only, so an unlabelled Secret's data is never requested.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;

/// (method, path?query, Accept) of each request.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A client whose "apiserver" holds one Secret `plain` without labels and one `tagged` with `team/creds=yes`.
fn client(seen: Seen) -> kube::Client {
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let uri = req.uri().to_string();
        let accept = req
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        seen.lock()
            .unwrap()
            .push((req.method().to_string(), uri.clone(), accept.clone()));
        let wants = |name: &str| {
            uri.contains(&format!("metadata.name%3D{name}")) || uri.contains(&format!("metadata.name={name}"))
        };
        let body = if accept.contains("PartialObjectMetadataList") {
            let items: Vec<_> = [("plain", json!({})), ("tagged", json!({"team/creds": "yes"}))]
                .into_iter()
                .filter(|(n, _)| wants(n))
                .map(|(n, labels)| {
                    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                    "metadata": {"name": n, "namespace": "shop", "labels": labels}})
                })
                .collect();
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": items})
        } else if uri.contains("labelSelector=team%2Fcreds%3Dyes") {
            let items: Vec<_> = ["tagged"]
                .into_iter()
                .filter(|n| wants(n))
                .map(|n| json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": n, "namespace": "shop", "resourceVersion": "7", "labels": {"team/creds": "yes"}},
                    "data": {"apiKey": "a2V5LXZhbHVl"}}))
                .collect();
            json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "7"}, "items": items})
        } else {
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "plain", "namespace": "shop", "resourceVersion": "3"},
                "data": {"apiKey": "c2VjcmV0"}})
        };
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        async move { Ok::<_, Infallible>(response) }
    });
    kube::Client::new(service, "shop")
}

#[tokio::test]
async fn label_mode_never_requests_an_unlabelled_secrets_data() {
    let seen: Seen = Arc::default();
    let selector = SecretSelector::parse("team/creds=yes").unwrap().unwrap();
    let secrets = NamespaceSecrets::new(client(seen.clone()), "shop", Some(&selector));

    let why = secrets
        .unlabelled("plain")
        .await
        .unwrap()
        .expect("plain is not labelled");
    assert!(why.contains("shop/plain") && why.contains("team/creds=yes"), "{why}");
    assert!(
        secrets.read("plain").await.unwrap().is_none(),
        "not returned by the selected list"
    );
    assert!(secrets.unlabelled("tagged").await.unwrap().is_none());
    let (values, version) = secrets.read("tagged").await.unwrap().expect("tagged is read");
    assert_eq!((values["apiKey"].expose(), version.as_str()), ("key-value", "7"));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    for (method, uri, accept) in &seen {
        assert_eq!(method, "GET");
        assert!(
            uri.starts_with("/api/v1/namespaces/shop/secrets?"),
            "a list, never a get by name: {uri}"
        );
        assert!(
            uri.contains("labelSelector=team%2Fcreds%3Dyes") || accept.contains("as=PartialObjectMetadataList"),
            "data only through the label selector: {uri} {accept}"
        );
    }
}

#[tokio::test]
async fn without_a_selector_every_secret_is_read_by_name() {
    let seen: Seen = Arc::default();
    let secrets = NamespaceSecrets::new(client(seen.clone()), "shop", None);
    assert!(secrets.unlabelled("plain").await.unwrap().is_none());
    let (values, _) = secrets.read("plain").await.unwrap().unwrap();
    assert_eq!(values["apiKey"].expose(), "secret");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, "/api/v1/namespaces/shop/secrets/plain");
}

#[test]
fn selectors_parse_and_match() {
    assert_eq!(SecretSelector::parse(" ").unwrap(), None);
    let s = SecretSelector::parse("a=b, c").unwrap().unwrap();
    assert_eq!(s.as_str(), "a=b,c");
    let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert!(s.matches(&labels(&[("a", "b"), ("c", "")])));
    assert!(!s.matches(&labels(&[("a", "x"), ("c", "1")])));
    assert!(!s.matches(&labels(&[("a", "b")])));
    for bad in ["a!=b", "a in (b)", "=b", "a=b c"] {
        assert!(SecretSelector::parse(bad).is_err(), "{bad}");
    }
}
