//! The service runtime, black-box: the real binary, real sockets, real
//! signals. Each test starts its own server on a free loopback port.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn serves_versions_healthcheck_and_request_ids() {
    let port = free_port();
    let srv = start(&base_conf(port, 2, "", ""));
    let r = srv.get("/versions");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["versions"][0]["id"], "v2.15");
    assert_eq!(
        v["versions"][0]["links"][0]["href"],
        format!("http://127.0.0.1/v2/")
    );
    // /versions is answered before the context filter: no request id.
    assert!(r.header("x-openstack-request-id").is_none());
    assert_eq!(srv.get("/").status, 300);
    assert_eq!(srv.get("/v3/images").status, 300);
    let h = srv.get("/healthcheck");
    assert_eq!((h.status, h.text().as_str()), (200, "OK"));
    let h = request(port, "HEAD", "/healthcheck", &[], b"").unwrap();
    assert_eq!(h.status, 204);
    // Past negotiation every response carries a request id.
    let r = srv.get("/v2.1/no-such-thing");
    assert_eq!(r.status, 404);
    let id = r.header("x-openstack-request-id").unwrap();
    assert!(id.starts_with("req-") && id.len() == 40, "{id}");
    assert_eq!(srv.workers().len(), 2);
}

#[test]
fn killed_worker_is_replaced_within_a_second() {
    let port = free_port();
    let srv = start(&base_conf(port, 2, "", ""));
    assert!(wait_until(Duration::from_secs(5), || srv.workers().len() == 2));
    let before = srv.workers();
    signal(before[0], "KILL");
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(1), || {
            let w = srv.workers();
            w.len() == 2 && !w.contains(&before[0])
        }),
        "not respawned within 1 s: {:?}",
        srv.workers()
    );
    eprintln!("respawned in {:?}", t.elapsed());
    assert_eq!(srv.get("/versions").status, 200);
}

#[test]
fn crash_loop_is_rate_limited() {
    let port = free_port();
    let srv = start(&base_conf(port, 1, "", ""));
    // Kill the single worker as soon as it appears, repeatedly.
    let mut kills = 0;
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end {
        for w in srv.workers() {
            signal(w, "KILL");
            kills += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Back-off doubles from 1 s, so 4 s allow only a handful of forks.
    assert!(kills <= 6, "fork storm: {kills} workers in 4 s");
    assert!(
        srv.log_text().contains("crash loop back-off"),
        "{}",
        srv.log_text()
    );
}

fn hammer(port: u16, stop: Arc<AtomicBool>, ok: Arc<AtomicUsize>, failed: Arc<AtomicUsize>) {
    let mut conn: Option<Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match Conn::open(port) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    eprintln!("connect failed: {e}");
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match c.request("GET", "/versions") {
            Ok(r) if r.status == 200 => {
                ok.fetch_add(1, Ordering::Relaxed);
                if r.header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                {
                    conn = None;
                }
            }
            Ok(r) => {
                eprintln!("bad status {}", r.status);
                failed.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
            Err(e) => {
                eprintln!("request failed: {e}");
                failed.fetch_add(1, Ordering::Relaxed);
                conn = None;
            }
        }
    }
}

#[test]
fn sighup_under_load_replaces_every_worker_with_zero_failures() {
    let port = free_port();
    let srv = start(&base_conf(port, 2, "", ""));
    assert!(wait_until(Duration::from_secs(5), || srv.workers().len() == 2));
    let old = srv.workers();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || hammer(port, s, o, f))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    srv.signal("HUP");
    let replaced = wait_until(Duration::from_secs(10), || {
        let w = srv.workers();
        w.len() == 2 && w.iter().all(|p| !old.contains(p))
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "during SIGHUP: {ok} ok, {failed} failed; workers {old:?} -> {:?}",
        srv.workers()
    );
    assert!(
        replaced,
        "old workers still present: {:?} (old {old:?})",
        srv.workers()
    );
    assert_eq!(failed, 0);
    assert!(ok > 100);
}

#[test]
fn sighup_with_broken_config_keeps_serving() {
    let port = free_port();
    let srv = start(&base_conf(port, 2, "", ""));
    assert!(wait_until(Duration::from_secs(5), || srv.workers().len() == 2));
    let before = srv.workers();
    let cfg = srv.dir.path().join("glance-api.conf");
    std::fs::write(&cfg, base_conf(port, 2, "http_keepalive = maybe", "")).unwrap();
    srv.signal("HUP");
    assert!(wait_until(Duration::from_secs(5), || srv
        .log_text()
        .contains("Reload failed")));
    assert_eq!(srv.workers(), before);
    assert_eq!(srv.get("/versions").status, 200);
    assert!(
        srv.log_text().contains("http_keepalive"),
        "{}",
        srv.log_text()
    );
    // And a later valid reload still works (with a new worker count).
    std::fs::write(&cfg, base_conf(port, 3, "", "")).unwrap();
    srv.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let w = srv.workers();
            w.len() == 3 && w.iter().all(|p| !before.contains(p))
        }),
        "{:?}",
        srv.workers()
    );
}

