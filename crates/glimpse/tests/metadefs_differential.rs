//! The metadata-definitions API (`/v2/metadefs/*`) driven by one fixed
//! request sequence against Python Glance 33 and against Glimpse, on the
//! same configuration, compared request by request (see `common/diff.rs`):
//! namespaces with children, the `?resource_type=` prefixes, pagination
//! links, objects, properties, tags (bulk replace and append), resource
//! type associations, the read-only, schema and duplicate errors, what a
//! project member and another project may see and do, and the seed files
//! loaded by `glance-manage db_load_metadefs` / `glimpse manage db
//! load_metadefs`.
//!
//! Identity comes from trusted headers: both servers run a paste pipeline
//! of `versionnegotiation context rootapp` (no authtoken), so the request
//! names its roles and project, as keystonemiddleware would.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/diff.rs"]
mod diff;

use std::path::Path;
use std::process::Command;

use common::*;
use diff::*;

fn conf(dir: &Path) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
         [paste_deploy]\nflavor = trusted\n",
        d = dir.display()
    )
}

/// Differences accepted on purpose: (request label, aspect, why).
const ACCEPTED_DIFFERENCES: &[(&str, &str, &str)] = &[];

type H = &'static [(&'static str, &'static str)];

const NO_READER: H = &[
    ("X-Identity-Status", "Confirmed"),
    ("X-Roles", "foo"),
    ("X-Project-Id", "p1"),
    ("X-User-Id", "u1"),
    ACCEPT_JSON,
];
const ADMIN_APPEND: H = &[
    ("X-Identity-Status", "Confirmed"),
    ("X-Roles", "admin,member,reader"),
    ("X-Project-Id", "padmin"),
    ("X-User-Id", "uadmin"),
    ("X-Openstack-Append", "True"),
    ACCEPT_JSON,
    JSON,
];

const NS: &str = "/v2/metadefs/namespaces";

const FULL: &str = r#"{"namespace": "full1", "display_name": "Full", "description": "d", "visibility": "public", "protected": true,
 "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "hw:"}, {"name": "My::New::Type", "prefix": "my_", "properties_target": "image"}],
 "properties": {"cpu": {"type": "integer", "title": "CPU", "default": 2, "minimum": 1, "maximum": 8.9},
                "mode": {"type": "string", "title": "Mode", "operators": ["<or>"], "readonly": true, "enum": ["a", "b"], "default": true}},
 "objects": [{"name": "obj1", "required": ["p1"], "description": "od", "properties": {"p1": {"type": "array", "title": "P1", "items": {"type": "string", "enum": ["x", "y"]}, "uniqueItems": true, "minItems": 1}}},
             {"name": "obj2"}],
 "tags": [{"name": "t1"}, {"name": "t2"}]}"#;

