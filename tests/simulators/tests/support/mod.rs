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

/// A mail simulator with one key; the activation `GET` on or off.
pub async fn mail_sim(key: &str, activation_check: bool) -> provider_simulators::mail::MailSim {
    use provider_simulators::mail::{MailConfig, MailSimulator, MailSwitches};
    MailSimulator::start(MailConfig {
        keys: vec![key.into()],
        switches: MailSwitches {
            activation_check,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap()
}

/// `POST {base}/{method}.json` with `key` as `X-API-KEY`: the status and the JSON answer.
pub async fn mail_call(sim: &provider_simulators::mail::MailSim, key: &str, method: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/{method}.json", sim.base_url()))
        .header("X-API-KEY", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

/// edna's three callback fields.
pub fn edna_urls(
    status: Option<&str>,
    inbound: Option<&str>,
    matcher: Option<&str>,
) -> provider_simulators::edna::CallbackUrls {
    provider_simulators::edna::CallbackUrls {
        status_callback_url: status.map(str::to_owned),
        in_message_callback_url: inbound.map(str::to_owned),
        message_matcher_callback_url: matcher.map(str::to_owned),
    }
}

/// An edna simulator with one key and three channels: `shop_wa` (1001, active), `new_wa` (pending) and `shop_vb`
/// (1003, Viber); edna's HEAD check of the URLs on or off.
pub async fn edna_sim(key: &str, url_check: bool) -> provider_simulators::edna::EdnaSim {
    use provider_simulators::edna::{Channel, EdnaConfig, EdnaSimulator, EdnaSwitches};
    EdnaSimulator::start(EdnaConfig {
        keys: vec![key.into()],
        channels: vec![
            (key.into(), Channel::active(1, "Shop", "shop_wa", 1001, "WHATSAPP")),
            (key.into(), Channel::pending(2, "New", "new_wa", "WHATSAPP")),
            (key.into(), Channel::active(3, "Viber", "shop_vb", 1003, "VIBER")),
        ],
        switches: EdnaSwitches {
            url_check,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap()
}
