//! End-to-end tests of `server::serve` over raw TCP (and TLS).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Resp, read_resp};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use glimpse_http::server::{ServerConfig, Shutdown, ShutdownTrigger, serve};
use glimpse_http::socket::{BindOptions, bind};
use glimpse_http::{Body, Request, Response, SharedHandler, handler_fn};
use http::StatusCode;
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

fn resp(status: u16, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

/// A small app: each path exercises one server feature.
fn app(tag: &'static str) -> SharedHandler {
    handler_fn(move |req: Request| async move {
        let path = req.uri().path().to_string();
        let mut r = match path.as_str() {
            "/hello" => resp(200, "hello"),
            "/echo" => {
                // Size and a checksum of the streamed body.
                let mut body = req.into_body();
                let (mut n, mut sum, mut chunks) = (0u64, 0u64, 0u32);
                while let Some(c) = body.chunk().await {
                    match c {
                        Ok(c) => {
                            // Bounded pieces (the server's BODY_CHUNK), never the whole body.
                            assert!(c.len() <= 256 * 1024);
                            chunks += 1;
                            n += c.len() as u64;
                            for b in c.iter() {
                                sum = sum.wrapping_mul(31).wrapping_add(u64::from(*b));
                            }
                        }
                        Err(e) => return resp(400, format!("body error: {e}")),
                    }
                }
                assert!(chunks as u64 <= n.max(1));
                resp(200, format!("size={n} sum={sum}"))
            }
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(600)).await;
                resp(200, "slow")
            }
            "/empty" => resp(204, Body::empty()),
            "/panic" => panic!("handler panic (expected in tests)"),
            "/stream" => {
                let parts: Vec<std::io::Result<Bytes>> = vec![
                    Ok(Bytes::from_static(b"abc")),
                    Ok(Bytes::from_static(b"defg")),
                ];
                resp(200, Body::from_stream(Iter(parts.into_iter()), None))
            }
            "/ignore" => resp(200, "ignored"),
            "/info" => {
                let ci = req
                    .extensions()
                    .get::<glimpse_http::ext::ConnInfo>()
                    .unwrap();
                resp(200, format!("{} {}", ci.scheme, ci.remote_addr.ip()))
            }
            _ => resp(404, "nope"),
        };
        r.headers_mut()
            .insert("x-server", http::HeaderValue::from_static(tag));
        r
    })
}

/// A ready-made stream from an iterator.
struct Iter<I>(I);
impl<I: Iterator<Item = std::io::Result<Bytes>> + Unpin> futures_core::Stream for Iter<I> {
    type Item = std::io::Result<Bytes>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

struct Running {
    addr: SocketAddr,
    trigger: ShutdownTrigger,
    task: JoinHandle<std::io::Result<()>>,
}

fn listener() -> std::net::TcpListener {
    bind(&BindOptions {
        host: "127.0.0.1".into(),
        port: 0,
        retry_for: Duration::ZERO,
        ..Default::default()
    })
    .unwrap()
}

fn start_on(l: std::net::TcpListener, cfg: ServerConfig, tag: &'static str) -> Running {
    let addr = l.local_addr().unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(serve(l, app(tag), cfg, shutdown));
    Running {
        addr,
        trigger,
        task,
    }
}

fn start(cfg: ServerConfig) -> Running {
    start_on(listener(), cfg, "a")
}

async fn connect(addr: SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.unwrap())
}

async fn send<S: AsyncWrite + tokio::io::AsyncRead + Unpin>(s: &mut BufReader<S>, data: &[u8]) {
    s.get_mut().write_all(data).await.unwrap();
}

/// True when the server closed the connection (EOF or reset).
async fn closed<R: AsyncBufRead + Unpin>(r: &mut R) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), r.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

