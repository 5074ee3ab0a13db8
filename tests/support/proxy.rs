//! A TCP proxy on 127.0.0.1 in front of the apiserver that can stop forwarding: connections stay open, bytes are
//! held, nothing is answered — a hung apiserver connection as one process sees it, while every other client of the
//! same apiserver goes on. TLS passes through untouched (the serving certificate names 127.0.0.1).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct HangingProxy {
    pub port: u16,
    paused: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HangingProxy {
    pub async fn start(target: u16) -> HangingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(AtomicBool::new(false));
        let flag = paused.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    while flag.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pump(client_read, server_write, flag.clone()));
                    pump(server_read, client_write, flag).await;
                });
            }
        });
        HangingProxy { port, paused, task }
    }

    /// Stops forwarding in both directions (held bytes stay held).
    pub fn hang(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// A copy of `kubeconfig` whose server is this proxy.
    pub fn kubeconfig(&self, kubeconfig: &Path, dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(kubeconfig).unwrap();
        let rewritten: String = text
            .lines()
            .map(
                |line| match line.trim_start().strip_prefix("server: https://127.0.0.1:") {
                    Some(_) => format!("    server: https://127.0.0.1:{}", self.port),
                    None => line.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n");
        let path = dir.join("through-proxy.kubeconfig");
        std::fs::write(&path, rewritten).unwrap();
        path
    }
}

impl Drop for HangingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, holding each chunk while the proxy hangs.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
