//! The accept loop, plain and TLS alike: each TCP connection is served by
//! hyper-util (HTTP/1.1, and HTTP/2 by ALPN over TLS) with the limits a
//! server left alone for months needs against slow or hostile clients:
//!
//! - a cap on open connections: past it a new connection gets a short 503
//!   with `Retry-After` and is closed, so a flood cannot exhaust the process's
//!   files and those already in keep working;
//! - a header timeout: a connection must send a request's full headers within
//!   it, counted from its opening or from the end of the previous answer, so
//!   a client that sends nothing, sends headers a byte at a time, or leaves a
//!   keep-alive connection idle is closed (a streamed answer in progress is
//!   not idle and is never cut by it);
//! - at most [`MAX_HEADERS`] headers in at most [`MAX_HEADER_BYTES`] (431
//!   past either).
//!
//! Shutdown stops accepting at once, closes idle connections and lets the
//! others finish (the caller bounds that wait).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use warp::filters::BoxedFilter;
use warp::reply::Response;

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Most bytes a request's start line and headers may take.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections refused past the cap that may be answering their 503 at once;
/// past that a refused connection is closed without a word.
const MAX_REFUSING: usize = 64;
/// How long a refused connection is given to send its request before the
/// 503 (read first, so that closing does not reset the answer away).
const REFUSE_READ: Duration = Duration::from_millis(500);

/// The peer of a connection, put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// What a connection may do (`--max-connections`, `--header-timeout`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; 0 for no cap.
    pub max_connections: usize,
    /// See the module documentation.
    pub header_timeout: Duration,
}

/// Serves `routes` on `listener` (over TLS with `tls`) until `shutdown`,
/// then waits for open connections to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    routes: BoxedFilter<(Response,)>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(builder(&limits));
    let open = Arc::new(Semaphore::new(match limits.max_connections {
        0 => Semaphore::MAX_PERMITS,
        n => n,
    }));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    log::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                let tls = tls.clone();
                tokio::spawn(async move {
                    refuse(tcp, tls).await;
                    drop(refusal);
                });
            }
            log_refusal(limits.max_connections);
            continue;
        };
        let tls = tls.clone();
        let routes = routes.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The warp filter as a hyper service that knows the peer's address.
            let routes = warp::service(routes);
            let service = warp::hyper::service::service_fn(
                move |mut req: warp::http::Request<warp::hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    let mut routes = routes.clone();
                    tower_service::Service::call(&mut routes, req)
                },
            );
            let served = match tls {
                None => {
                    let io = FirstByteDeadline::new(tcp, limits.header_timeout);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let Some(stream) = handshake(&acceptor, tcp, peer).await else {
                        return;
                    };
                    let io = FirstByteDeadline::new(stream, limits.header_timeout);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(err) = served {
                log::debug!("connection from {peer}: {err}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// hyper-util's connection builder with the limits above.
fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
}

/// A connection that must send its first byte within a deadline. hyper-util
/// reads that byte to tell HTTP/1.1 from HTTP/2 before hyper's own header
/// timeout starts, so a client that connects and stays silent would
/// otherwise hold its connection forever.
struct FirstByteDeadline<I> {
    io: I,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<I> FirstByteDeadline<I> {
    fn new(io: I, within: Duration) -> Self {
        FirstByteDeadline {
            io,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstByteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Some(deadline) = &mut self.deadline {
            match read {
                Poll::Ready(Ok(())) if buf.filled().len() > before => self.deadline = None,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no request within the header timeout",
                    )));
                }
                _ => {}
            }
        }
        read
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FirstByteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(err)) => {
            log::debug!("TLS handshake with {peer} failed: {err}");
            None
        }
        Err(_) => {
            log::debug!("TLS handshake with {peer} timed out");
            None
        }
    }
}

/// The answer past the connection cap, written without hyper.
const REFUSAL: &str = "{\"error\":\"the server has too many open connections; try again shortly\",\
                       \"code\":\"overloaded\"}";

/// Answers a connection past the cap with a 503 and closes it.
async fn refuse(tcp: TcpStream, tls: Option<TlsAcceptor>) {
    let peer = tcp.peer_addr().ok();
    match tls {
        None => write_refusal(tcp).await,
        Some(acceptor) => {
            let Some(peer) = peer else { return };
            if let Some(stream) = handshake(&acceptor, tcp, peer).await {
                write_refusal(stream).await;
            }
        }
    }
}

async fn write_refusal<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(REFUSE_READ, stream.read(&mut buf)).await;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 5\r\ncache-control: no-store\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{REFUSAL}",
        REFUSAL.len()
    );
    let _ = tokio::time::timeout(REFUSE_READ, async {
        stream.write_all(head.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Says once a minute at most that connections are being refused.
fn log_refusal(cap: usize) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        log::warn!(
            "{cap} connections are open, the most allowed (--max-connections); \
             new ones get 503 until some close"
        );
    }
}
