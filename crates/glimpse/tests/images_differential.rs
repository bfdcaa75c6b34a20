//! The images API (create, show, list, PATCH, tags, data, actions, members,
//! delete, routing errors) driven by one fixed request sequence against
//! Python Glance 33 (gunicorn, noauth, SQLite, file store) and against
//! Glimpse on the same configuration. Each side runs the whole sequence on
//! its own; the two transcripts are then compared request by request:
//! status, the headers clients read, and the body (parsed JSON, key order
//! included, or the text) once image ids, timestamps, request ids, ports,
//! the `Location` host and the order of `tags` (random in Glance, see
//! `normalise_json`) are normalised. Every difference is collected and
//! reported at the end, per request.
//!
//! The comparison machinery and its environment knobs are in
//! `common/diff.rs`; e.g. `GLIMPSE_DIFF_ONLY=glance GLIMPSE_DIFF_DUMP=/tmp/g.json cargo test
//! -p glimpse --test images_differential -- --nocapture`.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/diff.rs"]
mod diff;

use common::*;
use diff::*;

fn conf(dir: &std::path::Path) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
         [oslo_policy]\nenforce_new_defaults = false\n",
        d = dir.display()
    )
}

/// An id given explicitly on create, identical on both sides.
const EXPLICIT_ID: &str = "6b3e6b0c-95c4-4c27-9d7c-5d1b1e2f0a01";
/// An id no image has.
const UNKNOWN_ID: &str = "3f0c7c2a-1d6e-4b8f-a1c5-0e9d8b7a6c54";
/// 37 characters: longer than any image id.
const LONG_ID: &str = "3f0c7c2a-1d6e-4b8f-a1c5-0e9d8b7a6c545";
/// The image data uploaded (32 bytes), its MD5 and SHA-512.
const DATA: &[u8] = b"Glimpse differential image data\n";
const DATA_MD5: &str = "3fdf45b56f9f1d755ebd6fc8101b6e2c";
const DATA_SHA512: &str = "50628ce43cebbacace3ae51fe6ef528142cdfc0c9555c6c9ff1b1fc6ab48a2465d6c87d716f814a909853bc9e28d40a2d5263c044b9a7cdf29dea76cc2bd4939";

const OCTETS: (&str, &str) = ("Content-Type", "application/octet-stream");
const PATCH21: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.1-json-patch",
);
const PATCH20: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.0-json-patch",
);

