//! The tasks API driven by one request sequence against Python Glance 33
//! and against Glimpse, compared request by request (`common/diff.rs`):
//! creating legacy `import` tasks (one that succeeds, one whose URL answers
//! 404), showing them once they finished, the image a task made, lists and
//! their links, the refusals at create (unresolvable host, file URLs, other
//! schemes, missing keys, schema errors), a non-admin's 403s and DELETE's
//! 405.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/diff.rs"]
mod diff;

use std::path::Path;
use std::time::Duration;

use common::*;
use diff::*;
use serde_json::{Value, json};

fn conf(dir: &Path, files: u16) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
         [paste_deploy]\nflavor = trusted\n\
         [import_filtering_opts]\nallowed_hosts = [127.0.0.1]\nallowed_ports = [{files}]\n",
        d = dir.display()
    )
}

/// Differences accepted on purpose: (request label, aspect, why).
const ACCEPTED_DIFFERENCES: &[(&str, &str, &str)] = &[];

fn task(url: &str) -> Vec<u8> {
    json!({"type": "import", "input": {"import_from": url, "import_from_format": "raw",
        "image_properties": {"name": "from-task", "disk_format": "raw", "container_format": "bare"}}})
    .to_string()
    .into_bytes()
}

/// Waits (outside the transcript) until the last created task finished,
/// and learns the image it made.
fn settle(s: &mut Side) {
    let Some((_, id)) = s.ids.last().cloned() else {
        return;
    };
    let mut body = Value::Null;
    wait_until(Duration::from_secs(60), || {
        body = request(
            s.port,
            "GET",
            &format!("/v2/tasks/{id}"),
            TRUSTED_ADMIN,
            b"",
        )
        .map(|r| r.json())
        .unwrap_or(Value::Null);
        body["status"] == "success" || body["status"] == "failure"
    });
    if let Some(image) = body["result"]["image_id"].as_str() {
        s.learn(image);
    }
}

fn run_sequence(port: u16, files: u16) -> Side {
    let mut s = Side::new(port);
    let none: &[u8] = b"";
    let base = format!("http://127.0.0.1:{files}");

    s.call("GET", "/v2/tasks", TRUSTED_ADMIN, none);
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task(&format!("{base}/image")),
    );
    s.expect("201", |r, _| r.status == 201);
    settle(&mut s);
    s.call("GET", "/v2/tasks/{ID1}", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/images/{ID2}", TRUSTED_ADMIN, none);
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task(&format!("{base}/missing")),
    );
    settle(&mut s);
    s.call("GET", "/v2/tasks/{ID3}", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/images", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?limit=1&sort_dir=asc", TRUSTED_ADMIN, none);
    s.follow_next();
    s.call("GET", "/v2/tasks?status=failure", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?status=bogus", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?type=bogus", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?marker=nope", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?limit=x", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?limit=-1", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks?sort_dir=up", TRUSTED_ADMIN, none);
    s.call(
        "GET",
        "/v2/tasks/3f0c7c2a-1d6e-4b8f-a1c5-0e9d8b7a6c54",
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task("http://tempest-dummy-img-file-1.qcow2"),
    );
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task("http://127.0.0.1:1/image"),
    );
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task("file:///etc/passwd"),
    );
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        &task("ftp://example.com/x"),
    );
    s.call("POST", "/v2/tasks", TRUSTED_ADMIN, &task(""));
    s.call("POST", "/v2/tasks", TRUSTED_ADMIN, br#"{"input": {}}"#);
    s.call("POST", "/v2/tasks", TRUSTED_ADMIN, br#"{"type": "import"}"#);
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        br#"{"type": "import", "input": {}, "x": 1}"#,
    );
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_ADMIN,
        br#"{"type": "bogus", "input": {}}"#,
    );
    s.call("POST", "/v2/tasks", TRUSTED_ADMIN, none);
    s.call("GET", "/v2/tasks", TRUSTED_MEMBER, none);
    s.call("GET", "/v2/tasks/{ID1}", TRUSTED_MEMBER, none);
    s.call(
        "POST",
        "/v2/tasks",
        TRUSTED_MEMBER,
        &task(&format!("{base}/image")),
    );
    s.call("DELETE", "/v2/tasks/{ID1}", TRUSTED_ADMIN, none);
    s.call("DELETE", "/v2/tasks/{ID1}", TRUSTED_MEMBER, none);
    s.call("PUT", "/v2/tasks/{ID1}", TRUSTED_ADMIN, none);
    s
}

#[test]
fn tasks_api_same_as_glance_33() {
    let Some(venv) = glance_venv() else { return };
    let files = serve_image_files();
    for b in backends("glimpse_taskdiff") {
        b.prepare();
        let gdir = TempDir::new("glance-task-data");
        std::fs::create_dir_all(gdir.path().join("images")).unwrap();
        let gconf = on_database(&conf(gdir.path(), files), b.glance.as_ref());
        let glance = Glance::start_with_paste(&venv, &gconf, TRUSTED_PASTE);
        let gside = run_sequence(glance.port, files);
        drop(glance);
        if glance_only() {
            return conclude(&gside, None, b.name, ACCEPTED_DIFFERENCES);
        }
        let port = free_port();
        let mdir = TempDir::new("glimpse-task-data");
        std::fs::create_dir_all(mdir.path().join("images")).unwrap();
        let srv_dir = TempDir::new("glimpse-tasks");
        srv_dir.write("glance-api-paste.ini", &format!("{PASTE}\n{TRUSTED_PASTE}"));
        let mconf = on_database(&conf(mdir.path(), files), b.glimpse.as_ref()).replace(
            "workers = 1\n",
            &format!("workers = 1\nbind_port = {port}\n"),
        );
        let glimpse = start_in(srv_dir, &mconf, &[], true);
        let mside = run_sequence(glimpse.port, files);
        drop(glimpse);
        conclude(&gside, Some(&mside), b.name, ACCEPTED_DIFFERENCES);
    }
}