#[test]
fn sighup_moves_to_a_new_port() {
    let port = free_port();
    let srv = start(&base_conf(port, 1, "", ""));
    let port2 = free_port();
    std::fs::write(
        srv.dir.path().join("glance-api.conf"),
        base_conf(port2, 1, "", ""),
    )
    .unwrap();
    srv.signal("HUP");
    assert!(wait_until(Duration::from_secs(10), || {
        request(port2, "GET", "/versions", &[], b"").is_ok_and(|r| r.status == 200)
    }));
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_err()));
}

#[test]
fn workers_exit_within_a_second_when_the_master_dies() {
    let port = free_port();
    let srv = start(&base_conf(port, 2, "", ""));
    assert!(wait_until(Duration::from_secs(5), || srv.workers().len() == 2));
    let workers = srv.workers();
    srv.signal("KILL");
    let t = Instant::now();
    let gone = wait_until(Duration::from_secs(1), || {
        workers.iter().all(|w| !alive(*w))
    });
    eprintln!("workers gone after {:?}", t.elapsed());
    assert!(gone, "orphaned workers still alive");
}

#[test]
fn sigterm_lets_a_slow_request_finish() {
    let dir = TempDir::new("slow");
    // The delay filter holds requests under /slow for 2 s.
    let paste = PASTE.replace(
        "versionnegotiation osprofiler unauthenticated-context rootapp",
        "versionnegotiation osprofiler unauthenticated-context delay rootapp",
    ) + "\n[filter:delay]\npaste.filter_factory = glimpse.testing:DelayFilter.factory\nseconds = 2\npath_prefix = /v2/slow\n";
    dir.write("glance-api-paste.ini", &paste);
    let port = free_port();
    let mut srv = start_in(dir, &base_conf(port, 1, "", ""), &[], true);
    let slow = std::thread::spawn(move || {
        let t = Instant::now();
        let r = request(port, "GET", "/v2/slow", &[], b"");
        (r.map(|r| r.status), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(400));
    srv.signal("TERM");
    let (status, took) = slow.join().unwrap();
    assert_eq!(status.unwrap(), 404, "the slow request must complete");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(Some(0)));
    // No longer listening.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn header_line_too_long_keepalive_and_idle_timeout() {
    let port = free_port();
    let srv = start(&base_conf(
        port,
        1,
        "max_header_line = 100\nhttp_keepalive = false\nclient_socket_timeout = 2",
        "",
    ));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let long = "a".repeat(150);
    write!(
        s,
        "GET /versions HTTP/1.1\r\nHost: x\r\nX-Long: {long}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.0 400 Header Line Too Long\r\n"),
        "{out}"
    );
    assert!(out.to_ascii_lowercase().contains("connection: close"));
    assert!(out.to_ascii_lowercase().contains("content-length: 0"));
    // http_keepalive = false: every response closes.
    let r = srv.get("/versions");
    assert_eq!(r.header("connection"), Some("close"));
    // client_socket_timeout: an idle connection is closed after ~2 s.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 1];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn keepalive_connection_is_reused() {
    let port = free_port();
    let _srv = start(&base_conf(port, 1, "", ""));
    let mut c = Conn::open(port).unwrap();
    for _ in 0..5 {
        let r = c.request("GET", "/versions").unwrap();
        assert_eq!(r.status, 200);
        assert!(r.header("connection").is_none());
    }
}

#[test]
fn workers_zero_serves_in_one_process_and_drains_on_sigterm() {
    let port = free_port();
    let mut srv = start(&base_conf(port, 0, "", ""));
    assert!(srv.workers().is_empty(), "no forked workers expected");
    assert_eq!(srv.get("/versions").status, 200);
    srv.signal("TERM");
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(Some(0)));
}

#[test]
fn several_services_with_their_own_sockets_and_worker_counts() {
    let port = free_port();
    let port2 = free_port();
    let conf = base_conf(
        port,
        2,
        &format!(
            "enabled_apis = glance-api, glance-internal\nglance_internal_listen = 127.0.0.1\n\
             glance_internal_listen_port = {port2}\nglance_internal_workers = 1\n\
             glance_internal_paste_app = glance-api"
        ),
        "",
    );
    let srv = start(&conf);
    assert!(
        wait_until(Duration::from_secs(5), || srv.workers().len() == 3),
        "{:?}",
        srv.workers()
    );
    assert_eq!(
        request(port2, "GET", "/versions", &[], b"").unwrap().status,
        200
    );
    assert_eq!(srv.get("/versions").status, 200);
}

