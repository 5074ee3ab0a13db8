//! A loopback TCP proxy in front of a simulator that can cut a response mid-body: it forwards the request, passes
//! the response's headers and the first bytes of its body, then resets the connection (RST, SO_LINGER 0). The
//! simulators' own faults close before an answer or never answer; this one breaks an answer half-way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct ResetProxy {
    pub addr: SocketAddr,
    resets: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl ResetProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> ResetProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let resets = Arc::new(AtomicU32::new(0));
        let pending = resets.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let pending = pending.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, pending).await;
                });
            }
        });
        ResetProxy { addr, resets, task }
    }

    /// The next `n` responses are cut mid-body.
    pub fn reset_next(&self, n: u32) {
        self.resets.fetch_add(n, Ordering::SeqCst);
    }

    /// Responses still to be cut.
    pub fn pending(&self) -> u32 {
        self.resets.load(Ordering::SeqCst)
    }
}

impl Drop for ResetProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection: requests go up unchanged; each response comes back whole, or cut when a reset is due.
async fn serve(client: TcpStream, upstream: SocketAddr, resets: Arc<AtomicU32>) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    loop {
        let n = server_read.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        let header_end = seen.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
        let due = header_end.is_some()
            && resets
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
                .is_ok();
        if due {
            // Headers and a few body bytes, then a reset: the client has started reading the body.
            let cut = (header_end.unwrap() + 3).min(seen.len());
            client_write.write_all(&seen[..cut]).await?;
            client_write.flush().await?;
            // SO_LINGER 0: closing sends RST, not FIN. The socket closes once both halves are gone.
            #[allow(deprecated)]
            client_write.as_ref().set_linger(Some(std::time::Duration::ZERO))?;
            drop(client_write);
            up.abort();
            return Ok(());
        }
        client_write.write_all(&buf[..n]).await?;
        if header_end.is_some() {
            seen.clear();
        }
    }
    up.abort();
    Ok(())
}
