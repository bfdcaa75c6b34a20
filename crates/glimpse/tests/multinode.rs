//! Three Glimpse nodes — the real binary, two workers each, each on its own
//! loopback port — sharing one PostgreSQL database and one filesystem store
//! directory, with concurrent clients spread over the nodes creating,
//! uploading, patching, tagging and deleting images, many of them the same
//! images at the same time.
//!
//! The clients build a model from acknowledged (2xx) answers only, and the
//! end state is checked against it, directly in the database and the store:
//! - each client thread owns its own property names (`pNN_*`) and tags
//!   (`gNN-*`), so, races or not, the final value of those is exactly what
//!   that thread's acknowledged operations produced (a lost update — one
//!   node's read-modify-write dropping another node's acknowledged change —
//!   shows up here, and in the read-your-writes checks made on the way);
//! - a shared attribute (`name`) written by several threads ends with one of
//!   the acknowledged values;
//! - an image is deleted if and only if some client got a 204 for deleting
//!   it, at most one client gets that 204, nothing on it succeeds after the
//!   204 was seen, and 404s only ever concern deleted images;
//! - at most one upload per image is acknowledged; an image with one is
//!   `active` with that upload's size and md5, one active location and its
//!   file; an image without one is `queued` with no data;
//! - no file in the store lacks a live active location (orphan), and no
//!   live active location lacks its file (missing).
//!
//! The nodes start together on the empty database (one creates the
//! schema, the others find it made).
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); skipped
//! loudly otherwise. A scratch database is created and dropped.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use common::*;
use md5::{Digest, Md5};
use serde_json::{Value, json};

const NODES: usize = 3;
const THREADS: usize = 9;
const OPS_PER_THREAD: usize = 200;
const INITIAL_IMAGES: usize = 10;
/// Most operations pick one of the newest images, so that several
/// threads (on different nodes) work on the same image at once.
const HOT_SET: usize = 8;
const PATCH_CT: (&str, &str) = (
    "Content-Type",
    "application/openstack-images-v2.1-json-patch",
);

fn node_conf(port: u16, db_url: &str, store: &Path) -> String {
    base_conf(
        port,
        2,
        "",
        &format!(
            "[database]\nconnection = {db_url}\nmax_pool_size = 4\nmax_overflow = 8\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {}\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            store.display()
        ),
    )
}

/// xorshift64*: reproducible from the seed printed at the start.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..len).map(|_| r.next() as u8).collect()
}

/// One answered request (transport failures are violations by themselves).
#[derive(Clone, Debug)]
struct Ev {
    thread: usize,
    image: String,
    kind: &'static str,
    start: Instant,
    end: Instant,
    status: u16,
    /// For an upload: (md5, size) of the data sent.
    upload: Option<(String, u64)>,
}

/// What one thread was told about the names and tags it owns on an image.
#[derive(Default, Clone, Debug, PartialEq)]
struct View {
    props: BTreeMap<String, String>,
    tags: BTreeSet<String>,
}

#[derive(Default)]
struct Shared {
    /// Every image a client was told it created (201).
    images: Mutex<Vec<String>>,
    /// The ones operations pick from: deleted ones leave once a client
    /// has seen the 204 (other threads may still be working on them).
    live: Mutex<Vec<String>>,
    /// Acknowledged `name` values per image (the create's included).
    names: Mutex<HashMap<String, HashSet<String>>>,
}

#[derive(Default)]
struct ThreadOut {
    views: HashMap<String, View>,
    events: Vec<Ev>,
    violations: Vec<String>,
    /// The texts of 409 answers (expected ones, reported).
    conflicts: Vec<String>,
}

struct Client<'a> {
    t: usize,
    ports: &'a [u16],
    shared: &'a Shared,
    rng: Rng,
    seq: usize,
    out: ThreadOut,
}