/// Differences accepted on purpose: (request label, aspect, why). The label
/// is the one printed in the report (`METHOD path [headers] body`); the
/// aspect is `status`, `body`, `x-openstack-request-id` or a header name.
/// Every entry needs a reason a client cannot observe or rely on.
const ACCEPTED_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// The whole sequence against the server on `port`; the normalised
/// transcript.
fn run_sequence(port: u16) -> Side {
    let mut s = Side::new(port);
    let h: &[(&str, &str)] = &[];

    // --- Create -----------------------------------------------------------
    s.create(1, "{}");
    s.create(
        2,
        r#"{"name": "alpha", "disk_format": "raw", "container_format": "bare", "tags": ["a", "b"], "min_ram": 64, "foo": "bar", "protected": true, "visibility": "private"}"#,
    );
    s.create(
        3,
        r#"{"name": "beta", "disk_format": "raw", "container_format": "bare", "visibility": "community", "foo": "bar"}"#,
    );
    s.create(
        4,
        r#"{"name": "gamma", "disk_format": "qcow2", "container_format": "bare", "visibility": "shared", "tags": ["a"]}"#,
    );
    s.create(
        5,
        &format!(
            r#"{{"id": "{EXPLICIT_ID}", "name": "delta", "disk_format": "raw", "container_format": "bare"}}"#
        ),
    );
    s.create(6, r#"{"name": "hidden", "os_hidden": true}"#);
    s.create(
        7,
        r#"{"name": "epsilon", "disk_format": "raw", "container_format": "bare", "min_disk": 1}"#,
    );
    // Errors.
    s.call(
        "POST",
        "/v2/images",
        &[JSON],
        r#"{"name": "pub", "visibility": "public"}"#.as_bytes(),
    );
    s.call(
        "POST",
        "/v2/images",
        &[JSON],
        format!(r#"{{"id": "{EXPLICIT_ID}"}}"#).as_bytes(),
    );
    s.call(
        "POST",
        "/v2/images",
        &[JSON],
        br#"{"disk_format": "bogus"}"#,
    );
    s.call(
        "POST",
        "/v2/images",
        &[JSON, ACCEPT_JSON],
        br#"{"visibility": "bogus"}"#,
    );
    s.call("POST", "/v2/images", &[JSON], br#"{"status": "active"}"#);
    s.call(
        "POST",
        "/v2/images",
        &[JSON, ACCEPT_JSON],
        br#"{"checksum": "abc"}"#,
    );
    s.call("POST", "/v2/images", &[JSON], br#"{"self": "/x"}"#);
    s.call(
        "POST",
        "/v2/images",
        &[JSON, ACCEPT_JSON],
        br#"{"os_glance_foo": "x"}"#,
    );
    s.call(
        "POST",
        "/v2/images",
        &[JSON],
        br#"{"location": "file:///etc/passwd"}"#,
    );
    s.call("POST", "/v2/images", &[JSON], br#"{"foo": 1}"#);
    s.call(
        "POST",
        "/v2/images",
        &[JSON, ACCEPT_JSON],
        br#"{"min_ram": -1}"#,
    );
    s.call("POST", "/v2/images", &[JSON], br#"{"name": "#);
    s.call("POST", "/v2/images", &[JSON], b"[]");
    s.call(
        "POST",
        "/v2/images",
        &[JSON],
        "{\"name\": \"smile \u{1F600}\"}".as_bytes(),
    );

    // --- Show ---------------------------------------------------------------
    s.call("GET", "/v2/images/{ID2}", h, b"");
    s.call("GET", "/v2/images/{ID5}", h, b"");
    s.call("GET", &format!("/v2/images/{UNKNOWN_ID}"), h, b"");
    s.call(
        "GET",
        &format!("/v2/images/{UNKNOWN_ID}"),
        &[ACCEPT_JSON],
        b"",
    );
    s.call("GET", &format!("/v2/images/{LONG_ID}"), h, b"");
    s.call("GET", "/v2/images/{ID2}/", h, b"");
    s.call("GET", "/v2/images/{ID2}", h, b"{}");

    // --- List ---------------------------------------------------------------
    s.call("GET", "/v2/images", h, b"");
    s.call("GET", "/v2/images/", h, b"");
    s.call("GET", "/v2/images?limit=2", h, b"");
    for _ in 0..3 {
        s.follow_next();
    }
    s.call("GET", &format!("/v2/images?marker={UNKNOWN_ID}"), h, b"");
    s.call("GET", "/v2/images?limit=-1", h, b"");
    s.call("GET", "/v2/images?limit=abc", h, b"");
    s.call("GET", "/v2/images?sort_key=name&sort_dir=asc", h, b"");
    s.call("GET", "/v2/images?sort=name:asc,created_at:desc", h, b"");
    s.call("GET", "/v2/images?sort_key=bogus", h, b"");
    s.call("GET", "/v2/images?sort=name:asc&sort_key=name", h, b"");
    s.call("GET", "/v2/images?name=alpha", h, b"");
    s.call("GET", "/v2/images?name=in:alpha,beta,gamma", h, b"");
    s.call("GET", "/v2/images?id=in:{ID1},{ID4}", h, b"");
    for v in ["public", "private", "community", "shared", "all", "bogus"] {
        s.call("GET", &format!("/v2/images?visibility={v}"), h, b"");
    }
    s.call("GET", "/v2/images?status=queued", h, b"");
    s.call("GET", "/v2/images?tag=a", h, b"");
    s.call("GET", "/v2/images?tag=a&tag=b", h, b"");
    s.call("GET", "/v2/images?size_min=abc", h, b"");
    s.call("GET", "/v2/images?os_hidden=true", h, b"");
    s.call("GET", "/v2/images?os_hidden=bogus", h, b"");
    s.call("GET", "/v2/images?protected=true", h, b"");
    s.call("GET", "/v2/images?member_status=bogus", h, b"");
    s.call(
        "GET",
        "/v2/images?created_at=gt:2000-01-01T00:00:00Z&sort_key=name&sort_dir=asc",
        h,
        b"",
    );
    s.call(
        "GET",
        "/v2/images?changes-since=2000-01-01T00:00:00Z",
        h,
        b"",
    );
    s.call("GET", "/v2/images?foo=bar&visibility=all", h, b"");

    // --- PATCH --------------------------------------------------------------
    let p = "/v2/images/{ID2}";
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/name", "value": "alpha2"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "add", "path": "/foo2", "value": "x"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH20],
        br#"[{"add": "/foo2", "value": "y"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "add", "path": "/foo2", "value": "z"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "remove", "path": "/foo2"}]"#,
    );
    s.call("PATCH", p, &[PATCH20], br#"[{"remove": "/foo2"}]"#);
    s.call("PATCH", p, &[PATCH20], br#"[{"remove": "/name"}]"#);
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/status", "value": "active"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21, ACCEPT_JSON],
        br#"[{"op": "add", "path": "/os_glance_x", "value": "1"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[JSON],
        br#"[{"op": "replace", "path": "/name", "value": "n"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"{"op": "replace", "path": "/name", "value": "n"}"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "name", "value": "n"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/name/x", "value": "n"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "move", "path": "/name", "value": "n"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/nothere", "value": "n"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/visibility", "value": "bogus"}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH21],
        br#"[{"op": "replace", "path": "/min_ram", "value": -5}]"#,
    );
    s.call(
        "PATCH",
        p,
        &[PATCH20],
        br#"[{"replace": "/tags", "value": ["x", "y", "x"]}, {"replace": "/min_disk", "value": 3}]"#,
    );
    s.call(
        "PATCH",
        &format!("/v2/images/{UNKNOWN_ID}"),
        &[PATCH21],
        br#"[{"op": "replace", "path": "/name", "value": "n"}]"#,
    );

    // --- Tags ---------------------------------------------------------------
    s.call("PUT", "/v2/images/{ID2}/tags/new", h, b"");
    s.call("PUT", "/v2/images/{ID2}/tags/new", h, b"");
    s.call("DELETE", "/v2/images/{ID2}/tags/new", h, b"");
    s.call("DELETE", "/v2/images/{ID2}/tags/new", h, b"");
    s.call("PUT", &format!("/v2/images/{UNKNOWN_ID}/tags/new"), h, b"");
    s.call("GET", "/v2/images/{ID2}", h, b"");

    // --- Data ---------------------------------------------------------------
    s.call("GET", "/v2/images/{ID5}/file", h, b"");
    s.call("PUT", "/v2/images/{ID5}/file", &[OCTETS], DATA);
    s.call("PUT", "/v2/images/{ID1}/file", &[OCTETS], DATA);
    s.call("PUT", "/v2/images/{ID7}/file", &[JSON], DATA);
    s.call("PUT", "/v2/images/{ID5}/file", &[OCTETS], DATA);
    s.call("GET", "/v2/images/{ID5}/file", h, b"");
    s.expect("the uploaded bytes and their MD5", |r, _| {
        r.status == 200
            && r.body == Body::Text(String::from_utf8_lossy(DATA).into_owned())
            && r.headers
                .contains(&("content-md5", Some(DATA_MD5.to_string())))
    });
    s.call("GET", "/v2/images/{ID1}/file", h, b"");
    s.call(
        "GET",
        "/v2/images/{ID5}/file",
        &[("Range", "bytes=0-3")],
        b"",
    );
    s.call(
        "GET",
        "/v2/images/{ID5}/file",
        &[("Range", "bytes=-2")],
        b"",
    );
    s.call(
        "GET",
        "/v2/images/{ID5}/file",
        &[("Range", "bytes=100-200")],
        b"",
    );
    s.call(
        "GET",
        "/v2/images/{ID5}/file",
        &[("Range", "bytes=0-1,3-4")],
        b"",
    );
    s.call("GET", "/v2/images/{ID5}", h, b"");
    s.expect(
        "active, size and virtual_size 32, checksum MD5, os_hash sha512",
        |_, v| {
            v["status"] == "active"
                && v["size"] == 32
                && v["virtual_size"] == 32
                && v["checksum"] == DATA_MD5
                && v["os_hash_algo"] == "sha512"
                && v["os_hash_value"] == DATA_SHA512
        },
    );
    s.call(
        "PATCH",
        "/v2/images/{ID5}",
        &[PATCH21],
        br#"[{"op": "replace", "path": "/disk_format", "value": "qcow2"}]"#,
    );

    // --- Actions ------------------------------------------------------------
    s.call("POST", "/v2/images/{ID5}/actions/deactivate", h, b"");
    s.call("GET", "/v2/images/{ID5}", h, b"");
    s.call("GET", "/v2/images/{ID5}/file", h, b"");
    s.call("POST", "/v2/images/{ID5}/actions/deactivate", h, b"");
    s.call("POST", "/v2/images/{ID5}/actions/reactivate", h, b"");
    s.call("POST", "/v2/images/{ID5}/actions/reactivate", h, b"");
    s.call("POST", "/v2/images/{ID1}/actions/deactivate", h, b"");
    s.call("POST", "/v2/images/{ID1}/actions/reactivate", h, b"");
    s.call("POST", "/v2/images/{ID5}/actions/bogus", h, b"");

    // --- Members ------------------------------------------------------------
    s.call(
        "POST",
        "/v2/images/{ID2}/members",
        &[JSON],
        br#"{"member": "p2"}"#,
    );
    s.call(
        "POST",
        "/v2/images/{ID4}/members",
        &[JSON],
        br#"{"member": "p2"}"#,
    );
    s.call(
        "POST",
        "/v2/images/{ID4}/members",
        &[JSON],
        br#"{"member": "p2"}"#,
    );
    s.call(
        "POST",
        "/v2/images/{ID4}/members",
        &[JSON],
        br#"{"member": ""}"#,
    );
    s.call("POST", "/v2/images/{ID4}/members", &[JSON], b"{}");
    s.call("GET", "/v2/images/{ID4}/members", h, b"");
    s.call("GET", "/v2/images/{ID4}/members/p2", h, b"");
    s.call(
        "PUT",
        "/v2/images/{ID4}/members/p2",
        &[JSON],
        br#"{"status": "accepted"}"#,
    );
    s.call(
        "PUT",
        "/v2/images/{ID4}/members/p2",
        &[JSON],
        br#"{"status": "bogus"}"#,
    );
    s.call("GET", "/v2/images?member_status=accepted", h, b"");
    s.call("DELETE", "/v2/images/{ID4}/members/p2", h, b"");
    s.call("GET", "/v2/images/{ID4}/members/p2", h, b"");
    s.call("GET", "/v2/images/{ID4}/members", h, b"");

    // --- Delete -------------------------------------------------------------
    s.call("DELETE", "/v2/images/{ID2}", h, b"");
    s.call("DELETE", "/v2/images/{ID7}", h, b"");
    s.call("GET", "/v2/images/{ID7}", h, b"");
    s.call("DELETE", "/v2/images/{ID7}", h, b"");
    s.call("DELETE", "/v2/images/{ID5}", h, b"");
    s.call("GET", "/v2/images/{ID5}/file", h, b"");
    s.call("GET", "/v2/images?sort_key=name&sort_dir=asc", h, b"");

    // --- Routing errors -----------------------------------------------------
    s.call("PUT", "/v2/images", h, b"");
    s.call("HEAD", "/v2/images", h, b"");
    s.call("POST", "/v2/images/{ID1}", h, b"");
    s.call("HEAD", "/v2/images/{ID1}", h, b"");
    s.call("DELETE", "/v2/images/{ID1}/file", h, b"");
    s.call("GET", "/v2/images/{ID1}/actions/deactivate", h, b"");
    s.call("PATCH", "/v2/images/{ID4}/members", h, b"");
    s.call("POST", "/v2/images/{ID4}/members/p2", h, b"");
    s.call("GET", "/v2/images/{ID1}/tags/x", h, b"");

    s
}

#[test]
fn images_api_same_as_glance_33() {
    let Some(venv) = glance_venv() else { return };
    for b in backends("glimpse_imgdiff") {
        b.prepare();
        let gdir = TempDir::new("glance-img-data");
        std::fs::create_dir_all(gdir.path().join("images")).unwrap();
        let glance = Glance::start(&venv, &on_database(&conf(gdir.path()), b.glance.as_ref()));
        let gside = run_sequence(glance.port);
        drop(glance);
        if glance_only() {
            return conclude(&gside, None, b.name, ACCEPTED_DIFFERENCES);
        }
        let port = free_port();
        let mdir = TempDir::new("glimpse-img-data");
        std::fs::create_dir_all(mdir.path().join("images")).unwrap();
        let mconf = on_database(&conf(mdir.path()), b.glimpse.as_ref()).replace(
            "workers = 1\n",
            &format!("workers = 1\nbind_port = {port}\n"),
        );
        let glimpse = start(&mconf);
        let mside = run_sequence(glimpse.port);
        drop(glimpse);
        conclude(&gside, Some(&mside), b.name, ACCEPTED_DIFFERENCES);
    }
}
