//! Property protections (`[DEFAULT] property_protection_file`), black box.
//!
//! The caller's roles come from identity headers: the paste pipeline is
//! the stock one with `context` instead of `unauthenticated-context` (no
//! Keystone; `X-Identity-Status: Confirmed` plus `X-Roles` are trusted).
//!
//! - `*_sequence_*`: one request sequence per rule format, run against
//!   Glimpse with the expected status of every step checked; with the
//!   Glance 33 venv (scripts/test-env.sh) the same sequence also runs
//!   against Python Glance 33 on the same files, and the two transcripts
//!   (status and body) must match. The sequences stay clear of the
//!   deliberate differences, which `glimpse_keeps_*` pin down instead.
//! - `invalid_files_stop_the_service`: a bad file is a start-up error
//!   naming the file and the reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

const TENANT: &str = "9b6b1a6e4c1a4d0c8e0f6a1b2c3d4e5f";

/// Roles format: the cases Glance's own tests cover, in our words.
const ROLES_FILE: &str = "\
# Test rules, roles format.
[^x_owner_.*]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[^billing_]
create = admin
read = admin, member
update = admin
delete = admin

[^secret_]
create = admin
read = admin
update = admin
delete = admin

[^public_]
create = @
read = @
update = @
delete = @

[^frozen_]
create = admin,member
read = admin,member
update = !
delete = !

[^locked_]
create = !
read = !
update = !
delete = !

; first match wins: x_foo_bar is admin-only, other x_foo_* are open
[^x_foo_bar$]
create = admin
read = admin
update = admin
delete = admin

[^x_foo_]
create = @
read = @
update = @
delete = @

[^mixed_case$]
create = Admin,MEMBER
read = Admin,MEMBER
update = Admin,MEMBER
delete = Admin,MEMBER

[.*]
create = admin
read = admin
update = admin
delete = admin
";

/// Policies format; `glance_creator` comes from the policy file.
const POLICIES_FILE: &str = "\
[^spl_creator_]
create = glance_creator
read = glance_creator
update = context_is_admin
delete = context_is_admin

[^x_none_]
create = context_is_admin
read = !
update = !
delete = !

[^x_all_]
create = @
read = @
update = @
delete = @

[^x_undefined_]
create = no_such_policy
read = context_is_admin
update = context_is_admin
delete = context_is_admin

[.*]
create = context_is_admin
read = context_is_admin
update = context_is_admin
delete = context_is_admin
";

const POLICY_YAML: &str = "\"glance_creator\": \"role:admin or role:spl_role\"\n";

/// The stock paste pipeline, with identity taken from headers.
fn header_auth_paste(stock: &str) -> String {
    let from = "versionnegotiation osprofiler unauthenticated-context rootapp";
    assert!(stock.contains(from), "unexpected paste file");
    stock.replacen(from, "versionnegotiation osprofiler context rootapp", 1)
}

/// Rules file, policy file and paste file for one server, in `dir`.
fn write_files(dir: &Path, rules: &str, paste: &str) {
    std::fs::write(dir.join("pp.conf"), rules).unwrap();
    std::fs::write(dir.join("policy.yaml"), POLICY_YAML).unwrap();
    std::fs::write(dir.join("paste.ini"), header_auth_paste(paste)).unwrap();
    std::fs::create_dir_all(dir.join("images")).unwrap();
}

fn conf(dir: &Path, format: &str) -> String {
    format!(
        "[DEFAULT]\nbind_host = 127.0.0.1\nworkers = 1\n\
         property_protection_file = {d}/pp.conf\nproperty_protection_rule_format = {format}\n\
         [paste_deploy]\nconfig_file = {d}/paste.ini\n\
         [database]\nconnection = sqlite:///{d}/glance.sqlite\n\
         [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
         [oslo_policy]\nenforce_new_defaults = false\npolicy_file = {d}/policy.yaml\n",
        d = dir.display()
    )
}

fn start_glimpse(dir: &TempDir, format: &str) -> Server {
    let port = free_port();
    let text = conf(dir.path(), format).replace(
        "workers = 1\n",
        &format!("workers = 1\nbind_port = {port}\n"),
    );
    start_in(TempDir::new("pp-srv"), &text, &[], true)
}

