//! Accepting and serving connections, plain HTTP and HTTPS alike: one accept loop, where a TLS
//! handshake is one more step before serving. HTTP/2 is spoken when the client negotiated it
//! (ALPN over TLS, or the HTTP/2 preface on plain HTTP), HTTP/1.1 otherwise.
//!
//! Every connection is bounded in time, so that sockets which send nothing, half a request, or a
//! body a byte at a time cannot pile up until the server runs out of file descriptors:
//! - a new connection must complete its TLS handshake and its first request's head within
//!   `header_timeout`, and so must any later request head once its first byte has arrived;
//! - a connection with no request in progress is closed after `idle_timeout`;
//! - a request body must make progress every `body_timeout` and be complete within ten times
//!   that; a response the client stops reading is dropped after `body_timeout`;
//! - each client address may hold `per_address` connections at once (trusted proxies are not
//!   capped: behind them are many clients).
//!
//! When the process runs out of descriptors the loop keeps going: it waits a moment and tries
//! again, logging that at most once a minute.

use super::client::TrustedProxies;
use super::tls::Reloadable;
use axum::extract::ConnectInfo;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// How long the accept loop waits before trying again when accepting failed (out of
/// descriptors, out of memory).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one log line about failing accepts or refused connections per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// How long a connection asked to close (idle, shutting down) may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long, at shutdown, requests in progress may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// A request body must be complete within this many `body_timeout`s.
const BODY_TOTAL_FACTOR: u32 = 10;

/// The time bounds and the per-address cap every connection is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TLS handshake plus a request's head, from the connection's start or from the head's
    /// first byte.
    pub header_timeout: Duration,
    /// A connection with no request in progress.
    pub idle_timeout: Duration,
    /// Between pieces of a request body, and a response write the client does not take.
    pub body_timeout: Duration,
    /// Connections one client address may hold at once.
    pub per_address: usize,
    /// How long a request may take to get its response head (the router's `time_limit`).
    pub request_timeout: Duration,
    /// Requests the router handles at once (its `concurrency_limit`).
    pub max_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            per_address: 256,
            // Long enough for a report over a big group on a slow disk; a page takes
            // milliseconds.
            request_timeout: Duration::from_secs(30),
            // Far above what two cores serve at once (pages take milliseconds), so it only
            // bites in a flood, where waiting beats running thousands of handlers at once.
            max_requests: 512,
        }
    }
}

/// Raises the soft limit on open files to the hard limit, so that the server is not cut off at
/// a distribution's default of 1024 descriptors while the administrator allowed more. Returns
/// the soft limit before and after, when it was raised.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<(libc::rlim_t, libc::rlim_t)> {
    // The kernel refuses a soft limit above fs.nr_open; an unlimited hard limit is read as this.
    const CEILING: libc::rlim_t = 1 << 20;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives across the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    let target = if lim.rlim_max == libc::RLIM_INFINITY {
        CEILING
    } else {
        lim.rlim_max
    };
    if before >= target {
        return None;
    }
    lim.rlim_cur = target;
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return None;
    }
    Some((before, target))
}

/// Without rlimits there is nothing to raise.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    None
}

