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

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
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
/// How often an HTTP/2 connection is pinged to tell a live peer from a gone one.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
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
    /// See the module documentation; also the longest a client may stay
    /// silent while sending a request body, and the longest a connection
    /// may stay open with no request in flight.
    pub header_timeout: Duration,
    /// The default request body limit (`--body-limit`).
    pub body_limit: u64,
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
    let builder = Arc::new(builder(&limits));
    let open = Arc::new(Semaphore::new(match limits.max_connections {
        0 => Semaphore::MAX_PERMITS,
        n => n,
    }));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    // Told to every connection when shutdown starts; each holds a clone of
    // `closed_tx`, so `closed_rx` ends when the last connection has.
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel::<()>(1);
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
        let stopping = stopping_rx.clone();
        let closed = closed_tx.clone();
        tokio::spawn(async move {
            let activity = Arc::new(Activity::default());
            let service = Handler {
                routes: warp::service(routes),
                peer,
                limits,
                activity: activity.clone(),
            };
            let served = match tls {
                None => {
                    let io = FirstByteDeadline::new(tcp, limits.header_timeout);
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(io), service)
                        .into_owned();
                    drive(conn, &activity, limits.header_timeout, stopping).await
                }
                Some(acceptor) => {
                    let Some(stream) = handshake(&acceptor, tcp, peer).await else {
                        return;
                    };
                    let io = FirstByteDeadline::new(stream, limits.header_timeout);
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(io), service)
                        .into_owned();
                    drive(conn, &activity, limits.header_timeout, stopping).await
                }
            };
            if let Err(err) = served {
                log::debug!("connection from {peer}: {err}");
            }
            drop(permit);
            drop(closed);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    drop(closed_tx);
    let _ = closed_rx.recv().await;
}

type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// Runs one connection to its end. It is asked to close gracefully (finish
/// what it is answering, take nothing new) when the server shuts down, or
/// when it has had no request in flight for `idle`: hyper's own header
/// timeout covers an idle HTTP/1.1 keep-alive connection, but nothing
/// closes an HTTP/2 connection that never sends a request.
async fn drive<C>(
    conn: C,
    activity: &Activity,
    idle: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ServeError>
where
    C: Future<Output = Result<(), ServeError>> + GracefulConnection,
{
    let mut conn = std::pin::pin!(conn);
    let mut closing = *stopping.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let idle_deadline = tokio::time::Instant::from_std(activity.idle_deadline(idle));
        tokio::select! {
            served = conn.as_mut() => return served,
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_deadline), if !closing => {
                if activity.is_idle_for(idle) {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// hyper-util's connection, whichever protocol it turns out to speak.
trait GracefulConnection {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection
    for hyper_util::server::conn::auto::UpgradeableConnection<'static, I, S, TokioExecutor>
where
    S: warp::hyper::service::HttpService<warp::hyper::body::Incoming, ResBody = B>,
    S::Error: Into<ServeError>,
    S::Future: Send + 'static,
    I: warp::hyper::rt::Read + warp::hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<ServeError>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper_util::server::conn::auto::UpgradeableConnection::graceful_shutdown(self);
    }
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` when the connection last became idle.
    idle_since: AtomicU64,
    epoch: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Activity {
    fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn is_idle_for(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.idle_deadline(idle) <= Instant::now()
    }

    /// When the connection will have been idle for `idle`, if nothing starts
    /// (a time in the future while a request is in flight).
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Instant::now() + idle;
        }
        let since = self.epoch + Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        since + idle
    }
}

/// Held by a request and then by its answer's body: the connection is busy
/// until the answer has been written (or dropped), so a long streamed
/// answer is never taken for idleness.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let now = u64::try_from(activity.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since.store(now, Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The default body limit (`--body-limit`), put in each request's
/// extensions for the body filters (`src/api/filters.rs`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub u64);

/// A request body that may not stall: once the server waits for the next
/// piece, the client has `timeout` to send it, or reading fails with
/// [`BodyStalled`] (answered 408 by the body filters). Time the server
/// itself takes between reads is not counted.
pub struct IdleBody<B> {
    inner: B,
    timeout: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error of a request body whose client stopped sending it.
#[derive(Debug, thiserror::Error)]
#[error("the client stopped sending the request body")]
pub struct BodyStalled;

impl<B> http_body::Body for IdleBody<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<ServeError>,
{
    type Data = B::Data;
    type Error = ServeError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let waiting = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match waiting.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The answer's body, holding its request's [`InFlight`] until it is done.
pub struct TrackedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B: http_body::Body + Unpin> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The service of one connection: the warp routes behind the guards every
/// request passes, whatever it is.
#[derive(Clone)]
struct Handler<S> {
    routes: S,
    peer: SocketAddr,
    limits: Limits,
    activity: Arc<Activity>,
}

type Incoming = warp::hyper::body::Incoming;
type Answer = warp::http::Response<TrackedBody<WarpBody>>;

/// warp's body type, which warp does not name publicly.
type WarpBody = <Response as BodyOf>::Body;
trait BodyOf {
    type Body;
}
impl<B> BodyOf for warp::http::Response<B> {
    type Body = B;
}

impl<S> warp::hyper::service::Service<warp::http::Request<Incoming>> for Handler<S>
where
    S: tower_service::Service<
            warp::http::Request<IdleBody<Incoming>>,
            Response = Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn call(&self, req: warp::http::Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.start();
        let track = move |res: Response| {
            res.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            })
        };
        // A request without a path (`CONNECT host:port`, `OPTIONS *`, an
        // HTTP/2 CONNECT) is not for this server; warp's path filters
        // assume one is there.
        if !req.uri().path().starts_with('/') {
            let res = no_path(req.method());
            return Box::pin(std::future::ready(Ok(track(res))));
        }
        let mut req = req.map(|inner| IdleBody {
            inner,
            timeout: self.limits.header_timeout,
            waiting: None,
        });
        req.extensions_mut().insert(PeerAddr(self.peer));
        req.extensions_mut()
            .insert(BodyLimit(self.limits.body_limit));
        let method = req.method().clone();
        // As the access log writes it: no key or share id.
        let path = crate::app::loggable_path(req.uri().path()).into_owned();
        let mut routes = self.routes.clone();
        // A panic anywhere in a handler answers this request with a 500 and
        // leaves the connection, and every other, serving.
        let called = std::panic::catch_unwind(AssertUnwindSafe(move || routes.call(req)));
        Box::pin(crate::logging::with_access_user(async move {
            let answered = match called {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let res = match answered {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(panic) => {
                    log::error!(
                        "request {method} {path} panicked: {}; answered 500",
                        panic_message(panic.as_ref())
                    );
                    crate::api::error::ApiError::Internal("panic".into()).to_response()
                }
            };
            Ok(track(res))
        }))
    }
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// The answer to a request whose target is not a path.
fn no_path(method: &warp::http::Method) -> Response {
    use crate::api::error::ApiError;
    if method == warp::http::Method::CONNECT {
        ApiError::MethodNotAllowed.to_response()
    } else {
        ApiError::BadRequest("the request target must be a path starting with /".into())
            .to_response()
    }
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
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        // A peer that stops answering pings (gone without a FIN) is closed
        // even while one of its answers is streaming.
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(limits.header_timeout);
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
