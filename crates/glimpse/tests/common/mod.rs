//! Black-box harness: start the real `glimpse` binary on a free loopback
//! port, talk raw HTTP to it, inspect its processes through /proc, and stop
//! only the processes it started, by PID.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Glimpse's own paste file (same pipelines as Glance 33's stock file).
pub const PASTE: &str = include_str!("../../../../etc/glimpse-api-paste.ini");

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_glimpse"))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "glimpse-test-{tag}-{}-{n}-{:x}",
            std::process::id(),
            rand_u64()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(1);
    h.finish()
}

/// A running glimpse process (the master).
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: TempDir,
    pub log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Worker PIDs: children of the master, from /proc.
    pub fn workers(&self) -> Vec<i32> {
        children_of(self.pid())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        signal(self.pid(), sig);
    }

    pub fn get(&self, path: &str) -> Resp {
        request(self.port, "GET", path, &[], b"").unwrap()
    }

    /// Wait for the master to exit; returns its exit code (None if signalled).
    pub fn wait_exit(&mut self, within: Duration) -> Option<Option<i32>> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let workers = self.workers();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for w in workers {
            signal(w, "KILL");
        }
    }
}

pub fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            // Fields after the parenthesised command name: state ppid ...
            if let Some(rest) = stat.rsplit_once(')').map(|x| x.1) {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() > 2 && f[1].parse::<i32>().ok() == Some(pid) && f[0] != "Z" {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .map(|x| x.1.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Config text with a free port and the given extra lines in [DEFAULT].
pub fn base_conf(port: u16, workers: usize, extra_default: &str, extra: &str) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = {port}\nworkers = {workers}\n{extra_default}\n{extra}\n"
    )
}

/// Start `glimpse api --config-file <dir>/glance-api.conf` and wait until it answers.
pub fn start(conf: &str) -> Server {
    start_with(conf, &[], true)
}

pub fn start_with(conf: &str, extra_args: &[&str], wait: bool) -> Server {
    start_in(TempDir::new("srv"), conf, extra_args, wait)
}

/// Start in a prepared directory (e.g. one holding a custom paste file).
pub fn start_in(dir: TempDir, conf: &str, extra_args: &[&str], wait: bool) -> Server {
    let port = conf
        .lines()
        .find_map(|l| l.strip_prefix("bind_port = "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    let cfg = dir.write("glance-api.conf", conf);
    if !dir.path().join("glance-api-paste.ini").exists() {
        dir.write("glance-api-paste.ini", PASTE);
    }
    let log = dir.path().join("glimpse.log");
    let mut cmd = Command::new(bin());
    cmd.arg("api")
        .arg("--config-file")
        .arg(&cfg)
        .arg("--log-file")
        .arg(&log);
    cmd.args(extra_args);
    cmd.env("HOME", dir.path()).current_dir(dir.path());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let srv = Server {
        child,
        port,
        dir,
        log,
    };
    if wait {
        wait_ready(&srv);
    }
    srv
}

pub fn wait_ready(srv: &Server) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if request(srv.port, "GET", "/versions", &[], b"").is_ok_and(|r| r.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "glimpse did not answer on port {}; log:\n{}",
        srv.port,
        srv.log_text()
    );
}

/// Wait until `cond` holds, polling; false on timeout.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Run the binary to completion; (exit code, stdout, stderr).
pub fn run(args: &[&str], home: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("HOME", home)
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One request on a fresh connection.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut c = Conn {
        r: BufReader::new(s.try_clone()?),
        w: s,
    };
    c.send(method, path, headers, body)?;
    c.read_response(method == "HEAD")
}

/// Runs `cmd` and asserts it succeeded (`what` and its stderr otherwise);
/// its stdout.
pub fn stdout_of(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `POST /v2/images` of a raw/bare image (201 asserted): its id.
pub fn create_raw_image(port: u16) -> String {
    let r = request(
        port,
        "POST",
        "/v2/images",
        &[("Content-Type", "application/json")],
        br#"{"name": "d", "disk_format": "raw", "container_format": "bare"}"#,
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

/// A keep-alive client connection.
pub struct Conn {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Conn {
    pub fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<()> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.w.write_all(&bytes)
    }

    pub fn read_response(&mut self, head_only: bool) -> std::io::Result<Resp> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status_line = line.trim_end().to_string();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.r.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let hmap: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let mut body = Vec::new();
        if !head_only && status != 204 && status != 304 && status >= 200 {
            if hmap
                .get("transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                loop {
                    let mut sz = String::new();
                    self.r.read_line(&mut sz)?;
                    let n = usize::from_str_radix(sz.trim().split(';').next().unwrap_or("0"), 16)
                        .map_err(std::io::Error::other)?;
                    if n == 0 {
                        let mut end = String::new();
                        self.r.read_line(&mut end)?;
                        break;
                    }
                    let mut chunk = vec![0; n + 2];
                    self.r.read_exact(&mut chunk)?;
                    body.extend_from_slice(&chunk[..n]);
                }
            } else if let Some(len) = hmap
                .get("content-length")
                .and_then(|v| v.parse::<usize>().ok())
            {
                body.resize(len, 0);
                self.r.read_exact(&mut body)?;
            } else {
                self.r.read_to_end(&mut body)?;
            }
        }
        Ok(Resp {
            status,
            status_line,
            headers,
            body,
        })
    }

    pub fn request(&mut self, method: &str, path: &str) -> std::io::Result<Resp> {
        self.send(method, path, &[], b"")?;
        self.read_response(method == "HEAD")
    }
}

/// The stock Glance 33 etc/ directory (glance-api.conf, glance-api-paste.ini),
/// extracted from the PyPI wheel by scripts/test-env.sh; None (and a loud
/// message) when absent.
pub fn glance_etc() -> Option<PathBuf> {
    let p = std::env::var_os("GLIMPSE_GLANCE_ETC")
        .map(PathBuf::from)
        .or_else(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/glance-etc");
            root.exists().then_some(root)
        });
    match p {
        Some(p) if p.join("glance-api.conf").exists() => Some(p),
        _ => {
            eprintln!(
                "\n*** SKIPPING: the stock Glance 33 config files are absent. Run scripts/test.sh \
                 (it extracts them from the glance==33.0.0 wheel) or set GLIMPSE_GLANCE_ETC. ***\n"
            );
            None
        }
    }
}

/// A Python venv with glance==33.0.0 and gunicorn (made by
/// scripts/test-env.sh), used as the oracle; None (and a loud message) when
/// absent.
pub fn glance_venv() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let candidates = [
        std::env::var_os("GLIMPSE_GLANCE_VENV").map(PathBuf::from),
        Some(root.join("venv")),
        Some(root.join("bench-venv")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("bin/gunicorn").exists() && c.join("bin/glance-manage").exists() {
            return Some(c);
        }
    }
    eprintln!(
        "\n*** SKIPPING: no Python venv with glance==33.0.0 and gunicorn. Run scripts/test.sh \
         (it creates .cache/venv) or set GLIMPSE_GLANCE_VENV. ***\n"
    );
    None
}

/// Python Glance 33 served by gunicorn (Glance 33 has no standalone server),
/// on a free loopback port, with the given glance-api.conf text and the
/// stock paste file from the venv.
pub struct Glance {
    pub child: Child,
    pub port: u16,
    pub dir: TempDir,
}

impl Glance {
    pub fn start(venv: &Path, conf: &str) -> Glance {
        Glance::start_with_paste(venv, conf, "")
    }

    /// Like [`Glance::start`], with `paste_extra` appended to the stock
    /// paste file (e.g. a pipeline of one's own, selected by
    /// `[paste_deploy] flavor`).
    pub fn start_with_paste(venv: &Path, conf: &str, paste_extra: &str) -> Glance {
        Glance::launch(venv, conf, paste_extra, true)
    }

    /// Like [`Glance::start_with_paste`] on a database that already has
    /// Glance's schema, left as it is: no `glance-manage db_sync` first
    /// (e.g. one made by `glimpse manage db sync`, which Glance must use
    /// unchanged).
    pub fn start_on_existing_db(venv: &Path, conf: &str, paste_extra: &str) -> Glance {
        Glance::launch(venv, conf, paste_extra, false)
    }

    fn launch(venv: &Path, conf: &str, paste_extra: &str, db_sync: bool) -> Glance {
        let dir = TempDir::new("glance");
        let port = free_port();
        let paste = venv.join("etc/glance/glance-api-paste.ini");
        assert!(paste.exists(), "the venv lacks {}", paste.display());
        let stock = std::fs::read_to_string(paste).unwrap();
        dir.write("glance-api-paste.ini", &format!("{stock}\n{paste_extra}"));
        let cfg = dir.write("glance-api.conf", conf);
        if db_sync {
            stdout_of(
                Command::new(venv.join("bin/glance-manage"))
                    .arg("--config-file")
                    .arg(&cfg)
                    .arg("db_sync")
                    .current_dir(dir.path())
                    .env("HOME", dir.path()),
                "glance-manage db_sync",
            );
        }
        let log = std::fs::File::create(dir.path().join("gunicorn.log")).unwrap();
        let child = Command::new(venv.join("bin/gunicorn"))
            .args([
                "--workers",
                "1",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--timeout",
                "120",
            ])
            .arg("glance.wsgi.api:application")
            .env("OS_GLANCE_CONFIG_DIR", dir.path())
            .env("HOME", dir.path())
            .env_remove("PYTHONPATH")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let g = Glance { child, port, dir };
        let ok = wait_until(Duration::from_secs(60), || {
            request(g.port, "GET", "/versions", &[], b"").is_ok_and(|r| r.status == 200)
        });
        assert!(
            ok,
            "Glance 33 did not start: {}",
            std::fs::read_to_string(g.dir.path().join("gunicorn.log")).unwrap_or_default()
        );
        g
    }
}

impl Glance {
    /// What gunicorn and Glance logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gunicorn.log")).unwrap_or_default()
    }
}

impl Drop for Glance {
    fn drop(&mut self) {
        let workers = children_of(self.child.id() as i32);
        signal(self.child.id() as i32, "TERM");
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for w in workers {
            signal(w, "KILL");
        }
    }
}

/// Lower-case hex of a digest.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A response body captured from Glance 33 (crates/api/tests/data).
pub fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../api/tests/data")
        .join(name);
    std::fs::read(&p).unwrap()
}

