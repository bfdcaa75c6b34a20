//! File bodies (`Body::from_file`): sendfile(2) on plain TCP, chunked
//! positioned reads on TLS and when wrapped as a stream; byte-exact slices,
//! HEAD, keep-alive after a file body, truncated files and clients that go
//! away mid-transfer.
#![allow(clippy::unwrap_used)]

mod common;

use common::read_resp;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glimpse_http::server::{ServerConfig, Shutdown, ShutdownTrigger, serve};
use glimpse_http::socket::{BindOptions, bind};
use glimpse_http::{Body, Request, Response, SharedHandler, handler_fn};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// `/sf?off=O&len=N`: the file slice as a file body (sendfile on TCP);
/// `/stream?...`: the same slice forced through the streaming path;
/// `/short?...`: a slice claiming 100 bytes more than the file holds.
fn app(path: Arc<PathBuf>) -> SharedHandler {
    handler_fn(move |req: Request| {
        let path = path.clone();
        async move {
            let q = req.uri().query().unwrap_or("");
            let arg = |k: &str| -> u64 {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .map_or(0, |v| v.parse().unwrap())
            };
            let file = std::fs::File::open(&*path).unwrap();
            let (off, len) = (arg("off"), arg("len"));
            let body = match req.uri().path() {
                "/sf" => Body::from_file(file, off, len),
                "/stream" => Body::from_stream(Body::from_file(file, off, len), Some(len)),
                "/short" => Body::from_file(file, off, len + 100),
                _ => Body::from("nope"),
            };
            Response::new(body)
        }
    })
}

