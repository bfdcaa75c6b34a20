//! Commits in doubt: the connection to the database fails during the
//! `COMMIT` that records an upload (or deletes an image), either before the
//! server ran it or after. A proxy of the test's own, between Glimpse and a
//! scratch database on the loopback PostgreSQL or MariaDB, reads the
//! client's messages (either wire protocol): a connection that sends the
//! armed pattern (the store path an upload records, the statement a delete
//! runs) has its next `COMMIT` cut — dropped unsent, or sent and its answer
//! withheld — and optionally every connection refused for a while after
//! (an outage).
//!
//! In every case the image's record and its data must agree afterwards:
//! an `active` image has its file, a file belongs to a live location, and
//! when the database cannot say at once what happened, the data is kept
//! until it can (then removed if unrecorded, the image back to `queued`).
//! Each backend is skipped loudly when its server (127.0.0.1:5432, :3306)
//! is absent.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cut {
    /// The `COMMIT` never reaches the server: rolled back.
    Before,
    /// The server runs it; its answer never reaches Glimpse.
    After,
}

#[derive(Default)]
struct Shared {
    /// The pattern, where to cut, and how long to refuse connections after.
    armed: Option<(Vec<u8>, Cut, Duration)>,
    outage_until: Option<Instant>,
    /// Every relayed socket (both ends), for an outage to close them.
    live: Vec<TcpStream>,
    fired: usize,
}

struct Proxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Proxy {
    fn start(upstream: u16, wire: Wire) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let sh = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let sh = sh.clone();
                thread::spawn(move || relay(client, upstream, wire, &sh));
            }
        });
        Proxy { port, shared }
    }

    fn arm(&self, pattern: &str, cut: Cut, outage: Duration) {
        let mut s = self.shared.lock().unwrap();
        s.armed = Some((pattern.as_bytes().to_vec(), cut, outage));
    }

    fn fired(&self) -> usize {
        self.shared.lock().unwrap().fired
    }

    fn outage_over(&self) -> bool {
        let s = self.shared.lock().unwrap();
        s.outage_until.is_none_or(|t| Instant::now() >= t)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The database's wire protocol, as far as the proxy needs it: where the
/// client's messages begin and end, and which of them is a `COMMIT`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Wire {
    Postgres,
    MySql,
}

/// One message from the client: its bytes as sent, and whether it is a
/// `COMMIT`.
struct Msg {
    raw: Vec<u8>,
    commit: bool,
}

fn starts_with_commit(text: &[u8]) -> bool {
    text.len() >= 6 && text[..6].eq_ignore_ascii_case(b"COMMIT")
}

impl Wire {
    /// The next client message; on PostgreSQL the untyped start-up
    /// messages (an SSL/GSS request, then the startup) come first.
    fn read(self, from: &mut TcpStream, started: &mut bool) -> Option<Msg> {
        match self {
            Wire::Postgres if !*started => {
                let mut len = [0u8; 4];
                from.read_exact(&mut len).ok()?;
                let mut raw = len.to_vec();
                raw.resize(u32::from_be_bytes(len).max(4) as usize, 0);
                from.read_exact(&mut raw[4..]).ok()?;
                let code = raw
                    .get(4..8)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
                *started = !matches!(code, Some(80_877_103 | 80_877_104));
                Some(Msg { raw, commit: false })
            }
            Wire::Postgres => {
                let mut raw = vec![0u8; 5];
                from.read_exact(&mut raw).ok()?;
                let len = u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]]).max(4) as usize;
                raw.resize(1 + len, 0);
                from.read_exact(&mut raw[5..]).ok()?;
                // A simple query, or a statement parsed (after its name).
                let body = &raw[5..];
                let commit = match raw[0] {
                    b'Q' => starts_with_commit(body),
                    b'P' => body
                        .iter()
                        .position(|b| *b == 0)
                        .is_some_and(|i| starts_with_commit(&body[i + 1..])),
                    _ => false,
                };
                Some(Msg { raw, commit })
            }
            Wire::MySql => {
                let mut raw = vec![0u8; 4];
                from.read_exact(&mut raw).ok()?;
                let len = u32::from_le_bytes([raw[0], raw[1], raw[2], 0]) as usize;
                raw.resize(4 + len, 0);
                from.read_exact(&mut raw[4..]).ok()?;
                // COM_QUERY or COM_STMT_PREPARE of a `COMMIT`.
                let commit =
                    matches!(raw.get(4), Some(0x03 | 0x16)) && starts_with_commit(&raw[5..]);
                Some(Msg { raw, commit })
            }
        }
    }

    /// The server's first packet, changed so the client does not ask for
    /// TLS: a MySQL server offering it would make the rest unreadable here
    /// (PostgreSQL's URL says `sslmode=disable` instead).
    fn relay_greeting(self, from: &mut TcpStream, to: &mut TcpStream) -> Option<()> {
        if self != Wire::MySql {
            return Some(());
        }
        let mut head = [0u8; 4];
        from.read_exact(&mut head).ok()?;
        let mut payload = vec![0u8; u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize];
        from.read_exact(&mut payload).ok()?;
        // Protocol version, server version (NUL-ended), connection id (4),
        // scramble (8), filler (1), then the capability flags' low half.
        if let Some(nul) = payload.iter().skip(1).position(|b| *b == 0) {
            let at = 1 + nul + 1 + 4 + 8 + 1;
            if let Some(caps) = payload.get_mut(at + 1) {
                *caps &= !0x08; // CLIENT_SSL, 0x0800
            }
        }
        to.write_all(&head).ok()?;
        to.write_all(&payload).ok()
    }
}

