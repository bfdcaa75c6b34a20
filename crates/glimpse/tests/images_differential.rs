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
//! Environment knobs (for whoever extends the sequence):
//! - `GLIMPSE_DIFF_DUMP=/tmp/x.json` writes both normalised transcripts.
//! - `GLIMPSE_DIFF_ONLY=glance` runs only the Glance side (with the dump,
//!   this shows what Glance answers to a new request) and compares nothing.
//!
//! e.g. `GLIMPSE_DIFF_ONLY=glance GLIMPSE_DIFF_DUMP=/tmp/g.json cargo test
//! -p glimpse --test images_differential -- --nocapture`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;

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

const JSON: (&str, &str) = ("Content-Type", "application/json");
const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");
const OCTETS: (&str, &str) = ("Content-Type", "application/octet-stream");
const PATCH21: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.1-json-patch",
);
const PATCH20: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.0-json-patch",
);

/// Response headers compared (values after normalisation). Content-Length
/// is compared for non-JSON responses only (JSON bodies are compared parsed,
/// so their length may legitimately differ by whitespace);
/// `x-openstack-request-id` only for presence.
const HEADERS_COMPARED: [&str; 8] = [
    "content-type",
    "content-length",
    "allow",
    "accept-patch",
    "location",
    "content-md5",
    "content-range",
    "openstack-image-import-methods",
];

/// Differences accepted on purpose: (request label, aspect, why). The label
/// is the one printed in the report (`METHOD path [headers] body`); the
/// aspect is `status`, `body`, `x-openstack-request-id` or a header name.
/// Every entry needs a reason a client cannot observe or rely on.
const ACCEPTED_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// One request and its normalised response.
#[derive(Debug)]
struct Rec {
    label: String,
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    request_id: bool,
    body: Body,
}

#[derive(Debug, PartialEq)]
enum Body {
    /// Normalised JSON, serialized compactly with its key order kept
    /// (serde_json's `preserve_order` is on in this workspace).
    Json(String),
    Text(String),
}

impl Rec {
    fn to_json(&self, i: usize) -> Value {
        let mut headers = serde_json::Map::new();
        for (k, v) in &self.headers {
            if let Some(v) = v {
                headers.insert((*k).to_string(), Value::String(v.clone()));
            }
        }
        let mut o = serde_json::Map::new();
        o.insert("i".into(), i.into());
        o.insert("request".into(), self.label.clone().into());
        o.insert("status".into(), self.status.into());
        o.insert("headers".into(), Value::Object(headers));
        o.insert("x-openstack-request-id".into(), self.request_id.into());
        match &self.body {
            Body::Json(s) => o.insert("json".into(), serde_json::from_str(s).unwrap()),
            Body::Text(s) => o.insert("text".into(), s.clone().into()),
        };
        Value::Object(o)
    }
}

/// One server's run through the sequence: the ids it assigned, bound to
/// placeholders `{ID1}`, `{ID2}`, … in creation order, and the transcript.
struct Side {
    port: u16,
    ids: Vec<(String, String)>,
    recs: Vec<Rec>,
    /// The last response's JSON body (raw, not normalised), to follow links.
    last: Option<Value>,
    /// Failed `expect`s: absolute facts (not comparisons) about responses.
    checks: Vec<String>,
}

fn is_uuid_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b'-'
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the only timestamp shape Glance's image and
/// member JSON uses; anything else is left alone so it shows up as a
/// difference.
fn is_isotime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Timestamps become `<TIME>`; `tags` lists are sorted. Glance keeps an
/// image's tags in a Python `set` and serializes it in iteration order,
/// which depends on the per-process string-hash seed: the same image shows
/// `["a", "b"]` in one Glance run and `["b", "a"]` in the next, so no
/// client can rely on the order and only the set is compared.
fn normalise_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &mut *x) {
                    ("created_at" | "updated_at", Value::String(t)) if is_isotime(t) => {
                        *x = Value::String("<TIME>".into());
                    }
                    ("tags", Value::Array(a)) if a.iter().all(Value::is_string) => {
                        a.sort_by(|p, q| p.as_str().cmp(&q.as_str()));
                    }
                    _ => normalise_json(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise_json),
        _ => {}
    }
}

