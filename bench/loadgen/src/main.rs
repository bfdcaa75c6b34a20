//! `loadgen`: a minimal HTTP/1.1 load generator for `bench/api_bench.py`.
//!
//! C connections (keep-alive; reopened when the server closes them) send one
//! request spec to a loopback server for a fixed duration (`-d`) or a fixed
//! number of requests (`-n`), then print one JSON object on stdout: count,
//! errors, non-2xx, status histogram, duration, req/s, latency percentiles
//! (ms) and byte counts. Responses are read fully (Content-Length, chunked,
//! or until close) and discarded. `{id}` in the path or body is replaced by a
//! random line of `--ids FILE`, `{n}` by a sequence number.

use bytes::{Buf, BytesMut};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "usage: loadgen --addr HOST:PORT --path TEMPLATE [-X METHOD] [-c CONNS] \
[-d SECS | -n COUNT] [-H 'Name: value']... [--body STR | --body-file FILE] [--ids FILE] \
[--seq-start N] [--threads N] [--timeout SECS]";

struct Spec {
    addr: String,
    method: String,
    path: String,
    headers: Vec<String>,
    body: Body,
    ids: Vec<String>,
    conns: usize,
    duration: Option<Duration>,
    count: Option<u64>,
    seq_start: u64,
    threads: usize,
    timeout: Duration,
}

enum Body {
    None,
    Template(String),
    File(String, u64),
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    first_error: Option<String>,
    connects: u64,
    bytes_sent: u64,
    body_bytes: u64,
}

/// How a request failed: `Stale` means a reused connection was closed before
/// any byte of the answer arrived, so the request is retried once.
enum Fail {
    Stale(io::Error),
    Other(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Other(e.to_string())
    }
}

fn parse_args() -> Result<Spec, String> {
    let mut s = Spec {
        addr: String::new(),
        method: "GET".into(),
        path: String::new(),
        headers: Vec::new(),
        body: Body::None,
        ids: Vec::new(),
        conns: 16,
        duration: None,
        count: None,
        seq_start: 0,
        threads: 1,
        timeout: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let val = args
            .next()
            .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--addr" => {
                s.addr = val
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .into()
            }
            "-X" | "--method" => s.method = val.to_ascii_uppercase(),
            "--path" => s.path = val,
            "-H" | "--header" => s.headers.push(val),
            "--body" => s.body = Body::Template(val),
            "--body-file" => {
                let len = std::fs::metadata(&val)
                    .map_err(|e| format!("{val}: {e}"))?
                    .len();
                s.body = Body::File(val, len);
            }
            "--ids" => {
                let text = std::fs::read_to_string(&val).map_err(|e| format!("{val}: {e}"))?;
                s.ids = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
            }
            "-c" | "--connections" => s.conns = num(&val)? as usize,
            "-d" | "--duration" => s.duration = Some(Duration::from_secs_f64(num(&val)?)),
            "-n" | "--requests" => s.count = Some(num(&val)? as u64),
            "--seq-start" => s.seq_start = num(&val)? as u64,
            "--threads" => s.threads = num(&val)? as usize,
            "--timeout" => s.timeout = Duration::from_secs_f64(num(&val)?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if s.addr.is_empty() || !s.path.starts_with('/') {
        return Err(format!(
            "--addr and --path (starting with /) are required\n{USAGE}"
        ));
    }
    if s.duration.is_none() && s.count.is_none() {
        return Err("one of -d SECS or -n COUNT is required".into());
    }
    let uses_id =
        s.path.contains("{id}") || matches!(&s.body, Body::Template(b) if b.contains("{id}"));
    if uses_id && s.ids.is_empty() {
        return Err("the template uses {id} but no non-empty --ids file was given".into());
    }
    s.conns = s.conns.max(1);
    s.threads = s.threads.max(1);
    Ok(s)
}

/// xorshift64*: enough randomness to pick ids, no extra crate.
fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn fill_template(t: &str, spec: &Spec, seq: u64, rng: &mut u64) -> String {
    let mut out = t.replace("{n}", &seq.to_string());
    while out.contains("{id}") {
        let id = &spec.ids[(next_rand(rng) % spec.ids.len() as u64) as usize];
        out = out.replacen("{id}", id, 1);
    }
    out
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// Reads more bytes into the buffer; Ok(0) at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        self.buf.reserve(256 * 1024);
        self.stream.read_buf(&mut self.buf).await
    }

    async fn line(&mut self) -> Result<BytesMut, Fail> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let mut line = self.buf.split_to(pos + 2);
                line.truncate(pos);
                return Ok(line);
            }
            if self.buf.len() > 16 * 1024 {
                return Err(Fail::Other(
                    "line longer than 16 KiB in the response".into(),
                ));
            }
            if self.fill().await? == 0 {
                return Err(Fail::Other(
                    "connection closed in the middle of a line".into(),
                ));
            }
        }
    }

    /// Discards `n` body bytes (or everything until EOF when `n` is None).
    async fn skip(&mut self, n: Option<u64>) -> Result<u64, Fail> {
        let mut left = n.unwrap_or(u64::MAX);
        let mut got = 0;
        loop {
            let take = left.min(self.buf.len() as u64);
            self.buf.advance(take as usize);
            left -= take;
            got += take;
            if left == 0 {
                return Ok(got);
            }
            if self.fill().await? == 0 {
                return match n {
                    None => Ok(got),
                    Some(n) => Err(Fail::Other(format!(
                        "connection closed after {got} of {n} body bytes"
                    ))),
                };
            }
        }
    }
}

