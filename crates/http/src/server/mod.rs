//! The built-in HTTP/1.1 server, behaving like eventlet.wsgi as Glance runs
//! it: keep-alive, pipelining, chunked bodies both ways, header-line
//! limits with eventlet's bare error replies, per-read idle timeouts, a
//! bounded connection pool, optional TLS, and a graceful drain for
//! SIGHUP-style worker replacement.
//!
//! Design notes:
//! - One task per connection. The handler runs in its own task (so a panic
//!   becomes a bare 500), while the connection task streams the request
//!   body into it through a small bounded channel.
//! - `Expect: 100-continue`: the interim response is sent when the handler
//!   first reads the body, as eventlet does. If the handler answers without
//!   reading it, the connection is closed after the response.
//! - A body the handler left unread is drained (up to 64 KiB) so the
//!   connection can be reused; a longer one closes the connection.
//! - Shutdown: stop accepting at once; in-flight requests finish and are
//!   answered with `Connection: close`; an idle connection waits
//!   `drain_idle_grace` for one last request (served with `Connection:
//!   close`), so a keep-alive client always gets a response or a clean close
//!   between requests.

pub(crate) mod chunked;
mod date;
mod parse;

pub use date::{civil_from_days, http_date, log_date};
pub use parse::{MAX_HEADERS, MAX_REQUEST_LINE, MAX_TOTAL_HEADER_SIZE};

/// Fuzzing entry point: run the request-head scanner, parser and body
/// framing, then the chunked decoder over whatever follows, on arbitrary
/// bytes. Returns whether a head was accepted. Must never panic.
pub fn fuzz_request(data: &[u8], max_header_line: usize) -> bool {
    let mut buf = bytes::BytesMut::from(data);
    parse::skip_empty_lines(&mut buf);
    let Ok(Some(n)) = parse::scan_head(&buf, max_header_line) else {
        return false;
    };
    let head = buf.split_to(n);
    let Ok(parsed) = parse::parse_head(&head) else {
        return false;
    };
    if parse::body_kind(&parsed.headers).is_err() {
        return false;
    }
    let mut dec = chunked::Decoder::chunked();
    for _ in 0..buf.len() + 2 {
        match dec.decode(&mut buf, 64 * 1024) {
            Ok(_) if dec.is_done() || buf.is_empty() => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    true
}

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::body::{BodySender, FileSlice};
use crate::ext::ConnInfo;
use crate::{Body, SharedHandler};
use chunked::{Decoder, Step};
use parse::{BodyKind, Head, HeadError};

/// Largest body chunk handed to the handler.
const BODY_CHUNK: usize = 256 * 1024;
/// Chunks buffered between the socket and the handler.
const BODY_CHANNEL_CAP: usize = 4;
/// Most unread request body discarded to keep a connection alive.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Upper bound on a TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the client's FIN after our final response, so
/// unread input does not turn our close into a reset that destroys it.
const LINGER: Duration = Duration::from_secs(1);
/// Responses up to this size go out in one write with their head.
const COALESCE_LIMIT: usize = 16 * 1024;

/// Server settings (Glance's `[DEFAULT]` server options).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Longest header line, terminator included, minus one (eventlet's
    /// MAX_HEADER_LINE); 0 = unlimited.
    pub max_header_line: usize,
    /// false: every response carries `Connection: close`.
    pub http_keepalive: bool,
    /// Idle/read/write timeout per socket operation; None = forever.
    pub client_socket_timeout: Option<Duration>,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Most concurrent connections (eventlet's GreenPool size).
    pub max_connections: usize,
    /// After shutdown starts, how long an idle keep-alive connection waits
    /// for one last request.
    pub drain_idle_grace: Duration,
    /// Log each request at INFO on target `glimpse.http.access`.
    pub access_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_header_line: 16384,
            http_keepalive: true,
            client_socket_timeout: Some(Duration::from_secs(900)),
            tls: None,
            max_connections: 1000,
            drain_idle_grace: Duration::from_secs(1),
            access_log: true,
        }
    }
}