/// Where two normalised JSON bodies differ, as readable lines (at most
/// `MAX_JSON_DIFFS`; the dump has the full bodies).
fn json_diff(g: &Value, m: &Value, path: &str, out: &mut Vec<String>) {
    const MAX_JSON_DIFFS: usize = 12;
    if out.len() >= MAX_JSON_DIFFS || g == m && key_orders_match(g, m) {
        return;
    }
    let at = if path.is_empty() { "(top)" } else { path };
    match (g, m) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            for k in &ka {
                if !b.contains_key(*k) {
                    out.push(format!("{path}/{k}: glimpse lacks it (glance {})", a[*k]));
                }
            }
            for k in &kb {
                if !a.contains_key(*k) {
                    out.push(format!("{path}/{k}: glance lacks it (glimpse {})", b[*k]));
                }
            }
            let ca: Vec<&&String> = ka.iter().filter(|k| b.contains_key(**k)).collect();
            let cb: Vec<&&String> = kb.iter().filter(|k| a.contains_key(**k)).collect();
            if ca != cb {
                out.push(format!(
                    "{at}: key order\n        glance:  {ca:?}\n        glimpse: {cb:?}"
                ));
            }
            for k in ca {
                json_diff(&a[*k], &b[*k], &format!("{path}/{k}"), out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let ids = |v: &Vec<Value>| -> Option<Vec<String>> {
                v.iter()
                    .map(|x| x["id"].as_str().map(str::to_string))
                    .collect()
            };
            match (ids(a), ids(b)) {
                (Some(ia), Some(ib)) if ia != ib => {
                    out.push(format!("{at}: ids glance {ia:?} glimpse {ib:?}"));
                }
                _ if a.len() != b.len() => {
                    out.push(format!("{at}: glance {g} glimpse {m}"));
                }
                _ => {
                    for (n, (x, y)) in a.iter().zip(b).enumerate() {
                        json_diff(x, y, &format!("{path}/{n}"), out);
                    }
                }
            }
        }
        (Value::String(a), Value::String(b)) => {
            out.push(format!("{at}: {}", first_difference(a, b)));
        }
        _ => out.push(format!("{at}: glance {g} glimpse {m}")),
    }
}

/// serde_json's `Value` equality ignores key order; this does not.
fn key_orders_match(g: &Value, m: &Value) -> bool {
    match (g, m) {
        (Value::Object(a), Value::Object(b)) => {
            a.keys().eq(b.keys())
                && a.values()
                    .zip(b.values())
                    .all(|(x, y)| key_orders_match(x, y))
        }
        (Value::Array(a), Value::Array(b)) => a.iter().zip(b).all(|(x, y)| key_orders_match(x, y)),
        _ => true,
    }
}

impl Side {
    fn new(port: u16) -> Side {
        Side {
            port,
            ids: Vec::new(),
            recs: Vec::new(),
            last: None,
            checks: Vec::new(),
        }
    }

    /// A fact the last response must show on either side (on Glance it
    /// validates the sequence's own assumptions).
    fn expect(&mut self, what: &str, ok: impl FnOnce(&Rec, &Value) -> bool) {
        let Some(rec) = self.recs.last() else { return };
        if !ok(rec, self.last.as_ref().unwrap_or(&Value::Null)) {
            let msg = format!("#{} {}: expected {what}", self.recs.len() - 1, rec.label);
            self.checks.push(msg);
        }
    }

    /// A path or body template with `{IDn}` replaced by this side's id. An
    /// id this side never got (its create failed) becomes a fixed unknown
    /// uuid so the sequence still runs and the differences pile up.
    fn fill(&self, tpl: &str) -> String {
        let mut s = tpl.to_string();
        for (slot, id) in &self.ids {
            s = s.replace(&format!("{{{slot}}}"), id);
        }
        while let Some(i) = s.find("{ID") {
            let Some(j) = s[i..].find('}') else { break };
            let n: u64 = s[i + 3..i + j].parse().unwrap_or(0);
            s.replace_range(i..i + j + 1, &format!("ffffffff-ffff-4fff-8fff-{n:012}"));
        }
        s
    }