/// 300 KiB of data, so the body crosses several reads.
pub fn served_image() -> Vec<u8> {
    (0..300 * 1024).map(|i| (i % 251) as u8).collect()
}

/// A file server on loopback, for tasks that fetch image data: `/image` (the data), `/redirect` (302 to `/image`),
/// anything else 404. Serves until the test ends.
pub fn serve_image_files() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let _ = match path.as_str() {
                "/image" => {
                    let data = served_image();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        data.len()
                    );
                    conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&data))
                }
                "/redirect" => conn.write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: /image\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
                _ => conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    port
}

/// A paste pipeline that trusts identity headers (no authtoken), selected
/// with `[paste_deploy] flavor = trusted`; appended to a stock paste file
/// so that a test names its caller's roles and project, as
/// keystonemiddleware would.
pub const TRUSTED_PASTE: &str =
    "[pipeline:glance-api-trusted]\npipeline = versionnegotiation context rootapp\n";

/// Identity headers of an admin of project `padmin`, asking for JSON.
pub const TRUSTED_ADMIN: &[(&str, &str)] = &[
    ("X-Identity-Status", "Confirmed"),
    ("X-Roles", "admin,member,reader"),
    ("X-Project-Id", "padmin"),
    ("X-User-Id", "uadmin"),
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
];