impl Client<'_> {
    fn port(&mut self) -> u16 {
        self.ports[self.rng.below(self.ports.len())]
    }

    /// One request on a fresh connection to a random node; the event is
    /// recorded; `None` (and a violation) on a transport failure.
    fn call(
        &mut self,
        kind: &'static str,
        image: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<Resp> {
        let port = self.port();
        let start = Instant::now();
        let r = request(port, method, path, headers, body);
        let end = Instant::now();
        match r {
            Ok(r) => {
                self.out.events.push(Ev {
                    thread: self.t,
                    image: image.to_string(),
                    kind,
                    start,
                    end,
                    status: r.status,
                    upload: None,
                });
                if r.status == 409 {
                    let text = r.text();
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    self.out.conflicts.push(format!("{kind}: {text}"));
                }
                if r.status >= 500 {
                    self.out.violations.push(format!(
                        "{kind} {path} on port {port}: {} {}",
                        r.status,
                        r.text()
                    ));
                }
                Some(r)
            }
            Err(e) => {
                self.out
                    .violations
                    .push(format!("{kind} {path} on port {port}: transport error {e}"));
                None
            }
        }
    }

    fn view(&mut self, id: &str) -> &mut View {
        self.out.views.entry(id.to_string()).or_default()
    }

    fn unexpected(&mut self, what: &str, id: &str, r: &Resp) {
        self.out.violations.push(format!(
            "thread {}: {what} on {id}: unexpected {} {}",
            self.t,
            r.status,
            r.text()
        ));
    }

    fn pick(&mut self) -> Option<String> {
        let images = self.shared.live.lock().unwrap();
        if images.is_empty() {
            return None;
        }
        let n = images.len();
        let i = if self.rng.below(4) > 0 {
            n - 1 - self.rng.below(HOT_SET.min(n))
        } else {
            self.rng.below(n)
        };
        Some(images[i].clone())
    }

    fn create(&mut self) {
        self.seq += 1;
        let (t, s) = (self.t, self.seq);
        let name = format!("img-t{t}-{s}");
        let prop = format!("p{t:02}_c{s}");
        let tag = format!("g{t:02}-c{s}");
        let body = json!({
            "name": name, "disk_format": "raw", "container_format": "bare",
            prop.clone(): "created", "tags": [tag.clone()],
        });
        let Some(r) = self.call(
            "create",
            "",
            "POST",
            "/v2/images",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        ) else {
            return;
        };
        if r.status != 201 {
            return self.unexpected("create", "-", &r);
        }
        let id = r.json()["id"].as_str().unwrap().to_string();
        if let Some(ev) = self.out.events.last_mut() {
            ev.image = id.clone();
        }
        let v = self.view(&id);
        v.props.insert(prop, "created".into());
        v.tags.insert(tag);
        self.shared
            .names
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .insert(name);
        self.shared.images.lock().unwrap().push(id.clone());
        self.shared.live.lock().unwrap().push(id);
    }

    /// A JSON patch of one to three operations on this thread's own
    /// properties: all of it is acknowledged, or none.
    fn patch_props(&mut self, id: &str) {
        let mut next = self.view(id).clone();
        let mut ops = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let own: Vec<String> = next.props.keys().cloned().collect();
            self.seq += 1;
            let s = self.seq;
            match (own.is_empty(), self.rng.below(3)) {
                (false, 0) => {
                    let k = own[self.rng.below(own.len())].clone();
                    ops.push(
                        json!({"op": "replace", "path": format!("/{k}"), "value": format!("r{s}")}),
                    );
                    next.props.insert(k, format!("r{s}"));
                }
                (false, 1) => {
                    let k = own[self.rng.below(own.len())].clone();
                    ops.push(json!({"op": "remove", "path": format!("/{k}")}));
                    next.props.remove(&k);
                }
                _ => {
                    let k = format!("p{:02}_{s}", self.t);
                    ops.push(
                        json!({"op": "add", "path": format!("/{k}"), "value": format!("a{s}")}),
                    );
                    next.props.insert(k, format!("a{s}"));
                }
            }
        }
        let body = Value::Array(ops).to_string();
        let Some(r) = self.call(
            "patch",
            id,
            "PATCH",
            &format!("/v2/images/{id}"),
            &[PATCH_CT],
            body.as_bytes(),
        ) else {
            return;
        };
        match r.status {
            200 => {
                // The answer is the image after this patch: it must show
                // this thread's names exactly as the model now has them.
                let shown = own_view(self.t, &r.json());
                if shown != next {
                    self.out.violations.push(format!(
                        "thread {}: PATCH {id} answered {shown:?}, model {next:?}",
                        self.t
                    ));
                }
                *self.view(id) = next;
            }
            // Gone (deleted meanwhile), or refused as a whole.
            404 | 409 => {}
            _ => self.unexpected("patch", id, &r),
        }
    }

    fn patch_name(&mut self, id: &str) {
        self.seq += 1;
        let name = format!("n-t{}-{}", self.t, self.seq);
        let body = json!([{"op": "replace", "path": "/name", "value": name}]).to_string();
        let Some(r) = self.call(
            "name",
            id,
            "PATCH",
            &format!("/v2/images/{id}"),
            &[PATCH_CT],
            body.as_bytes(),
        ) else {
            return;
        };
        match r.status {
            200 => {
                self.shared
                    .names
                    .lock()
                    .unwrap()
                    .entry(id.to_string())
                    .or_default()
                    .insert(name);
            }
            404 | 409 => {}
            _ => self.unexpected("rename", id, &r),
        }
    }

    fn tag(&mut self, id: &str) {
        let own: Vec<String> = self.view(id).tags.iter().cloned().collect();
        if !own.is_empty() && self.rng.below(2) == 0 {
            let tag = own[self.rng.below(own.len())].clone();
            let Some(r) = self.call(
                "untag",
                id,
                "DELETE",
                &format!("/v2/images/{id}/tags/{tag}"),
                &[],
                b"",
            ) else {
                return;
            };
            match r.status {
                204 => {
                    self.view(id).tags.remove(&tag);
                }
                // The image went, or (a lost update) the tag did: the final
                // check tells which.
                404 => {}
                _ => self.unexpected("untag", id, &r),
            }
        } else {
            self.seq += 1;
            let tag = format!("g{:02}-{}", self.t, self.seq);
            let Some(r) = self.call(
                "tag",
                id,
                "PUT",
                &format!("/v2/images/{id}/tags/{tag}"),
                &[],
                b"",
            ) else {
                return;
            };
            match r.status {
                204 => {
                    self.view(id).tags.insert(tag);
                }
                404 => {}
                _ => self.unexpected("tag", id, &r),
            }
        }
    }

    fn upload(&mut self, id: &str) {
        self.seq += 1;
        let len = 4096 + self.rng.below(40_000);
        let bytes = data(len, (self.t as u64) << 32 | self.seq as u64);
        let md5 = hex(&Md5::digest(&bytes));
        let Some(r) = self.call(
            "upload",
            id,
            "PUT",
            &format!("/v2/images/{id}/file"),
            &[("Content-Type", "application/octet-stream")],
            &bytes,
        ) else {
            return;
        };
        if let Some(ev) = self.out.events.last_mut() {
            ev.upload = Some((md5, len as u64));
        }
        match r.status {
            // 409: not queued any more; 410: lost the race to another
            // upload, or deleted during this one; 404: deleted before.
            204 | 404 | 409 | 410 => {}
            _ => self.unexpected("upload", id, &r),
        }
    }

    fn delete(&mut self, id: &str) {
        let Some(r) = self.call(
            "delete",
            id,
            "DELETE",
            &format!("/v2/images/{id}"),
            &[],
            b"",
        ) else {
            return;
        };
        match r.status {
            204 => self.shared.live.lock().unwrap().retain(|i| i != id),
            404 => {}
            _ => self.unexpected("delete", id, &r),
        }
    }

    /// Read-your-writes through any node: this thread's names on the image
    /// are exactly its model (nobody else touches them).
    fn show(&mut self, id: &str) {
        let Some(r) = self.call("show", id, "GET", &format!("/v2/images/{id}"), &[], b"") else {
            return;
        };
        match r.status {
            200 => {
                let shown = own_view(self.t, &r.json());
                let want = self.view(id).clone();
                if shown != want {
                    self.out.violations.push(format!(
                        "thread {}: GET {id} shows {shown:?}, model {want:?}",
                        self.t
                    ));
                }
            }
            404 => {}
            _ => self.unexpected("show", id, &r),
        }
    }

    fn list(&mut self) {
        if let Some(r) = self.call("list", "", "GET", "/v2/images?limit=20", &[], b"")
            && r.status != 200
        {
            self.unexpected("list", "-", &r);
        }
    }

    fn run(&mut self, ops: usize) {
        for _ in 0..ops {
            let roll = self.rng.below(100);
            if roll < 5 {
                self.create();
                continue;
            }
            if roll >= 95 {
                self.list();
                continue;
            }
            let Some(id) = self.pick() else {
                self.create();
                continue;
            };
            match roll {
                5..=39 => self.patch_props(&id),
                40..=47 => self.patch_name(&id),
                48..=62 => self.tag(&id),
                63..=74 => self.upload(&id),
                75..=77 => self.delete(&id),
                _ => self.show(&id),
            }
        }
    }
}