/// A log line at most once per [`LOG_EVERY`], with how many times it was held back.
struct Sparse {
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl Sparse {
    fn new() -> Self {
        Sparse {
            last: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(times held back since the last line)` when a line may be written now.
    fn due(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.held_back.swap(0, Ordering::Relaxed))
    }
}

/// Open connections per client address; shared by every listener of the server.
pub struct PerAddress {
    limit: usize,
    trusted: TrustedProxies,
    open: Mutex<HashMap<IpAddr, usize>>,
    refusals: Sparse,
}

impl PerAddress {
    /// Counts connections against `limits.per_address`; addresses in `trusted` are not capped.
    pub fn new(limits: &Limits, trusted: TrustedProxies) -> Arc<Self> {
        Arc::new(PerAddress {
            limit: limits.per_address,
            trusted,
            open: Mutex::new(HashMap::new()),
            refusals: Sparse::new(),
        })
    }

    /// A place for one more connection from `ip`, or `None` when it holds its share already.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        if self.trusted.contains(ip) {
            return Some(Slot(None));
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.limit {
            drop(open);
            if let Some(held_back) = self.refusals.due() {
                tracing::warn!(
                    %ip,
                    limit = self.limit,
                    refused_before = held_back,
                    "a client address holds as many connections as it may; further ones are closed (logged once a minute)"
                );
            }
            return None;
        }
        *n += 1;
        Some(Slot(Some((self.clone(), ip))))
    }
}

/// One connection counted against its address until dropped.
struct Slot(Option<(Arc<PerAddress>, IpAddr)>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((counts, ip)) = self.0.take() {
            let mut open = counts.open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = open.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

/// What one connection's watchdog needs to know. Times are milliseconds since `start`; 0 is
/// "not set" where it says so.
struct ConnState {
    start: Instant,
    in_flight: AtomicUsize,
    /// A request has been received on this connection.
    served: AtomicBool,
    /// When the last request in progress ended.
    idle_since: AtomicU64,
    /// When the first byte arrived after the connection became idle (0: none yet), plus one.
    read_while_idle: AtomicU64,
    /// Since when a write has been waiting for the client to take data (0: none), plus one.
    write_blocked: AtomicU64,
    h2: AtomicBool,
    /// Close now (a request body stalled on HTTP/1, where the connection cannot carry on).
    kill: AtomicBool,
}

impl ConnState {
    fn new(start: Instant) -> Arc<Self> {
        Arc::new(ConnState {
            start,
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            read_while_idle: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            kill: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        Instant::now().duration_since(self.start).as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// When this connection is to be closed, as things stand; `None` while a request is in
    /// progress and nothing stalls.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.kill.load(Ordering::Acquire) {
            return Some(Instant::now());
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return match self.write_blocked.load(Ordering::Acquire) {
                0 => None,
                t => Some(self.at(t - 1) + limits.body_timeout),
            };
        }
        if !self.served.load(Ordering::Acquire) {
            return Some(self.start + limits.header_timeout);
        }
        let idle = self.at(self.idle_since.load(Ordering::Acquire)) + limits.idle_timeout;
        // On HTTP/2 bytes arrive while idle (window updates, pings): only streams count.
        match self.read_while_idle.load(Ordering::Acquire) {
            t if t > 0 && !self.h2.load(Ordering::Acquire) => {
                Some(idle.min(self.at(t - 1) + limits.header_timeout))
            }
            _ => Some(idle),
        }
    }
}

/// A request in progress, from its head until its response body is dropped.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn enter(state: &Arc<ConnState>) -> Self {
        state.served.store(true, Ordering::Release);
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let s = &self.0;
        s.read_while_idle.store(0, Ordering::Release);
        s.idle_since.store(s.now_ms(), Ordering::Release);
        s.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The TCP stream, noting when bytes arrive and when writes wait on the client.
struct Watched {
    tcp: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let s = &self.state;
            if s.in_flight.load(Ordering::Acquire) == 0
                && s.read_while_idle.load(Ordering::Acquire) == 0
            {
                s.read_while_idle.store(s.now_ms() + 1, Ordering::Release);
            }
        }
        polled
    }
}

impl Watched {
    fn note_write<T>(&self, polled: &Poll<T>) {
        match polled {
            Poll::Pending => {
                if self.state.write_blocked.load(Ordering::Acquire) == 0 {
                    self.state
                        .write_blocked
                        .store(self.state.now_ms() + 1, Ordering::Release);
                }
            }
            Poll::Ready(_) => self.state.write_blocked.store(0, Ordering::Release),
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.note_write(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.note_write(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A request body that fails when the client stops sending it (see [`Limits::body_timeout`]).
struct TimedBody {
    inner: Incoming,
    between: Duration,
    /// Armed at the first read, so that time a handler spends before reading is not counted.
    timer: Option<(Pin<Box<Sleep>>, Instant)>,
    state: Arc<ConnState>,
}

/// The request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.timer.is_none() {
            let now = Instant::now();
            let total = now + this.between * BODY_TOTAL_FACTOR;
            this.timer = Some((
                Box::pin(tokio::time::sleep_until(now + this.between)),
                total,
            ));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some((sleep, total)) = this.timer.as_mut() {
                    let next = (Instant::now() + this.between).min(*total);
                    sleep.as_mut().reset(next);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let expired = match this.timer.as_mut() {
                    Some((sleep, _)) => sleep.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if !expired {
                    return Poll::Pending;
                }
                // HTTP/2 resets this stream only; HTTP/1.1 cannot go on after half a body.
                if !this.state.h2.load(Ordering::Acquire) {
                    this.state.kill.store(true, Ordering::Release);
                }
                Poll::Ready(Some(Err(Box::new(BodyTimeout))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted as in progress until it is dropped.
struct Counted {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Which protocol a connection is served with.
#[derive(Clone, Copy)]
enum Protocol {
    /// Negotiated by ALPN.
    Http1,
    Http2,
    /// Whichever the client starts with (the HTTP/2 preface, or else HTTP/1.1).
    Either,
}

fn builder(protocol: Protocol) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    // The watchdog times heads out itself: hyper's header timer would also cut idle
    // keep-alive connections at the header timeout.
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None::<Duration>)
        .keep_alive(true);
    b.http2().timer(TokioTimer::new());
    match protocol {
        Protocol::Http1 => b.http1_only(),
        Protocol::Http2 => b.http2_only(),
        Protocol::Either => b,
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in progress finish
/// (for at most [`SHUTDOWN_GRACE`]). With `tls`, every connection is TLS.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Reloadable>,
    limits: Limits,
    per_address: Arc<PerAddress>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Every connection task holds a sender; the receiver sees the channel close once all are gone.
    let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(1);
    let trouble = Sparse::new();
    let builders = Arc::new([
        builder(Protocol::Http1),
        builder(Protocol::Http2),
        builder(Protocol::Either),
    ]);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            // The client gave up while waiting in the queue: nothing wrong on this side.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                continue
            }
            Err(e) => {
                // Out of descriptors (or memory): the connection waits in the kernel's queue
                // until a descriptor is free; connections closing by their timeouts free them.
                if let Some(held_back) = trouble.due() {
                    tracing::warn!(
                        error = %e,
                        failed_before = held_back,
                        "cannot accept connections; trying again every 50 ms (logged once a minute)"
                    );
                }
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    _ = &mut shutdown => break,
                }
            }
        };
        let Some(slot) = per_address.take(peer.ip()) else {
            continue;
        };
        // Streamed pages are written in pieces: without TCP_NODELAY each waits for a delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let state = ConnState::new(Instant::now());
        let io = Watched {
            tcp,
            state: state.clone(),
        };
        let conn = Conn {
            app: app.clone(),
            peer,
            limits,
            state,
            stop: stop_rx.clone(),
            builders: builders.clone(),
        };
        let tls = tls.clone();
        let open = open_tx.clone();
        tokio::spawn(async move {
            conn.run(io, tls).await;
            drop(slot);
            drop(open);
        });
    }
    let _ = stop_tx.send(true);
    drop(open_tx);
    if tokio::time::timeout(SHUTDOWN_GRACE, open_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress at shutdown were cut off");
    }
}

/// One connection being served.
struct Conn {
    app: axum::Router,
    peer: SocketAddr,
    limits: Limits,
    state: Arc<ConnState>,
    stop: tokio::sync::watch::Receiver<bool>,
    builders: Arc<[auto::Builder<TokioExecutor>; 3]>,
}

impl Conn {
    async fn run(self, io: Watched, tls: Option<Reloadable>) {
        let Some(config) = tls else {
            return self.drive(io, Protocol::Either).await;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config.current());
        // The handshake counts towards the first request's head.
        let deadline = self.state.start + self.limits.header_timeout;
        let stream = match tokio::time::timeout_at(deadline, acceptor.accept(io)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, peer = %self.peer, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                return;
            }
        };
        let protocol = match stream.get_ref().1.alpn_protocol() {
            Some(b"h2") => Protocol::Http2,
            Some(_) => Protocol::Http1,
            None => Protocol::Either,
        };
        self.drive(stream, protocol).await
    }

    /// Serves HTTP on `io` until the client leaves or a limit is reached.
    async fn drive<I>(mut self, io: I, protocol: Protocol)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let builders = self.builders.clone();
        let builder = &builders[protocol as usize];
        if matches!(protocol, Protocol::Http2) {
            self.state.h2.store(true, Ordering::Release);
        }
        let (app, peer, limits, state) =
            (self.app.clone(), self.peer, self.limits, self.state.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let in_flight = InFlight::enter(&state);
            if req.version() == http::Version::HTTP_2 {
                state.h2.store(true, Ordering::Release);
            }
            let mut req = req.map(|inner| TimedBody {
                inner,
                between: limits.body_timeout,
                timer: None,
                state: state.clone(),
            });
            // HTTP/2 carries the host in the URI (`:authority`); the app reads `Host`.
            if !req.headers().contains_key(http::header::HOST) {
                if let Some(host) = req
                    .uri()
                    .authority()
                    .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
                {
                    req.headers_mut().insert(http::header::HOST, host);
                }
            }
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let res = tower::ServiceExt::oneshot(app, req).await;
                res.map(|r| {
                    r.map(|inner| Counted {
                        inner,
                        _in_flight: in_flight,
                    })
                })
            }
        });
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let check = (self.limits.header_timeout.min(self.limits.body_timeout) / 4)
            .max(Duration::from_millis(100));
        let mut closing: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let wake = match closing {
                Some(t) => t,
                None => self
                    .state
                    .deadline(&self.limits)
                    .map_or(now + check, |d| d.min(now + check)),
            };
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, peer = %self.peer, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.changed(), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + SHUTDOWN_GRACE);
                }
                _ = tokio::time::sleep_until(wake) => {
                    if closing.is_some() {
                        return;
                    }
                    let Some(deadline) = self.state.deadline(&self.limits) else { continue };
                    if deadline > Instant::now() {
                        continue;
                    }
                    if self.state.in_flight.load(Ordering::Acquire) > 0
                        || self.state.kill.load(Ordering::Acquire)
                        || !self.state.served.load(Ordering::Acquire)
                    {
                        // A stalled client, or one that never sent a request: nothing to say.
                        return;
                    }
                    // Idle: HTTP/2 is told (GOAWAY), HTTP/1.1 simply closed.
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + CLOSE_GRACE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_per_address_and_spares_trusted_proxies() {
        let limits = Limits {
            per_address: 2,
            ..Limits::default()
        };
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let counts = PerAddress::new(&limits, trusted);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = counts.take(a).unwrap();
        let _second = counts.take(a).unwrap();
        assert!(counts.take(a).is_none());
        // The same address written as IPv4-mapped IPv6 is the same client.
        assert!(counts.take("::ffff:192.0.2.1".parse().unwrap()).is_none());
        assert!(counts.take("192.0.2.2".parse().unwrap()).is_some());
        drop(first);
        assert!(counts.take(a).is_some());
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let many: Vec<_> = (0..10).map(|_| counts.take(proxy)).collect();
        assert!(many.iter().all(Option::is_some));
    }
}