/// Identity headers of a member of project `p1`, asking for JSON.
pub const TRUSTED_MEMBER: &[(&str, &str)] = &[
    ("X-Identity-Status", "Confirmed"),
    ("X-Roles", "member,reader"),
    ("X-Project-Id", "p1"),
    ("X-User-Id", "u1"),
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
];

/// A scratch database on the loopback PostgreSQL (postgres, trust) or
/// MariaDB/MySQL (root, no password) server, dropped when this goes out
/// of scope. Created with the servers' own command-line clients.
pub struct ScratchDb {
    /// The `[database] connection` URL for it.
    pub url: String,
    name: String,
    postgres: bool,
}

impl ScratchDb {
    fn admin(postgres: bool, sql: &str) -> bool {
        let mut cmd = if postgres {
            let mut c = Command::new("psql");
            c.args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
                sql,
            ]);
            c
        } else {
            let mut c = Command::new("mysql");
            c.args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", sql]);
            c
        };
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A fresh database, or `None` (with a loud note) when the server or
    /// its client is missing.
    pub fn create(postgres: bool, prefix: &str) -> Option<ScratchDb> {
        let name = unique(prefix);
        if !Self::admin(postgres, &format!("CREATE DATABASE {name}")) {
            eprintln!(
                "\n!!!! SKIPPED: no {} on 127.0.0.1 (or no `{}` client): this part did not run.\n",
                if postgres {
                    "PostgreSQL"
                } else {
                    "MariaDB/MySQL"
                },
                if postgres { "psql" } else { "mysql" }
            );
            return None;
        }
        let url = if postgres {
            format!("postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
        } else {
            format!("mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8")
        };
        Some(ScratchDb {
            url,
            name,
            postgres,
        })
    }
}

impl ScratchDb {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A name unlikely to collide with a parallel run's.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let sql = if self.postgres {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS {}", self.name)
        };
        Self::admin(self.postgres, &sql);
    }
}

/// The files in a filesystem store directory that no location in `live`
/// (`file://` URLs) points at, and how many files there are in all.
pub fn store_files_not_in<'a>(
    store: &Path,
    live: impl IntoIterator<Item = &'a str>,
) -> (Vec<String>, usize) {
    let live: std::collections::HashSet<&str> = live
        .into_iter()
        .filter_map(|u| u.strip_prefix("file://"))
        .collect();
    let mut files = 0;
    let mut stray = Vec::new();
    for e in std::fs::read_dir(store).into_iter().flatten().flatten() {
        files += 1;
        let p = e.path().display().to_string();
        if !live.contains(p.as_str()) {
            stray.push(p);
        }
    }
    (stray, files)
}