fn tls_data(name: &str) -> String {
    format!("{}/../http/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn serves_https_with_cert_and_key() {
    let port = free_port();
    let conf = base_conf(
        port,
        1,
        &format!(
            "cert_file = {}\nkey_file = {}",
            tls_data("server.pem"),
            tls_data("server.key")
        ),
        "",
    );
    let srv = start_with(&conf, &[], false);
    let url = format!("https://127.0.0.1:{port}/versions");
    let ok = wait_until(Duration::from_secs(20), || {
        std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(tls_data("ca.pem"))
            .arg(&url)
            .output()
            .is_ok_and(|o| o.stdout == b"200")
    });
    assert!(ok, "no HTTPS answer; log:\n{}", srv.log_text());
    // Plain HTTP on the TLS port is not served.
    assert!(
        request(port, "GET", "/versions", &[], b"")
            .map(|r| r.status != 200)
            .unwrap_or(true)
    );
}

#[test]
fn cert_without_key_is_refused() {
    let dir = TempDir::new("tlsbad");
    dir.write("glance-api-paste.ini", PASTE);
    let cfg = dir.write(
        "glance-api.conf",
        &format!(
            "[DEFAULT]\nbind_port = {}\ncert_file = {}\n",
            free_port(),
            tls_data("server.pem")
        ),
    );
    let (code, _, err) = run(&["api", "--config-file", cfg.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("both a cert_file and key_file"), "{err}");
}

#[test]
fn notifies_systemd_when_ready() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("notify");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = free_port();
    dir.write("glance-api-paste.ini", PASTE);
    let cfg = dir.write("glance-api.conf", &base_conf(port, 1, "", ""));
    let mut child = std::process::Command::new(bin())
        .args(["api", "--config-file", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap_or(0);
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let pid = child.id() as i32;
    let workers = children_of(pid);
    signal(pid, "TERM");
    let _ = child.wait();
    for w in workers {
        signal(w, "KILL");
    }
    assert!(msg.contains("READY=1"), "{msg:?}");
    assert!(msg.contains(&format!("MAINPID={pid}")), "{msg:?}");
}

#[test]
fn config_dir_env_override_and_oslo_log_lines() {
    let dir = TempDir::new("confdir");
    let port = free_port();
    dir.write("glance-api-paste.ini", PASTE);
    // workers comes from the conf.d file (later wins), bind_port from the env.
    let cfg = dir.write(
        "glance-api.conf",
        "[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = 1\nworkers = 3\n",
    );
    let confd = dir.path().join("conf.d");
    std::fs::create_dir_all(&confd).unwrap();
    std::fs::write(confd.join("10-workers.conf"), "[DEFAULT]\nworkers = 2\n").unwrap();
    std::fs::write(confd.join("ignored.txt"), "[DEFAULT]\nworkers = 7\n").unwrap();
    let log = dir.path().join("api.log");
    let child = std::process::Command::new(bin())
        .args([
            "api",
            "--config-file",
            cfg.to_str().unwrap(),
            "--config-dir",
            confd.to_str().unwrap(),
        ])
        .arg("--log-file")
        .arg(&log)
        .env("OS_DEFAULT__BIND_PORT", port.to_string())
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let srv = Server {
        child,
        port,
        dir,
        log,
    };
    wait_ready(&srv);
    assert!(
        wait_until(Duration::from_secs(5), || srv.workers().len() == 2),
        "{:?}",
        srv.workers()
    );
    let text = srv.log_text();
    let line = text.lines().find(|l| l.contains("Started child")).unwrap();
    // 2026-11-21 14:10:01.642 12667 INFO glimpse.launcher [-] Started child ...
    let f: Vec<&str> = line.splitn(6, ' ').collect();
    assert_eq!(f[0].len(), 10, "{line}");
    assert_eq!(f[1].len(), 12, "{line}");
    assert_eq!(f[2], srv.pid().to_string(), "{line}");
    assert_eq!(f[3], "INFO", "{line}");
    assert!(f[5].starts_with("[-] Started child"), "{line}");
}

#[test]
fn umask_is_027_in_master_and_workers() {
    let port = free_port();
    let srv = start(&base_conf(port, 1, "", ""));
    assert!(wait_until(Duration::from_secs(5), || srv.workers().len() == 1));
    for pid in std::iter::once(srv.pid()).chain(srv.workers()) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let umask = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        assert_eq!(
            umask.split_whitespace().nth(1),
            Some("0027"),
            "pid {pid}: {umask}"
        );
    }
}

#[test]
fn sighup_reloads_the_paste_file_too() {
    let dir = TempDir::new("pastehup");
    dir.write("glance-api-paste.ini", PASTE);
    let port = free_port();
    let srv = start_in(dir, &base_conf(port, 1, "", ""), &[], true);
    assert_eq!(srv.get("/healthcheck").status, 200);
    // Point the healthcheck's disable file at a file that exists.
    let flag = srv.dir.write("maintenance", "");
    let paste = PASTE.replace(
        "disable_by_file_path = /etc/glance/healthcheck_disable",
        &format!("disable_by_file_path = {}", flag.display()),
    );
    srv.dir.write("glance-api-paste.ini", &paste);
    srv.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || srv.get("/healthcheck").status
            == 503),
        "{}",
        srv.log_text()
    );
    assert_eq!(srv.get("/healthcheck").text(), "DISABLED BY FILE");
    // A broken paste file on the next reload keeps the running pipeline.
    srv.dir
        .write("glance-api-paste.ini", "[composite:glance-api\nbroken");
    srv.signal("HUP");
    assert!(wait_until(Duration::from_secs(5), || srv
        .log_text()
        .contains("Reload failed")));
    assert_eq!(srv.get("/healthcheck").status, 503);
}
