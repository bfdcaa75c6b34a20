//! Differential testing against Python Glance 33: one request sequence is
//! run against each server, every response is normalised (ids, timestamps,
//! request ids, ports, the `Location` host) and the two transcripts are
//! compared request by request: status, the headers clients read, and the
//! body (parsed JSON with its key order, or the text). Used by
//! `images_differential.rs` and `metadefs_differential.rs` through
//! `#[path = "common/diff.rs"] mod diff;`.
//!
//! Environment knobs (for whoever extends a sequence):
//! - `GLIMPSE_DIFF_DUMP=/tmp/x.json` writes both normalised transcripts.
//! - `GLIMPSE_DIFF_ONLY=glance` runs only the Glance side (with the dump,
//!   this shows what Glance answers to a new request) and compares nothing.
#![allow(dead_code)]

use serde_json::Value;

use crate::common::request;

pub const JSON: (&str, &str) = ("Content-Type", "application/json");
pub const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");

/// Response headers compared (values after normalisation). Content-Length
/// is compared for non-JSON responses only (JSON bodies are compared parsed,
/// so their length may legitimately differ by whitespace);
/// `x-openstack-request-id` only for presence.
pub const HEADERS_COMPARED: [&str; 8] = [
    "content-type",
    "content-length",
    "allow",
    "accept-patch",
    "location",
    "content-md5",
    "content-range",
    "openstack-image-import-methods",
];

