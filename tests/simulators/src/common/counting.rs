//! [`CountingListener`]: a bystander host for tests. It answers `200 {}` to anything and counts
//! what reached it, so a test can prove that no request (and no credential) reached a host the
//! operator's allow-list does not name, e.g. after a hostile redirect to it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use super::core::lock;
use super::server::{Server, Shutdown, serve_at};

/// One request the listener saw.
#[derive(Clone, Debug, Serialize)]
pub struct SeenRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Every header as received (names lower case), in order.
    pub headers: Vec<(String, String)>,
    /// The body, lossily decoded.
    pub body: String,
}

impl SeenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running bystander listener (cheap to clone; it stops with the last clone or `shutdown`).
#[derive(Clone)]
pub struct CountingListener {
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    server: Arc<Server>,
}

impl CountingListener {
    /// Bind `addr` (e.g. `"127.0.0.2:0"`) and answer `200 {}` to every request.
    pub async fn start(addr: impl tokio::net::ToSocketAddrs) -> io::Result<CountingListener> {
        let addr = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let router = Router::new().fallback(record).with_state(seen.clone());
        let server = serve_at(router, addr, Shutdown::new()).await?;
        Ok(CountingListener {
            seen,
            server: Arc::new(server),
        })
    }

    /// On `127.0.0.2`, an ephemeral port: a second loopback host (Linux routes all of 127/8 to lo).
    pub async fn start_on_second_loopback() -> io::Result<CountingListener> {
        Self::start(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), 0))).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR` without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        lock(&self.seen).len()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.seen).clone()
    }

    /// Stop serving now.
    pub fn shutdown(&self) {
        self.server.shutdown_signal().trigger();
    }
}

async fn record(
    State(seen): State<Arc<Mutex<Vec<SeenRequest>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<serde_json::Value> {
    let headers = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    lock(&seen).push(SeenRequest {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    Json(json!({}))
}
