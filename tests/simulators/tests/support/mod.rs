//! Helpers shared by the simulator tests.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;

/// A plain client like the operator's: short timeout, no proxy.
pub fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(10))
}

pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    provider_simulators::common::install_crypto_provider();
    reqwest::Client::builder().timeout(timeout).no_proxy().build().unwrap()
}

/// Status and JSON body (`Null` when empty or not JSON).
pub async fn parts(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `POST {base}/_sim/{path}` with a JSON body; the status and the body text.
pub async fn admin_post(base: &str, path: &str, body: &Value) -> (u16, String) {
    let resp = client()
        .post(format!("{}/_sim/{path}", admin_root(base)))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// `GET {base}/_sim/state`.
pub async fn admin_state(base: &str) -> Value {
    let resp = client()
        .get(format!("{}/_sim/state", admin_root(base)))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// `http://HOST:PORT` of a base URL (mail's base URL carries an API path).
fn admin_root(base: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let end = base[after_scheme..].find('/').map_or(base.len(), |i| after_scheme + i);
    base[..end].to_owned()
}
