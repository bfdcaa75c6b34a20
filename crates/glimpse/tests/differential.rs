//! The same requests against Python Glance 33 (gunicorn, noauth, SQLite, file
//! store) and Glimpse, on the same configuration: status codes, the headers
//! clients read, and bodies must match once ports, ids and dates are
//! normalised. The request list grows with each capability Glimpse gains.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

fn conf(dir: &std::path::Path) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
         [oslo_policy]\nenforce_new_defaults = false\n",
        d = dir.display()
    )
}

/// Replace what legitimately differs between two servers: their ports,
/// request ids.
fn normalise(text: &str, port: u16) -> String {
    let mut t = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT");
    while let Some(i) = t.find("req-") {
        if t.len() >= i + 40 {
            t.replace_range(i..i + 40, "REQ-ID");
        } else {
            break;
        }
    }
    t
}

const HEADERS_COMPARED: [&str; 4] = ["content-type", "allow", "accept-patch", "www-authenticate"];

#[test]
fn same_responses_as_glance_33() {
    let Some(venv) = glance_venv() else { return };
    let gdir = TempDir::new("glance-data");
    std::fs::create_dir_all(gdir.path().join("images")).unwrap();
    let glance = Glance::start(&venv, &conf(gdir.path()));

    let port = free_port();
    let mdir = TempDir::new("glimpse-data");
    let mconf = conf(mdir.path()).replace(
        "workers = 1\n",
        &format!("workers = 1\nbind_port = {port}\n"),
    );
    let glimpse = start(&mconf);

    let accepts = ["", "application/json", "text/html", "text/plain", "*/*"];
    type Case = (&'static str, String, Vec<(&'static str, &'static str)>);
    let mut cases: Vec<Case> = Vec::new();
    for path in [
        "/",
        "/versions",
        "/v1/images",
        "/v3/x",
        "/v2.99/images",
        "/versions/x",
    ] {
        cases.push(("GET", path.to_string(), vec![]));
    }
    for a in accepts {
        let h: Vec<(&str, &str)> = if a.is_empty() {
            vec![]
        } else {
            vec![("Accept", a)]
        };
        cases.push(("GET", "/healthcheck".into(), h.clone()));
        cases.push(("HEAD", "/healthcheck".into(), h.clone()));
    }
    cases.push((
        "GET",
        "/".into(),
        vec![("Accept", "application/vnd.openstack.images-v9")],
    ));
    cases.push(("POST", "/".into(), vec![]));
    cases.push(("DELETE", "/versions".into(), vec![]));
    for name in [
        "namespace",
        "namespaces",
        "resource_type",
        "resource_types",
        "property",
        "properties",
        "object",
        "objects",
        "tag",
        "tags",
    ] {
        cases.push(("GET", format!("/v2/schemas/metadefs/{name}"), vec![]));
    }
    cases.push(("GET", "/v2/info/usage".into(), vec![]));
    cases.push(("GET", "/v2/schemas/metadefs/bogus".into(), vec![]));

    let mut mismatches = Vec::new();
    for (method, path, headers) in &cases {
        let g = request(glance.port, method, path, headers, b"").unwrap();
        let m = request(glimpse.port, method, path, headers, b"").unwrap();
        let label = format!("{method} {path} {headers:?}");
        if g.status != m.status {
            mismatches.push(format!(
                "{label}: status glance {} glimpse {}",
                g.status, m.status
            ));
            continue;
        }
        for h in HEADERS_COMPARED {
            if g.header(h) != m.header(h) {
                mismatches.push(format!(
                    "{label}: {h} glance {:?} glimpse {:?}",
                    g.header(h),
                    m.header(h)
                ));
            }
        }
        if g.header("x-openstack-request-id").is_some()
            != m.header("x-openstack-request-id").is_some()
        {
            mismatches.push(format!("{label}: x-openstack-request-id presence differs"));
        }
        let (gb, mb) = (
            normalise(&g.text(), glance.port),
            normalise(&m.text(), glimpse.port),
        );
        if gb != mb {
            mismatches.push(format!("{label}: body\n  glance  {gb:?}\n  glimpse {mb:?}"));
        }
    }
    eprintln!("{} requests compared against Glance 33", cases.len());
    assert!(
        mismatches.is_empty(),
        "differences from Glance 33:\n{}",
        mismatches.join("\n")
    );
}