/// Response extension: a reason phrase for the status line other than
/// WebOb's title for the status.
#[derive(Clone, Debug)]
pub struct ReasonPhrase(pub Cow<'static, str>);

/// Receiving side of a shutdown signal; cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Starts a shutdown. Dropping it without calling
/// [`ShutdownTrigger::trigger`] does not shut down.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered (never, if the trigger was
    /// dropped untriggered).
    pub async fn triggered(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

/// Serve `handler` on `listener` until `shutdown` is triggered and every
/// connection has finished. Accept errors (EMFILE and the like) are logged
/// and retried with backoff.
pub async fn serve(
    listener: std::net::TcpListener,
    handler: SharedHandler,
    cfg: ServerConfig,
    shutdown: Shutdown,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let listen_addr = listener.local_addr()?;
    let acceptor = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let mut conns = JoinSet::new();
    let mut backoff = Duration::from_millis(10);

    loop {
        while let Some(done) = conns.try_join_next() {
            log_join(done);
        }
        // Like eventlet's GreenPool: wait for a free slot before accepting.
        let permit = tokio::select! {
            biased;
            _ = shutdown.triggered() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.triggered() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(s) => {
                backoff = Duration::from_millis(10);
                s
            }
            Err(e) if is_per_connection_error(&e) => continue,
            Err(e) => {
                log::error!(
                    "error accepting connection on {listen_addr}: {e}; retrying in {backoff:?}"
                );
                tokio::select! {
                    _ = shutdown.triggered() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let local = stream.local_addr().unwrap_or(listen_addr);
        // Responses are written whole; Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let ctx = ConnCtx {
            handler: handler.clone(),
            cfg: cfg.clone(),
            shutdown: shutdown.clone(),
            peer,
            local,
        };
        let acceptor = acceptor.clone();
        conns.spawn(async move {
            let _permit = permit;
            match acceptor {
                None => {
                    // Owned halves keep the TcpStream reachable for sendfile.
                    let (rd, wr) = stream.into_split();
                    Conn::new(rd, wr, ctx, "http").run().await
                }
                Some(acc) => {
                    let limit = ctx
                        .cfg
                        .client_socket_timeout
                        .map_or(TLS_HANDSHAKE_TIMEOUT, |t| t.min(TLS_HANDSHAKE_TIMEOUT));
                    match tokio::time::timeout(limit, acc.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let (rd, wr) = tokio::io::split(tls);
                            Conn::new(rd, wr, ctx, "https").run().await
                        }
                        Ok(Err(e)) => log::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => log::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
        });
    }
    // Stop accepting at once; the kernel refuses new connections from here.
    drop(listener);
    while let Some(done) = conns.join_next().await {
        log_join(done);
    }
    Ok(())
}

fn log_join(r: Result<(), tokio::task::JoinError>) {
    if let Err(e) = r {
        log::error!("connection task failed: {e}");
    }
}

/// Errors about one pending connection, not the listener.
fn is_per_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

struct ConnCtx {
    handler: SharedHandler,
    cfg: Arc<ServerConfig>,
    shutdown: Shutdown,
    peer: SocketAddr,
    local: SocketAddr,
}

/// Run `fut` under the socket timeout, mapping expiry to `TimedOut`.
async fn timed<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match limit {
        None => fut.await,
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client socket timed out",
            )),
        },
    }
}

/// The reading side of a connection and its buffer.
struct Reader<R> {
    rd: R,
    buf: BytesMut,
    timeout: Option<Duration>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Read more bytes; cancel-safe. EOF is an error here.
    async fn fill(&mut self) -> io::Result<()> {
        self.fill_up_to(16 * 1024).await
    }

    /// Like [`Reader::fill`], reading up to `want` bytes at once (request
    /// bodies: fewer, larger reads and hand-offs per GiB uploaded).
    async fn fill_up_to(&mut self, want: usize) -> io::Result<()> {
        self.buf.reserve(want);
        let n = timed(self.timeout, self.rd.read_buf(&mut self.buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Moves the request body from the socket to the handler.
struct Pump {
    dec: Decoder,
    tx: Option<BodySender>,
    /// Bytes thrown away since the handler stopped listening.
    discarded: usize,
    failed: bool,
}

impl Pump {
    fn done(&self) -> bool {
        self.dec.is_done()
    }

    fn receiver_gone(&self) -> bool {
        self.tx.as_ref().is_none_or(|tx| tx.is_closed())
    }

    /// Deliver (or, with no receiver, discard) one piece of body.
    /// Cancel-safe: bytes are only decoded once they can be delivered.
    async fn step<R: AsyncRead + Unpin>(&mut self, r: &mut Reader<R>) -> io::Result<()> {
        let permit = match &self.tx {
            Some(tx) => tx.clone().reserve_owned().await.ok(),
            None => None,
        };
        loop {
            match self.dec.decode(&mut r.buf, BODY_CHUNK)? {
                Step::Data(b) => {
                    match permit {
                        Some(p) => {
                            let _ = p.send(Ok(b));
                        }
                        None => self.discarded += b.len(),
                    }
                    if self.dec.is_done() {
                        // Dropping the sender ends the handler's body.
                        self.tx = None;
                    }
                    return Ok(());
                }
                Step::Done => {
                    // Dropping the sender ends the handler's body.
                    self.tx = None;
                    return Ok(());
                }
                Step::NeedMore => r.fill_up_to(BODY_CHUNK).await?,
            }
        }
    }

    /// The body cannot be completed: make sure the handler sees an error
    /// rather than a clean (truncated) end.
    fn fail(&mut self, e: io::Error) {
        self.failed = true;
        if let Some(tx) = self.tx.take()
            && let Err(mpsc::error::TrySendError::Full(err)) = tx.try_send(Err(e))
        {
            tokio::spawn(async move {
                let _ = tx.send(err).await;
            });
        }
    }

    /// Discard what is left of the body, up to [`DRAIN_LIMIT`]; true if it
    /// was all read.
    async fn drain<R: AsyncRead + Unpin>(&mut self, r: &mut Reader<R>) -> bool {
        if !self.receiver_gone() {
            // Someone still expects the rest; don't steal it.
            return false;
        }
        self.tx = None;
        while !self.done() && !self.failed {
            if self.discarded > DRAIN_LIMIT {
                return false;
            }
            if let Err(e) = self.step(r).await {
                self.fail(e);
            }
        }
        self.done()
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        if !self.done() && self.tx.is_some() {
            self.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request body incomplete",
            ));
        }
    }
}

/// The handler's view of a body sent with `Expect: 100-continue`: the first
/// read tells the connection to send the interim response.
struct ContinueBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    first_read: Option<oneshot::Sender<()>>,
}

impl Stream for ContinueBody {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(tx) = this.first_read.take() {
            let _ = tx.send(());
        }
        this.rx.poll_recv(cx)
    }
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The writing half of a connection; a plain TCP socket also offers
/// itself for `sendfile(2)`.
trait WriteSide: AsyncWrite + Unpin + Send {
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl WriteSide for OwnedWriteHalf {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
    }
}

// TLS (and anything else split generically) has no raw socket to send to.
impl<S: AsyncRead + AsyncWrite + Send> WriteSide for WriteHalf<S> {}

struct Conn<R, W> {
    r: Reader<R>,
    wr: W,
    ctx: ConnCtx,
    scheme: &'static str,
}

impl<R: AsyncRead + Unpin + Send, W: WriteSide> Conn<R, W> {
    fn new(rd: R, wr: W, ctx: ConnCtx, scheme: &'static str) -> Self {
        let timeout = ctx.cfg.client_socket_timeout;
        Conn {
            r: Reader {
                rd,
                buf: BytesMut::with_capacity(8192),
                timeout,
            },
            wr,
            ctx,
            scheme,
        }
    }

    async fn run(mut self) {
        loop {
            match self.read_head().await {
                Ok(Some(head)) => {
                    if !self.serve_one(head).await {
                        break;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = self.write_all(e.reply()).await;
                    break;
                }
            }
        }
        self.close().await;
    }

    /// Close after a final response: send FIN, then read until the client's
    /// FIN (briefly) so unread input does not make the kernel reset the
    /// connection before the client has read our response.
    async fn close(mut self) {
        let _ = tokio::time::timeout(LINGER, self.wr.shutdown()).await;
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        let mut total = 0usize;
        while total < DRAIN_LIMIT {
            match tokio::time::timeout_at(deadline.into(), self.r.rd.read(&mut scratch)).await {
                Ok(Ok(n)) if n > 0 => total += n,
                _ => break,
            }
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        timed(self.r.timeout, self.wr.write_all(data)).await
    }

    /// Wait for the next request head. `Ok(None)`: close quietly (EOF,
    /// timeout, or shutdown with no request in the grace period).
    async fn read_head(&mut self) -> Result<Option<Head>, HeadError> {
        let mut grace_deadline: Option<tokio::time::Instant> = None;
        loop {
            parse::skip_empty_lines(&mut self.r.buf);
            if !self.r.buf.is_empty()
                && let Some(end) = parse::scan_head(&self.r.buf, self.ctx.cfg.max_header_line)?
            {
                let raw = self.r.buf.split_to(end);
                return parse::parse_head(&raw).map(Some);
            }
            let idle = self.r.buf.is_empty();
            let read = if idle && self.ctx.shutdown.is_triggered() {
                let deadline = *grace_deadline.get_or_insert_with(|| {
                    tokio::time::Instant::now() + self.ctx.cfg.drain_idle_grace
                });
                match tokio::time::timeout_at(deadline, self.r.fill()).await {
                    Ok(r) => r,
                    Err(_) => return Ok(None),
                }
            } else if idle {
                tokio::select! {
                    r = self.r.fill() => r,
                    _ = self.ctx.shutdown.triggered() => continue,
                }
            } else {
                self.r.fill().await
            };
            if let Err(e) = read {
                if e.kind() != io::ErrorKind::UnexpectedEof && e.kind() != io::ErrorKind::TimedOut {
                    log::debug!("reading request from {}: {e}", self.ctx.peer);
                }
                return Ok(None);
            }
        }
    }

    /// Serve one request; true if the connection stays open.
    async fn serve_one(&mut self, head: Head) -> bool {
        let start = Instant::now();
        let kind = match parse::body_kind(&head.headers) {
            Ok(k) => k,
            Err(e) => {
                let _ = self.write_all(e.reply()).await;
                return false;
            }
        };
        let Head {
            method,
            uri,
            version,
            headers,
            request_line,
        } = head;
        let conn_close = parse::has_token(&headers, header::CONNECTION, "close");
        let conn_keep_alive = parse::has_token(&headers, header::CONNECTION, "keep-alive");
        let expects_continue = version == Version::HTTP_11
            && kind != BodyKind::Empty
            && headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));

        // The request body, fed by the pump below.
        let mut continue_rx = None;
        let (body, mut pump) = match kind {
            BodyKind::Empty => (Body::empty(), None),
            BodyKind::Length(_) | BodyKind::Chunked => {
                let len = match kind {
                    BodyKind::Length(n) => Some(n),
                    _ => None,
                };
                let dec = match kind {
                    BodyKind::Length(n) => Decoder::length(n),
                    _ => Decoder::chunked(),
                };
                let (tx, body) = if expects_continue {
                    let (tx, rx) = mpsc::channel(BODY_CHANNEL_CAP);
                    let (first_tx, first_rx) = oneshot::channel();
                    continue_rx = Some(first_rx);
                    (
                        tx,
                        Body::from_stream(
                            ContinueBody {
                                rx,
                                first_read: Some(first_tx),
                            },
                            len,
                        ),
                    )
                } else {
                    Body::channel(BODY_CHANNEL_CAP, len)
                };
                (
                    body,
                    Some(Pump {
                        dec,
                        tx: Some(tx),
                        discarded: 0,
                        failed: false,
                    }),
                )
            }
        };

        let mut req = crate::Request::new(body);
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.version_mut() = version;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(ConnInfo {
            remote_addr: self.ctx.peer,
            local_addr: self.ctx.local,
            scheme: self.scheme.to_string(),
        });

        let mut task = tokio::spawn(self.ctx.handler.call(req));
        let mut continue_sent = false;
        // With Expect: 100-continue the socket is not read for the body
        // until the client has been told to send it.
        let mut gate_open = !expects_continue;
        let mut close = false;

        // Run the handler while streaming the body to it.
        let joined = loop {
            let pumping = gate_open && pump.as_ref().is_some_and(|p| !p.done() && !p.failed);
            tokio::select! {
                biased;
                r = &mut task => break r,
                first = async { continue_rx.as_mut().expect("guarded") .await }, if continue_rx.is_some() && !continue_sent => {
                    match first {
                        Ok(()) => {
                            continue_sent = true;
                            gate_open = true;
                            if let Err(e) = self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await {
                                close = true;
                                if let Some(p) = pump.as_mut() {
                                    p.fail(e);
                                }
                            }
                        }
                        // The body was dropped unread; the client was never
                        // told to send it.
                        Err(_) => continue_rx = None,
                    }
                }
                r = async { pump.as_mut().expect("guarded").step(&mut self.r).await }, if pumping => {
                    if let Err(e) = r {
                        close = true;
                        if let Some(p) = pump.as_mut() {
                            p.fail(e);
                        }
                    }
                }
            }
        };
        let resp = match joined {
            Ok(resp) => resp,
            Err(e) => {
                log::error!("request handler failed for \"{request_line}\": {e}");
                let date = http_date(SystemTime::now());
                let bare = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-type: text/plain\r\nContent-length: 0\r\nDate: {date}\r\nConnection: close\r\n\r\n"
                );
                let written = self
                    .write_all(bare.as_bytes())
                    .await
                    .map(|_| bare.len())
                    .unwrap_or(0);
                self.access_log(&request_line, 500, written, start);
                return false;
            }
        };

        // Decide whether this connection survives the response.
        if expects_continue && !continue_sent {
            // The client may or may not send the body now; start afresh.
            close = true;
        }
        if !self.ctx.cfg.http_keepalive
            || self.ctx.shutdown.is_triggered()
            || conn_close
            || (version == Version::HTTP_10 && !conn_keep_alive)
        {
            close = true;
        }
        if let Some(p) = pump.as_mut()
            && !close
            && !p.done()
            && !p.failed
            && p.receiver_gone()
            && !p.drain(&mut self.r).await
        {
            close = true;
        }

        let (parts, mut body) = resp.into_parts();
        let status = parts.status;
        let mut headers = parts.headers;
        if parse::has_token(&headers, header::CONNECTION, "close") {
            close = true;
        }
        // Framing is ours to decide.
        headers.remove(header::CONNECTION);
        headers.remove(header::TRANSFER_ENCODING);
        headers.remove("keep-alive");
        let declared = declared_length(&headers);
        let bodyless = method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let mut add_length = None;
        let framing = if bodyless {
            if method == Method::HEAD && declared.is_none() {
                add_length = body.exact_len();
            }
            Framing::None
        } else if let Some(n) = declared {
            Framing::Length(n)
        } else if let Some(n) = body.exact_len() {
            add_length = Some(n);
            Framing::Length(n)
        } else if version == Version::HTTP_11 {
            Framing::Chunked
        } else {
            close = true;
            Framing::UntilClose
        };

        // The head.
        let reason: Cow<'static, str> = match parts.extensions.get::<ReasonPhrase>() {
            Some(r) => r.0.clone(),
            None => Cow::Borrowed(crate::fault::reason_phrase(status)),
        };
        let mut out = BytesMut::with_capacity(512);
        out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", status.as_u16(), reason).as_bytes());
        for (name, value) in &headers {
            push_header_name(&mut out, name.as_str());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !headers.contains_key(header::DATE) {
            out.extend_from_slice(format!("Date: {}\r\n", http_date(SystemTime::now())).as_bytes());
        }
        if let Some(n) = add_length {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if conn_keep_alive {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");

        let mut written = 0usize;
        let ok = self
            .write_body(&mut out, &mut body, framing, &mut pump, &mut written)
            .await;
        drop(body);
        if !ok {
            close = true;
        }
        if let Some(p) = pump.as_mut()
            && !close
            && !p.done()
            && !p.failed
            && !p.drain(&mut self.r).await
        {
            // The head already promised keep-alive; closing here is the
            // best we can do without reading an unbounded body.
            close = true;
        }
        self.access_log(&request_line, status.as_u16(), written, start);
        !close
    }

    /// Write the head (already in `out`) and the body. False if the
    /// response could not be completed as framed.
    async fn write_body(
        &mut self,
        out: &mut BytesMut,
        body: &mut Body,
        framing: Framing,
        pump: &mut Option<Pump>,
        written: &mut usize,
    ) -> bool {
        if framing == Framing::None {
            return self.flush(out, written).await;
        }
        // Zero-copy: a file body on plain TCP goes straight from the page
        // cache, unless a request body is still being fed to the handler
        // (the select loop below interleaves that).
        let timeout = self.r.timeout;
        let pump_idle = pump
            .as_ref()
            .is_none_or(|p| p.done() || p.failed || p.receiver_gone());
        if let Framing::Length(n) = framing
            && n > 0
            && pump_idle
            && let Some(tcp) = self.wr.tcp()
            && let Some(slice) = body.file_slice()
            && slice.end - slice.pos == n
        {
            let r = send_file(tcp, timeout, out, slice, written).await;
            out.clear();
            return match r {
                Ok(()) => true,
                Err(e) => {
                    // Mostly a client that went away; the connection just ends.
                    log::debug!("sending file body to {}: {e}", self.ctx.peer);
                    false
                }
            };
        }
        let mut sent: u64 = 0;
        let mut complete = true;
        // Coalesce a small, immediately available first chunk with the head.
        let mut pending = std::future::poll_fn(|cx| match body.poll_chunk(cx) {
            Poll::Ready(c) => Poll::Ready(Some(c)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        loop {
            let next = match pending.take() {
                Some(c) => c,
                None => {
                    if !out.is_empty() && !self.flush(out, written).await {
                        return false;
                    }
                    self.next_chunk(body, pump).await
                }
            };
            let chunk = match next {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    log::warn!("response body failed for {}: {e}", self.ctx.peer);
                    complete = false;
                    break;
                }
            };
            if chunk.is_empty() {
                continue;
            }
            match framing {
                Framing::Length(n) => {
                    let room = n - sent;
                    if chunk.len() as u64 > room {
                        log::warn!("response body longer than its Content-Length {n}; truncated");
                        out.extend_from_slice(&chunk[..room as usize]);
                        sent = n;
                        complete = false;
                        break;
                    }
                    sent += chunk.len() as u64;
                    out.extend_from_slice(&chunk);
                }
                Framing::Chunked => {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(&chunk);
                    out.extend_from_slice(b"\r\n");
                }
                _ => out.extend_from_slice(&chunk),
            }
            if out.len() >= COALESCE_LIMIT && !self.flush(out, written).await {
                return false;
            }
        }
        match framing {
            Framing::Length(n) if sent < n => {
                if complete {
                    log::warn!("response body shorter than its Content-Length {n}");
                }
                complete = false;
            }
            Framing::Chunked if complete => out.extend_from_slice(b"0\r\n\r\n"),
            _ => {}
        }
        self.flush(out, written).await && complete
    }

    async fn flush(&mut self, out: &mut BytesMut, written: &mut usize) -> bool {
        if out.is_empty() {
            return true;
        }
        let r = self.write_all(out).await;
        if r.is_ok() {
            *written += out.len();
        }
        out.clear();
        r.is_ok()
    }

    /// The next response chunk, while still feeding the request body to a
    /// handler whose response streams it.
    async fn next_chunk(
        &mut self,
        body: &mut Body,
        pump: &mut Option<Pump>,
    ) -> Option<io::Result<Bytes>> {
        loop {
            let pumping = pump
                .as_ref()
                .is_some_and(|p| !p.done() && !p.failed && !p.receiver_gone());
            if !pumping {
                return body.chunk().await;
            }
            tokio::select! {
                biased;
                c = body.chunk() => return c,
                r = async { pump.as_mut().expect("guarded").step(&mut self.r).await } => {
                    if let Err(e) = r
                        && let Some(p) = pump.as_mut()
                    {
                        p.fail(e);
                    }
                }
            }
        }
    }

    fn access_log(&self, request_line: &str, status: u16, written: usize, start: Instant) {
        if self.ctx.cfg.access_log {
            log::info!(
                target: "glimpse.http.access",
                "{} - - [{}] \"{}\" {} {} {:.6}",
                self.ctx.peer.ip(),
                log_date(SystemTime::now()),
                request_line,
                status,
                written,
                start.elapsed().as_secs_f64()
            );
        }
    }
}

/// Largest count passed to one sendfile call (the kernel caps it near 2 GiB).
const MAX_SENDFILE: u64 = 1 << 30;

/// Write the response head, then the file range, to a plain TCP socket.
/// Partial writes continue where they stopped; EAGAIN waits for
/// writability (each wait bounded by the socket timeout). sendfile reads
/// the file synchronously: on a page-cache miss the worker thread waits for
/// the disk, as with any buffered read.
async fn send_file(
    tcp: &TcpStream,
    timeout: Option<Duration>,
    head: &[u8],
    slice: &mut FileSlice,
    written: &mut usize,
) -> io::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    let fd = tcp.as_raw_fd();
    let mut off = 0;
    while off < head.len() {
        // MSG_MORE: let the head share a segment with the first file bytes.
        let n = write_op(tcp, timeout, || {
            send(
                fd,
                &head[off..],
                MsgFlags::from_bits_retain(nix::libc::MSG_MORE) | MsgFlags::MSG_NOSIGNAL,
            )
            .map_err(io::Error::from)
        })
        .await?;
        off += n;
        *written += n;
    }
    while slice.pos < slice.end {
        let count = (slice.end - slice.pos).min(MAX_SENDFILE) as usize;
        let mut offset = i64::try_from(slice.pos)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
        let file = &*slice.file;
        let n = write_op(tcp, timeout, || {
            nix::sys::sendfile::sendfile64(tcp, file, Some(&mut offset), count)
                .map_err(io::Error::from)
        })
        .await?;
        if n == 0 {
            // The file is shorter than the promised Content-Length.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ended before the end of the body",
            ));
        }
        slice.pos += n as u64;
        *written += n;
    }
    Ok(())
}

/// Run a non-blocking write syscall once the socket is writable, retrying
/// on EAGAIN (tokio then clears the readiness) and EINTR.
async fn write_op(
    tcp: &TcpStream,
    timeout: Option<Duration>,
    mut f: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        timed(timeout, tcp.writable()).await?;
        match tcp.try_io(Interest::WRITABLE, &mut f) {
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// The handler's own Content-Length, if it set a valid one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// Header names go out capitalised per dash-separated word, as eventlet's
/// `capitalize_response_headers` does (`X-Openstack-Request-Id`).
fn push_header_name(out: &mut BytesMut, name: &str) {
    let mut upper = true;
    for b in name.bytes() {
        out.extend_from_slice(&[if upper {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        }]);
        upper = b == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_capitalisation() {
        let mut out = BytesMut::new();
        push_header_name(&mut out, "x-openstack-request-id");
        assert_eq!(&out[..], b"X-Openstack-Request-Id");
    }
}