const PATCH21: &str = "application/openstack-images-v2.1-json-patch";
const PATCH20: &str = "application/openstack-images-v2.0-json-patch";

/// One request as a caller with `roles` (and optional service roles).
fn call(
    port: u16,
    method: &str,
    path: &str,
    roles: &str,
    service_roles: Option<&str>,
    body: Option<(&str, &Value)>,
) -> Resp {
    let mut h = vec![
        ("X-Identity-Status", "Confirmed"),
        ("X-Tenant-Id", TENANT),
        ("X-User-Id", "u-1"),
        ("X-Roles", roles),
    ];
    if let Some(s) = service_roles {
        h.push(("X-Service-Roles", s));
    }
    let text = body.map(|(_, v)| v.to_string()).unwrap_or_default();
    if let Some((ct, _)) = body {
        h.push(("Content-Type", ct));
    }
    request(port, method, path, &h, text.as_bytes()).unwrap()
}

/// A transcript: per step, its label, status and normalised body.
#[derive(Default)]
struct Transcript {
    steps: Vec<(String, u16, String)>,
    /// Steps whose status was not the expected one.
    unexpected: Vec<String>,
}

/// Created and updated times differ between two runs.
fn normalise(body: &[u8]) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "created_at" || k == "updated_at" {
                        *x = json!("<TIME>");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            walk(&mut v);
            v.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

struct Runner {
    port: u16,
    t: Transcript,
}

impl Runner {
    fn step(
        &mut self,
        expect: u16,
        method: &str,
        path: &str,
        roles: &str,
        service: Option<&str>,
        body: Option<(&str, Value)>,
    ) -> Value {
        let label = format!(
            "{method} {path} as [{roles}]{} {}",
            service
                .map(|s| format!(" service [{s}]"))
                .unwrap_or_default(),
            body.as_ref()
                .map(|(_, b)| b.to_string())
                .unwrap_or_default()
        );
        let r = call(
            self.port,
            method,
            path,
            roles,
            service,
            body.as_ref().map(|(ct, v)| (*ct, v)),
        );
        if r.status != expect {
            self.t.unexpected.push(format!(
                "{label}: expected {expect}, got {} {}",
                r.status,
                r.text()
            ));
        }
        self.t.steps.push((label, r.status, normalise(&r.body)));
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }

    fn create(&mut self, expect: u16, roles: &str, body: Value) -> Value {
        self.step(
            expect,
            "POST",
            "/v2/images",
            roles,
            None,
            Some(("application/json", body)),
        )
    }

    fn patch(&mut self, expect: u16, id: &str, roles: &str, ops: Value) -> Value {
        self.step(
            expect,
            "PATCH",
            &format!("/v2/images/{id}"),
            roles,
            None,
            Some((PATCH21, ops)),
        )
    }

    fn get(&mut self, id: &str, roles: &str) -> Value {
        self.step(200, "GET", &format!("/v2/images/{id}"), roles, None, None)
    }
}

const A: &str = "0e7f1a52-5d8c-4c4e-9a0b-0a0000000001";
const B: &str = "0e7f1a52-5d8c-4c4e-9a0b-0b0000000002";
const C: &str = "0e7f1a52-5d8c-4c4e-9a0b-0c0000000003";
const D: &str = "0e7f1a52-5d8c-4c4e-9a0b-0d0000000004";

fn keys(v: &Value) -> Vec<String> {
    let base = [
        "name",
        "disk_format",
        "container_format",
        "visibility",
        "size",
        "virtual_size",
        "status",
        "checksum",
        "protected",
        "min_ram",
        "min_disk",
        "owner",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
        "id",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
    ];
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !base.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    k.sort();
    k
}

/// The roles-format sequence; also asserts what each answer shows.
fn roles_sequence(port: u16) -> Transcript {
    let mut r = Runner {
        port,
        t: Transcript::default(),
    };
    let all = json!({
        "id": A, "name": "a", "x_owner_1": "o", "billing_code": "b", "secret_key": "s",
        "public_note": "p", "frozen_tag": "f", "x_foo_bar": "fb", "x_foo_baz": "fz",
        "mixed_case": "m", "misc": "x",
    });
    let v = r.create(201, "admin", all);
    let admin_keys = [
        "billing_code",
        "frozen_tag",
        "misc",
        "mixed_case",
        "public_note",
        "secret_key",
        "x_foo_bar",
        "x_foo_baz",
        "x_owner_1",
    ];
    let mut unexpected = Vec::new();
    let mut expect_keys = |v: &Value, want: &[&str], what: &str| {
        if keys(v) != want {
            unexpected.push(format!(
                "{what}: properties {:?}, expected {want:?}",
                keys(v)
            ));
        }
    };
    expect_keys(&v, &admin_keys, "admin create");
    let v = r.get(A, "admin");
    expect_keys(&v, &admin_keys, "admin show");
    let member_keys = [
        "billing_code",
        "frozen_tag",
        "mixed_case",
        "public_note",
        "x_foo_baz",
        "x_owner_1",
    ];
    let v = r.get(A, "member");
    expect_keys(&v, &member_keys, "member show");
    let v = r.get(A, "reader");
    expect_keys(&v, &["public_note", "x_foo_baz"], "reader show");
    // Roles are compared lower-cased.
    let v = r.get(A, "READER,Member");
    expect_keys(&v, &member_keys, "upper-case member show");
    r.step(200, "GET", "/v2/images", "member", None, None);

    // Create: every extra property needs `create`.
    r.create(
        403,
        "member",
        json!({"id": B, "name": "b", "secret_x": "1"}),
    );
    r.create(403, "admin", json!({"id": B, "name": "b", "locked_x": "1"}));
    // The protection check comes before the factory's own checks.
    r.create(403, "member", json!({"id": B, "misc": "1", "min_ram": -1}));
    let v = r.create(
        201,
        "member",
        json!({"id": B, "name": "b", "x_owner_2": "o", "public_2": "p", "x_foo_q": "q", "mixed_case": "m"}),
    );
    expect_keys(
        &v,
        &["mixed_case", "public_2", "x_foo_q", "x_owner_2"],
        "member create",
    );
    // Service roles count as roles.
    r.step(
        201,
        "POST",
        "/v2/images",
        "reader",
        Some("member"),
        Some(("application/json", json!({"id": C, "x_owner_s": "s"}))),
    );

    // PATCH on an image with properties the member cannot read or change.
    let op = |op: &str, path: &str, value: Option<&str>| match value {
        Some(v) => json!([{"op": op, "path": path, "value": v}]),
        None => json!([{"op": op, "path": path}]),
    };
    r.patch(403, A, "member", op("replace", "/billing_code", Some("z")));
    r.patch(403, A, "member", op("remove", "/frozen_tag", None));
    r.patch(403, A, "admin", op("replace", "/frozen_tag", Some("z")));
    // Unreadable: as if it did not exist.
    r.patch(409, A, "member", op("replace", "/secret_key", Some("z")));
    r.patch(409, A, "member", op("remove", "/misc", None));
    // Adding over an unreadable property needs `create`.
    r.patch(403, A, "member", op("add", "/secret_key", Some("z")));
    r.patch(403, A, "member", op("add", "/x_foo_bar", Some("z")));
    r.patch(200, A, "admin", op("remove", "/x_foo_bar", None));
    r.patch(403, A, "admin", op("add", "/locked_y", Some("z")));
    r.patch(
        200,
        A,
        "admin",
        json!([{"op": "replace", "path": "/misc", "value": "y"}, {"op": "add", "path": "/billing_extra", "value": "e"}]),
    );

    // PATCH where the member may do it all.
    r.patch(200, B, "member", op("add", "/x_owner_3", Some("3")));
    r.patch(200, B, "member", op("replace", "/x_owner_2", Some("2b")));
    r.patch(200, B, "member", op("remove", "/public_2", None));
    r.step(
        409,
        "PATCH",
        &format!("/v2/images/{B}"),
        "member",
        None,
        Some((PATCH20, json!([{"add": "/x_owner_3", "value": "x"}]))),
    );
    r.patch(403, B, "member", op("add", "/secret_y", Some("s")));
    r.patch(200, B, "member", op("add", "/x_foo_zz", Some("z")));
    r.step(200, "GET", "/v2/images", "admin", None, None);
    r.step(200, "GET", "/v2/images", "reader", None, None);
    // Base attributes are not extra properties: never protected. (Last:
    // Glance 33 then deletes what the reader cannot see, which Glimpse
    // does not; see `glimpse_keeps_properties_the_caller_cannot_read`.)
    r.patch(409, B, "reader", op("replace", "/x_owner_2", Some("r")));
    r.patch(200, B, "reader", op("replace", "/name", Some("renamed")));
    r.t.unexpected.extend(unexpected);
    r.t
}

/// The policies-format sequence.
fn policies_sequence(port: u16) -> Transcript {
    let mut r = Runner {
        port,
        t: Transcript::default(),
    };
    r.create(403, "member", json!({"id": A, "name": "p1", "foo": "1"}));
    r.create(
        201,
        "admin",
        json!({"id": A, "name": "p1", "foo": "1", "spl_creator_a": "c", "x_all_a": "a"}),
    );
    r.create(
        201,
        "spl_role",
        json!({"id": B, "spl_creator_b": "c", "x_all_b": "b"}),
    );
    r.create(403, "member", json!({"id": C, "spl_creator_c": "c"}));
    // A policy service role counts too.
    r.step(
        201,
        "POST",
        "/v2/images",
        "member",
        Some("spl_role"),
        Some(("application/json", json!({"id": C, "spl_creator_c": "c"}))),
    );
    r.get(A, "member");
    r.get(A, "spl_role");
    r.get(A, "admin");
    r.patch(
        403,
        A,
        "spl_role",
        json!([{"op": "replace", "path": "/spl_creator_a", "value": "z"}]),
    );
    r.patch(
        200,
        A,
        "admin",
        json!([{"op": "replace", "path": "/spl_creator_a", "value": "z"}]),
    );
    // Unreadable to everyone (`read = !`): a PATCH naming it fails as a
    // whole, nothing is saved.
    r.patch(
        409,
        A,
        "admin",
        json!([{"op": "replace", "path": "/x_all_a", "value": "b"}, {"op": "remove", "path": "/x_none_absent"}]),
    );
    r.get(A, "admin");
    // An undefined policy name falls back to the `default` rule.
    r.create(201, "member", json!({"id": D, "x_undefined_u": "u"}));
    r.step(200, "GET", "/v2/images", "member", None, None);
    r.step(200, "GET", "/v2/images", "spl_role", None, None);
    r.t
}

/// Compare two transcripts step by step.
fn differences(glance: &Transcript, glimpse: &Transcript) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (g, m)) in glance.steps.iter().zip(&glimpse.steps).enumerate() {
        if g.1 != m.1 || g.2 != m.2 {
            out.push(format!(
                "#{i} {}\n  glance:  {} {}\n  glimpse: {} {}",
                g.0, g.1, g.2, m.1, m.2
            ));
        }
    }
    if glance.steps.len() != glimpse.steps.len() {
        out.push("the transcripts differ in length".into());
    }
    out
}