struct Running {
    addr: SocketAddr,
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn start(path: &Path, tls: bool) -> Running {
    let l = bind(&BindOptions {
        host: "127.0.0.1".into(),
        port: 0,
        retry_for: Duration::ZERO,
        ..Default::default()
    })
    .unwrap();
    let addr = l.local_addr().unwrap();
    let cfg = ServerConfig {
        tls: tls.then(|| {
            glimpse_http::tls::load_server_config(&data("server.pem"), &data("server.key"), None)
                .unwrap()
        }),
        access_log: false,
        ..Default::default()
    };
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(serve(l, app(Arc::new(path.to_path_buf())), cfg, shutdown));
    Running {
        addr,
        trigger,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A temp file of `len` pseudo-random bytes, removed on drop.
struct TempFile(PathBuf, Vec<u8>);

impl TempFile {
    fn new(tag: &str, len: usize) -> TempFile {
        let p = std::env::temp_dir().join(format!("glimpse-{tag}-{}", std::process::id()));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&p, &bytes).unwrap();
        TempFile(p, bytes)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Requests on one keep-alive connection: full file, slices, an empty
/// slice and HEAD, each byte-exact and each leaving the connection usable.
async fn exercise<S>(c: &mut BufReader<S>, f: &TempFile, route: &str)
where
    S: AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let size = f.1.len();
    let cases = [
        (0, size),
        (0, 1),
        (1000, 2 * 1024 * 1024),
        (size - 1, 1),
        (12345, size - 12345),
        (77, 0),
    ];
    for (off, len) in cases {
        let req = format!("GET /{route}?off={off}&len={len} HTTP/1.1\r\nHost: x\r\n\r\n");
        c.get_mut().write_all(req.as_bytes()).await.unwrap();
        let r = read_resp(c, false).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));
        assert!(r.body == f.1[off..off + len], "{route} {off}+{len} differs");
    }
    let req = format!("HEAD /{route}?off=0&len={size} HTTP/1.1\r\nHost: x\r\n\r\n");
    c.get_mut().write_all(req.as_bytes()).await.unwrap();
    let r = read_resp(c, true).await.unwrap();
    assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
    // No body followed the HEAD response: the next response parses.
    c.get_mut()
        .write_all(format!("GET /{route}?off=5&len=10 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let r = read_resp(c, false).await.unwrap();
    assert_eq!(r.body, &f.1[5..15]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bodies_over_plain_tcp() {
    let f = TempFile::new("tcp", 3 * 1024 * 1024 + 4321);
    let srv = start(&f.0, false);
    for route in ["sf", "stream"] {
        let mut c = BufReader::new(TcpStream::connect(srv.addr).await.unwrap());
        exercise(&mut c, &f, route).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bodies_over_tls() {
    let f = TempFile::new("tls", 3 * 1024 * 1024 + 4321);
    let srv = start(&f.0, true);
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_config())
        .connect(name, tcp)
        .await
        .unwrap();
    let mut c = BufReader::new(tls);
    exercise(&mut c, &f, "sf").await;
    srv.stop().await;
}

/// A file shorter than the promised length: the client gets what there is,
/// then the connection closes (no hang, no bogus keep-alive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_file_closes_the_connection() {
    let f = TempFile::new("short", 100_000);
    let srv = start(&f.0, false);
    for route in ["short"] {
        let mut c = BufReader::new(TcpStream::connect(srv.addr).await.unwrap());
        let req = format!("GET /{route}?off=0&len=100000 HTTP/1.1\r\nHost: x\r\n\r\n");
        c.get_mut().write_all(req.as_bytes()).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), read_resp(&mut c, false))
            .await
            .unwrap();
        assert!(r.is_err(), "a short body must not complete");
    }
    srv.stop().await;
}

/// A client that disconnects mid-transfer ends its connection only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_transfer() {
    let f = TempFile::new("gone", 16 * 1024 * 1024);
    let srv = start(&f.0, false);
    for route in ["sf", "stream"] {
        let mut c = BufReader::new(TcpStream::connect(srv.addr).await.unwrap());
        let req = format!(
            "GET /{route}?off=0&len={} HTTP/1.1\r\nHost: x\r\n\r\n",
            f.1.len()
        );
        c.get_mut().write_all(req.as_bytes()).await.unwrap();
        let mut some = vec![0u8; 4096];
        c.read_exact(&mut some).await.unwrap();
        drop(c);
    }
    // The server is still serving.
    let mut c = BufReader::new(TcpStream::connect(srv.addr).await.unwrap());
    c.get_mut()
        .write_all(b"GET /sf?off=0&len=3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_resp(&mut c, false).await.unwrap().body, &f.1[..3]);
    srv.stop().await;
}

fn client_config() -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(data("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(cfg)
}

/// Loopback throughput of a 1 GiB file, sendfile vs the streaming path.
/// `cargo test --release -p glimpse-http --test file_body -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: writes a 1 GiB temp file"]
async fn throughput_1gib() {
    const GIB: u64 = 1 << 30;
    let p = std::env::temp_dir().join(format!("glimpse-gib-{}", std::process::id()));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 + 3) as u8).collect();
        for _ in 0..1024 {
            w.write_all(&block).unwrap();
        }
        w.flush().unwrap();
    }
    let srv = start(&p, false);
    let addr = srv.addr;
    for round in 0..3 {
        for route in ["sf", "stream"] {
            // A blocking client thread, so it does not share the server's
            // runtime threads.
            let (secs, got) = tokio::task::spawn_blocking(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let t = Instant::now();
                write!(
                    s,
                    "GET /{route}?off=0&len={GIB} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut buf = vec![0u8; 1024 * 1024];
                let mut got = 0u64;
                loop {
                    match s.read(&mut buf).unwrap() {
                        0 => break,
                        n => got += n as u64,
                    }
                }
                (t.elapsed().as_secs_f64(), got)
            })
            .await
            .unwrap();
            assert!(got > GIB);
            println!(
                "round {round} {route:>6}: {:.0} MiB/s ({secs:.3} s)",
                GIB as f64 / (1024.0 * 1024.0) / secs
            );
        }
    }
    srv.stop().await;
    let _ = std::fs::remove_file(&p);
}
