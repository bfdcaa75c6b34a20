//! `GET /v2/info/import` and `/v2/info/stores` from the real binary,
//! compared byte for byte with what Glance 33 serves on the same
//! configuration (fixtures captured from Glance, in crates/api/tests/data).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

fn json_get(srv: &Server, path: &str) -> Resp {
    request(
        srv.port,
        "GET",
        path,
        &[("Accept", "application/json")],
        b"",
    )
    .unwrap()
}

#[test]
fn single_store_info() {
    let srv = start(&base_conf(free_port(), 1, "", ""));
    let r = srv.get("/v2/info/import");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, fixture("info-import.json"));
    let r = json_get(&srv, "/v2/info/stores");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, fixture("info-stores-single-404.json"));
    // GET only, as Glance's router maps it.
    assert_eq!(
        request(srv.port, "POST", "/v2/info/import", &[], b"")
            .unwrap()
            .status,
        405
    );
}

#[test]
fn multi_store_info() {
    let data = TempDir::new("info-stores");
    let d = data.path().display();
    let extra_default = "enabled_backends = fast:file, cheap:file, web:http";
    let sections = format!(
        "[glance_store]\ndefault_backend = fast\n\
         [fast]\nfilesystem_store_datadir = {d}/fast\nstore_description = Fast \"store\" \u{e9}\n\
         [cheap]\nfilesystem_store_datadir = {d}/cheap\n\
         [os_glance_staging_store]\nfilesystem_store_datadir = {d}/staging\n\
         [os_glance_tasks_store]\nfilesystem_store_datadir = {d}/tasks\n"
    );
    let srv = start(&base_conf(free_port(), 1, extra_default, &sections));
    let r = srv.get("/v2/info/stores");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        String::from_utf8(fixture("info-stores-multi.json")).unwrap()
    );
    assert_eq!(srv.get("/v2/info/import").body, fixture("info-import.json"));
}

/// `/info/stores/detail` (admin-only policy; the no-auth context is admin)
/// and `/info/usage`, compared with Glance 33 serving the same file.
#[test]
fn stores_detail_and_usage_match_glance() {
    let Some(venv) = glance_venv() else { return };
    let data = TempDir::new("info-detail");
    let d = data.path().display();
    let conf = format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         enabled_backends = fast:file, cheap:file, web:http\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\ndefault_backend = fast\n\
         [fast]\nfilesystem_store_datadir = {d}/fast\nstore_description = Fast\nweight = 5\n\
         [cheap]\nfilesystem_store_datadir = {d}/cheap\nfilesystem_store_chunk_size = 4096\n\
         [os_glance_staging_store]\nfilesystem_store_datadir = {d}/staging\n\
         [os_glance_tasks_store]\nfilesystem_store_datadir = {d}/tasks\n\
         [oslo_policy]\nenforce_new_defaults = false\n"
    );
    let glance = Glance::start(&venv, &conf);
    let port = free_port();
    let srv = start(&conf.replace(
        "workers = 1\n",
        &format!("workers = 1\nbind_port = {port}\n"),
    ));
    for path in ["/v2/info/stores/detail", "/v2/info/usage"] {
        let g = request(glance.port, "GET", path, &[], b"").unwrap();
        let m = request(srv.port, "GET", path, &[], b"").unwrap();
        assert_eq!((m.status, m.text()), (g.status, g.text()), "{path}");
        assert_eq!(m.header("content-type"), g.header("content-type"), "{path}");
    }
}
