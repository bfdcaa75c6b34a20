//! The database going away and coming back, on a PostgreSQL server of the
//! test's own (initdb'd in a scratch directory, on a free loopback port;
//! the system server is never touched, and only the server started here is
//! ever signalled, by PID).
//!
//! - `outage_under_load`: a node (two workers) under concurrent creates,
//!   lists, shows and uploads (some of them slow, so that they straddle
//!   the outage) while PostgreSQL stops (fast shutdown) and, seconds
//!   later, starts again. Requests needing the database answer 503 — never
//!   500, never a hang: each wait for a connection is bounded by
//!   `[database] pool_timeout` (an upload failing mid-way waits twice: its
//!   save, then its restore) — the process and its workers stay up,
//!   `/versions` and `/healthcheck` keep answering, and service recovers
//!   on its own, without a restart.
//!   Afterwards every row is in a valid state, every acknowledged upload is
//!   active with its data, no file is orphaned or missing, and an upload
//!   the outage cut is left `saving` without location or file (its restore
//!   to `queued` needed the database too) until deleted.
//! - `startup_retries_then_gives_up_or_starts`: with the database down,
//!   `glimpse api` retries `[database] max_retries` times `retry_interval`
//!   apart (a refused connection failing each attempt at once, whatever
//!   `pool_timeout`), then exits 1 with a clear error; and it starts once
//!   the database appears within that budget.
//!
//! Skipped loudly when the PostgreSQL server binaries are absent.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use md5::{Digest, Md5};

/// How long a slow upload takes to send its body.
const SLOW_BODY: Duration = Duration::from_millis(1600);

/// `[database] pool_timeout` for these nodes: how long a request waits for
/// a connection before 503. The latency bound below is derived from it.
const POOL_TIMEOUT: u64 = 2;

fn node_conf(port: u16, pg_port: u16, store: &Path, pool_timeout: u64, db_extra: &str) -> String {
    base_conf(
        port,
        2,
        "",
        &format!(
            "[database]\nconnection = postgresql://postgres@127.0.0.1:{pg_port}/glance\n\
             pool_timeout = {pool_timeout}\nmax_pool_size = 5\nmax_overflow = 10\n{db_extra}\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {}\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            store.display()
        ),
    )
}

#[derive(Clone, Debug)]
struct Ev {
    kind: &'static str,
    start: Instant,
    end: Instant,
    /// The status, or what went wrong on the wire.
    result: Result<u16, String>,
    image: Option<String>,
    /// An upload's (md5, size).
    upload: Option<(String, u64)>,
}

impl Ev {
    fn latency(&self) -> Duration {
        self.end - self.start
    }
}

type Log = Arc<Mutex<Vec<Ev>>>;

fn record(log: &Log, ev: Ev) -> Ev {
    log.lock().unwrap().push(ev.clone());
    ev
}

fn timed(
    log: &Log,
    kind: &'static str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Ev, Option<Resp>) {
    let start = Instant::now();
    let r = request(port, method, path, headers, body);
    let ev = Ev {
        kind,
        start,
        end: Instant::now(),
        result: r.as_ref().map(|r| r.status).map_err(|e| e.to_string()),
        image: None,
        upload: None,
    };
    (record(log, ev), r.ok())
}

