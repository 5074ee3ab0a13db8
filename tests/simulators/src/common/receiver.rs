//! [`Receiver`]: a tiny HTTPS webhook receiver on loopback with a self-signed certificate,
//! the target of the simulators' URL probes in tests and the demo.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::Listener;
use axum::{Json, Router};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::core::lock;
use super::server::Shutdown;

/// One request the receiver got.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    pub authorization: Option<String>,
    pub body: String,
    #[serde(skip)]
    pub at: SystemTime,
}

struct ReceiverState {
    status: AtomicU16,
    path_status: Mutex<HashMap<String, u16>>,
    hits: Mutex<Vec<Hit>>,
}

/// HTTPS receiver on `127.0.0.1`. Answers every method and path with the configured status
/// (default 200; per-path overrides with [`set_path_status`](Self::set_path_status)), records hits,
/// and can be taken down (connections reset, open ones included) and brought back up.
/// Admin: `GET /_sim/hits`, `POST /_sim/status` `{"status": N, "path"?: "/p"}` (not recorded).
/// Dropping it stops the server.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    down: Arc<AtomicBool>,
    cert_pem: String,
    shutdown: Shutdown,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl Receiver {
    /// Start on an ephemeral port.
    pub async fn start() -> io::Result<Receiver> {
        Self::start_on(0).await
    }

    /// Start on `127.0.0.1:port` (`0` = ephemeral).
    pub async fn start_on(port: u16) -> io::Result<Receiver> {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(io::Error::other)?;
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(certified.cert.der().to_vec())], key)
            .map_err(io::Error::other)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let down = Arc::new(AtomicBool::new(false));
        let (conn_tx, conn_rx) = mpsc::channel(64);
        let shutdown = Shutdown::new();
        tokio::spawn(accept_loop(listener, acceptor, down.clone(), conn_tx, shutdown.clone()));

        let state = Arc::new(ReceiverState {
            status: AtomicU16::new(200),
            path_status: Mutex::default(),
            hits: Mutex::default(),
        });
        let router = Router::new()
            .route("/_sim/hits", get(admin_hits))
            .route("/_sim/status", post(admin_status))
            .fallback(answer)
            .with_state(state.clone());
        let signal = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(TlsListener { rx: conn_rx, addr }, router)
                .with_graceful_shutdown(async move { signal.wait().await })
                .await;
        });
        Ok(Receiver {
            addr,
            state,
            down,
            cert_pem,
            shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT/<path>` (a leading `/` in `path` is optional).
    pub fn url(&self, path: &str) -> String {
        format!(
            "https://127.0.0.1:{}/{}",
            self.addr.port(),
            path.trim_start_matches('/')
        )
    }

    /// The self-signed certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Status answered on every path without an override (default 200).
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Status answered on one path (e.g. `"/hook"`), overriding [`set_status`](Self::set_status).
    pub fn set_path_status(&self, path: &str, status: u16) {
        let path = format!("/{}", path.trim_start_matches('/'));
        lock(&self.state.path_status).insert(path, status);
    }

    /// `true`: take the receiver down — new connections are reset before the TLS handshake and
    /// open (pooled) ones fail on their next read or write; `false`: up again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Every request received, oldest first.
    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.state.hits).clone()
    }

    /// Number of requests received with `method` (e.g. `"HEAD"`) on `path` (query ignored).
    pub fn hit_count(&self, method: &str, path: &str) -> usize {
        let path = format!("/{}", path.trim_start_matches('/'));
        lock(&self.state.hits)
            .iter()
            .filter(|h| h.method == method && h.path.split('?').next() == Some(path.as_str()))
            .count()
    }

    pub fn clear_hits(&self) {
        lock(&self.state.hits).clear();
    }
}

async fn admin_hits(State(state): State<Arc<ReceiverState>>) -> Json<Vec<Hit>> {
    Json(lock(&state.hits).clone())
}

#[derive(Deserialize)]
struct StatusBody {
    status: u16,
    #[serde(default)]
    path: Option<String>,
}

/// `{"status": 503}` for every path, or `{"status": 404, "path": "/hook"}` for one.
async fn admin_status(State(state): State<Arc<ReceiverState>>, Json(b): Json<StatusBody>) -> StatusCode {
    match b.path {
        Some(path) => {
            let path = format!("/{}", path.trim_start_matches('/'));
            lock(&state.path_status).insert(path, b.status);
        }
        None => state.status.store(b.status, Ordering::SeqCst),
    }
    StatusCode::NO_CONTENT
}

async fn answer(State(state): State<Arc<ReceiverState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = to_bytes(body, 4 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let status = lock(&state.path_status)
        .get(&path)
        .copied()
        .unwrap_or_else(|| state.status.load(Ordering::SeqCst));
    lock(&state.hits).push(Hit {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or(path),
        status,
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: SystemTime::now(),
    });
    StatusCode::from_u16(status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

type Conn = (DownAwareIo, SocketAddr);

/// A TLS connection whose I/O fails while the receiver is down.
pub struct DownAwareIo {
    inner: TlsStream<TcpStream>,
    down: Arc<AtomicBool>,
}

impl DownAwareIo {
    fn check(&self) -> io::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "receiver is down"))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for DownAwareIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for DownAwareIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts TCP and runs TLS handshakes off the accept path. While "down", every connection is
/// reset at once (before the TLS handshake), so clients get a connection error.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    down: Arc<AtomicBool>,
    conns: mpsc::Sender<Conn>,
    shutdown: Shutdown,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, remote)) = accepted else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if down.load(Ordering::SeqCst) {
            // Linger 0: close with RST, the closest to "nobody listens" on an open port.
            let _ = tcp.set_zero_linger();
            drop(tcp);
            continue;
        }
        let acceptor = acceptor.clone();
        let conns = conns.clone();
        let down = down.clone();
        tokio::spawn(async move {
            let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
            if let Ok(Ok(inner)) = hs.await {
                let _ = conns.send((DownAwareIo { inner, down }, remote)).await;
            }
        });
    }
}

struct TlsListener {
    rx: mpsc::Receiver<Conn>,
    addr: SocketAddr,
}

impl Listener for TlsListener {
    type Io = DownAwareIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
