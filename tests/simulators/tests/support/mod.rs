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