fn checksum(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelining() {
    let srv = start(ServerConfig::default());
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nHEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\n\r\nGET /nothing HTTP/1.1\r\n\r\n").await;
    let r1 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r1.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r1.body, b"hello");
    assert_eq!(r1.header("Content-Length"), Some("5"));
    assert!(r1.header("Date").unwrap().ends_with(" GMT"));
    assert_eq!(r1.header("X-Server"), Some("a"));
    assert_eq!(r1.header("Connection"), None);
    let r2 = read_resp(&mut c, true).await.unwrap();
    assert_eq!(r2.header("Content-Length"), Some("5"));
    let r3 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r3.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r3.body, b"abcdefg");
    let r4 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r4.status_line, "HTTP/1.1 404 Not Found");
    // The connection is still usable afterwards.
    send(&mut c, b"GET /info HTTP/1.1\r\n\r\n").await;
    let r5 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r5.body, b"http 127.0.0.1");

    // HTTP/1.0: closes unless keep-alive is asked for.
    send(
        &mut c,
        b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .await;
    let r6 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r6.header("Connection"), Some("keep-alive"));
    send(&mut c, b"GET /stream HTTP/1.0\r\n\r\n").await;
    let r7 = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r7.header("Connection"), Some("close"));
    assert_eq!(r7.body, b"abcdefg");
    srv.trigger.trigger();
    srv.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_streamed() {
    let srv = start(ServerConfig::default());
    let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
    let want = format!("size={} sum={}", data.len(), checksum(&data));

    // Content-Length.
    let mut c = connect(srv.addr).await;
    send(
        &mut c,
        format!(
            "PUT /echo HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .as_bytes(),
    )
    .await;
    send(&mut c, &data).await;
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(String::from_utf8(r.body).unwrap(), want);

    // Chunked, odd chunk sizes, an extension and a trailer, same connection.
    send(
        &mut c,
        b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    let mut pos = 0;
    let mut size = 1;
    while pos < data.len() {
        let n = size.min(data.len() - pos);
        send(&mut c, format!("{n:x};ext=1\r\n").as_bytes()).await;
        send(&mut c, &data[pos..pos + n]).await;
        send(&mut c, b"\r\n").await;
        pos += n;
        size = size * 3 + 1;
    }
    send(&mut c, b"0\r\nX-Trailer: t\r\n\r\n").await;
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(String::from_utf8(r.body).unwrap(), want);

    // Expect: 100-continue is answered when the handler reads.
    send(
        &mut c,
        b"PUT /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let interim = read_resp(&mut c, false).await.unwrap();
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    send(&mut c, b"xyz").await;
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!("size=3 sum={}", checksum(b"xyz"))
    );

    // An unread small body is drained and the connection kept.
    send(
        &mut c,
        b"POST /ignore HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /hello HTTP/1.1\r\n\r\n",
    )
    .await;
    assert_eq!(read_resp(&mut c, false).await.unwrap().body, b"ignored");
    assert_eq!(read_resp(&mut c, false).await.unwrap().body, b"hello");

    // An unread large body closes the connection instead.
    let mut c2 = connect(srv.addr).await;
    send(
        &mut c2,
        b"POST /ignore HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    let _ = c2.get_mut().write_all(&data).await;
    let r = read_resp(&mut c2, false).await.unwrap();
    assert_eq!(r.header("Connection"), Some("close"));

    // Malformed chunked body: the handler sees an error.
    let mut c3 = connect(srv.addr).await;
    send(
        &mut c3,
        b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
    )
    .await;
    let r = read_resp(&mut c3, false).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.header("Connection"), Some("close"));
    srv.trigger.trigger();
    srv.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_no_content() {
    let srv = start(ServerConfig::default());
    let mut c = connect(srv.addr).await;
    send(
        &mut c,
        b"HEAD /hello HTTP/1.1\r\n\r\nGET /empty HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
    )
    .await;
    let r = read_resp(&mut c, true).await.unwrap();
    assert_eq!(r.header("Content-Length"), Some("5"));
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r.status_line, "HTTP/1.1 204 No Content");
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Transfer-Encoding"), None);
    // Had a body been sent after either, this would not parse.
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r.body, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventlet_error_replies() {
    let cfg = ServerConfig {
        max_header_line: 100,
        ..Default::default()
    };
    let srv = start(cfg);
    let mut c = connect(srv.addr).await;
    let req = format!("GET /hello HTTP/1.1\r\nX-Long: {}\r\n\r\n", "a".repeat(150));
    send(&mut c, req.as_bytes()).await;
    let mut all = Vec::new();
    c.read_to_end(&mut all).await.unwrap();
    assert_eq!(
        all,
        b"HTTP/1.0 400 Header Line Too Long\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
    );

    let mut c = connect(srv.addr).await;
    send(
        &mut c,
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000)).as_bytes(),
    )
    .await;
    let mut all = Vec::new();
    c.read_to_end(&mut all).await.unwrap();
    assert_eq!(
        all,
        b"HTTP/1.0 414 Request URI Too Long\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );

    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
    ] {
        let mut c = connect(srv.addr).await;
        send(&mut c, bad).await;
        let mut all = Vec::new();
        c.read_to_end(&mut all).await.unwrap();
        assert!(
            all.starts_with(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n"),
            "{all:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_disabled() {
    let srv = start(ServerConfig {
        http_keepalive: false,
        ..Default::default()
    });
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /hello HTTP/1.1\r\n\r\n").await;
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.body, b"hello");
    assert!(closed(&mut c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout() {
    let srv = start(ServerConfig {
        client_socket_timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    });
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /hello HTTP/1.1\r\n\r\n").await;
    read_resp(&mut c, false).await.unwrap();
    let t = Instant::now();
    assert!(closed(&mut c).await);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // Mid-head too.
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /hello HTTP/1.1\r\n").await;
    let t = Instant::now();
    assert!(closed(&mut c).await);
    assert!(t.elapsed() < Duration::from_millis(1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_gives_bare_500() {
    let srv = start(ServerConfig::default());
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /panic HTTP/1.1\r\n\r\n").await;
    let r = read_resp(&mut c, false).await.unwrap();
    assert_eq!(r.status_line, "HTTP/1.1 500 Internal Server Error");
    assert_eq!(r.header("Content-type"), Some("text/plain"));
    assert_eq!(r.header("Content-length"), Some("0"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c).await);
    let mut c = connect(srv.addr).await;
    send(&mut c, b"GET /hello HTTP/1.1\r\n\r\n").await;
    assert_eq!(read_resp(&mut c, false).await.unwrap().body, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown() {
    let cfg = ServerConfig {
        drain_idle_grace: Duration::from_millis(400),
        ..Default::default()
    };
    let srv = start(cfg);
    // In flight when shutdown starts.
    let mut slow = connect(srv.addr).await;
    send(&mut slow, b"GET /slow HTTP/1.1\r\n\r\n").await;
    // Idle keep-alive connections: one sends a last request, one does not.
    let mut idle1 = connect(srv.addr).await;
    send(&mut idle1, b"GET /hello HTTP/1.1\r\n\r\n").await;
    read_resp(&mut idle1, false).await.unwrap();
    let mut idle2 = connect(srv.addr).await;
    send(&mut idle2, b"GET /hello HTTP/1.1\r\n\r\n").await;
    read_resp(&mut idle2, false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let t = Instant::now();
    srv.trigger.trigger();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // No longer accepting.
    assert!(TcpStream::connect(srv.addr).await.is_err());

    send(&mut idle1, b"GET /hello HTTP/1.1\r\n\r\n").await;
    let r = read_resp(&mut idle1, false).await.unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut idle1).await);

    let r = read_resp(&mut slow, false).await.unwrap();
    assert_eq!(r.body, b"slow");
    assert_eq!(r.header("Connection"), Some("close"));

    assert!(closed(&mut idle2).await);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
    tokio::time::timeout(Duration::from_secs(5), srv.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Keep-alive clients hammering while the serving process is replaced:
/// not one request may fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_replacement_loses_no_requests() {
    let l = listener();
    let addr = l.local_addr().unwrap();
    // Workers share the master's socket, as forked children do.
    let old = start_on(l.try_clone().unwrap(), ServerConfig::default(), "old");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let from_new = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, from_new) = (stop.clone(), ok.clone(), from_new.clone());
        clients.push(tokio::spawn(async move {
            let mut conn: Option<BufReader<TcpStream>> = None;
            while !stop.load(Ordering::Relaxed) {
                let c = match conn.as_mut() {
                    Some(c) => c,
                    None => conn.insert(connect(addr).await),
                };
                c.get_mut()
                    .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                let r = read_resp(c, false)
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                if r.body != b"hello" {
                    return Err(format!("bad response {r:?}"));
                }
                ok.fetch_add(1, Ordering::Relaxed);
                if r.header("X-Server") == Some("new") {
                    from_new.fetch_add(1, Ordering::Relaxed);
                }
                if r.header("Connection") == Some("close") {
                    conn = None;
                }
            }
            Ok::<(), String>(())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new = start_on(l.try_clone().unwrap(), ServerConfig::default(), "new");
    drop(l);
    old.trigger.trigger();
    tokio::time::timeout(Duration::from_secs(5), old.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap().unwrap();
    }
    assert!(ok.load(Ordering::Relaxed) > 100);
    assert!(from_new.load(Ordering::Relaxed) > 0);
    new.trigger.trigger();
    new.task.await.unwrap().unwrap();
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn client_config(with_cert: bool) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(data("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = if with_cert {
        let certs = CertificateDer::pem_file_iter(data("client.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let key = PrivateKeyDer::from_pem_file(data("client.key")).unwrap();
        b.with_client_auth_cert(certs, key).unwrap()
    } else {
        b.with_no_client_auth()
    };
    Arc::new(cfg)
}

async fn tls_get(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Resp> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await?;
    let mut c = BufReader::new(tls);
    c.get_mut()
        .write_all(b"GET /info HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let r = read_resp(&mut c, false).await?;
    c.get_mut()
        .write_all(b"GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await?;
    let r2 = read_resp(&mut c, false).await?;
    assert_eq!(r2.body, b"hello");
    Ok(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip() {
    let tls = glimpse_http::tls::load_server_config(&data("server.pem"), &data("server.key"), None)
        .unwrap();
    let srv = start(ServerConfig {
        tls: Some(tls),
        ..Default::default()
    });
    let r = tls_get(srv.addr, client_config(false)).await.unwrap();
    assert_eq!(r.body, b"https 127.0.0.1");

    // Client certificates required when a CA is configured.
    let tls = glimpse_http::tls::load_server_config(
        &data("server.pem"),
        &data("server.key"),
        Some(&data("ca.pem")),
    )
    .unwrap();
    let srv2 = start(ServerConfig {
        tls: Some(tls),
        ..Default::default()
    });
    assert!(tls_get(srv2.addr, client_config(false)).await.is_err());
    assert_eq!(
        tls_get(srv2.addr, client_config(true)).await.unwrap().body,
        b"https 127.0.0.1"
    );
    srv.trigger.trigger();
    srv2.trigger.trigger();
    srv.task.await.unwrap().unwrap();
    srv2.task.await.unwrap().unwrap();
}