fn run_both(format: &str, rules: &str, sequence: fn(u16) -> Transcript) {
    let mdir = TempDir::new("pp-glimpse");
    write_files(mdir.path(), rules, PASTE);
    let glimpse = start_glimpse(&mdir, format);
    let m = sequence(glimpse.port);
    drop(glimpse);
    assert!(
        m.unexpected.is_empty(),
        "Glimpse ({format}):\n{}",
        m.unexpected.join("\n")
    );
    let Some(venv) = glance_venv() else { return };
    let gdir = TempDir::new("pp-glance");
    let stock = std::fs::read_to_string(venv.join("etc/glance/glance-api-paste.ini")).unwrap();
    write_files(gdir.path(), rules, &stock);
    let glance = Glance::start(&venv, &conf(gdir.path(), format));
    let g = sequence(glance.port);
    drop(glance);
    // The oracle must agree with the sequence's expectations, or the
    // comparison means nothing.
    assert!(
        g.unexpected.is_empty(),
        "Glance 33 ({format}) broke the sequence's expectations:\n{}",
        g.unexpected.join("\n")
    );
    let diffs = differences(&g, &m);
    eprintln!(
        "{format}: {} requests compared with Glance 33",
        g.steps.len()
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn roles_sequence_matches_glance_33() {
    run_both("roles", ROLES_FILE, roles_sequence);
}

#[test]
fn policies_sequence_matches_glance_33() {
    run_both("policies", POLICIES_FILE, policies_sequence);
}

/// Deliberate differences: Glance 33 deletes the properties a caller
/// cannot read when that caller saves the image, drops on create a
/// property the caller may create but not read, and fails with 500 when
/// one is added by PATCH. Glimpse keeps all of them.
#[test]
fn glimpse_keeps_properties_the_caller_cannot_read() {
    let dir = TempDir::new("pp-keep");
    write_files(dir.path(), POLICIES_FILE, PASTE);
    let srv = start_glimpse(&dir, "policies");
    let port = srv.port;
    let body = json!({"id": A, "name": "k", "foo": "secret", "x_all_a": "a", "x_none_c": "c"});
    let r = call(
        port,
        "POST",
        "/v2/images",
        "admin",
        None,
        Some(("application/json", &body)),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(keys(&r.json()), ["foo", "x_all_a"]);
    // A member renames the image and changes what it can see...
    let ops = json!([{"op": "replace", "path": "/name", "value": "k2"}, {"op": "add", "path": "/x_all_b", "value": "b"}]);
    let r = call(
        port,
        "PATCH",
        &format!("/v2/images/{A}"),
        "member",
        None,
        Some((PATCH21, &ops)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(keys(&r.json()), ["x_all_a", "x_all_b"]);
    // ...and the admin-only property is still there.
    let r = call(port, "GET", &format!("/v2/images/{A}"), "admin", None, None);
    assert_eq!(r.json()["foo"], "secret");
    // Write-only properties are stored: nobody reads them, but the list
    // filter finds the image.
    let ops = json!([{"op": "add", "path": "/x_none_d", "value": "d"}]);
    let r = call(
        port,
        "PATCH",
        &format!("/v2/images/{A}"),
        "admin",
        None,
        Some((PATCH21, &ops)),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("x_none_d").is_none());
    for (prop, value) in [("x_none_c", "c"), ("x_none_d", "d")] {
        let r = call(
            port,
            "GET",
            &format!("/v2/images?{prop}={value}"),
            "admin",
            None,
            None,
        );
        assert_eq!(
            r.json()["images"].as_array().map(Vec::len),
            Some(1),
            "{prop}"
        );
    }
}

/// Without Keystone the context has no roles: only `@` allows anything,
/// whatever the (admin) no-auth caller.
#[test]
fn no_auth_callers_have_no_roles() {
    let dir = TempDir::new("pp-noauth");
    std::fs::write(dir.path().join("pp.conf"), ROLES_FILE).unwrap();
    let port = free_port();
    let text = base_conf(
        port,
        1,
        &format!(
            "property_protection_file = {}/pp.conf",
            dir.path().display()
        ),
        &format!(
            "[database]\nconnection = sqlite:///{d}/g.sqlite\n[glance_store]\nfilesystem_store_datadir = {d}/images\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            d = dir.path().display()
        ),
    );
    let srv = start_in(TempDir::new("pp-noauth-srv"), &text, &[], true);
    let post = |body: Value| {
        request(
            srv.port,
            "POST",
            "/v2/images",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .unwrap()
    };
    let r = post(json!({"x_owner_1": "o"}));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text()
            .contains("Attribute &#x27;x_owner_1&#x27; is reserved.")
            || r.text().contains("Attribute 'x_owner_1' is reserved."),
        "{}",
        r.text()
    );
    let r = post(json!({"public_1": "p"}));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn invalid_files_stop_the_service() {
    let dir = TempDir::new("pp-invalid");
    let ok_ops = "create = a\nread = a\nupdate = a\ndelete = a\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "[x]\ncreate = @,!\nread = a\nupdate = a\ndelete = a\n".into(),
            "roles",
            "mutually exclusive",
        ),
        (
            format!("[^x_[]\n{ok_ops}"),
            "roles",
            "not a valid regular expression",
        ),
        (
            "[x]\ncreate = a\nread = a\nupdate = a\n".into(),
            "roles",
            "no 'delete' option",
        ),
        (
            format!("[x]\n{}", ok_ops.replace("= a\n", "= a,b\n")),
            "policies",
            "only one policy",
        ),
        (format!("[(?=x)]\n{ok_ops}"), "roles", "not supported"),
        ("create = a\n".into(), "roles", "no section header"),
        (
            format!("[x]\n{ok_ops}[x]\n{ok_ops}"),
            "roles",
            "already exists",
        ),
    ];
    for (text, format, reason) in cases {
        std::fs::write(dir.path().join("pp.conf"), &text).unwrap();
        let (code, err) = start_failure(
            dir.path(),
            &format!("pp.conf\nproperty_protection_rule_format = {format}"),
        );
        assert!(code.is_some_and(|c| c != 0), "{text}: exit {code:?}");
        assert!(
            err.contains("pp.conf") && err.contains(reason),
            "{text}: expected '{reason}' in: {err}"
        );
    }
    let (code, err) = start_failure(dir.path(), "/nonexistent/pp.conf");
    assert!(code.is_some_and(|c| c != 0));
    assert!(
        err.contains("/nonexistent/pp.conf") && err.contains("not found"),
        "{err}"
    );
    // An unknown format is refused by the option itself.
    std::fs::write(dir.path().join("pp.conf"), "").unwrap();
    let (code, err) = start_failure(
        dir.path(),
        "pp.conf\nproperty_protection_rule_format = Roles",
    );
    assert!(code.is_some_and(|c| c != 0));
    assert!(err.contains("property_protection_rule_format"), "{err}");
}

/// Run `glimpse api` with `property_protection_file = <file>` (relative
/// to the config file's directory); it must exit. Returns (code, stderr).
fn start_failure(dir: &Path, file: &str) -> (Option<i32>, String) {
    let port = free_port();
    let text = base_conf(
        port,
        1,
        &format!("property_protection_file = {file}"),
        &format!(
            "[database]\nconnection = sqlite:///{d}/g.sqlite\n[glance_store]\nfilesystem_store_datadir = {d}/images\n",
            d = dir.display()
        ),
    );
    let cfg = dir.join("glance-api.conf");
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(dir.join("glance-api-paste.ini"), PASTE).unwrap();
    let out = std::process::Command::new(bin())
        .arg("api")
        .arg("--config-file")
        .arg(&cfg)
        .env("HOME", dir)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rules are read again on SIGHUP; a broken file then keeps the
/// running rules.
#[test]
fn sighup_rereads_the_rules() {
    let dir = TempDir::new("pp-hup");
    write_files(dir.path(), ROLES_FILE, PASTE);
    let srv = start_glimpse(&dir, "roles");
    let create = |name: &str| {
        let body = json!({ name: "v" });
        call(
            srv.port,
            "POST",
            "/v2/images",
            "member",
            None,
            Some(("application/json", &body)),
        )
        .status
    };
    assert_eq!(create("misc_1"), 403);
    let workers = srv.workers();
    // Open everything up.
    std::fs::write(
        dir.path().join("pp.conf"),
        "[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n",
    )
    .unwrap();
    srv.signal("HUP");
    assert!(
        wait_until(std::time::Duration::from_secs(10), || {
            let w = srv.workers();
            !w.is_empty() && w.iter().all(|p| !workers.contains(p))
        }),
        "no new workers: {}",
        srv.log_text()
    );
    assert!(wait_until(std::time::Duration::from_secs(5), || create(
        "misc_2"
    ) == 201));
    // A broken file: the reload fails, the rules in force stay.
    std::fs::write(dir.path().join("pp.conf"), "[x]\ncreate = @,!\n").unwrap();
    srv.signal("HUP");
    assert!(
        wait_until(std::time::Duration::from_secs(10), || srv
            .log_text()
            .contains("Reload failed")),
        "{}",
        srv.log_text()
    );
    assert!(srv.log_text().contains("pp.conf"), "{}", srv.log_text());
    assert_eq!(create("misc_3"), 201);
}
