//! The tasks API (`/v2/tasks`) and the legacy `import` task against the
//! real binary: a task fetches an image over HTTP from a file server on
//! loopback (allowed through `[import_filtering_opts]`), directly and
//! through a redirect, into the filesystem store; a 404 fails the task and
//! removes the image it made; URLs Glance refuses are refused at create
//! (tempest's `test_task_create_fake_image_location`); only admins may use
//! the API; lists page with `first`/`next`; DELETE is a 405.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use md5::{Digest, Md5};
use serde_json::{Value, json};

fn task_body(url: &str) -> Vec<u8> {
    json!({
        "type": "import",
        "input": {
            "import_from": url,
            "import_from_format": "raw",
            "image_properties": {"name": "from-task", "disk_format": "raw", "container_format": "bare", "foo": "bar"}
        }
    })
    .to_string()
    .into_bytes()
}

fn post_task(port: u16, body: &[u8]) -> Resp {
    request(port, "POST", "/v2/tasks", TRUSTED_ADMIN, body).unwrap()
}

/// Creates an import task from `url` (201 asserted) and waits for its end.
fn run_task(port: u16, url: &str) -> Value {
    let r = post_task(port, &task_body(url));
    assert_eq!(r.status, 201, "{}", r.text());
    wait_done(port, r.json()["id"].as_str().unwrap())
}

fn wait_done(port: u16, id: &str) -> Value {
    let mut last = Value::Null;
    let done = wait_until(Duration::from_secs(30), || {
        let r = request(port, "GET", &format!("/v2/tasks/{id}"), TRUSTED_ADMIN, b"").unwrap();
        last = r.json();
        last["status"] == "success" || last["status"] == "failure"
    });
    assert!(done, "task {id} did not finish: {last}");
    last
}