/// This thread's properties and tags in an image's JSON.
fn own_view(t: usize, image: &Value) -> View {
    let pp = format!("p{t:02}_");
    let tp = format!("g{t:02}-");
    let mut v = View::default();
    for (k, val) in image.as_object().unwrap() {
        if k.starts_with(&pp) {
            v.props
                .insert(k.clone(), val.as_str().unwrap_or_default().to_string());
        }
    }
    for tag in image["tags"].as_array().unwrap() {
        let tag = tag.as_str().unwrap();
        if tag.starts_with(&tp) {
            v.tags.insert(tag.to_string());
        }
    }
    v
}

#[test]
fn three_nodes_one_database_one_store() {
    let Some(db) = ScratchDb::create(true, "glimpse_multinode") else {
        return;
    };
    let started = Instant::now();
    let store_dir = TempDir::new("mn-store");
    let store = store_dir.path().join("images");
    // All nodes start at once on the empty database, as a deployment
    // starts them: one creates the schema, the others wait for it.
    let nodes: Vec<Server> = (0..NODES)
        .map(|_| start_with(&node_conf(free_port(), &db.url, &store), &[], false))
        .collect();
    for n in &nodes {
        wait_ready(n);
    }
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let seed = std::env::var("GLIMPSE_MULTINODE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!(
        "multinode: nodes on ports {ports:?}, database {}, seed {seed} \
         (GLIMPSE_MULTINODE_SEED={seed} repeats the choices)",
        db.name()
    );

    let shared = Arc::new(Shared::default());
    // The first images, created as thread 0 (whose views start with them).
    let seed_views = {
        let mut c = Client {
            t: 0,
            ports: &ports,
            shared: &shared,
            rng: Rng(seed | 1),
            seq: 1_000_000,
            out: ThreadOut::default(),
        };
        for _ in 0..INITIAL_IMAGES {
            c.create();
        }
        assert!(c.out.violations.is_empty(), "{:?}", c.out.violations);
        c.out.views
    };
    let barrier = Arc::new(Barrier::new(THREADS));
    let work_started = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = shared.clone();
            let ports = ports.clone();
            let barrier = barrier.clone();
            let views = if t == 0 {
                seed_views.clone()
            } else {
                HashMap::new()
            };
            std::thread::spawn(move || {
                let mut c = Client {
                    t,
                    ports: &ports,
                    shared: &shared,
                    rng: Rng((seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1),
                    seq: 0,
                    out: ThreadOut {
                        views,
                        ..Default::default()
                    },
                };
                barrier.wait();
                c.run(OPS_PER_THREAD);
                c.out
            })
        })
        .collect();
    let outs: Vec<ThreadOut> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let work_time = work_started.elapsed();

    let mut violations: Vec<String> = Vec::new();
    let mut events: Vec<Ev> = Vec::new();
    let mut views: Vec<HashMap<String, View>> = Vec::new();
    let mut conflicts: BTreeMap<String, usize> = BTreeMap::new();
    for o in outs {
        for c in o.conflicts {
            // Image ids out, so that equal texts count together.
            let text: Vec<&str> = c
                .split_whitespace()
                .map(|w| {
                    if w.len() >= 36 && w.contains('-') {
                        "<id>"
                    } else {
                        w
                    }
                })
                .collect();
            *conflicts.entry(text.join(" ")).or_default() += 1;
        }
        violations.extend(o.violations);
        events.extend(o.events);
        views.push(o.views);
    }
    let images: Vec<String> = shared.images.lock().unwrap().clone();
    let names = shared.names.lock().unwrap().clone();

    // --- what the clients were told, image by image ------------------
    let mut by_image: HashMap<&str, Vec<&Ev>> = HashMap::new();
    for e in &events {
        by_image.entry(e.image.as_str()).or_default().push(e);
    }
    let mut deleted: HashMap<String, Instant> = HashMap::new();
    let mut uploaded: HashMap<String, (String, u64)> = HashMap::new();
    for id in &images {
        let evs = by_image.get(id.as_str()).cloned().unwrap_or_default();
        let deletes: Vec<&&Ev> = evs
            .iter()
            .filter(|e| e.kind == "delete" && e.status == 204)
            .collect();
        if deletes.len() > 1 {
            violations.push(format!("{id}: {} deletes answered 204", deletes.len()));
        }
        if let Some(d) = deletes.first() {
            deleted.insert(id.clone(), d.end);
            // Linearizability of delete: nothing succeeds on the image
            // once a client has seen the 204.
            for e in &evs {
                if e.start > d.end && (200..300).contains(&e.status) {
                    violations.push(format!(
                        "{id}: {} by thread {} answered {} after the image's delete was acknowledged",
                        e.kind, e.thread, e.status
                    ));
                }
            }
        }
        if evs.iter().any(|e| e.status == 404) && deletes.is_empty() {
            violations.push(format!("{id}: answered 404 but was never deleted"));
        }
        let ups: Vec<&&Ev> = evs
            .iter()
            .filter(|e| e.kind == "upload" && e.status == 204)
            .collect();
        if ups.len() > 1 {
            violations.push(format!("{id}: {} uploads answered 204", ups.len()));
        }
        if let Some(u) = ups.first() {
            uploaded.insert(id.clone(), u.upload.clone().unwrap());
        }
    }

    // --- what the database and the store hold -------------------------
    let mut c = pg::PgClient::connect(5432, db.name()).unwrap();
    let rows = c.q("SELECT id, status, deleted::text, size::text, checksum, name FROM images");
    let mut props: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for r in c.q("SELECT image_id, name, value FROM image_properties WHERE NOT deleted") {
        props
            .entry(r[0].clone().unwrap())
            .or_default()
            .insert(r[1].clone().unwrap(), r[2].clone().unwrap_or_default());
    }
    let mut tags: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in c.q("SELECT image_id, value FROM image_tags WHERE NOT deleted") {
        tags.entry(r[0].clone().unwrap())
            .or_default()
            .insert(r[1].clone().unwrap());
    }
    let mut locations: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in c.q("SELECT image_id, value, status FROM image_locations WHERE NOT deleted") {
        locations
            .entry(r[0].clone().unwrap())
            .or_default()
            .push((r[1].clone().unwrap(), r[2].clone().unwrap()));
    }
    let known: HashSet<&str> = images.iter().map(String::as_str).collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let id = r[0].clone().unwrap();
        let status = r[1].clone().unwrap();
        let is_deleted = r[2].as_deref() == Some("true");
        let size = r[3].clone();
        let checksum = r[4].clone();
        *counts
            .entry(if is_deleted {
                "deleted".into()
            } else {
                status.clone()
            })
            .or_default() += 1;
        if !known.contains(id.as_str()) {
            violations.push(format!("{id}: in the database, but no client created it"));
            continue;
        }
        let live_locs = locations.get(&id).cloned().unwrap_or_default();
        if deleted.contains_key(&id) {
            if !is_deleted || status != "deleted" {
                violations.push(format!(
                    "{id}: delete acknowledged, row is {status} deleted={is_deleted}"
                ));
            }
            if props.contains_key(&id) || tags.contains_key(&id) || !live_locs.is_empty() {
                violations.push(format!("{id}: deleted, yet has live child rows"));
            }
            continue;
        }
        if is_deleted {
            violations.push(format!("{id}: deleted, but no client was told so"));
            continue;
        }
        // Each thread's own names are exactly its model.
        for (t, v) in views.iter().enumerate() {
            let want = v.get(&id).cloned().unwrap_or_default();
            let pp = format!("p{t:02}_");
            let tp = format!("g{t:02}-");
            let got = View {
                props: props
                    .get(&id)
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| k.starts_with(&pp))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                tags: tags
                    .get(&id)
                    .map(|s| s.iter().filter(|x| x.starts_with(&tp)).cloned().collect())
                    .unwrap_or_default(),
            };
            if got != want {
                violations.push(format!(
                    "{id}: thread {t}'s acknowledged state {want:?}, database has {got:?}"
                ));
            }
        }
        let name = r[5].clone().unwrap_or_default();
        if !names.get(&id).is_some_and(|n| n.contains(&name)) {
            violations.push(format!("{id}: name {name:?} was never acknowledged"));
        }
        match uploaded.get(&id) {
            Some((md5, len)) => {
                let want_loc = format!("file://{}/{id}", store.display());
                if status != "active"
                    || size.as_deref() != Some(&len.to_string())
                    || checksum.as_deref() != Some(md5.as_str())
                    || live_locs != vec![(want_loc, "active".to_string())]
                {
                    violations.push(format!(
                        "{id}: upload of {len} bytes (md5 {md5}) acknowledged; row is {status} \
                         size {size:?} checksum {checksum:?} locations {live_locs:?}"
                    ));
                }
            }
            None => {
                if status != "queued" || size.is_some() || !live_locs.is_empty() {
                    violations.push(format!(
                        "{id}: no upload acknowledged; row is {status} size {size:?} \
                         locations {live_locs:?}"
                    ));
                }
            }
        }
    }
    for id in &images {
        if !rows.iter().any(|r| r[0].as_deref() == Some(id.as_str())) {
            violations.push(format!("{id}: created (201), missing from the database"));
        }
    }
    // Orphans and missing files.
    let active_files: HashSet<String> = locations
        .values()
        .flatten()
        .filter(|(_, s)| s == "active")
        .filter_map(|(u, _)| u.strip_prefix("file://").map(str::to_string))
        .collect();
    let active_urls = locations
        .values()
        .flatten()
        .filter(|(_, s)| s == "active")
        .map(|(u, _)| u.as_str());
    let (stray, files) = store_files_not_in(&store, active_urls);
    for p in stray {
        violations.push(format!("orphaned file in the store: {p}"));
    }
    for f in &active_files {
        match std::fs::metadata(f) {
            Ok(m) => {
                let id = f.rsplit('/').next().unwrap_or_default();
                if let Some((_, len)) = uploaded.get(id)
                    && m.len() != *len
                {
                    violations.push(format!("{f}: {} bytes, {len} acknowledged", m.len()));
                }
            }
            Err(_) => violations.push(format!("missing data: {f} (active location)")),
        }
    }
    for n in &nodes {
        assert!(alive(n.pid()), "a node died:\n{}", n.log_text());
        let log = n.log_text();
        assert!(
            !log.contains("panicked"),
            "node {} panicked:\n{log}",
            n.port
        );
    }

    let mut tally: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for e in &events {
        *tally.entry((e.kind, e.status)).or_default() += 1;
    }
    eprintln!(
        "multinode: {} requests in {:.1?} ({:.0}/s) by {THREADS} threads over {NODES} nodes; \
         answers {tally:?}; {} images ({counts:?}), {} uploads acknowledged, {files} files; \
         409s {conflicts:?}; total {:.1?}",
        events.len(),
        work_time,
        events.len() as f64 / work_time.as_secs_f64(),
        images.len(),
        uploaded.len(),
        started.elapsed()
    );
    drop(nodes);
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}
