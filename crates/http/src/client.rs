//! A small HTTP/1.1 client for calling other services (Keystone's token
//! API now; remote image stores later).
//!
//! Why not a client crate: the server already owns an HTTP/1.1 parser and
//! body decoders, and the calls Glimpse makes are simple request/response
//! exchanges with small bodies; a few hundred lines here avoid a second
//! HTTP stack in the dependency tree.
//!
//! What it does: keep-alive connections pooled per origin (a request on a
//! pooled connection that the peer had closed is retried once on a fresh
//! one), TLS through rustls (a CA file, or the system bundle, or no
//! verification when asked; client certificates), a connect timeout and an
//! overall timeout per request, Content-Length, chunked and
//! close-delimited answers, and a cap on the answer size.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::server::chunked::{Decoder, Step};

/// Longest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Idle connections kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 8;
/// Idle connections older than this are not reused (servers close theirs).
const IDLE_FOR: Duration = Duration::from_secs(30);

/// TLS settings for `https` URLs (keystoneauth's `cafile`, `certfile`,
/// `keyfile`, `insecure`).
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// CA bundle; without it the system's bundle (`SSL_CERT_FILE` or the
    /// usual distribution paths).
    pub cafile: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
    /// Skip server certificate verification.
    pub insecure: bool,
}

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// The whole exchange, connect included.
    pub timeout: Duration,
    /// Largest answer body accepted.
    pub max_body: usize,
    pub user_agent: String,
    pub tls: ClientTls,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body: 16 * 1024 * 1024,
            user_agent: "glimpse".into(),
            tls: ClientTls::default(),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The URL is not an absolute http(s) URL.
    Url(String),
    /// The TLS settings are unusable (bad files).
    Config(String),
    /// No connection: refused, unreachable, name not resolved, TLS
    /// handshake failed.
    Connect(String),
    /// No complete answer within the timeout.
    Timeout(Duration),
    /// The connection broke or the answer was malformed or too large.
    Protocol(String),
}

