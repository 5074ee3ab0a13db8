//! Outbound probes the simulators make (edna's `HEAD` check, mail's activation `GET`).

use std::time::Duration;

use reqwest::{Client, Method};

/// Install ring as the process-wide rustls provider (no-op when one is installed already).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for probing webhook URLs.
///
/// TEST TOOLING ONLY: it accepts any certificate, because the URLs probed in tests and the demo
/// point at the loopback [`Receiver`](super::Receiver), whose certificate is self-signed.
pub fn probe_client(timeout: Duration) -> Client {
    install_crypto_provider();
    Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("building the probe client")
}

/// Send `method` to `url`; `Ok(status)` when an answer came back, `Err(reason)` otherwise.
pub async fn probe(client: &Client, method: Method, url: &str) -> Result<u16, String> {
    match client.request(method, url).send().await {
        Ok(resp) => Ok(resp.status().as_u16()),
        Err(e) => Err(e.to_string()),
    }
}