struct Answer {
    status: u16,
    body_bytes: u64,
    close: bool,
}

async fn send(conn: &mut Conn, head: &[u8], body: &[u8], spec: &Spec) -> Result<u64, Fail> {
    let stale = |e: io::Error| Fail::Stale(e);
    conn.stream.write_all(head).await.map_err(stale)?;
    let mut sent = head.len() as u64;
    match &spec.body {
        Body::File(path, _) => {
            let mut f = tokio::fs::File::open(path).await?;
            let mut chunk = vec![0u8; 1024 * 1024];
            loop {
                let n = f.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                conn.stream.write_all(&chunk[..n]).await?;
                sent += n as u64;
            }
        }
        _ => {
            conn.stream.write_all(body).await.map_err(stale)?;
            sent += body.len() as u64;
        }
    }
    Ok(sent)
}

async fn receive(conn: &mut Conn, head_only: bool) -> Result<Answer, Fail> {
    // Status line; a reused connection closed before answering is stale.
    let status_line = loop {
        if conn.buf.windows(2).any(|w| w == b"\r\n") {
            break conn.line().await?;
        }
        match conn.fill().await {
            Ok(0) if conn.buf.is_empty() => {
                return Err(Fail::Stale(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(0) => return Err(Fail::Other("connection closed in the status line".into())),
            Ok(_) => {}
            Err(e) if conn.buf.is_empty() => return Err(Fail::Stale(e)),
            Err(e) => return Err(e.into()),
        }
    };
    let text = String::from_utf8_lossy(&status_line).into_owned();
    let mut parts = text.split_whitespace();
    let version = parts.next().unwrap_or_default().to_string();
    let status: u16 = match parts.next().map(str::parse) {
        Some(Ok(s)) if version.starts_with("HTTP/1.") => s,
        _ => return Err(Fail::Other(format!("bad status line: {text:?}"))),
    };
    let (mut length, mut chunked) = (None, false);
    let mut close = version == "HTTP/1.0";
    loop {
        let line = conn.line().await?;
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line).to_ascii_lowercase();
        let Some((name, value)) = line.split_once(':') else {
            return Err(Fail::Other(format!("bad header line: {line:?}")));
        };
        let value = value.trim();
        match name.trim() {
            "content-length" => {
                length = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| Fail::Other(format!("bad Content-Length: {value}")))?,
                )
            }
            "transfer-encoding" => chunked = value.split(',').any(|v| v.trim() == "chunked"),
            "connection" => {
                close = value.split(',').any(|v| v.trim() == "close")
                    || (close && !value.contains("keep-alive"))
            }
            _ => {}
        }
    }
    if (100..200).contains(&status) {
        return Box::pin(receive(conn, head_only)).await;
    }
    let body_bytes = if head_only || status == 204 || status == 304 {
        0
    } else if chunked {
        let mut total = 0;
        loop {
            let line = conn.line().await?;
            let text = String::from_utf8_lossy(&line);
            let hex = text.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(hex, 16)
                .map_err(|_| Fail::Other(format!("bad chunk size line: {text:?}")))?;
            if size == 0 {
                while !conn.line().await?.is_empty() {} // trailers
                break total;
            }
            total += conn.skip(Some(size)).await?;
            if !conn.line().await?.is_empty() {
                return Err(Fail::Other("chunk not followed by CRLF".into()));
            }
        }
    } else if let Some(n) = length {
        conn.skip(Some(n)).await?
    } else {
        close = true;
        conn.skip(None).await?
    };
    Ok(Answer {
        status,
        body_bytes,
        close,
    })
}

/// One request on `slot`'s connection (opening one if needed), retried once
/// on a fresh connection if a reused one turns out to be closed.
async fn exchange(
    slot: &mut Option<Conn>,
    head: &[u8],
    body: &[u8],
    spec: &Spec,
    st: &mut Stats,
) -> Result<Answer, Fail> {
    let mut reused = slot.is_some();
    loop {
        let conn = match slot {
            Some(c) => c,
            None => {
                let stream = TcpStream::connect(&spec.addr).await?;
                stream.set_nodelay(true)?;
                st.connects += 1;
                slot.insert(Conn {
                    stream,
                    buf: BytesMut::with_capacity(256 * 1024),
                })
            }
        };
        let res = match send(conn, head, body, spec).await {
            Ok(sent) => {
                st.bytes_sent += sent;
                receive(conn, spec.method == "HEAD").await
            }
            Err(e) => Err(e),
        };
        match res {
            Ok(a) => {
                if a.close {
                    *slot = None;
                }
                return Ok(a);
            }
            Err(Fail::Stale(_)) if reused => {
                *slot = None;
                reused = false;
            }
            Err(e) => {
                *slot = None;
                return Err(e);
            }
        }
    }
}