fn run_sequence(port: u16, load_seeds: &dyn Fn()) -> Side {
    let mut s = Side::new(port);
    let none: &[u8] = b"";

    // --- Empty database ---------------------------------------------------
    s.call("GET", "/v2/metadefs/resource_types", TRUSTED_ADMIN, none);
    s.call("GET", NS, TRUSTED_ADMIN, none);

    // --- Create -------------------------------------------------------------
    s.call("POST", NS, TRUSTED_ADMIN, br#"{"namespace": "ns1"}"#);
    s.expect("201", |r, _| r.status == 201);
    s.call("POST", NS, TRUSTED_ADMIN, FULL.as_bytes());
    s.expect("201", |r, _| r.status == 201);
    s.call("POST", NS, TRUSTED_ADMIN, br#"{"namespace": "ns1"}"#);
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "created_at": "now"}"#,
    );
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "self": "/x"}"#,
    );
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "visibility": "foo"}"#,
    );
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "protected": "yes"}"#,
    );
    s.call("POST", NS, TRUSTED_ADMIN, br#"{"visibility": "public"}"#);
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "bogus": 1}"#,
    );
    s.call("POST", NS, TRUSTED_ADMIN, b"{not json");
    s.call("POST", NS, TRUSTED_ADMIN, none);
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "x", "objects": [{"name": "o", "required": ["a", "a"]}]}"#,
    );
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "dupobj", "objects": [{"name": "a"}, {"name": "a"}]}"#,
    );
    s.call("GET", &format!("{NS}/dupobj"), TRUSTED_ADMIN, none);
    s.call(
        "POST",
        NS,
        TRUSTED_ADMIN,
        br#"{"namespace": "priv2", "owner": "p2", "description": "of p2"}"#,
    );

    // --- Show ---------------------------------------------------------------
    s.call("GET", &format!("{NS}/full1"), TRUSTED_ADMIN, none);
    s.call(
        "GET",
        &format!("{NS}/full1?resource_type=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1?resource_type=Nope"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1?visibility=bad"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{NS}/missing"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}/ns1"), TRUSTED_ADMIN, none);

    // --- List ---------------------------------------------------------------
    s.call("GET", NS, TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}?limit=1"), TRUSTED_ADMIN, none);
    s.follow_next();
    s.follow_next();
    s.call(
        "GET",
        &format!("{NS}?limit=2&foo=bar&sort_key=namespace&sort_dir=asc"),
        TRUSTED_ADMIN,
        none,
    );
    s.follow_next();
    s.call(
        "GET",
        &format!("{NS}?visibility=public"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{NS}?visibility=bad"), TRUSTED_ADMIN, none);
    s.call(
        "GET",
        &format!("{NS}?sort_dir=sideways"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{NS}?limit=-1"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}?limit=0"), TRUSTED_ADMIN, none);
    s.call(
        "GET",
        &format!("{NS}?resource_types=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}?resource_types=A,B"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{NS}?marker=missing"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}?marker=priv2"), TRUSTED_MEMBER, none);

    // --- Properties ------------------------------------------------------------
    s.call(
        "GET",
        &format!("{NS}/full1/properties"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1/properties/cpu"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1/properties/hw:cpu?resource_type=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1/properties/cpu?resource_type=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1/properties/cpu?resource_type=Unknown::Type"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/ns1/properties/cpu?resource_type=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/full1/properties/none"),
        TRUSTED_ADMIN,
        none,
    );
    let props = format!("{NS}/full1/properties");
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p2", "title": "P2", "type": "string"}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p2", "title": "P2", "type": "string"}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"title": "P", "type": "string"}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p9", "title": "P", "type": "text"}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p9", "title": "P", "type": "string", "minLength": -1}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p9", "title": "P", "type": "string", "created_at": "x"}"#,
    );
    s.call(
        "POST",
        &props,
        TRUSTED_ADMIN,
        br#"{"name": "p10", "title": "P", "type": "number", "default": 1.5, "minimum": 0.5, "maxLength": 3, "pattern": "^a"}"#,
    );
    s.call(
        "PUT",
        &format!("{props}/p2"),
        TRUSTED_ADMIN,
        br#"{"name": "p3", "title": "P3", "type": "boolean", "default": false}"#,
    );
    s.call("GET", &format!("{props}/p3"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{props}/p2"), TRUSTED_ADMIN, none);
    s.call(
        "PUT",
        &format!("{props}/nope"),
        TRUSTED_ADMIN,
        br#"{"name": "x", "title": "X", "type": "string"}"#,
    );
    s.call("DELETE", &format!("{props}/p3"), TRUSTED_ADMIN, none);
    s.call("GET", &props, TRUSTED_ADMIN, none);

    // --- Objects ---------------------------------------------------------------
    let objs = format!("{NS}/ns1/objects");
    s.call("GET", &objs, TRUSTED_ADMIN, none);
    s.call(
        "POST",
        &objs,
        TRUSTED_ADMIN,
        br#"{"name": "o3", "description": "", "required": [], "properties": {"a": {"type": "string", "title": "A", "name": "zzz"}, "b": {"type": "integer", "title": "B", "default": 3}}}"#,
    );
    s.call("POST", &objs, TRUSTED_ADMIN, br#"{"name": "o3"}"#);
    s.call(
        "POST",
        &objs,
        TRUSTED_ADMIN,
        br#"{"name": "o4", "properties": {"a": {"type": "string"}}}"#,
    );
    s.call(
        "POST",
        &objs,
        TRUSTED_ADMIN,
        br#"{"name": "o4", "schema": "x"}"#,
    );
    s.call("GET", &objs, TRUSTED_ADMIN, none);
    s.call("GET", &format!("{objs}?limit=abc"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{objs}?limit=0"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{objs}/o3"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{objs}/nope"), TRUSTED_ADMIN, none);
    s.call(
        "PUT",
        &format!("{objs}/o3"),
        TRUSTED_ADMIN,
        br#"{"name": "o5", "description": "renamed", "required": ["a"]}"#,
    );
    s.call("GET", &format!("{objs}/o5"), TRUSTED_ADMIN, none);
    s.call("DELETE", &format!("{objs}/o5"), TRUSTED_ADMIN, none);
    s.call("DELETE", &format!("{objs}/o5"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}/missing/objects"), TRUSTED_ADMIN, none);
    s.call(
        "DELETE",
        &format!("{NS}/full1/objects/obj2"),
        TRUSTED_ADMIN,
        none,
    );

    // --- Tags ------------------------------------------------------------------
    let tags = format!("{NS}/ns1/tags");
    s.call(
        "POST",
        &tags,
        TRUSTED_ADMIN,
        br#"{"tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}"#,
    );
    s.call("GET", &tags, TRUSTED_ADMIN, none);
    s.call("POST", &format!("{tags}/d"), TRUSTED_ADMIN, none);
    s.call("POST", &format!("{tags}/d"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{tags}/d"), TRUSTED_ADMIN, none);
    s.call(
        "PUT",
        &format!("{tags}/d"),
        TRUSTED_ADMIN,
        br#"{"name": "e"}"#,
    );
    s.call(
        "PUT",
        &format!("{tags}/e"),
        TRUSTED_ADMIN,
        br#"{"name": "a"}"#,
    );
    s.call(
        "GET",
        &format!("{tags}?limit=2&sort_key=name&sort_dir=asc"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{tags}?marker=b&sort_key=name&sort_dir=asc"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{tags}?marker=zzz"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{tags}?limit=x"), TRUSTED_ADMIN, none);
    s.call("POST", &tags, ADMIN_APPEND, br#"{"tags": [{"name": "f"}]}"#);
    s.call(
        "GET",
        &format!("{tags}?sort_key=name&sort_dir=asc"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("POST", &tags, ADMIN_APPEND, br#"{"tags": [{"name": "a"}]}"#);
    s.call(
        "POST",
        &tags,
        TRUSTED_ADMIN,
        br#"{"tags": [{"name": "g"}, {"name": "g"}]}"#,
    );
    s.call(
        "GET",
        &format!("{tags}?sort_key=name&sort_dir=asc"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "POST",
        &tags,
        TRUSTED_ADMIN,
        br#"{"tags": [{"name": "g"}]}"#,
    );
    s.call("GET", &tags, TRUSTED_ADMIN, none);
    s.call("POST", &tags, TRUSTED_ADMIN, br#"{"tags": []}"#);
    s.call("POST", &tags, TRUSTED_ADMIN, br#"{"tags": [{}]}"#);
    s.call("DELETE", &format!("{tags}/g"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{tags}/g"), TRUSTED_ADMIN, none);
    s.call(
        "POST",
        &tags,
        TRUSTED_ADMIN,
        br#"{"tags": [{"name": "h"}]}"#,
    );
    s.call("DELETE", &tags, TRUSTED_ADMIN, none);
    s.call("GET", &tags, TRUSTED_ADMIN, none);
    s.call(
        "DELETE",
        &format!("{NS}/full1/tags/t1"),
        TRUSTED_ADMIN,
        none,
    );

    // --- Resource types ------------------------------------------------------------
    let rts = format!("{NS}/ns1/resource_types");
    s.call("GET", "/v2/metadefs/resource_types", TRUSTED_ADMIN, none);
    s.call("GET", &rts, TRUSTED_ADMIN, none);
    s.call(
        "POST",
        &rts,
        TRUSTED_ADMIN,
        br#"{"name": "OS::Glance::Image", "prefix": "x_"}"#,
    );
    s.call(
        "POST",
        &rts,
        TRUSTED_ADMIN,
        br#"{"name": "OS::Glance::Image"}"#,
    );
    s.call("POST", &rts, TRUSTED_ADMIN, br#"{"prefix": "x_"}"#);
    s.call("GET", &rts, TRUSTED_ADMIN, none);
    s.call(
        "GET",
        &format!("{NS}/full1/resource_types"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{rts}/OS::Glance::Image"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{rts}/OS::Glance::Image"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{NS}/full1/resource_types/My::New::Type"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", "/v2/metadefs/resource_types", TRUSTED_ADMIN, none);

    // --- A project member, and a user without reader ------------------------------
    s.call("GET", NS, TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/ns1"), TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/full1"), TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/ns1/objects"), TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/ns1/properties"), TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/full1/objects"), TRUSTED_MEMBER, none);
    s.call("GET", &format!("{NS}/full1/tags"), TRUSTED_MEMBER, none);
    s.call(
        "GET",
        &format!("{NS}/full1/resource_types"),
        TRUSTED_MEMBER,
        none,
    );
    s.call("GET", "/v2/metadefs/resource_types", TRUSTED_MEMBER, none);
    s.call("POST", NS, TRUSTED_MEMBER, br#"{"namespace": "mine"}"#);
    s.call(
        "PUT",
        &format!("{NS}/full1"),
        TRUSTED_MEMBER,
        br#"{"namespace": "full1"}"#,
    );
    s.call("DELETE", &format!("{NS}/full1"), TRUSTED_MEMBER, none);
    s.call("POST", &format!("{NS}/full1/tags/x"), TRUSTED_MEMBER, none);
    s.call("POST", &format!("{NS}/ns1/tags/x"), TRUSTED_MEMBER, none);
    s.call(
        "DELETE",
        &format!("{NS}/full1/properties/cpu"),
        TRUSTED_MEMBER,
        none,
    );
    s.call("GET", NS, NO_READER, none);
    s.call("GET", &format!("{NS}/full1"), NO_READER, none);

    // --- Update ----------------------------------------------------------------------
    s.call(
        "PUT",
        &format!("{NS}/ns1"),
        TRUSTED_ADMIN,
        br#"{"namespace": "ns1-renamed", "description": "d", "display_name": "", "properties": {}}"#,
    );
    s.call("GET", &format!("{NS}/ns1-renamed"), TRUSTED_ADMIN, none);
    s.call(
        "PUT",
        &format!("{NS}/ns1-renamed"),
        TRUSTED_ADMIN,
        br#"{"namespace": "full1"}"#,
    );
    s.call(
        "PUT",
        &format!("{NS}/ns1-renamed"),
        TRUSTED_ADMIN,
        br#"{"namespace": "n", "updated_at": "x"}"#,
    );
    s.call(
        "PUT",
        &format!("{NS}/missing"),
        TRUSTED_ADMIN,
        br#"{"namespace": "n"}"#,
    );

    // --- Protected and deletes ----------------------------------------------------------
    s.call("DELETE", &format!("{NS}/full1"), TRUSTED_ADMIN, none);
    s.call(
        "DELETE",
        &format!("{NS}/full1/objects"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{NS}/full1/properties"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("DELETE", &format!("{NS}/full1/tags"), TRUSTED_ADMIN, none);
    s.call(
        "PUT",
        &format!("{NS}/full1"),
        TRUSTED_ADMIN,
        br#"{"namespace": "full1", "visibility": "public", "protected": false}"#,
    );
    s.call(
        "DELETE",
        &format!("{NS}/full1/objects"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{NS}/full1/properties"),
        TRUSTED_ADMIN,
        none,
    );
    s.call("GET", &format!("{NS}/full1"), TRUSTED_ADMIN, none);
    s.call("DELETE", &format!("{NS}/full1"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}/full1"), TRUSTED_ADMIN, none);
    s.call("DELETE", &format!("{NS}/full1"), TRUSTED_ADMIN, none);

    // --- Routing -----------------------------------------------------------------------
    s.call("PATCH", NS, TRUSTED_ADMIN, none);
    s.call("HEAD", &format!("{NS}/ns1-renamed"), TRUSTED_ADMIN, none);
    s.call("GET", &format!("{NS}/"), TRUSTED_ADMIN, none);
    s.call(
        "GET",
        &format!("{NS}/ns1-renamed"),
        &[
            ("X-Identity-Status", "Confirmed"),
            ("X-Roles", "admin"),
            ("X-Project-Id", "padmin"),
        ],
        b"{}",
    );

    // --- Seed files ------------------------------------------------------------------------
    load_seeds();
    s.call(
        "GET",
        &format!("{NS}?sort_key=namespace&sort_dir=asc&limit=4"),
        TRUSTED_ADMIN,
        none,
    );
    s.follow_next();
    s.call(
        "GET",
        &format!("{NS}?sort_key=namespace&sort_dir=asc&limit=4"),
        TRUSTED_MEMBER,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Compute::CPUPinning"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Compute::CPUPinning?resource_type=OS::Nova::Flavor"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Compute::Watchdog/properties"),
        TRUSTED_MEMBER,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::OperatingSystem"),
        TRUSTED_MEMBER,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Software::DBMS/objects"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Software::DBMS/objects/MySQL"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "GET",
        &format!("{NS}/OS::Compute::XenAPI/tags"),
        TRUSTED_ADMIN,
        none,
    );
    s.call(
        "DELETE",
        &format!("{NS}/OS::Compute::CPUPinning"),
        TRUSTED_ADMIN,
        none,
    );
    s
}

#[test]
fn metadefs_api_same_as_glance_33() {
    let Some(venv) = glance_venv() else { return };
    let seeds = venv.join("etc/glance/metadefs");
    assert!(seeds.is_dir(), "the venv lacks {}", seeds.display());
    for b in backends("glimpse_mddiff") {
        b.prepare();
        let gdir = TempDir::new("glance-md-data");
        let gconf = on_database(&conf(gdir.path()), b.glance.as_ref());
        let glance = Glance::start_with_paste(&venv, &gconf, TRUSTED_PASTE);
        let gcfg = glance.dir.path().join("glance-api.conf");
        let gseed = || {
            stdout_of(
                Command::new(venv.join("bin/glance-manage"))
                    .arg("--config-file")
                    .arg(&gcfg)
                    .arg("db_load_metadefs")
                    .arg(&seeds)
                    .env("HOME", glance.dir.path()),
                "glance-manage db_load_metadefs",
            );
        };
        let gside = run_sequence(glance.port, &gseed);
        drop(glance);
        if glance_only() {
            return conclude(&gside, None, b.name, ACCEPTED_DIFFERENCES);
        }
        let port = free_port();
        let mdir = TempDir::new("glimpse-md-data");
        let srv_dir = TempDir::new("glimpse-md");
        srv_dir.write("glance-api-paste.ini", &format!("{PASTE}\n{TRUSTED_PASTE}"));
        let mconf = on_database(&conf(mdir.path()), b.glimpse.as_ref()).replace(
            "workers = 1\n",
            &format!("workers = 1\nbind_port = {port}\n"),
        );
        let glimpse = start_in(srv_dir, &mconf, &[], true);
        let mcfg = glimpse.dir.path().join("glance-api.conf");
        let mseed = || {
            let out = Command::new(bin())
                .args(["manage", "--config-file"])
                .arg(&mcfg)
                .args(["db", "load_metadefs"])
                .arg(&seeds)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let mside = run_sequence(glimpse.port, &mseed);
        drop(glimpse);
        conclude(&gside, Some(&mside), b.name, ACCEPTED_DIFFERENCES);
    }
}
