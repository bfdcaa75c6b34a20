//! The image data path through the real binary over raw HTTP: streaming
//! uploads (sized and chunked) with their checksums, the failure paths a
//! client library hides (size cap, a client vanishing mid-upload, a second
//! upload racing the first, a delete during an upload), each of which
//! must leave the image `queued` (or gone) and no partial file in the
//! store; downloads with 204/206/416 and `Content-MD5`; and the worker's
//! memory staying flat while a large image streams through.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::*;
use md5::{Digest, Md5};
use sha2::Sha512;

fn conf(port: u16, dir: &Path, extra: &str) -> String {
    base_conf(
        port,
        1,
        extra,
        &format!(
            "[database]\nconnection = sqlite:///{d}/glance.sqlite\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            d = dir.display()
        ),
    )
}

/// A sized `PUT /file` of `body` on a fresh connection.
fn put_file(port: u16, id: &str, body: &[u8]) -> Resp {
    request(
        port,
        "PUT",
        &format!("/v2/images/{id}/file"),
        &[("Content-Type", "application/octet-stream")],
        body,
    )
    .unwrap()
}

fn show(port: u16, id: &str) -> serde_json::Value {
    let r = request(port, "GET", &format!("/v2/images/{id}"), &[], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn store_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("images"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Send a chunked PUT of `total` bytes in `chunk`-sized pieces; returns the
/// response and the md5/sha512 of what was sent.
fn put_chunked(port: u16, id: &str, total: usize, chunk: usize) -> (Resp, String, String) {
    let mut c = Conn::open(port).unwrap();
    c.w.write_all(
        format!(
            "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let block = pattern(chunk, 7);
    let (mut md5, mut sha) = (Md5::new(), Sha512::new());
    let mut sent = 0;
    while sent < total {
        let n = chunk.min(total - sent);
        md5.update(&block[..n]);
        sha.update(&block[..n]);
        if c.w
            .write_all(format!("{n:x}\r\n").as_bytes())
            .and_then(|_| c.w.write_all(&block[..n]))
            .and_then(|_| c.w.write_all(b"\r\n"))
            .is_err()
        {
            break; // the server answered early and closed
        }
        sent += n;
    }
    let _ = c.w.write_all(b"0\r\n\r\n");
    let r = c.read_response(false).unwrap();
    (r, hex(&md5.finalize()), hex(&sha.finalize()))
}

#[test]
fn chunked_upload_hashes_on_the_fly_and_downloads_back() {
    let dir = TempDir::new("data-chunked");
    let port = free_port();
    let _srv = start(&conf(port, dir.path(), ""));
    let id = create_raw_image(port);

    // Nothing uploaded yet: 204 with no body.
    let r = request(port, "GET", &format!("/v2/images/{id}/file"), &[], b"").unwrap();
    assert_eq!((r.status, r.body.len()), (204, 0));

    let total = 48 << 20;
    let (r, md5, sha) = put_chunked(port, &id, total, 1 << 20);
    assert_eq!(r.status, 204, "{}", r.text());
    let img = show(port, &id);
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], total);
    assert_eq!(img["checksum"], md5.as_str());
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"], sha.as_str());
    assert_eq!(store_files(dir.path()), vec![id.clone()]);

    let r = request(port, "GET", &format!("/v2/images/{id}/file"), &[], b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-md5"), Some(md5.as_str()));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body.len(), total);
    assert_eq!(hex(&Md5::digest(&r.body)), md5);

    // Ranges: 206 with Content-Range and the whole-image md5; past the end 416.
    let r = request(
        port,
        "GET",
        &format!("/v2/images/{id}/file"),
        &[("Range", "bytes=10-19")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{total}").as_str())
    );
    assert_eq!(r.header("content-md5"), Some(md5.as_str()));
    assert_eq!(r.body, pattern(1 << 20, 7)[10..20].to_vec());
    let r = request(
        port,
        "GET",
        &format!("/v2/images/{id}/file"),
        &[("Range", &format!("bytes={}-", total + 5))],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 416, "{}", r.text());

    // A second upload to an active image: 409, nothing changes.
    let r = put_file(port, &id, b"more");
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(show(port, &id)["checksum"], md5.as_str());
}

#[test]
fn size_cap_refuses_and_rolls_back() {
    let dir = TempDir::new("data-cap");
    let port = free_port();
    let _srv = start(&conf(port, dir.path(), "image_size_cap = 1048576"));
    let id = create_raw_image(port);
    let (r, _, _) = put_chunked(port, &id, 8 << 20, 256 << 10);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(
        r.text().contains("The incoming image is too large"),
        "{}",
        r.text()
    );
    let img = show(port, &id);
    assert_eq!(img["status"], "queued");
    assert_eq!(img["size"], serde_json::Value::Null);
    assert_eq!(img["checksum"], serde_json::Value::Null);
    assert!(
        store_files(dir.path()).is_empty(),
        "{:?}",
        store_files(dir.path())
    );
    // And a sized upload within the cap then works.
    let r = put_file(port, &id, &pattern(1 << 20, 1));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(show(port, &id)["size"], 1 << 20);
}

/// Starts a sized upload of `declared` bytes, sends the first `sent`, and
/// waits until the image is `saving`; the caller finishes or drops it.
fn begin_upload(port: u16, id: &str, declared: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(
        format!(
            "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&pattern(sent, 3)).unwrap();
    assert!(wait_until(
        Duration::from_secs(5),
        || show(port, id)["status"] == "saving"
    ));
    s
}

#[test]
fn client_vanishing_mid_upload_leaves_the_image_queued() {
    let dir = TempDir::new("data-vanish");
    let port = free_port();
    let _srv = start(&conf(port, dir.path(), ""));
    let id = create_raw_image(port);
    {
        let _s = begin_upload(port, &id, 64 << 20, 4 << 20);
    } // dropped: the connection closes with 60 MiB missing
    assert!(
        wait_until(Duration::from_secs(10), || show(port, &id)["status"]
            == "queued"),
        "image stayed {}",
        show(port, &id)["status"]
    );
    assert!(
        wait_until(Duration::from_secs(5), || store_files(dir.path())
            .is_empty()),
        "partial data left: {:?}",
        store_files(dir.path())
    );
    // The image is usable afterwards.
    let r = put_file(port, &id, b"0123456789");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(show(port, &id)["status"], "active");
}

#[test]
fn racing_upload_and_delete_during_upload() {
    let dir = TempDir::new("data-race");
    let port = free_port();
    let _srv = start(&conf(port, dir.path(), ""));
    let id = create_raw_image(port);
    let mut first = begin_upload(port, &id, 8 << 20, 1 << 20);
    // A second upload while the first is saving: 409 (queued → saving is
    // not allowed from saving).
    let r = put_file(port, &id, b"x");
    assert_eq!(r.status, 409, "{}", r.text());
    // Delete while saving: 204; the first upload then ends in 410 and
    // leaves no data behind.
    let r = request(port, "DELETE", &format!("/v2/images/{id}"), &[], b"").unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    first.write_all(&pattern(7 << 20, 6)).unwrap();
    let mut c = Conn {
        r: std::io::BufReader::new(first.try_clone().unwrap()),
        w: first,
    };
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 410, "{}", r.text());
    assert!(
        store_files(dir.path()).is_empty(),
        "{:?}",
        store_files(dir.path())
    );
    let r = request(port, "GET", &format!("/v2/images/{id}"), &[], b"").unwrap();
    assert_eq!(r.status, 404);
}

fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The upload is streamed: a 256 MiB image through one worker moves its
/// resident memory by a few MiB at most, not by the image size.
#[test]
fn large_upload_does_not_grow_the_worker() {
    let dir = TempDir::new("data-rss");
    let port = free_port();
    let srv = start(&conf(port, dir.path(), ""));
    let id = create_raw_image(port);
    let worker = srv.workers()[0];
    let before = rss_kb(worker);
    let total = 256 << 20;
    let (r, md5, _) = put_chunked(port, &id, total, 4 << 20);
    assert_eq!(r.status, 204, "{}", r.text());
    let after = rss_kb(worker);
    assert_eq!(show(port, &id)["checksum"], md5.as_str());
    assert!(
        after < before + 64 * 1024,
        "worker RSS grew from {before} kB to {after} kB for a {total}-byte upload"
    );
}

/// Regression: the master once checked the database with a tokio runtime
/// of its own, which left tokio's process-wide signal pipe to be shared by
/// the workers it forked, so one worker could swallow another's SIGTERM
/// and never drain. Every worker must stop after database work.
#[test]
fn sigterm_stops_every_worker_after_database_work() {
    for round in 0..3 {
        let dir = TempDir::new("data-sigterm");
        let port = free_port();
        let conf = conf(port, dir.path(), "").replace("workers = 1", "workers = 2");
        let mut srv = start(&conf);
        let workers = srv.workers();
        assert_eq!(workers.len(), 2);
        let clients: Vec<_> = (0..16)
            .map(|_| std::thread::spawn(move || create_raw_image(port)))
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        srv.signal("TERM");
        let exited = srv.wait_exit(Duration::from_secs(10));
        assert_eq!(
            exited,
            Some(Some(0)),
            "round {round}: master did not exit after SIGTERM; log:\n{}",
            srv.log_text()
        );
        for w in workers {
            assert!(!alive(w), "round {round}: worker {w} still alive");
        }
    }
}