    /// Ids back to placeholders, this server's port to `PORT`, request ids
    /// to `REQ-ID`.
    fn norm(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (slot, id) in &self.ids {
            t = t.replace(id.as_str(), &format!("{{{slot}}}"));
        }
        t = t.replace(&format!("127.0.0.1:{}", self.port), "127.0.0.1:PORT");
        let mut out = String::with_capacity(t.len());
        let mut rest = t.as_str();
        while let Some(i) = rest.find("req-") {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 4..];
            if tail.len() >= 36 && tail.as_bytes()[..36].iter().all(|&c| is_uuid_char(c)) {
                out.push_str("REQ-ID");
                rest = &tail[36..];
            } else {
                out.push_str("req-");
                rest = tail;
            }
        }
        out.push_str(rest);
        out
    }

    /// `scheme://authority/path` with the authority replaced by `HOST`.
    fn norm_location(&self, v: &str) -> String {
        let v = match v.split_once("://") {
            Some((scheme, rest)) => {
                let path = rest.find('/').map_or("", |i| &rest[i..]);
                format!("{scheme}://HOST{path}")
            }
            None => v.to_string(),
        };
        self.norm(&v)
    }

    fn call(&mut self, method: &str, tpl: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut label = format!("{method} {tpl}");
        for (k, v) in headers {
            if (*k, *v) != JSON {
                label.push_str(&format!(" [{k}: {v}]"));
            }
        }
        if !body.is_empty() {
            let b = String::from_utf8_lossy(body);
            let short: String = b.chars().take(100).collect();
            label.push(' ');
            label.push_str(&short.replace('\n', "\\n").replace('\r', "\\r"));
        }
        self.call_labelled(label, method, &self.fill(tpl), headers, body);
    }

    fn call_labelled(
        &mut self,
        label: String,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let body = self.fill(&String::from_utf8_lossy(body)).into_bytes();
        let r = match request(self.port, method, path, headers, &body) {
            Ok(r) => r,
            Err(e) => {
                self.last = None;
                self.recs.push(Rec {
                    label,
                    status: 0,
                    headers: Vec::new(),
                    request_id: false,
                    body: Body::Text(format!("request failed: {e}")),
                });
                return;
            }
        };
        let ctype = r.header("content-type").unwrap_or("");
        let parsed: Option<Value> = if ctype.starts_with("application/json") {
            serde_json::from_slice(&r.body).ok()
        } else {
            None
        };
        self.last = parsed.clone();
        // Learn the id of a created image before normalising, so the
        // response itself already shows the placeholder.
        if method == "POST"
            && path == "/v2/images"
            && r.status == 201
            && let Some(id) = parsed.as_ref().and_then(|v| v["id"].as_str())
            && !self.ids.iter().any(|(_, x)| x == id)
        {
            let slot = format!("ID{}", self.ids.len() + 1);
            self.ids.push((slot, id.to_string()));
        }
        let text = self.norm(&r.text());
        let body = match parsed.and_then(|_| serde_json::from_str::<Value>(&text).ok()) {
            Some(mut v) => {
                normalise_json(&mut v);
                Body::Json(serde_json::to_string(&v).unwrap())
            }
            None => Body::Text(text),
        };
        let is_json = matches!(body, Body::Json(_));
        let headers = HEADERS_COMPARED
            .iter()
            .map(|&h| {
                let v = r.header(h).map(|v| match h {
                    "location" => self.norm_location(v),
                    _ => self.norm(v),
                });
                (
                    h,
                    if h == "content-length" && is_json {
                        None
                    } else {
                        v
                    },
                )
            })
            .collect();
        self.recs.push(Rec {
            label,
            status: r.status,
            headers,
            request_id: r.header("x-openstack-request-id").is_some(),
            body,
        });
    }

    /// POST /v2/images expected to create image `{IDn}` (n = `slot`). If
    /// this side's create fails, the slot stays unbound and later requests
    /// naming it go to an unknown id.
    fn create(&mut self, slot: usize, body: &str) {
        // Unbound earlier slots (failed creates) must not shift this one.
        while self.ids.len() + 1 < slot {
            let n = self.ids.len() + 1;
            self.ids
                .push((format!("ID{n}"), format!("ffffffff-ffff-4fff-8fff-{n:012}")));
        }
        self.call("POST", "/v2/images", &[JSON], body.as_bytes());
    }

    /// GET the `next` link of the previous response; a placeholder record
    /// (status 0) when there is none, so both transcripts stay aligned.
    fn follow_next(&mut self) {
        let next = self
            .last
            .as_ref()
            .and_then(|v| v["next"].as_str())
            .map(str::to_string);
        match next {
            Some(path) => {
                let label = format!("GET {} (next link)", self.norm(&path));
                self.call_labelled(label, "GET", &path, &[], b"");
            }
            None => {
                self.last = None;
                self.recs.push(Rec {
                    label: "GET (next link): the previous response has none".into(),
                    status: 0,
                    headers: Vec::new(),
                    request_id: false,
                    body: Body::Text(String::new()),
                });
            }
        }
    }
}

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