impl ClientError {
    /// The peer could not be reached or did not answer (retry later),
    /// as opposed to a configuration or protocol problem.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ClientError::Connect(_) | ClientError::Timeout(_))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(m) => write!(f, "invalid URL: {m}"),
            ClientError::Config(m) => write!(f, "invalid client TLS configuration: {m}"),
            ClientError::Connect(m) => write!(f, "unable to connect: {m}"),
            ClientError::Timeout(d) => write!(f, "no answer within {d:?}"),
            ClientError::Protocol(m) => write!(f, "bad answer: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The client; cheap to clone (shares its pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    opts: ClientOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<HashMap<Origin, Vec<(Stream, Instant)>>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Client {
    /// Builds the client; TLS files are read now, so a bad `cafile` fails
    /// at start-up rather than on the first request. Without a CA file the
    /// system bundle is read the first time an `https` URL is used.
    pub fn new(opts: ClientOptions) -> Result<Client, ClientError> {
        let tls = if opts.tls.cafile.is_some() || opts.tls.insecure || opts.tls.certfile.is_some() {
            Some(tls_connector(&opts.tls)?)
        } else {
            None
        };
        Ok(Client {
            inner: Arc::new(Inner {
                opts,
                tls,
                idle: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// `GET url` on a connection of its own (to `pinned` when given; see
    /// [`Client::connect`]), the answer's body handed out as it arrives,
    /// with no size cap. The head must come within the client's timeout,
    /// and so must each piece of the body.
    pub async fn get_streaming(
        &self,
        url: &str,
        headers: &HeaderMap,
        pinned: Option<IpAddr>,
    ) -> Result<StreamedResponse, ClientError> {
        let timeout = self.inner.opts.timeout;
        let (origin, authority, target) = parse_url(url)?;
        let head = self.request_head(&Method::GET, &authority, &target, headers, 0);
        let started = async {
            let mut stream = self.connect(&origin, pinned).await?;
            let io = |e: std::io::Error| ClientError::Protocol(e.to_string());
            stream.write_all(&head).await.map_err(io)?;
            stream.flush().await.map_err(io)?;
            let mut buf = BytesMut::with_capacity(64 * 1024);
            loop {
                let (status, headers, used) =
                    read_head(&mut stream, &mut buf)
                        .await
                        .map_err(|a| match a {
                            Attempt::Stale => {
                                ClientError::Protocol("connection closed before any answer".into())
                            }
                            Attempt::Failed(e) => e,
                        })?;
                let _ = buf.split_to(used);
                if !status.is_informational() {
                    return Ok((stream, buf, status, headers));
                }
            }
        };
        let (stream, buf, status, headers) = tokio::time::timeout(timeout, started)
            .await
            .unwrap_or(Err(ClientError::Timeout(timeout)))?;
        let framing = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            None
        } else if headers
            .get(TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            Some(Some(Decoder::chunked()))
        } else if let Some(len) = headers.get(CONTENT_LENGTH) {
            let len = len
                .to_str()
                .ok()
                .and_then(|l| l.trim().parse::<u64>().ok())
                .ok_or_else(|| ClientError::Protocol("invalid Content-Length".into()))?;
            Some(Some(Decoder::length(len)))
        } else {
            Some(None)
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        if let Some(decoder) = framing {
            tokio::spawn(pump_body(stream, buf, decoder, timeout, tx));
        }
        Ok(StreamedResponse {
            status,
            headers,
            body: Box::pin(ChannelStream(rx)),
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<ClientResponse, ClientError> {
        let timeout = self.inner.opts.timeout;
        tokio::time::timeout(timeout, self.exchange(method, url, headers, body))
            .await
            .unwrap_or(Err(ClientError::Timeout(timeout)))
    }

    async fn exchange(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<ClientResponse, ClientError> {
        let (origin, authority, target) = parse_url(url)?;
        let head = self.request_head(&method, &authority, &target, headers, body.len());

        // A pooled connection may have been closed by the server while
        // idle: when it fails before any answer byte, retry once anew.
        if let Some(stream) = self.take_idle(&origin) {
            match self.send_on(stream, &method, &head, &body).await {
                Ok((resp, reusable)) => return Ok(self.finish(&origin, resp, reusable)),
                Err(Attempt::Stale) => {}
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        let stream = self.connect(&origin, None).await?;
        match self.send_on(stream, &method, &head, &body).await {
            Ok((resp, reusable)) => Ok(self.finish(&origin, resp, reusable)),
            Err(Attempt::Stale) => Err(ClientError::Protocol(
                "connection closed before any answer".into(),
            )),
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    fn request_head(
        &self,
        method: &Method,
        authority: &str,
        target: &str,
        headers: &HeaderMap,
        body_len: usize,
    ) -> Vec<u8> {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(format!("{method} {target} HTTP/1.1\r\n").as_bytes());
        let mut put = |name: &HeaderName, value: &[u8]| {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        };
        if !headers.contains_key(HOST) {
            put(&HOST, authority.as_bytes());
        }
        if !headers.contains_key(USER_AGENT) {
            put(&USER_AGENT, self.inner.opts.user_agent.as_bytes());
        }
        for (name, value) in headers {
            if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
                put(name, value.as_bytes());
            }
        }
        if body_len > 0 || !matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
            put(&CONTENT_LENGTH, body_len.to_string().as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    fn take_idle(&self, origin: &Origin) -> Option<Stream> {
        let mut idle = self.inner.idle.lock().ok()?;
        let list = idle.get_mut(origin)?;
        while let Some((stream, since)) = list.pop() {
            if since.elapsed() < IDLE_FOR {
                return Some(stream);
            }
        }
        None
    }

    fn finish(
        &self,
        origin: &Origin,
        resp: (ClientResponse, Stream),
        reusable: bool,
    ) -> ClientResponse {
        let (resp, stream) = resp;
        if reusable && let Ok(mut idle) = self.inner.idle.lock() {
            let list = idle.entry(origin.clone()).or_default();
            if list.len() < MAX_IDLE_PER_ORIGIN {
                list.push((stream, Instant::now()));
            }
        }
        resp
    }

    /// Connects to `origin`, or to `pinned` (an address already resolved
    /// and vetted for the origin's host) without another DNS lookup; TLS
    /// still verifies the host name.
    async fn connect(
        &self,
        origin: &Origin,
        pinned: Option<IpAddr>,
    ) -> Result<Stream, ClientError> {
        let wait = self.inner.opts.connect_timeout;
        let connecting = async {
            match pinned {
                Some(ip) => TcpStream::connect(SocketAddr::new(ip, origin.port)).await,
                None => TcpStream::connect((origin.host.as_str(), origin.port)).await,
            }
        };
        let tcp = tokio::time::timeout(wait, connecting)
            .await
            .map_err(|_| {
                ClientError::Connect(format!(
                    "{}:{}: no connection within {wait:?}",
                    origin.host, origin.port
                ))
            })?
            .map_err(|e| ClientError::Connect(format!("{}:{}: {e}", origin.host, origin.port)))?;
        let _ = tcp.set_nodelay(true);
        if !origin.tls {
            return Ok(Stream::Plain(tcp));
        }
        let connector = match &self.inner.tls {
            Some(c) => c.clone(),
            None => tls_connector(&self.inner.opts.tls)?,
        };
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|e| ClientError::Url(format!("{}: {e}", origin.host)))?;
        let tls = tokio::time::timeout(wait, connector.connect(name, tcp))
            .await
            .map_err(|_| ClientError::Connect(format!("{}: TLS handshake timed out", origin.host)))?
            .map_err(|e| ClientError::Connect(format!("{}: TLS: {e}", origin.host)))?;
        Ok(Stream::Tls(Box::new(tls)))
    }

    async fn send_on(
        &self,
        mut stream: Stream,
        method: &Method,
        head: &[u8],
        body: &[u8],
    ) -> Result<((ClientResponse, Stream), bool), Attempt> {
        let sent = async {
            stream.write_all(head).await?;
            if !body.is_empty() {
                stream.write_all(body).await?;
            }
            stream.flush().await
        };
        if sent.await.is_err() {
            return Err(Attempt::Stale);
        }
        let mut buf = BytesMut::with_capacity(8192);
        let (status, headers) = loop {
            let (status, headers, used) = read_head(&mut stream, &mut buf).await?;
            let _ = buf.split_to(used);
            // Interim answers (100 Continue…) precede the real one.
            if !status.is_informational() || status == StatusCode::SWITCHING_PROTOCOLS {
                break (status, headers);
            }
        };
        let mut reusable = !headers.get_all(CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("close"))
        });
        let no_body = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let max = self.inner.opts.max_body;
        let body = if no_body {
            Bytes::new()
        } else if headers
            .get(TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            read_framed(&mut stream, &mut buf, Decoder::chunked(), max).await?
        } else if let Some(len) = headers.get(CONTENT_LENGTH) {
            let len = len
                .to_str()
                .ok()
                .and_then(|l| l.trim().parse::<u64>().ok())
                .ok_or_else(|| fail("invalid Content-Length"))?;
            if len > max as u64 {
                return Err(fail(format!("answer of {len} bytes exceeds {max}")));
            }
            read_framed(&mut stream, &mut buf, Decoder::length(len), max).await?
        } else {
            reusable = false;
            read_to_close(&mut stream, &mut buf, max).await?
        };
        Ok((
            (
                ClientResponse {
                    status,
                    headers,
                    body,
                },
                stream,
            ),
            reusable,
        ))
    }
}

/// The origin, authority and request target of an absolute http(s) URL.
fn parse_url(url: &str) -> Result<(Origin, String, String), ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| ClientError::Url(format!("{url}: {e}")))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(ClientError::Url(format!("{url}: not an http(s) URL"))),
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Url(format!("{url}: no host")))?;
    let origin = Origin {
        tls,
        host: host.trim_start_matches('[').trim_end_matches(']').into(),
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
    };
    let authority = uri.authority().map_or(host, |a| a.as_str()).to_string();
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    Ok((origin, authority, target))
}

/// A body read as it is consumed.
pub type BodyStream = Pin<Box<dyn futures_core::Stream<Item = std::io::Result<Bytes>> + Send>>;

/// An answer whose body arrives as it is read ([`Client::get_streaming`]).
pub struct StreamedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

impl fmt::Debug for StreamedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamedResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

struct ChannelStream(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for ChannelStream {
    type Item = std::io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// Reads a body (framed by `decoder`, or up to the close when `None`) into
/// `tx`; stops when the reader goes away. A read that takes longer than
/// `idle` fails the body.
async fn pump_body(
    mut stream: Stream,
    mut buf: BytesMut,
    mut decoder: Option<Decoder>,
    idle: Duration,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    let err = |m: String| std::io::Error::other(m);
    loop {
        let step = match decoder.as_mut() {
            Some(d) => match d.decode(&mut buf, 256 * 1024) {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx
                        .send(Err(err(format!("malformed answer body: {e}"))))
                        .await;
                    return;
                }
            },
            None if buf.is_empty() => Step::NeedMore,
            None => Step::Data(buf.split().freeze()),
        };
        match step {
            Step::Data(d) => {
                if tx.send(Ok(d)).await.is_err() {
                    return;
                }
            }
            Step::Done => return,
            Step::NeedMore => match tokio::time::timeout(idle, fill(&mut stream, &mut buf)).await {
                Ok(Ok(0)) if decoder.is_none() => return,
                Ok(Ok(0)) => {
                    let _ = tx
                        .send(Err(err("connection closed in the answer body".into())))
                        .await;
                    return;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Err(_) => {
                    let _ = tx.send(Err(err(format!("no data for {idle:?}")))).await;
                    return;
                }
            },
        }
    }
}

/// How one attempt on a connection failed.
enum Attempt {
    /// Nothing came back at all: the connection was dead before we used it.
    Stale,
    Failed(ClientError),
}

fn fail(m: impl Into<String>) -> Attempt {
    Attempt::Failed(ClientError::Protocol(m.into()))
}

async fn fill(stream: &mut Stream, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    stream.read_buf(buf).await
}

async fn read_head(
    stream: &mut Stream,
    buf: &mut BytesMut,
) -> Result<(StatusCode, HeaderMap, usize), Attempt> {
    let mut first = true;
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 100];
        let mut resp = httparse::Response::new(&mut slots);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(used)) => {
                let status = resp
                    .code
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .ok_or_else(|| fail("invalid status code"))?;
                let mut headers = HeaderMap::with_capacity(resp.headers.len());
                for h in resp.headers.iter() {
                    let name = HeaderName::from_bytes(h.name.as_bytes())
                        .map_err(|_| fail("invalid header name"))?;
                    let value = HeaderValue::from_bytes(h.value)
                        .map_err(|_| fail("invalid header value"))?;
                    headers.append(name, value);
                }
                return Ok((status, headers, used));
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(fail(format!("malformed answer head: {e}"))),
        }
        if buf.len() > MAX_HEAD {
            return Err(fail("answer head too long"));
        }
        match fill(stream, buf).await {
            Ok(0) | Err(_) if first && buf.is_empty() => return Err(Attempt::Stale),
            Ok(0) => return Err(fail("connection closed in the answer head")),
            Err(e) => return Err(fail(e.to_string())),
            Ok(_) => {}
        }
        first = false;
    }
}

async fn read_framed(
    stream: &mut Stream,
    buf: &mut BytesMut,
    mut decoder: Decoder,
    max: usize,
) -> Result<Bytes, Attempt> {
    let mut body = BytesMut::new();
    loop {
        match decoder
            .decode(buf, usize::MAX)
            .map_err(|e| fail(format!("malformed answer body: {e}")))?
        {
            Step::Data(d) => {
                if body.len() + d.len() > max {
                    return Err(fail(format!("answer body exceeds {max} bytes")));
                }
                body.extend_from_slice(&d);
            }
            Step::Done => return Ok(body.freeze()),
            Step::NeedMore => match fill(stream, buf).await {
                Ok(0) => return Err(fail("connection closed in the answer body")),
                Ok(_) => {}
                Err(e) => return Err(fail(e.to_string())),
            },
        }
    }
}

async fn read_to_close(
    stream: &mut Stream,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Bytes, Attempt> {
    loop {
        if buf.len() > max {
            return Err(fail(format!("answer body exceeds {max} bytes")));
        }
        match fill(stream, buf).await {
            Ok(0) => return Ok(buf.split().freeze()),
            Ok(_) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
    }
}

/// A plain or TLS connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

// --- TLS -----------------------------------------------------------------

/// Where distributions keep the system CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn config_err(what: &str, path: &Path, e: impl fmt::Display) -> ClientError {
    ClientError::Config(format!("{what} {}: {e}", path.display()))
}

fn tls_connector(tls: &ClientTls) -> Result<tokio_rustls::TlsConnector, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(e.to_string()))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let bundle = match &tls.cafile {
            Some(p) => p.clone(),
            None => std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .or_else(|| {
                    SYSTEM_BUNDLES
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_file())
                })
                .ok_or_else(|| {
                    ClientError::Config("no CA bundle: set cafile (or SSL_CERT_FILE)".into())
                })?,
        };
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(&bundle)
            .map_err(|e| config_err("CA file", &bundle, e))?;
        for cert in certs {
            let cert = cert.map_err(|e| config_err("CA file", &bundle, e))?;
            // A bundle may hold certificates rustls cannot use; skip them
            // as OpenSSL does rather than refuse the whole file.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(config_err("CA file", &bundle, "no usable certificates"));
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.certfile, &tls.keyfile) {
        (Some(cert), key) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| config_err("certificate file", cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| config_err("certificate file", cert, e))?;
            let key_path = key.as_ref().unwrap_or(cert);
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| config_err("key file", key_path, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ClientError::Config(e.to_string()))?
        }
        (None, _) => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `insecure = true`: any server certificate is accepted (signatures are
/// still checked, so the handshake itself is sound).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    /// A loopback server answering each request on a connection with the
    /// next canned answer; `close_after` closes the connection after that
    /// many answers. Returns its URL and the number of accepted connections.
    async fn canned(answers: Vec<&'static [u8]>, close_after: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut next = 0;
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let mut served = 0;
                let mut buf = Vec::new();
                while served < close_after && next < answers.len() {
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        continue;
                    }
                    buf.clear();
                    s.write_all(answers[next]).await.unwrap();
                    next += 1;
                    served += 1;
                }
                if close_after == 0 {
                    // Hold the connection open without answering.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
        });
        (url, accepted)
    }

    fn client() -> Client {
        Client::new(ClientOptions {
            timeout: Duration::from_millis(500),
            max_body: 1000,
            ..Default::default()
        })
        .unwrap()
    }

    async fn get(c: &Client, url: &str) -> Result<ClientResponse, ClientError> {
        c.request(Method::GET, url, &HeaderMap::new(), Bytes::new())
            .await
    }

    #[tokio::test]
    async fn keeps_connections_alive_and_decodes_every_framing() {
        let (url, accepted) = canned(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                b"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nto the end",
            ],
            usize::MAX,
        )
        .await;
        let c = client();
        let r = get(&c, &format!("{url}/v3")).await.unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"hello"[..]));
        let r = c
            .request(
                Method::POST,
                &format!("{url}/x?y=1"),
                &HeaderMap::new(),
                Bytes::from_static(b"{}"),
            )
            .await
            .unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..]), (201, &b"abcde"[..]));
        assert_eq!(r.headers["x-a"], "b");
        let r = get(&c, &url).await.unwrap();
        assert_eq!((r.status.as_u16(), r.body.len()), (204, 0));
        // No length: the body runs to the close.
        let r = get(&c, &url).await.unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..]), (404, &b"to the end"[..]));
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_pooled_connection_closed_by_the_server_is_retried_once() {
        let (url, accepted) = canned(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
            ],
            1,
        )
        .await;
        let c = client();
        assert_eq!(&get(&c, &url).await.unwrap().body[..], b"a");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(&get(&c, &url).await.unwrap().body[..], b"b");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_are_classified() {
        let c = client();
        // Nothing listens on a port we just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = get(&c, &format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ClientError::Connect(_)) && e.is_unavailable(),
            "{e:?}"
        );
        // Accepts, never answers.
        let (url, _) = canned(vec![], 0).await;
        let e = get(&c, &url).await.unwrap_err();
        assert_eq!(e, ClientError::Timeout(Duration::from_millis(500)));
        assert!(e.is_unavailable());
        let (url, _) = canned(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"], 1).await;
        assert!(matches!(get(&c, &url).await, Err(ClientError::Protocol(_))));
        let (url, _) = canned(vec![b"SMTP ready\r\n\r\n"], 1).await;
        assert!(matches!(get(&c, &url).await, Err(ClientError::Protocol(_))));
        for bad in ["ftp://x/", "/relative", "http://"] {
            assert!(
                matches!(get(&c, bad).await, Err(ClientError::Url(_))),
                "{bad}"
            );
        }
    }

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    #[tokio::test]
    async fn tls_with_a_ca_file_or_insecure() {
        let server =
            crate::tls::load_server_config(&data("server.pem"), &data("server.key"), None).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(s).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                    let _ = s.shutdown().await;
                });
            }
        });
        let url = format!("https://localhost:{port}/");
        let with = |tls: ClientTls| {
            Client::new(ClientOptions {
                tls,
                ..Default::default()
            })
            .unwrap()
        };
        let trusted = with(ClientTls {
            cafile: Some(data("ca.pem")),
            ..Default::default()
        });
        assert_eq!(&get(&trusted, &url).await.unwrap().body[..], b"ok");
        let insecure = with(ClientTls {
            insecure: true,
            ..Default::default()
        });
        assert_eq!(&get(&insecure, &url).await.unwrap().body[..], b"ok");
        // The system bundle does not know the test CA.
        if let Ok(system) = Client::new(ClientOptions::default()) {
            assert!(matches!(
                get(&system, &url).await,
                Err(ClientError::Connect(_)) | Err(ClientError::Config(_))
            ));
        }
        let missing = Client::new(ClientOptions {
            tls: ClientTls {
                cafile: Some(data("nope.pem")),
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(matches!(missing, Err(ClientError::Config(_))));
    }
}