fn create(log: &Log, port: u16) -> Option<String> {
    let (_, r) = timed(
        log,
        "create",
        port,
        "POST",
        "/v2/images",
        &[("Content-Type", "application/json")],
        br#"{"name": "f", "disk_format": "raw", "container_format": "bare"}"#,
    );
    let r = r?;
    (r.status == 201).then(|| r.json()["id"].as_str().unwrap().to_string())
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `PUT /file` sending the body in `pieces`, `gap` apart, so that it can
/// straddle the outage. The server may answer (503) before the body is
/// all sent, and close: the answer is read whatever happened to the
/// writes.
fn slow_upload(
    port: u16,
    id: &str,
    data: &[u8],
    pieces: usize,
    gap: Duration,
) -> Result<u16, String> {
    let mut c = Conn::open(port).map_err(|e| e.to_string())?;
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    c.w.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    for chunk in data.chunks(data.len().div_ceil(pieces)) {
        std::thread::sleep(gap);
        if c.w.write_all(chunk).is_err() {
            break;
        }
    }
    c.read_response(false)
        .map(|r| r.status)
        .map_err(|e| e.to_string())
}

/// Clients until `stop`: four threads rotating create / list / show /
/// create+upload (64 KiB), one thread doing slow uploads (1 MiB over
/// ~1.6 s).
fn load(port: u16, log: Log, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut handles = Vec::new();
    for t in 0..4u64 {
        let (log, stop, ids) = (log.clone(), stop.clone(), ids.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match i % 4 {
                    0 => {
                        if let Some(id) = create(&log, port) {
                            ids.lock().unwrap().push(id);
                        }
                    }
                    1 => {
                        timed(&log, "list", port, "GET", "/v2/images?limit=5", &[], b"");
                    }
                    2 => {
                        let id = {
                            let ids = ids.lock().unwrap();
                            ids.get(i as usize % ids.len().max(1)).cloned()
                        };
                        if let Some(id) = id {
                            timed(
                                &log,
                                "show",
                                port,
                                "GET",
                                &format!("/v2/images/{id}"),
                                &[],
                                b"",
                            );
                        }
                    }
                    _ => {
                        let Some(id) = create(&log, port) else {
                            continue;
                        };
                        let data = pattern(64 << 10, t << 32 | i);
                        let md5 = hex(&Md5::digest(&data));
                        let (ev, _) = timed(
                            &log,
                            "upload",
                            port,
                            "PUT",
                            &format!("/v2/images/{id}/file"),
                            &[("Content-Type", "application/octet-stream")],
                            &data,
                        );
                        let mut l = log.lock().unwrap();
                        if let Some(last) = l.iter_mut().rev().find(|e| e.start == ev.start) {
                            last.image = Some(id);
                            last.upload = Some((md5, data.len() as u64));
                        }
                    }
                }
            }
        }));
    }
    let (log2, stop2) = (log.clone(), stop.clone());
    handles.push(std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            n += 1;
            let Some(id) = create(&log2, port) else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            let data = pattern(1 << 20, 0xabc0_0000 + n);
            let md5 = hex(&Md5::digest(&data));
            let start = Instant::now();
            let result = slow_upload(port, &id, &data, 16, SLOW_BODY / 16);
            record(
                &log2,
                Ev {
                    kind: "slow-upload",
                    start,
                    end: Instant::now(),
                    result,
                    image: Some(id),
                    upload: Some((md5, data.len() as u64)),
                },
            );
        }
    }));
    handles
}

fn md5_file(p: &Path) -> Option<String> {
    std::fs::read(p).ok().map(|b| hex(&Md5::digest(&b)))
}