#[test]
fn legacy_import_tasks() {
    let files = serve_image_files();
    let port = free_port();
    let dir = TempDir::new("glimpse-tasks");
    dir.write("glance-api-paste.ini", &format!("{PASTE}\n{TRUSTED_PASTE}"));
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("images")).unwrap();
    let conf = base_conf(
        port,
        1,
        "",
        &format!(
            "[database]\nconnection = sqlite:///{d}/glance.sqlite\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
             [paste_deploy]\nflavor = trusted\n\
             [import_filtering_opts]\nallowed_hosts = [127.0.0.1]\nallowed_ports = [{files}]\n",
            d = data.display()
        ),
    );
    let srv = start_in(dir, &conf, &[], true);
    let base = format!("http://127.0.0.1:{files}");

    // A task that fetches the image.
    let r = post_task(port, &task_body(&format!("{base}/image")));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(&format!("/v2/tasks/{id}")),
        "{:?}",
        r.header("location")
    );
    assert_eq!(created["status"], "pending");
    assert_eq!(created["type"], "import");
    assert_eq!(created["owner"], "padmin");
    assert_eq!(created["message"], "");
    assert_eq!(created["result"], Value::Null);
    assert_eq!(created["schema"], "/v2/schemas/task");
    let t = wait_done(port, &id);
    assert_eq!(t["status"], "success", "{t}");
    assert!(t["expires_at"].is_string(), "{t}");
    let image_id = t["result"]["image_id"].as_str().unwrap().to_string();
    let img = request(
        port,
        "GET",
        &format!("/v2/images/{image_id}"),
        TRUSTED_ADMIN,
        b"",
    )
    .unwrap()
    .json();
    assert_eq!(img["status"], "active", "{img}");
    assert_eq!(img["name"], "from-task");
    assert_eq!(img["foo"], "bar");
    assert_eq!(img["owner"], Value::Null, "Glance's flow sets no owner");
    assert_eq!(img["size"], 300 * 1024);
    let got = request(
        port,
        "GET",
        &format!("/v2/images/{image_id}/file"),
        TRUSTED_ADMIN,
        b"",
    )
    .unwrap();
    assert_eq!(got.body, served_image());
    // The recorded checksum is the md5 of the bytes, and the download says
    // so in Content-MD5.
    let md5 = hex(&Md5::digest(&got.body));
    assert_eq!(img["checksum"], md5.as_str(), "{img}");
    assert_eq!(got.header("content-md5"), Some(md5.as_str()));

    // Through a redirect.
    let t = run_task(port, &format!("{base}/redirect"));
    assert_eq!(t["status"], "success", "{t}");

    // A 404 fails the task and the image it made is gone.
    let t = run_task(port, &format!("{base}/missing"));
    assert_eq!(t["status"], "failure");
    assert_eq!(
        t["message"],
        "Uploading the image failed due to: HTTP Error 404: Not Found"
    );
    let images = request(port, "GET", "/v2/images", TRUSTED_ADMIN, b"")
        .unwrap()
        .json();
    assert_eq!(images["images"].as_array().unwrap().len(), 2, "{images}");

    // Refused at create, as Glance 33 does.
    for (url, text) in [
        (
            "http://tempest-dummy-img-file-123.qcow2".to_string(),
            "URI for legacy import task does not pass filtering: http://tempest-dummy-img-file-123.qcow2",
        ),
        (
            "http://127.0.0.1:1/image".to_string(),
            "URI for legacy import task does not pass filtering: http://127.0.0.1:1/image",
        ),
        (
            "file:///etc/passwd".to_string(),
            "File based imports are not allowed. Please use a non-local source of image data.",
        ),
        (
            "ftp://example.com/x".to_string(),
            "The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http']",
        ),
    ] {
        let r = post_task(port, &task_body(&url));
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert!(
            r.json()["message"].as_str().unwrap().starts_with(text),
            "{}",
            r.text()
        );
    }
    let r = post_task(port, br#"{"input": {}}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Task 'type' is required"), "{}", r.text());
    let r = post_task(port, br#"{"type": "import", "input": {}, "x": 1}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("Provided object does not match schema 'task'"),
        "{}",
        r.text()
    );
    let r = post_task(
        port,
        br#"{"type": "api_image_import", "input": {"image_id": "x"}}"#,
    );
    assert_eq!(r.status, 400);

    // Lists: newest first, stubs only, links.
    let r = request(port, "GET", "/v2/tasks?limit=2", TRUSTED_ADMIN, b"").unwrap();
    assert_eq!(r.status, 200);
    let page = r.json();
    let tasks = page["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[0].get("input").is_none() && tasks[0].get("result").is_none());
    assert_eq!(page["first"], "/v2/tasks?limit=2");
    assert_eq!(page["schema"], "/v2/schemas/tasks");
    let next = page["next"].as_str().unwrap().to_string();
    let rest = request(port, "GET", &next, TRUSTED_ADMIN, b"")
        .unwrap()
        .json();
    assert_eq!(rest["tasks"].as_array().unwrap().len(), 1, "{rest}");
    assert!(rest.get("next").is_none(), "{rest}");
    let failed = request(port, "GET", "/v2/tasks?status=failure", TRUSTED_ADMIN, b"")
        .unwrap()
        .json();
    assert_eq!(failed["tasks"].as_array().unwrap().len(), 1);
    for (q, text) in [
        ("status=bogus", "Invalid status value: bogus"),
        ("type=bogus", "Invalid type value: bogus"),
        ("marker=nope", "Invalid marker format"),
        ("limit=x", "limit param must be an integer"),
        ("sort_dir=up", "Invalid sort direction: up"),
    ] {
        let r = request(port, "GET", &format!("/v2/tasks?{q}"), TRUSTED_ADMIN, b"").unwrap();
        assert_eq!(r.status, 400, "{q}");
        assert!(r.text().contains(text), "{q}: {}", r.text());
    }
    let r = request(
        port,
        "GET",
        "/v2/tasks/3f0c7c2a-1d6e-4b8f-a1c5-0e9d8b7a6c54",
        TRUSTED_ADMIN,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 404);

    // Admins only; DELETE is never allowed.
    for (m, p) in [
        ("GET", "/v2/tasks".to_string()),
        ("GET", format!("/v2/tasks/{id}")),
        ("POST", "/v2/tasks".to_string()),
    ] {
        let r = request(
            port,
            m,
            &p,
            TRUSTED_MEMBER,
            &task_body("http://example.com/x"),
        )
        .unwrap();
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text());
    }
    let r = request(
        port,
        "DELETE",
        &format!("/v2/tasks/{id}"),
        TRUSTED_ADMIN,
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    assert!(r.text().contains("They are auto deleted"), "{}", r.text());
    drop(srv);
}
