//! Bodies generated while they are sent, for [`Fault::HugeBody`](super::Fault::HugeBody) and
//! [`Fault::SlowDrip`](super::Fault::SlowDrip).
//!
//! The crate depends on neither `futures` nor `http-body` (adding either would touch the
//! workspace lock file), so it cannot write its own streaming body type; reqwest's `Body`, built
//! from a `reqwest::Response`, is a streaming body it can hand to axum. So each simulator owns a
//! tiny raw-TCP generator on loopback, started on first use, that writes the bytes as a chunked
//! HTTP answer; the fault answer forwards that answer's body. Backpressure flows through: when the
//! operator stops reading, the generator's writes block; when it hangs up, they fail and the
//! generator's task ends. Nothing is buffered beyond the sockets' windows.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OnceCell;

use super::server::Shutdown;

const CHUNK: usize = 64 * 1024;
const PREFIX: &[u8] = br#"{"status":"success","pad":""#;
const SUFFIX: &[u8] = br#""}"#;

/// What the generator writes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// As fast as the reader takes it.
    Full,
    /// At most this many bytes per second.
    Drip(u64),
}

/// One simulator's generator: its address, a client to read from it, and how many body bytes it has written.
pub(crate) struct Generator {
    addr: SocketAddr,
    client: reqwest::Client,
    written: Arc<AtomicU64>,
}

impl Generator {
    /// Bind on loopback and serve until `shutdown` fires.
    async fn start(shutdown: Shutdown) -> std::io::Result<Generator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = shutdown.wait() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((s, _)) => s,
                        Err(_) => continue,
                    },
                };
                let stop = shutdown.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.wait() => {}
                        _ = serve_one(stream, &counter) => {}
                    }
                });
            }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Generator { addr, client, written })
    }

    /// Body bytes written to the sockets so far, over every answer: what a reader took, plus at most what the
    /// sockets between the generator and the reader buffer.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// A `200 application/json` answer whose body of `total` bytes comes from the generator.
    pub(crate) async fn answer(&self, total: u64, pace: Pace) -> Response {
        let path = match pace {
            Pace::Full => format!("/{total}/0"),
            Pace::Drip(bps) => format!("/{total}/{}", bps.max(1)),
        };
        let upstream = match self.client.get(format!("http://{}{path}", self.addr)).send().await {
            Ok(r) => r,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("generator: {e}")).into_response(),
        };
        let body = Body::new(reqwest::Body::from(upstream));
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// A generator started on first use, stopped with its simulator.
#[derive(Default)]
pub(crate) struct LazyGenerator(OnceCell<Generator>);

impl LazyGenerator {
    pub(crate) async fn get(&self, shutdown: &Shutdown) -> std::io::Result<&Generator> {
        self.0.get_or_try_init(|| Generator::start(shutdown.clone())).await
    }

    /// [`Generator::written`], 0 before its first use.
    pub(crate) fn written(&self) -> u64 {
        self.0.get().map_or(0, Generator::written)
    }
}

/// Byte `pos` of a body of `total` bytes: a JSON-looking prefix, `a` filler, a closing suffix
/// (when the body is too short for both, only filler).
fn fill(buf: &mut [u8], pos: u64, total: u64) {
    let framed = total >= (PREFIX.len() + SUFFIX.len()) as u64;
    for (i, b) in buf.iter_mut().enumerate() {
        let p = pos + i as u64;
        *b = if framed && p < PREFIX.len() as u64 {
            PREFIX[p as usize]
        } else if framed && p >= total - SUFFIX.len() as u64 {
            SUFFIX[(p - (total - SUFFIX.len() as u64)) as usize]
        } else {
            b'a'
        };
    }
}

/// Read the request head (`GET /<total>/<bytes_per_sec> ...`), then write the chunked answer.
async fn serve_one(mut stream: TcpStream, written: &AtomicU64) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 256];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut byte).await?;
        if n == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&byte[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/0/0");
    let mut nums = path
        .trim_start_matches('/')
        .split('/')
        .map(|n| n.parse::<u64>().unwrap_or(0));
    let total = nums.next().unwrap_or(0);
    let bps = nums.next().unwrap_or(0);
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await?;
    let (chunk, pause) = if bps == 0 {
        (CHUNK as u64, Duration::ZERO)
    } else {
        // About ten writes a second, at least one byte each.
        let chunk = (bps / 10).clamp(1, CHUNK as u64);
        (chunk, Duration::from_secs_f64(chunk as f64 / bps as f64))
    };
    let mut buf = vec![0u8; chunk as usize];
    let mut pos = 0u64;
    while pos < total {
        let n = chunk.min(total - pos) as usize;
        fill(&mut buf[..n], pos, total);
        stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
        stream.write_all(&buf[..n]).await?;
        written.fetch_add(n as u64, Ordering::Relaxed);
        stream.write_all(b"\r\n").await?;
        pos += n as u64;
        if !pause.is_zero() {
            stream.flush().await?;
            tokio::time::sleep(pause).await;
        }
    }
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn filled_body_is_json_framed_and_exact() {
        let total = 40u64;
        let mut all = vec![0u8; total as usize];
        fill(&mut all[..17], 0, total);
        fill(&mut all[17..], 17, total);
        let v: serde_json::Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(v["status"], "success");
        let mut tiny = [0u8; 3];
        fill(&mut tiny, 0, 3);
        assert_eq!(&tiny, b"aaa");
    }
}