fn relay(client: TcpStream, upstream: u16, wire: Wire, sh: &Mutex<Shared>) {
    if sh
        .lock()
        .unwrap()
        .outage_until
        .is_some_and(|t| Instant::now() < t)
    {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    {
        let mut s = sh.lock().unwrap();
        s.live.push(client.try_clone().unwrap());
        s.live.push(server.try_clone().unwrap());
    }
    // Set: the server's answers are withheld; `answered`: one came since.
    let mute = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicBool::new(false));
    {
        let (mut from, mut to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let (mute, answered) = (mute.clone(), answered.clone());
        thread::spawn(move || {
            if wire.relay_greeting(&mut from, &mut to).is_some() {
                let mut buf = [0u8; 16384];
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    if mute.load(Ordering::SeqCst) {
                        answered.store(true, Ordering::SeqCst);
                    } else if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Both);
        });
    }
    let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let mut started = false;
    let mut triggered: Option<(Cut, Duration)> = None;
    while let Some(msg) = wire.read(&mut from, &mut started) {
        if triggered.is_none() {
            let mut s = sh.lock().unwrap();
            if let Some((pattern, cut, outage)) = &s.armed
                && contains(&msg.raw, pattern)
            {
                triggered = Some((*cut, *outage));
                s.armed = None;
            }
        }
        if let Some((cut, outage)) = triggered
            && msg.commit
        {
            if cut == Cut::After {
                mute.store(true, Ordering::SeqCst);
                let _ = to.write_all(&msg.raw);
                // The line goes once the server has answered the COMMIT
                // (cutting earlier could discard it unread).
                assert!(
                    wait_until(Duration::from_secs(20), || answered.load(Ordering::SeqCst)),
                    "the server never answered the COMMIT"
                );
            }
            let mut s = sh.lock().unwrap();
            s.fired += 1;
            if !outage.is_zero() {
                s.outage_until = Some(Instant::now() + outage);
                for c in s.live.drain(..) {
                    let _ = c.shutdown(Shutdown::Both);
                }
            }
            break;
        }
        if to.write_all(&msg.raw).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

struct Setup {
    wire: Wire,
    proxy: Proxy,
    srv: Server,
    store: PathBuf,
    db: ScratchDb,
    _store_dir: TempDir,
}

impl Setup {
    /// Rows straight from the database server (not through the proxy).
    fn q(&self, sql: &str) -> Vec<Vec<String>> {
        match self.wire {
            Wire::Postgres => pg::PgClient::connect(5432, self.db.name())
                .unwrap()
                .q(sql)
                .into_iter()
                .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
                .collect(),
            Wire::MySql => {
                let out = stdout_of(
                    std::process::Command::new("mysql")
                        .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-N", "-B"])
                        .args([self.db.name(), "-e", sql]),
                    sql,
                );
                String::from_utf8(out)
                    .unwrap()
                    .lines()
                    .map(|l| l.split('\t').map(str::to_string).collect())
                    .collect()
            }
        }
    }

    /// (status, live location URLs) as the database holds them.
    fn record(&self, id: &str) -> (String, Vec<String>) {
        let status = self.q(&format!("SELECT status FROM images WHERE id = '{id}'"));
        let locs = self.q(&format!(
            "SELECT value FROM image_locations WHERE image_id = '{id}' AND NOT deleted"
        ));
        (
            status[0][0].clone(),
            locs.into_iter().map(|r| r[0].clone()).collect(),
        )
    }

    fn file(&self, id: &str) -> PathBuf {
        self.store.join(id)
    }

    fn create(&self) -> String {
        create_raw_image(self.srv_port())
    }

    fn srv_port(&self) -> u16 {
        self.srv.port
    }

    fn upload(&self, id: &str, data: &[u8]) -> u16 {
        request(
            self.srv_port(),
            "PUT",
            &format!("/v2/images/{id}/file"),
            &[("Content-Type", "application/octet-stream")],
            data,
        )
        .unwrap()
        .status
    }

    fn delete(&self, id: &str) -> u16 {
        request(
            self.srv_port(),
            "DELETE",
            &format!("/v2/images/{id}"),
            &[],
            b"",
        )
        .unwrap()
        .status
    }

    fn wait_outage_over(&self) {
        assert!(wait_until(Duration::from_secs(30), || self
            .proxy
            .outage_over()));
    }
}

fn setup(wire: Wire) -> Option<Setup> {
    let postgres = wire == Wire::Postgres;
    let db = ScratchDb::create(postgres, "glimpse_doubt")?;
    let proxy = Proxy::start(if postgres { 5432 } else { 3306 }, wire);
    let store_dir = TempDir::new("doubt-store");
    let store = store_dir.path().join("images");
    let port = free_port();
    let connection = if postgres {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{}?sslmode=disable",
            proxy.port,
            db.name()
        )
    } else {
        format!(
            "mysql+pymysql://root@127.0.0.1:{}/{}?charset=utf8",
            proxy.port,
            db.name()
        )
    };
    let conf = base_conf(
        port,
        1,
        "",
        &format!(
            "[database]\nconnection = {connection}\npool_timeout = 2\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {}\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            store.display()
        ),
    );
    let srv = start(&conf);
    Some(Setup {
        wire,
        proxy,
        srv,
        store,
        db,
        _store_dir: store_dir,
    })
}

/// What only an image delete sends: the statement soft-deleting its
/// locations.
const DELETES: &str = "UPDATE image_locations SET deleted";

#[test]
fn postgresql() {
    commits_in_doubt(Wire::Postgres);
}

#[test]
fn mariadb() {
    commits_in_doubt(Wire::MySql);
}

fn commits_in_doubt(wire: Wire) {
    let Some(s) = setup(wire) else {
        return;
    };
    let store_path = s.store.display().to_string();
    let data = b"data whose record is in doubt".repeat(100);
    let no_outage = Duration::ZERO;
    let outage = Duration::from_secs(4);

    // 1. The activation committed, its answer lost; the database answers
    //    the read-back at once: the upload succeeded, and says so.
    let id = s.create();
    s.proxy.arm(&store_path, Cut::After, no_outage);
    assert_eq!(s.upload(&id, &data), 204, "{}", s.srv.log_text());
    assert_eq!(s.proxy.fired(), 1, "the proxy never cut a COMMIT");
    assert_eq!(s.record(&id).0, "active");
    assert_eq!(std::fs::read(s.file(&id)).unwrap(), data);
    let r = request(
        s.srv_port(),
        "GET",
        &format!("/v2/images/{id}/file"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!((r.status, r.body.len()), (200, data.len()));

    // 2. The activation never reached the server: 503, the data removed,
    //    the image back to queued and able to take the upload again.
    let id = s.create();
    s.proxy.arm(&store_path, Cut::Before, no_outage);
    assert_eq!(s.upload(&id, &data), 503);
    assert_eq!(s.proxy.fired(), 2);
    assert_eq!(s.record(&id), ("queued".into(), vec![]));
    assert!(!s.file(&id).exists(), "the unrecorded data is still there");
    assert_eq!(s.upload(&id, &data), 204);
    assert_eq!(s.record(&id).0, "active");

    // 3. Committed, then an outage: Glimpse cannot tell, answers 503 and
    //    keeps the data; the image is active with its file throughout.
    let id = s.create();
    s.proxy.arm(&store_path, Cut::After, outage);
    assert_eq!(s.upload(&id, &data), 503);
    assert_eq!(s.proxy.fired(), 3);
    let (status, locs) = s.record(&id);
    assert_eq!(status, "active");
    assert_eq!(locs.len(), 1);
    assert!(
        s.file(&id).exists(),
        "the data of an active image was removed"
    );
    s.wait_outage_over();
    assert!(
        wait_until(Duration::from_secs(30), || s
            .srv
            .log_text()
            .contains(&format!("Image {id}: the change to its location"))),
        "the doubt was never settled:\n{}",
        s.srv.log_text()
    );
    assert_eq!(std::fs::read(s.file(&id)).unwrap(), data);
    assert_eq!(s.record(&id).0, "active");

    // 4. Not committed, then an outage: the data is kept while the
    //    database cannot say (the image stays `saving`, so nothing else
    //    writes there), then removed and the image put back to `queued`.
    let id = s.create();
    s.proxy.arm(&store_path, Cut::Before, outage);
    assert_eq!(s.upload(&id, &data), 503);
    assert_eq!(s.proxy.fired(), 4);
    assert_eq!(s.record(&id), ("saving".into(), vec![]));
    assert!(s.file(&id).exists(), "removed before the outcome was known");
    s.wait_outage_over();
    assert!(
        wait_until(Duration::from_secs(30), || !s.file(&id).exists()
            && s.record(&id).0 == "queued"),
        "not settled: {:?}, file there: {}\n{}",
        s.record(&id),
        s.file(&id).exists(),
        s.srv.log_text()
    );
    assert_eq!(s.upload(&id, &data), 204);

    // 5. A delete committed, its answer lost: 204, the data gone.
    s.proxy.arm(DELETES, Cut::After, no_outage);
    assert_eq!(s.delete(&id), 204);
    assert_eq!(s.proxy.fired(), 5);
    assert_eq!(s.record(&id).0, "deleted");
    assert!(!s.file(&id).exists(), "a deleted image's data is orphaned");

    // 6. A delete that never reached the server: 503, image and data kept.
    let id = s.create();
    assert_eq!(s.upload(&id, &data), 204);
    s.proxy.arm(DELETES, Cut::Before, no_outage);
    assert_eq!(s.delete(&id), 503);
    assert_eq!(s.proxy.fired(), 6);
    assert_eq!(s.record(&id).0, "active");
    assert_eq!(std::fs::read(s.file(&id)).unwrap(), data);

    // 7. A delete committed, then an outage: the data goes once the
    //    database says the image is gone.
    s.proxy.arm(DELETES, Cut::After, outage);
    assert_eq!(s.delete(&id), 503);
    assert_eq!(s.proxy.fired(), 7);
    assert_eq!(s.record(&id).0, "deleted");
    s.wait_outage_over();
    assert!(
        wait_until(Duration::from_secs(30), || !s.file(&id).exists()),
        "a deleted image's data is orphaned:\n{}",
        s.srv.log_text()
    );

    // Nothing orphaned, nothing missing.
    let live: Vec<String> = s
        .q("SELECT value FROM image_locations WHERE NOT deleted")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let (stray, _) = store_files_not_in(&s.store, live.iter().map(String::as_str));
    assert!(stray.is_empty(), "orphaned: {stray:?}");
    for url in &live {
        assert!(
            Path::new(url.strip_prefix("file://").unwrap()).exists(),
            "missing: {url}"
        );
    }
    assert!(!s.srv.log_text().contains("panicked"));
}