fn short(s: &str) -> String {
    if s.len() > 3000 {
        let mut end = 3000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

/// Where two texts part: a short window from just before the first
/// differing character on each side.
fn first_difference(g: &str, m: &str) -> String {
    // The shared prefix is byte-identical, so `from` is a char boundary in
    // both.
    let at = g
        .char_indices()
        .zip(m.chars())
        .find(|((_, a), b)| a != b)
        .map_or(g.len().min(m.len()), |((n, _), _)| n);
    let from = g[..at].char_indices().rev().nth(30).map_or(0, |(n, _)| n);
    let window = |t: &str| t[from..].chars().take(120).collect::<String>();
    format!(
        "first difference at byte {at}:\n        glance:  …{:?}\n        glimpse: …{:?}",
        window(g),
        window(m)
    )
}

fn both(g: &str, m: &str) -> String {
    format!("      glance:  {}\n      glimpse: {}", short(g), short(m))
}

/// One entry per request that differs: the request, then each differing
/// aspect (status, a header, the request-id presence, the body) not listed
/// in `ACCEPTED_DIFFERENCES`.
fn compare(glance: &[Rec], glimpse: &[Rec]) -> Vec<String> {
    let mut out = Vec::new();
    if glance.len() != glimpse.len() {
        out.push(format!(
            "(whole sequence) number of requests:\n{}",
            both(&glance.len().to_string(), &glimpse.len().to_string())
        ));
    }
    for (i, (g, m)) in glance.iter().zip(glimpse).enumerate() {
        let label = g.label.as_str();
        let mut aspects: Vec<(String, String)> = Vec::new();
        if g.label != m.label {
            aspects.push(("request".into(), both(&g.label, &m.label)));
        } else {
            if g.status != m.status {
                aspects.push((
                    "status".into(),
                    both(&g.status.to_string(), &m.status.to_string()),
                ));
            }
            for h in HEADERS_COMPARED {
                let find = |r: &Rec| {
                    r.headers
                        .iter()
                        .find(|(k, _)| *k == h)
                        .and_then(|x| x.1.clone())
                };
                let (gv, mv) = (find(g), find(m));
                if gv != mv {
                    aspects.push((h.into(), both(&format!("{gv:?}"), &format!("{mv:?}"))));
                }
            }
            if g.request_id != m.request_id {
                aspects.push((
                    "x-openstack-request-id".into(),
                    both(
                        &format!("present: {}", g.request_id),
                        &format!("present: {}", m.request_id),
                    ),
                ));
            }
            match (&g.body, &m.body) {
                (Body::Json(gj), Body::Json(mj)) if gj != mj => {
                    let gv: Value = serde_json::from_str(gj).unwrap();
                    let mv: Value = serde_json::from_str(mj).unwrap();
                    let mut lines = Vec::new();
                    json_diff(&gv, &mv, "", &mut lines);
                    if lines.is_empty() {
                        lines.push("(the serializations differ)".into());
                    }
                    let lines: Vec<String> = lines.iter().map(|l| format!("      {l}")).collect();
                    aspects.push(("body".into(), lines.join("\n")));
                }
                (Body::Text(gt), Body::Text(mt)) if gt != mt => {
                    let detail = format!(
                        "      {}\n{}",
                        first_difference(gt, mt),
                        both(&format!("{gt:?}"), &format!("{mt:?}"))
                    );
                    aspects.push(("body".into(), detail));
                }
                (gb, mb) if gb != mb => {
                    aspects.push(("body".into(), both(&format!("{gb:?}"), &format!("{mb:?}"))));
                }
                _ => {}
            }
        }
        aspects.retain(|(aspect, _)| {
            !ACCEPTED_DIFFERENCES
                .iter()
                .any(|(l, a, _)| *l == label && a == aspect)
        });
        if !aspects.is_empty() {
            let mut entry = format!("#{i} {label}");
            for (aspect, detail) in aspects {
                entry.push_str(&format!("\n    {aspect}:\n{detail}"));
            }
            out.push(entry);
        }
    }
    out
}

fn dump(path: &str, sides: &[(&str, &[Rec])]) {
    let mut o = serde_json::Map::new();
    for (name, recs) in sides {
        let v: Vec<Value> = recs.iter().enumerate().map(|(i, r)| r.to_json(i)).collect();
        o.insert((*name).to_string(), Value::Array(v));
    }
    std::fs::write(
        path,
        serde_json::to_string_pretty(&Value::Object(o)).unwrap(),
    )
    .unwrap();
    eprintln!("transcripts written to {path}");
}

#[test]
fn images_api_same_as_glance_33() {
    let Some(venv) = glance_venv() else { return };
    let glance_only = std::env::var("GLIMPSE_DIFF_ONLY").is_ok_and(|v| v == "glance");
    let dump_to = std::env::var("GLIMPSE_DIFF_DUMP").ok();

    let gdir = TempDir::new("glance-img-data");
    std::fs::create_dir_all(gdir.path().join("images")).unwrap();
    let glance = Glance::start(&venv, &conf(gdir.path()));
    let gside = run_sequence(glance.port);
    drop(glance);
    let g = gside.recs;

    if glance_only {
        eprintln!(
            "\n*** GLIMPSE_DIFF_ONLY=glance: ran {} requests against Glance 33 only; \
             NOTHING WAS COMPARED. ***\n",
            g.len()
        );
        if let Some(p) = &dump_to {
            dump(p, &[("glance", &g)]);
        }
        assert!(
            gside.checks.is_empty(),
            "Glance 33 itself broke the sequence's assumptions:\n{}",
            gside.checks.join("\n")
        );
        return;
    }

    let port = free_port();
    let mdir = TempDir::new("glimpse-img-data");
    std::fs::create_dir_all(mdir.path().join("images")).unwrap();
    let mconf = conf(mdir.path()).replace(
        "workers = 1\n",
        &format!("workers = 1\nbind_port = {port}\n"),
    );
    let glimpse = start(&mconf);
    let mside = run_sequence(glimpse.port);
    drop(glimpse);
    let m = mside.recs;

    if let Some(p) = &dump_to {
        dump(p, &[("glance", &g), ("glimpse", &m)]);
    }
    // The oracle must satisfy the sequence's own assumptions, or the
    // comparison means nothing.
    assert!(
        gside.checks.is_empty(),
        "Glance 33 itself broke the sequence's assumptions:\n{}",
        gside.checks.join("\n")
    );
    let mut diffs = compare(&g, &m);
    diffs.extend(mside.checks.iter().map(|c| format!("glimpse only: {c}")));
    eprintln!("{} requests compared against Glance 33", g.len());
    assert!(
        diffs.is_empty(),
        "{} differences from Glance 33 over {} requests \
         (GLIMPSE_DIFF_DUMP=/tmp/x.json writes both transcripts):\n{}",
        diffs.len(),
        g.len(),
        diffs.join("\n")
    );
}
