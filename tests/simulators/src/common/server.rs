//! Serving an axum `Router` on loopback, with a shutdown handle and a per-connection kill switch
//! (used to lose a response on purpose).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A one-shot, cloneable shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Shutdown(Arc::new(watch::channel(false).0))
    }

    /// Fire the signal (idempotent).
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal has fired.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail.
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

/// Closes one connection: once fired, reads and writes on it fail, so the server drops it
/// without writing the pending response.
#[derive(Clone, Debug, Default)]
pub struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    pub fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Connection info handed to handlers (`ConnectInfo<ConnInfo>`).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub kill: KillSwitch,
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP stream whose I/O fails once its [`KillSwitch`] fired.
pub struct KillableIo {
    inner: TcpStream,
    kill: KillSwitch,
}

fn killed_err() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection killed by simulator")
}

impl AsyncRead for KillableIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.killed() {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `axum::serve` listener producing [`KillableIo`] connections and [`ConnInfo`] addresses.
pub struct KillableListener(TcpListener);

impl Listener for KillableListener {
    type Io = KillableIo;
    type Addr = ConnInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, remote)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = KillSwitch::default();
                    let io = KillableIo {
                        inner: stream,
                        kill: kill.clone(),
                    };
                    return (io, ConnInfo { remote, kill });
                }
                // Same policy as axum's own TcpListener: back off on fd exhaustion etc.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnInfo {
            remote: self.0.local_addr()?,
            kill: KillSwitch::default(),
        })
    }
}

/// A running HTTP server. Dropping it (the last clone of the owning simulator handle) triggers
/// a graceful shutdown; [`Server::shutdown`] also waits for it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Shutdown,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Stop accepting, end hanging handlers, wait for the server task.
    pub async fn shutdown(mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Bind `127.0.0.1:port` (`0` = ephemeral) and serve `router` until `shutdown` fires.
/// Handlers may extract `ConnectInfo<ConnInfo>`.
pub async fn serve(router: Router, port: u16, shutdown: Shutdown) -> io::Result<Server> {
    serve_at(router, SocketAddr::from((Ipv4Addr::LOCALHOST, port)), shutdown).await
}

/// Like [`serve`], on any address (e.g. `127.0.0.2:0`, another loopback address on Linux).
pub async fn serve_at(router: Router, addr: SocketAddr, shutdown: Shutdown) -> io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let signal = shutdown.clone();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<ConnInfo>();
        let _ = axum::serve(KillableListener(listener), service)
            .with_graceful_shutdown(async move { signal.wait().await })
            .await;
    });
    Ok(Server {
        addr,
        shutdown,
        task: Some(task),
    })
}