async fn worker(
    spec: Arc<Spec>,
    next: Arc<AtomicU64>,
    deadline: Option<Instant>,
    seed: u64,
) -> Stats {
    let mut st = Stats::default();
    let mut slot = None;
    let mut rng = seed | 1;
    loop {
        let ticket = next.fetch_add(1, Ordering::Relaxed);
        if spec.count.is_some_and(|n| ticket >= n) || deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        let seq = spec.seq_start + ticket;
        let path = fill_template(&spec.path, &spec, seq, &mut rng);
        let body = match &spec.body {
            Body::Template(t) => fill_template(t, &spec, seq, &mut rng).into_bytes(),
            _ => Vec::new(),
        };
        let length = match &spec.body {
            Body::File(_, len) => Some(*len),
            Body::Template(_) => Some(body.len() as u64),
            Body::None => matches!(spec.method.as_str(), "POST" | "PUT" | "PATCH").then_some(0),
        };
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: glimpse-loadgen\r\n",
            spec.method, path, spec.addr
        );
        for h in &spec.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        if let Some(len) = length {
            head.push_str(&format!("Content-Length: {len}\r\n"));
        }
        head.push_str("\r\n");
        let t0 = Instant::now();
        let res = tokio::time::timeout(
            spec.timeout,
            exchange(&mut slot, head.as_bytes(), &body, &spec, &mut st),
        )
        .await;
        let elapsed = t0.elapsed();
        let err = match res {
            Ok(Ok(a)) => {
                st.latencies_us.push(elapsed.as_micros() as u64);
                *st.statuses.entry(a.status).or_default() += 1;
                st.body_bytes += a.body_bytes;
                None
            }
            Ok(Err(Fail::Stale(e))) => Some(format!("connection closed before the answer: {e}")),
            Ok(Err(Fail::Other(e))) => Some(e),
            Err(_) => {
                slot = None;
                Some(format!("timed out after {:?}", spec.timeout))
            }
        };
        if let Some(e) = err {
            st.errors += 1;
            st.first_error
                .get_or_insert(format!("{} {}: {e}", spec.method, path));
            tokio::time::sleep(Duration::from_millis(10)).await; // no busy loop on a dead server
        }
    }
    st
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

async fn run(spec: Spec) -> serde_json::Value {
    let spec = Arc::new(spec);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = spec.duration.map(|d| start + d);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seed = now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32);
    let tasks: Vec<_> = (0..spec.conns as u64)
        .map(|i| {
            tokio::spawn(worker(
                spec.clone(),
                next.clone(),
                deadline,
                seed ^ (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ))
        })
        .collect();
    let mut all = Stats::default();
    for t in tasks {
        let st = t.await.unwrap_or_else(|e| Stats {
            errors: 1,
            first_error: Some(format!("task failed: {e}")),
            ..Stats::default()
        });
        all.latencies_us.extend(st.latencies_us);
        for (k, v) in st.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
        all.errors += st.errors;
        all.first_error = all.first_error.or(st.first_error);
        all.connects += st.connects;
        all.bytes_sent += st.bytes_sent;
        all.body_bytes += st.body_bytes;
    }
    let secs = start.elapsed().as_secs_f64();
    let lat = &mut all.latencies_us;
    lat.sort_unstable();
    let count = lat.len() as u64;
    let non_2xx: u64 = all
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let mean = if count > 0 {
        lat.iter().sum::<u64>() as f64 / count as f64 / 1000.0
    } else {
        0.0
    };
    let statuses: serde_json::Map<_, _> = all
        .statuses
        .iter()
        .map(|(s, n)| (s.to_string(), (*n).into()))
        .collect();
    serde_json::json!({
        "method": spec.method,
        "path": spec.path,
        "connections": spec.conns,
        "count": count,
        "errors": all.errors,
        "non_2xx": non_2xx,
        "statuses": statuses,
        "first_error": all.first_error,
        "duration_s": secs,
        "rps": if secs > 0.0 { count as f64 / secs } else { 0.0 },
        "latency_ms": {
            "mean": mean,
            "p50": percentile(lat, 50.0),
            "p90": percentile(lat, 90.0),
            "p99": percentile(lat, 99.0),
            "max": percentile(lat, 100.0),
        },
        "connects": all.connects,
        "bytes_sent": all.bytes_sent,
        "body_bytes_received": all.body_bytes,
    })
}

fn main() {
    let spec = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = if spec.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(spec.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let report = rt.block_on(run(spec));
    println!("{report}");
}