#[test]
fn outage_under_load() {
    let Some(mut pg) = pg::OwnPg::init("db_faults::outage_under_load") else {
        return;
    };
    pg.start();
    pg.client("postgres").q("CREATE DATABASE glance");
    let store_dir = TempDir::new("faults-store");
    let store = store_dir.path().join("images");
    let port = free_port();
    let srv = start(&node_conf(port, pg.port, &store, POOL_TIMEOUT, ""));
    let workers_before = srv.workers();
    assert_eq!(workers_before.len(), 2, "{}", srv.log_text());

    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let handles = load(port, log.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(2));

    // --- the outage ------------------------------------------------------
    let t_down = Instant::now();
    let shutdown_took = pg.stop_fast();
    let t_down_done = Instant::now();
    // Long enough for requests to meet a dead database with nothing in
    // flight from before: twice the longest wait a request can have.
    std::thread::sleep(Duration::from_secs(2 * POOL_TIMEOUT + 2));
    // What does not need the database keeps working, at once.
    let probe = Instant::now();
    let versions = request(port, "GET", "/versions", &[], b"").unwrap();
    let versions_latency = probe.elapsed();
    assert_eq!(versions.status, 200);
    let health = request(port, "GET", "/healthcheck", &[], b"").unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(alive(srv.pid()), "the master died:\n{}", srv.log_text());
    assert_eq!(
        srv.workers(),
        workers_before,
        "workers died or were replaced during the outage:\n{}",
        srv.log_text()
    );

    // --- back ------------------------------------------------------------
    // The server may answer before `start` notices it does: the outage
    // ends, for the checks, when the start begins; recovery is timed from
    // when it is seen answering.
    let t_starting = Instant::now();
    pg.start();
    let t_up = Instant::now();
    let recovered = wait_until(Duration::from_secs(10), || {
        request(port, "GET", "/v2/images?limit=1", &[], b"").is_ok_and(|r| r.status == 200)
    });
    let t_recovered = Instant::now();
    assert!(
        recovered,
        "no recovery within 10 s of PostgreSQL answering:\n{}",
        srv.log_text()
    );
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let events = log.lock().unwrap().clone();
    assert!(alive(srv.pid()), "the master died:\n{}", srv.log_text());
    assert_eq!(srv.workers(), workers_before, "workers were replaced");

    // --- what the clients saw -------------------------------------------
    let mut violations = Vec::new();
    // How long a request may take while the database is down: each wait
    // for a connection is at most pool_timeout; an upload that fails on
    // the database waits twice (its save, then the restore to `queued`)
    // after its body; 2 s of slack for a loaded machine.
    let pt = Duration::from_secs(POOL_TIMEOUT);
    let slack = Duration::from_secs(2);
    let bound_of = |kind: &str| match kind {
        "upload" => 2 * pt + slack,
        "slow-upload" => SLOW_BODY + 2 * pt + slack,
        _ => pt + slack,
    };
    let mut worst: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut tally: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut worst_503 = Duration::ZERO;
    let mut worst_outage = Duration::ZERO;
    let mut first_ok_after_up: Option<Duration> = None;
    for e in &events {
        let what = match &e.result {
            Ok(s) => s.to_string(),
            Err(_) => "transport error".into(),
        };
        *tally.entry((e.kind, what)).or_default() += 1;
        let during = e.end > t_down && e.start < t_up;
        if during {
            worst_outage = worst_outage.max(e.latency());
            let w = worst.entry(e.kind).or_default();
            *w = (*w).max(e.latency());
        }
        match &e.result {
            Ok(503) => {
                worst_503 = worst_503.max(e.latency());
                if !during {
                    violations.push(format!(
                        "{} answered 503 outside the outage (started {:.1?} after recovery)",
                        e.kind,
                        e.start.saturating_duration_since(t_recovered)
                    ));
                }
            }
            Ok(200 | 201 | 204) => {
                // Every one of these needs the database.
                if e.start > t_down_done && e.end < t_starting {
                    violations.push(format!("{} answered 2xx with the database down", e.kind));
                }
                if e.start >= t_up {
                    let at = e.end - t_up;
                    first_ok_after_up = Some(first_ok_after_up.map_or(at, |f| f.min(at)));
                }
            }
            Ok(s) => violations.push(format!(
                "{} answered {s} ({:.1?} after the start)",
                e.kind,
                e.start - t0
            )),
            Err(err) => violations.push(format!(
                "{}: {err} ({:.1?} after the start, {:.1?} in)",
                e.kind,
                e.start - t0,
                e.latency()
            )),
        }
        if during && e.latency() > bound_of(e.kind) {
            violations.push(format!(
                "{} took {:.1?} during the outage (bound {:?})",
                e.kind,
                e.latency(),
                bound_of(e.kind)
            ));
        }
    }
    let n503 = events.iter().filter(|e| e.result == Ok(503)).count();
    if n503 == 0 {
        violations.push("no request met the outage (no 503 at all)".into());
    }

    // --- what the database and the store hold, once settled --------------
    // A change whose COMMIT the outage cut is settled in the background
    // once the database answers (see `commit_in_doubt.rs`): wait for it.
    let doubts_settled = wait_until(Duration::from_secs(30), || {
        let t = srv.log_text();
        t.matches("the data is kept until it can").count() == t.matches("in doubt was").count()
    });
    if !doubts_settled {
        violations.push("a commit in doubt was never settled".into());
    }
    let mut c = pg.client("glance");
    let rows = c.q(
        "SELECT id, status, deleted::text, size::text, checksum FROM images ORDER BY created_at",
    );
    let mut locs: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in c.q("SELECT image_id, value, status FROM image_locations WHERE NOT deleted") {
        locs.entry(r[0].clone().unwrap())
            .or_default()
            .push((r[1].clone().unwrap(), r[2].clone().unwrap()));
    }
    let acked: HashMap<&str, &(String, u64)> = events
        .iter()
        .filter(|e| e.result == Ok(204))
        .filter_map(|e| Some((e.image.as_deref()?, e.upload.as_ref()?)))
        .collect();
    let cut: HashSet<&str> = events
        .iter()
        .filter(|e| e.upload.is_some() && e.result != Ok(204))
        .filter_map(|e| e.image.as_deref())
        .collect();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut saving = Vec::new();
    for r in &rows {
        let id = r[0].clone().unwrap();
        let status = r[1].clone().unwrap();
        *statuses.entry(status.clone()).or_default() += 1;
        let live = locs.get(&id).cloned().unwrap_or_default();
        if r[2].as_deref() != Some("false") {
            violations.push(format!("{id}: deleted, yet nobody deleted anything"));
        }
        match status.as_str() {
            "active" => {
                let [(url, st)] = live.as_slice() else {
                    violations.push(format!("{id}: active with locations {live:?}"));
                    continue;
                };
                let path = url.strip_prefix("file://").unwrap_or(url);
                let on_disk = std::fs::metadata(path).map(|m| m.len().to_string()).ok();
                if st != "active" || on_disk.as_deref() != r[3].as_deref() {
                    violations.push(format!(
                        "{id}: active, size {:?}, location {url} ({st}) holds {on_disk:?} bytes",
                        r[3]
                    ));
                } else if md5_file(Path::new(path)) != r[4] {
                    violations.push(format!("{id}: the file's md5 is not the checksum"));
                }
                if let Some((md5, len)) = acked.get(id.as_str())
                    && (Some(md5) != r[4].as_ref() || Some(len.to_string()) != r[3])
                {
                    violations.push(format!("{id}: not the data acknowledged"));
                }
            }
            "queued" | "saving" => {
                if !live.is_empty() || r[3].is_some() {
                    violations.push(format!(
                        "{id}: {status} with size {:?}, locations {live:?}",
                        r[3]
                    ));
                }
                if acked.contains_key(id.as_str()) {
                    violations.push(format!("{id}: upload acknowledged, image {status}"));
                }
                if status == "saving" {
                    if !cut.contains(id.as_str()) {
                        violations.push(format!("{id}: saving, but no upload of it failed"));
                    }
                    saving.push(id);
                }
            }
            other => violations.push(format!("{id}: unexpected status {other}")),
        }
    }
    for id in acked.keys() {
        if !rows
            .iter()
            .any(|r| r[0].as_deref() == Some(id) && r[1].as_deref() == Some("active"))
        {
            violations.push(format!("{id}: upload acknowledged, image not active"));
        }
    }
    let (stray, files) =
        store_files_not_in(&store, locs.values().flatten().map(|(u, _)| u.as_str()));
    for p in stray {
        violations.push(format!("orphaned file (or leftover) in the store: {p}"));
    }
    // An image the outage left `saving` is not stuck: DELETE clears it.
    for id in &saving {
        let r = request(port, "DELETE", &format!("/v2/images/{id}"), &[], b"").unwrap();
        if r.status != 204 {
            violations.push(format!("DELETE of saving image {id}: {}", r.status));
        }
    }
    // And uploads work again.
    let after = create(&log, port).unwrap();
    let r = request(
        port,
        "PUT",
        &format!("/v2/images/{after}/file"),
        &[("Content-Type", "application/octet-stream")],
        b"after the outage",
    )
    .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let log_text = srv.log_text();
    if log_text.contains("panicked") {
        violations.push("a worker panicked (see the log)".into());
    }

    let (ok, failed): (Vec<&Ev>, Vec<&Ev>) = events
        .iter()
        .partition(|e| matches!(e.result, Ok(200..=299)));
    eprintln!(
        "db_faults: {} requests ({} 2xx, {} 503, {} other); PostgreSQL fast shutdown took \
         {shutdown_took:.1?}; worst latency during the outage {worst_outage:.2?} (of a 503: \
         {worst_503:.2?}; by kind {worst:.2?}; pool_timeout {POOL_TIMEOUT} s); /versions during the \
         outage {versions_latency:.1?}; recovery: probe 2xx {:.2?} after PostgreSQL answered, \
         first load 2xx {:.2?} after; answers {tally:?}; images {statuses:?}; {} left saving \
         (deleted after); {files} files",
        events.len(),
        ok.len(),
        n503,
        failed.len() - n503,
        t_recovered - t_up,
        first_ok_after_up.unwrap_or_default(),
        saving.len(),
    );
    drop(srv);
    assert!(
        violations.is_empty(),
        "{} violations:\n{}\nPostgreSQL log tail:\n{}\nGlimpse log tail:\n{}",
        violations.len(),
        violations.join("\n"),
        tail(&pg.log_text(), 20),
        tail(&log_text, 60)
    );
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn startup_retries_then_gives_up_or_starts() {
    let Some(mut pg) = pg::OwnPg::init("db_faults::startup_retries_then_gives_up_or_starts") else {
        return;
    };
    // The database exists (a missing one is a configuration error, not
    // an outage); then the server goes.
    pg.start();
    pg.client("postgres").q("CREATE DATABASE glance");
    pg.stop_fast();
    let store_dir = TempDir::new("faults-start");
    let store = store_dir.path().join("images");

    // Down for good: max_retries = 2 → three attempts, 1 s apart, then
    // exit 1 naming the database. A refused connection fails an attempt at
    // once: pool_timeout (10 s here) does not stretch the attempts.
    let retry = "max_retries = 2\nretry_interval = 1";
    let t = Instant::now();
    let mut srv = start_with(
        &node_conf(free_port(), pg.port, &store, 10, retry),
        &[],
        false,
    );
    let code = srv.wait_exit(Duration::from_secs(60));
    let gave_up_after = t.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = srv.child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let said = format!("{stderr}{}", srv.log_text());
    assert_eq!(code, Some(Some(1)), "exit status; output:\n{said}");
    assert!(
        gave_up_after < Duration::from_secs(8),
        "gave up after {gave_up_after:?}: two 1 s intervals expected, not pool timeouts"
    );
    assert!(
        said.contains("Cannot connect to the database") && said.contains(&pg.port.to_string()),
        "no clear error:\n{said}"
    );
    assert_eq!(
        said.matches("unavailable").count(),
        2,
        "expected two retries logged:\n{said}"
    );

    // Down at first, up within the budget: the node starts.
    let retry = "max_retries = 20\nretry_interval = 1";
    let port = free_port();
    let t = Instant::now();
    let srv = start_with(&node_conf(port, pg.port, &store, 10, retry), &[], false);
    std::thread::sleep(Duration::from_secs(3));
    assert!(alive(srv.pid()), "gave up early:\n{}", srv.log_text());
    pg.start();
    let pg_up = Instant::now();
    wait_ready(&srv);
    let ready_after = pg_up.elapsed();
    let r = request(port, "GET", "/v2/images", &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    eprintln!(
        "db_faults: start-up with the database down: gave up after {gave_up_after:.1?} \
         (max_retries 2, retry_interval 1 s, pool_timeout 10 s); started \
         {ready_after:.1?} after the database appeared ({:.1?} after launch)",
        t.elapsed()
    );
}