/// One request and its normalised response.
#[derive(Debug)]
pub struct Rec {
    pub label: String,
    pub status: u16,
    pub headers: Vec<(&'static str, Option<String>)>,
    pub request_id: bool,
    pub body: Body,
}

#[derive(Debug, PartialEq)]
pub enum Body {
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
pub struct Side {
    pub port: u16,
    pub ids: Vec<(String, String)>,
    pub recs: Vec<Rec>,
    /// The last response's JSON body (raw, not normalised), to follow links.
    pub last: Option<Value>,
    /// Failed `expect`s: absolute facts (not comparisons) about responses.
    pub checks: Vec<String>,
}

pub fn is_uuid_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b'-'
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the only timestamp shape Glance's image and
/// member JSON uses; anything else is left alone so it shows up as a
/// difference.
pub fn is_isotime(s: &str) -> bool {
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
pub fn normalise_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &mut *x) {
                    ("created_at" | "updated_at" | "expires_at", Value::String(t))
                        if is_isotime(t) =>
                    {
                        *x = Value::String("<TIME>".into());
                    }
                    ("tags", Value::Array(a)) if a.iter().all(Value::is_string) => {
                        a.sort_by(|p, q| p.as_str().cmp(&q.as_str()));
                    }
                    ("resource_type_associations", Value::Array(a))
                        if UNORDERED_ASSOCIATIONS.load(std::sync::atomic::Ordering::Relaxed) =>
                    {
                        a.iter_mut().for_each(normalise_json);
                        a.sort_by(|p, q| p["name"].as_str().cmp(&q["name"].as_str()));
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
pub fn json_diff(g: &Value, m: &Value, path: &str, out: &mut Vec<String>) {
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
pub fn key_orders_match(g: &Value, m: &Value) -> bool {
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
    pub fn new(port: u16) -> Side {
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
    pub fn expect(&mut self, what: &str, ok: impl FnOnce(&Rec, &Value) -> bool) {
        let Some(rec) = self.recs.last() else { return };
        if !ok(rec, self.last.as_ref().unwrap_or(&Value::Null)) {
            let msg = format!("#{} {}: expected {what}", self.recs.len() - 1, rec.label);
            self.checks.push(msg);
        }
    }

    /// Binds `id` to the next `{IDn}` placeholder (once).
    pub fn learn(&mut self, id: &str) {
        if !self.ids.iter().any(|(_, x)| x == id) {
            let slot = format!("ID{}", self.ids.len() + 1);
            self.ids.push((slot, id.to_string()));
        }
    }

    /// A path or body template with `{IDn}` replaced by this side's id. An
    /// id this side never got (its create failed) becomes a fixed unknown
    /// uuid so the sequence still runs and the differences pile up.
    pub fn fill(&self, tpl: &str) -> String {
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
    pub fn norm(&self, text: &str) -> String {
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
    pub fn norm_location(&self, v: &str) -> String {
        let v = match v.split_once("://") {
            Some((scheme, rest)) => {
                let path = rest.find('/').map_or("", |i| &rest[i..]);
                format!("{scheme}://HOST{path}")
            }
            None => v.to_string(),
        };
        self.norm(&v)
    }

    pub fn call(&mut self, method: &str, tpl: &str, headers: &[(&str, &str)], body: &[u8]) {
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

    pub fn call_labelled(
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
            && (path == "/v2/images" || path == "/v2/tasks")
            && r.status == 201
            && let Some(id) = parsed.as_ref().and_then(|v| v["id"].as_str())
        {
            self.learn(id);
            if CREATE_PAUSE.load(std::sync::atomic::Ordering::Relaxed) {
                // Into the next wall-clock second (MySQL's DATETIME unit).
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let rest = 1_000_000_000 - u64::from(now.subsec_nanos());
                std::thread::sleep(std::time::Duration::from_nanos(rest + 20_000_000));
            }
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
    pub fn create(&mut self, slot: usize, body: &str) {
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
    pub fn follow_next(&mut self) {
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

pub fn short(s: &str) -> String {
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
pub fn first_difference(g: &str, m: &str) -> String {
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

pub fn both(g: &str, m: &str) -> String {
    format!("      glance:  {}\n      glimpse: {}", short(g), short(m))
}

/// One entry per request that differs: the request, then each differing
/// aspect (status, a header, the request-id presence, the body) not listed
/// in `accepted` (request label, aspect, why).
pub fn compare(glance: &[Rec], glimpse: &[Rec], accepted: &[(&str, &str, &str)]) -> Vec<String> {
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
        aspects.retain(|(aspect, _)| !accepted.iter().any(|(l, a, _)| *l == label && a == aspect));
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

pub fn dump(path: &str, sides: &[(&str, &[Rec])]) {
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

/// Whether only the Glance side should run (`GLIMPSE_DIFF_ONLY=glance`).
pub fn glance_only() -> bool {
    std::env::var("GLIMPSE_DIFF_ONLY").is_ok_and(|v| v == "glance")
}

/// The end of a differential test: writes the dump if asked, checks that
/// Glance met the sequence's own assumptions, and fails with every
/// difference not `accepted`. `glimpse` is `None` in Glance-only runs;
/// `backend` names the database Glimpse ran on.
pub fn conclude(
    gside: &Side,
    glimpse: Option<&Side>,
    backend: &str,
    accepted: &[(&str, &str, &str)],
) {
    let dump_to = std::env::var("GLIMPSE_DIFF_DUMP").ok();
    let g = &gside.recs;
    let Some(mside) = glimpse else {
        eprintln!(
            "\n*** GLIMPSE_DIFF_ONLY=glance: ran {} requests against Glance 33 only; \
             NOTHING WAS COMPARED. ***\n",
            g.len()
        );
        if let Some(p) = &dump_to {
            dump(p, &[("glance", g)]);
        }
        assert!(
            gside.checks.is_empty(),
            "Glance 33 itself broke the sequence's assumptions:\n{}",
            gside.checks.join("\n")
        );
        return;
    };
    let m = &mside.recs;
    if let Some(p) = &dump_to {
        dump(p, &[("glance", g), ("glimpse", m)]);
    }
    // The oracle must satisfy the sequence's own assumptions, or the
    // comparison means nothing.
    assert!(
        gside.checks.is_empty(),
        "Glance 33 itself broke the sequence's assumptions:\n{}",
        gside.checks.join("\n")
    );
    let mut diffs = compare(g, m, accepted);
    diffs.extend(mside.checks.iter().map(|c| format!("glimpse only: {c}")));
    eprintln!(
        "{} requests compared against Glance 33 (Glimpse on {backend})",
        g.len()
    );
    assert!(
        diffs.is_empty(),
        "{} differences from Glance 33 over {} requests with Glimpse on {backend} \
         (GLIMPSE_DIFF_DUMP=/tmp/x.json writes both transcripts):\n{}",
        diffs.len(),
        g.len(),
        diffs.join("\n")
    );
}

/// The databases a differential test runs on: SQLite always (`None`: the
/// test's own files), PostgreSQL and MariaDB when their servers answer. On
/// each, Glance and Glimpse get a scratch database of their own (dropped
/// afterwards), so that each backend's own rules (where NULLs sort, say)
/// are compared like with like.
pub struct Backend {
    pub name: &'static str,
    pub glance: Option<crate::common::ScratchDb>,
    pub glimpse: Option<crate::common::ScratchDb>,
}

/// Whether each image or task create waits for the next second (see
/// [`Backend::prepare`]).
static CREATE_PAUSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether metadef `resource_type_associations` lists are compared as sets
/// (see [`Backend::prepare`]).
static UNORDERED_ASSOCIATIONS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

impl Backend {
    /// Run before each side's sequence. MySQL's `DATETIME` keeps whole
    /// seconds, so rows created within one second tie on `created_at` and
    /// a list orders them by id: random UUIDs that differ between the two
    /// runs. On MariaDB, each create is followed by a wait for the next
    /// second, so that the order compared is the creation order on both
    /// sides.
    ///
    /// Also on MariaDB, Glance reads a namespace's resource-type
    /// associations with a join whose order follows the optimizer's plan,
    /// which changes as the tables grow (seen within one run); those lists
    /// are compared as sets there.
    pub fn prepare(&self) {
        let mysql = self.name == "MariaDB";
        CREATE_PAUSE.store(mysql, std::sync::atomic::Ordering::Relaxed);
        UNORDERED_ASSOCIATIONS.store(mysql, std::sync::atomic::Ordering::Relaxed);
    }
}

pub fn backends(prefix: &str) -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "SQLite",
        glance: None,
        glimpse: None,
    }];
    for (postgres, name) in [(true, "PostgreSQL"), (false, "MariaDB")] {
        let Some(g) = crate::common::ScratchDb::create(postgres, &format!("{prefix}_g")) else {
            continue;
        };
        if let Some(m) = crate::common::ScratchDb::create(postgres, &format!("{prefix}_m")) {
            out.push(Backend {
                name,
                glance: Some(g),
                glimpse: Some(m),
            });
        }
    }
    out
}

/// `conf` with its `connection = sqlite…` line pointing at `db` instead.
pub fn on_database(conf: &str, db: Option<&crate::common::ScratchDb>) -> String {
    let Some(db) = db else {
        return conf.to_string();
    };
    conf.lines()
        .map(|l| {
            if l.starts_with("connection = sqlite") {
                format!("connection = {}", db.url)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
