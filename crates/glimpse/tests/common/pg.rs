//! PostgreSQL for black-box tests, without new dependencies: a minimal
//! client for the frontend/backend protocol (v3, simple queries, trust
//! authentication only — all the test servers use; scratch databases on
//! the system server are `common::ScratchDb`), and private servers made
//! with the installed `initdb`/`postgres` that a test may stop and start
//! at will.
//! Only processes started here are ever signalled, by PID.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempDir, free_port, signal, wait_until};

/// A result row: each column as text (`None` for NULL).
pub type Row = Vec<Option<String>>;

/// One connection speaking the simple-query protocol.
pub struct PgClient {
    s: TcpStream,
}

impl PgClient {
    /// Connects as `postgres` to `db` on 127.0.0.1:`port` (trust auth).
    pub fn connect(port: u16, db: &str) -> std::io::Result<PgClient> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_nodelay(true)?;
        let mut c = PgClient { s };
        let mut body = Vec::new();
        body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
        for (k, v) in [("user", "postgres"), ("database", db)] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        c.s.write_all(&msg)?;
        loop {
            let (tag, payload) = c.read_msg()?;
            match tag {
                b'R' if payload.get(..4) == Some(&[0, 0, 0, 0]) => {}
                b'R' => return Err(std::io::Error::other("server wants a password")),
                b'E' => return Err(std::io::Error::other(error_text(&payload))),
                b'Z' => return Ok(c),
                _ => {} // ParameterStatus, BackendKeyData, notices
            }
        }
    }

    fn read_msg(&mut self) -> std::io::Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        self.s.read_exact(&mut head)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut payload = vec![0; len.saturating_sub(4)];
        self.s.read_exact(&mut payload)?;
        Ok((head[0], payload))
    }

    /// Runs `sql` (one or more statements); the rows of the last result.
    /// A server error is `Err` with its message; I/O errors too.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.s.write_all(&msg).map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        let mut err = None;
        loop {
            let (tag, p) = self.read_msg().map_err(|e| e.to_string())?;
            match tag {
                b'T' => rows.clear(),
                b'D' => rows.push(data_row(&p)),
                b'E' => err = Some(error_text(&p)),
                b'Z' => break,
                _ => {}
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// [`PgClient::query`] that must succeed.
    pub fn q(&mut self, sql: &str) -> Vec<Row> {
        self.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

fn data_row(p: &[u8]) -> Row {
    let n = u16::from_be_bytes([p[0], p[1]]) as usize;
    let mut at = 2;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        let len = i32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        at += 4;
        if len < 0 {
            row.push(None);
        } else {
            let len = len as usize;
            row.push(Some(String::from_utf8_lossy(&p[at..at + len]).into_owned()));
            at += len;
        }
    }
    row
}

/// The severity, code and message fields of an ErrorResponse.
fn error_text(p: &[u8]) -> String {
    let mut out = Vec::new();
    for field in p.split(|b| *b == 0) {
        if let Some((&t, v)) = field.split_first()
            && matches!(t, b'S' | b'C' | b'M')
        {
            out.push(String::from_utf8_lossy(v).into_owned());
        }
    }
    out.join(" ")
}

/// The installed server binaries: `GLIMPSE_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin` holding `initdb` and `postgres`.
pub fn pg_bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GLIMPSE_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// The uid and gid to run the server as: our own, or — when we are root,
/// which `initdb` and `postgres` refuse — the `postgres` account's.
fn server_ids() -> Result<Option<(u32, u32)>, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .ok_or("no Uid in /proc/self/status")?;
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            "running as root and there is no postgres account to run the server as".into()
        })
}

/// A PostgreSQL server of the test's own: its cluster in a scratch
/// directory, listening on a free loopback port (its socket in that
/// directory, never the system one), stopped (and only it) when dropped.
pub struct OwnPg {
    pub port: u16,
    pub dir: TempDir,
    bindir: PathBuf,
    ids: Option<(u32, u32)>,
    child: Option<Child>,
}

impl OwnPg {
    /// `initdb` a cluster; `None` (and a loud message) when the binaries
    /// or a usable account are missing.
    pub fn init(test: &str) -> Option<OwnPg> {
        let skip = |why: String| {
            eprintln!("\n!!!! SKIPPED {test}: {why}; this test did not run.\n");
            None
        };
        let Some(bindir) = pg_bindir() else {
            return skip(
                "no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin \
                 (or GLIMPSE_PG_BINDIR)"
                    .into(),
            );
        };
        let ids = match server_ids() {
            Ok(ids) => ids,
            Err(e) => return skip(e),
        };
        let dir = TempDir::new("pg");
        // The server account must own its directories (and reach them).
        let root = dir.path().join("pg");
        std::fs::create_dir_all(root.join("sock")).unwrap();
        if let Some((uid, gid)) = ids {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            for p in [root.clone(), root.join("sock")] {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
            }
        }
        let pg = OwnPg {
            port: free_port(),
            dir,
            bindir,
            ids,
            child: None,
        };
        let out = pg
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(pg.data())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if !out.status.success() {
            return skip(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Some(pg)
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    fn command(&self, bin: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(self.bindir.join(bin));
        if let Some((uid, gid)) = self.ids {
            c.uid(uid).gid(gid);
        }
        c.env("LC_ALL", "C").current_dir(self.root());
        c
    }

    /// Where the server writes its log.
    pub fn log_path(&self) -> PathBuf {
        self.root().join("server.log")
    }

    /// Starts the server and waits until it answers queries.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        if let Some((uid, gid)) = self.ids {
            std::os::unix::fs::chown(self.log_path(), Some(uid), Some(gid)).unwrap();
        }
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.root().join("sock"))
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                // Throwaway data: no fsync (shutdowns here are clean ones).
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        let ok = wait_until(Duration::from_secs(30), || {
            PgClient::connect(port, "postgres").is_ok()
        });
        assert!(ok, "own PostgreSQL did not start:\n{}", self.log_text());
    }

    /// Fast shutdown (SIGINT to our postmaster): sessions are ended,
    /// open transactions rolled back. Returns how long it took.
    pub fn stop_fast(&mut self) -> Duration {
        let t = Instant::now();
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, "INT");
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    return t.elapsed();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // Not stopping: immediate shutdown, then kill, ours only.
            signal(c.id() as i32, "QUIT");
            std::thread::sleep(Duration::from_secs(2));
            let _ = c.kill();
            let _ = c.wait();
        }
        t.elapsed()
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn client(&self, db: &str) -> PgClient {
        PgClient::connect(self.port, db).unwrap()
    }
}

impl Drop for OwnPg {
    fn drop(&mut self) {
        self.stop_fast();
    }
}
