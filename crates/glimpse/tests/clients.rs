//! The real OpenStack clients against the real binary: python-glanceclient
//! (`glance`) and python-openstackclient (`openstack image ...`), run as
//! subprocesses from the test venv against a noauth Glimpse (2 workers,
//! SQLite, file store). Covers create, 256 MiB uploads and downloads with
//! both clients (cross-checked: each client downloads what the other
//! uploaded, and the md5/sha512 of the files must equal the source's and the
//! image's `checksum`/`os_hash_value`), listing with filters, sorting and
//! paging, updates, sharing, tags, deactivate/reactivate and delete.
//!
//! osc resolves `<project>` arguments through the identity service. With
//! `--os-auth-type none --os-endpoint` every service, identity included,
//! would resolve to Glimpse (which, like Glance, answers 404 to
//! `/v2/tenants`, so osc gives up). The test therefore points osc's
//! identity endpoint (`OS_IDENTITY_ENDPOINT_OVERRIDE`) at a tiny loopback
//! stub that advertises Keystone v3 and answers 403 to lookups, which is
//! what makes osc use the given project ID as is.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use md5::{Digest, Md5};
use serde_json::Value;
use sha2::Sha512;

const MIB: usize = 1 << 20;
const BIG_MIB: usize = 256;
const BIG_LEN: u64 = (BIG_MIB * MIB) as u64;
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

fn conf(port: u16, dir: &Path) -> String {
    base_conf(
        port,
        2,
        "",
        &format!(
            "[database]\nconnection = sqlite:///{d}/glance.sqlite\n\
             [glance_store]\nstores = file\ndefault_store = file\nfilesystem_store_datadir = {d}/images\n\
             [oslo_policy]\nenforce_new_defaults = false\n",
            d = dir.display()
        ),
    )
}

#[derive(Debug, Clone, PartialEq)]
struct Digests {
    len: u64,
    md5: String,
    sha512: String,
}

/// Write a `mib` MiB file: one pseudo-random 1 MiB block (xorshift64),
/// repeated with the block number stamped into its first 8 bytes so that no
/// two blocks are equal. Hashes it while writing; never holds more than the
/// block in memory.
fn make_source(path: &Path, mib: usize) -> Digests {
    let mut block = vec![0u8; MIB];
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    for w in block.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes());
    }
    let mut f = File::create(path).unwrap();
    let (mut md5, mut sha) = (Md5::new(), Sha512::new());
    for i in 0..mib {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        md5.update(&block);
        sha.update(&block);
        f.write_all(&block).unwrap();
    }
    f.sync_all().unwrap();
    Digests {
        len: (mib * MIB) as u64,
        md5: hex(&md5.finalize()),
        sha512: hex(&sha.finalize()),
    }
}

/// Stream a file through md5 and sha512.
fn file_digests(path: &Path) -> Digests {
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let (mut md5, mut sha) = (Md5::new(), Sha512::new());
    let mut buf = vec![0u8; MIB];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        len += n as u64;
    }
    Digests {
        len,
        md5: hex(&md5.finalize()),
        sha512: hex(&sha.finalize()),
    }
}

/// A stand-in identity endpoint for osc: advertises Keystone v3 on `/` and
/// answers 403 to everything else, so osc takes project IDs verbatim. Runs
/// on its own thread for the life of the test process (loopback only).
fn start_identity_stub() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut r = BufReader::new(match s.try_clone() {
                Ok(c) => c,
                Err(_) => continue,
            });
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                match r.read_line(&mut h) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if h.trim().is_empty() => break,
                    Ok(_) => {}
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("");
            let resp = if matches!(path, "/" | "/v3" | "/v3/") {
                let body = format!(
                    "{{\"version\": {{\"id\": \"v3.14\", \"status\": \"stable\", \"links\": \
                     [{{\"rel\": \"self\", \"href\": \"http://127.0.0.1:{port}/v3/\"}}]}}}}"
                );
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = s.write_all(resp.as_bytes());
        }
    });
    port
}

struct Out {
    cmd: String,
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// Runs the clients against one server, with a private HOME and no
/// inherited OS_* variables or proxies.
struct Clients {
    /// The API under test and its log file.
    port: u16,
    log: PathBuf,
    venv: PathBuf,
    home: PathBuf,
    work: PathBuf,
    identity_port: u16,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn tail(text: &str, lines: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

impl Clients {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn explain(&self, out: &Out, what: &str) -> String {
        format!(
            "{what}\n$ {}\nexit: {:?}{}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log (tail) ---\n{}",
            out.cmd,
            out.code,
            if out.timed_out {
                " (TIMED OUT, killed)"
            } else {
                ""
            },
            out.stdout,
            tail(&out.stderr, 80),
            tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), 60)
        )
    }

    /// Run one CLI with a timeout. `close_stdin`: run it with fd 0 closed
    /// (glanceclient's image-create uploads stdin as image data when stdin
    /// is not a TTY; a closed stdin is its "no data" case).
    fn exec(&self, exe: &str, args: &[&str], close_stdin: bool) -> Out {
        let exe = self.venv.join("bin").join(exe);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let (op, ep) = (
            self.work.join(format!("cli-{n}.out")),
            self.work.join(format!("cli-{n}.err")),
        );
        let mut cmd = if close_stdin {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg("exec \"$0\" \"$@\" <&-").arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            let l = k.to_ascii_lowercase();
            if k.starts_with("OS_")
                || l.ends_with("_proxy")
                || k.starts_with("PYTHON")
                || k == "VIRTUAL_ENV"
            {
                cmd.env_remove(&k);
            }
        }
        // A HOME of its own per run: glanceclient caches the schemas it
        // fetches under ~/.glanceclient, and two runs in parallel threads
        // sharing that file can read it half-written ("Expecting value").
        let home = self.home.join(format!("run-{n}"));
        std::fs::create_dir_all(&home).unwrap();
        cmd.env("HOME", &home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env(
                "OS_IDENTITY_ENDPOINT_OVERRIDE",
                format!("http://127.0.0.1:{}", self.identity_port),
            )
            .current_dir(&self.work)
            .stdin(Stdio::null())
            .stdout(File::create(&op).unwrap())
            .stderr(File::create(&ep).unwrap());
        let shown = format!("{} {}", exe.display(), args.join(" "));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {shown}: {e}"));
        let end = Instant::now() + CLI_TIMEOUT;
        let mut timed_out = false;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |p: &Path| {
            let s = String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
            let _ = std::fs::remove_file(p);
            s
        };
        Out {
            cmd: shown,
            code: status.code(),
            timed_out,
            stdout: read(&op),
            stderr: read(&ep),
        }
    }

    /// `glance ...`, which must succeed; its stdout.
    fn glance(&self, args: &[&str]) -> String {
        let out = self.glance_out(args);
        assert!(
            out.code == Some(0),
            "{}",
            self.explain(&out, "glance failed")
        );
        out.stdout
    }

    /// `glance ...` against the noauth endpoint: glanceclient insists on
    /// some token with `--os-image-url` (any value will do).
    fn glance_out(&self, args: &[&str]) -> Out {
        let url = self.url();
        let mut v = vec!["--os-image-url", url.as_str(), "--os-auth-token", "noauth"];
        v.extend_from_slice(args);
        self.exec("glance", &v, true)
    }

    fn osc_out(&self, args: &[&str]) -> Out {
        let url = self.url();
        let mut v = vec!["--os-auth-type", "none", "--os-endpoint", url.as_str()];
        v.extend_from_slice(args);
        self.exec("openstack", &v, false)
    }

    /// `openstack ...`, which must succeed; its stdout.
    fn osc(&self, args: &[&str]) -> String {
        let out = self.osc_out(args);
        assert!(
            out.code == Some(0),
            "{}",
            self.explain(&out, "openstack failed")
        );
        out.stdout
    }

    /// `openstack ... -f json`, parsed.
    fn osc_json(&self, args: &[&str]) -> Value {
        let mut v = args.to_vec();
        v.extend_from_slice(&["-f", "json"]);
        let out = self.osc_out(&v);
        assert!(
            out.code == Some(0),
            "{}",
            self.explain(&out, "openstack failed")
        );
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{}", self.explain(&out, &format!("not JSON: {e}"))))
    }

    /// glanceclient's key/value table (`| Property | Value |`), with
    /// wrapped values (continuation rows with an empty key, as for the
    /// 128-hex-digit os_hash_value at the default width of 80) joined.
    fn glance_dict(&self, args: &[&str]) -> Vec<(String, String)> {
        let text = self.glance(args);
        let mut rows: Vec<(String, String)> = Vec::new();
        for cells in table_rows(&text).into_iter().skip(1) {
            if cells.len() != 2 {
                continue;
            }
            if cells[0].is_empty() {
                if let Some(last) = rows.last_mut() {
                    last.1.push_str(&cells[1]);
                }
            } else {
                rows.push((cells[0].clone(), cells[1].clone()));
            }
        }
        assert!(
            !rows.is_empty(),
            "no table in the output of glance {args:?}:\n{text}"
        );
        rows
    }

    fn glance_show(&self, id: &str) -> Vec<(String, String)> {
        self.glance_dict(&["image-show", "--max-column-width", "1000", id])
    }

    /// The ID column of a `glance image-list` table, in order, with names.
    fn glance_list(&self, args: &[&str]) -> Vec<(String, String)> {
        let text = self.glance(args);
        table_rows(&text)
            .into_iter()
            .skip(1)
            .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
            .collect()
    }
}

/// The cells of each `| a | b |` row of a PrettyTable, header row included.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_start_matches('|')
                .trim_end_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn get<'a>(rows: &'a [(String, String)], key: &str) -> Option<&'a str> {
    rows.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A field of `openstack image show -f json`: osc 10.5 prints the
/// os_hash_* fields under `properties`.
fn osc_field<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v.get(key) {
        Some(x) => x,
        None => &v["properties"][key],
    }
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|i| i["ID"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn glanceclient_and_openstackclient_end_to_end() {
    let Some(venv) = glance_venv() else { return };
    for exe in ["glance", "openstack"] {
        if !venv.join("bin").join(exe).exists() {
            eprintln!(
                "\n*** SKIPPING: {} is missing; run scripts/test-env.sh (it installs \
                 python-glanceclient and python-openstackclient into .cache/venv). ***\n",
                venv.join("bin").join(exe).display()
            );
            return;
        }
    }
    let t0 = Instant::now();
    let data = TempDir::new("clients-data");
    // GLIMPSE_CLIENTS_ORACLE=1 runs the very same flow against Python
    // Glance 33 (gunicorn) instead, to check the test's own expectations.
    let oracle = std::env::var_os("GLIMPSE_CLIENTS_ORACLE").is_some_and(|v| v == "1");
    let (_glimpse, _glance, port, log) = if oracle {
        eprintln!("GLIMPSE_CLIENTS_ORACLE=1: running against Python Glance 33");
        std::fs::create_dir_all(data.path().join("images")).unwrap();
        let g = Glance::start(&venv, &conf(0, data.path()));
        let (port, log) = (g.port, g.dir.path().join("gunicorn.log"));
        (None, Some(g), port, log)
    } else {
        let port = free_port();
        let srv = start(&conf(port, data.path()));
        let log = srv.log.clone();
        (Some(srv), None, port, log)
    };
    let scratch = TempDir::new("clients");
    let home = scratch.path().join("home");
    let work = scratch.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let c = Clients {
        port,
        log,
        venv,
        home,
        work: work.clone(),
        identity_port: start_identity_stub(),
    };
    let src = work.join("source.img");
    let src_s = src.to_str().unwrap();
    let source = make_source(&src, BIG_MIB);
    assert_eq!(source.len, BIG_LEN);

    let check_download = |path: &Path, what: &str, checksum: &str, hash: &str| {
        let got = file_digests(path);
        assert_eq!(
            got, source,
            "{what}: downloaded file differs from the source"
        );
        assert_eq!(
            checksum, source.md5,
            "{what}: image checksum vs the file md5"
        );
        assert_eq!(
            hash, source.sha512,
            "{what}: os_hash_value vs the file sha512"
        );
        std::fs::remove_file(path).unwrap();
    };

    // ---- Phase A: create + 256 MiB upload with each client, and the small
    // images used for listing, in parallel.
    let mut g_big = String::new();
    let mut o_big = String::new();
    let mut small: Vec<String> = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let img = c.glance_dict(&[
                "image-create",
                "--name",
                "g-big",
                "--disk-format",
                "raw",
                "--container-format",
                "bare",
                "--property",
                "purpose=glance",
            ]);
            assert_eq!(get(&img, "status"), Some("queued"), "{img:?}");
            assert_eq!(get(&img, "purpose"), Some("glance"), "{img:?}");
            let id = get(&img, "id").unwrap().to_string();
            c.glance(&["image-upload", "--file", src_s, &id]);
            let show = c.glance_show(&id);
            assert_eq!(get(&show, "status"), Some("active"), "{show:?}");
            assert_eq!(
                get(&show, "size"),
                Some(BIG_LEN.to_string().as_str()),
                "{show:?}"
            );
            assert_eq!(get(&show, "checksum"), Some(source.md5.as_str()));
            assert_eq!(get(&show, "os_hash_algo"), Some("sha512"));
            assert_eq!(get(&show, "os_hash_value"), Some(source.sha512.as_str()));
            g_big = id;
        });
        s.spawn(|| {
            let img = c.osc_json(&[
                "image",
                "create",
                "--file",
                src_s,
                "--disk-format",
                "raw",
                "--container-format",
                "bare",
                "--property",
                "purpose=osc",
                "--tag",
                "big",
                "o-big",
            ]);
            let id = img["id"].as_str().unwrap().to_string();
            let show = c.osc_json(&["image", "show", &id]);
            assert_eq!(show["status"], "active", "{show}");
            assert_eq!(show["size"], BIG_LEN, "{show}");
            assert_eq!(show["name"], "o-big", "{show}");
            assert_eq!(show["tags"], serde_json::json!(["big"]), "{show}");
            assert_eq!(osc_field(&show, "purpose"), "osc", "{show}");
            assert_eq!(show["checksum"], source.md5.as_str(), "{show}");
            assert_eq!(osc_field(&show, "os_hash_algo"), "sha512", "{show}");
            assert_eq!(
                osc_field(&show, "os_hash_value"),
                source.sha512.as_str(),
                "{show}"
            );
            o_big = id;
        });
        s.spawn(|| {
            for i in 1..=4 {
                let name = format!("list-{i}");
                let img = c.glance_dict(&[
                    "image-create",
                    "--name",
                    &name,
                    "--disk-format",
                    "qcow2",
                    "--container-format",
                    "bare",
                    "--property",
                    "group=listing",
                ]);
                assert_eq!(get(&img, "status"), Some("queued"), "{img:?}");
                small.push(get(&img, "id").unwrap().to_string());
            }
            // Tags: add two, delete one.
            let l3 = small[2].as_str();
            let t = c.glance(&["image-tag-update", l3, "red"]);
            assert!(t.contains("'red'"), "{t}");
            let t = c.glance(&["image-tag-update", l3, "blue"]);
            assert!(t.contains("'red'") && t.contains("'blue'"), "{t}");
            c.glance(&["image-tag-delete", l3, "red"]);
            let show = c.glance_show(l3);
            let tags: Value = serde_json::from_str(get(&show, "tags").unwrap()).unwrap();
            assert_eq!(tags, serde_json::json!(["blue"]), "{show:?}");
        });
    });
    let (g_big, o_big) = (g_big.as_str(), o_big.as_str());
    eprintln!(
        "phase A (uploads, creates, tags) done at {:?}",
        t0.elapsed()
    );

    // ---- Phase B: each client downloads what the other uploaded, and the
    // files must hash to the source and to the fields the other client
    // shows; meanwhile each client shares its own image with a project.
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = work.join("glance-download.img");
            c.glance(&["image-download", "--file", out.to_str().unwrap(), o_big]);
            let show = c.glance_show(o_big);
            check_download(
                &out,
                "glance image-download of the osc upload",
                get(&show, "checksum").unwrap(),
                get(&show, "os_hash_value").unwrap(),
            );
        });
        s.spawn(|| {
            let out = work.join("osc-save.img");
            c.osc(&["image", "save", "--file", out.to_str().unwrap(), g_big]);
            let show = c.osc_json(&["image", "show", g_big]);
            assert_eq!(show["size"], BIG_LEN, "{show}");
            check_download(
                &out,
                "openstack image save of the glance upload",
                show["checksum"].as_str().unwrap(),
                osc_field(&show, "os_hash_value").as_str().unwrap(),
            );
        });
        s.spawn(|| {
            let rows = table_rows(&c.glance(&["member-create", g_big, "proj-g"]));
            assert_eq!(rows[1], [g_big, "proj-g", "pending"], "{rows:?}");
            let rows = table_rows(&c.glance(&["member-list", "--image-id", g_big]));
            assert_eq!(rows.len(), 2, "{rows:?}");
            assert_eq!(rows[1], [g_big, "proj-g", "pending"], "{rows:?}");
            let rows = table_rows(&c.glance(&["member-update", g_big, "proj-g", "accepted"]));
            assert_eq!(rows[1], [g_big, "proj-g", "accepted"], "{rows:?}");
            let m = c.glance_dict(&["member-get", g_big, "proj-g"]);
            assert_eq!(get(&m, "status"), Some("accepted"), "{m:?}");
            c.glance(&["member-delete", g_big, "proj-g"]);
            let rows = table_rows(&c.glance(&["member-list", "--image-id", g_big]));
            assert_eq!(rows.len(), 1, "member-delete left {rows:?}");
        });
        s.spawn(|| {
            let m = c.osc_json(&["image", "add", "project", o_big, "proj-o"]);
            assert_eq!(m["image_id"], o_big, "{m}");
            assert_eq!(m["member_id"], "proj-o", "{m}");
            assert_eq!(m["status"], "pending", "{m}");
            c.osc(&["image", "set", "--accept", "--project", "proj-o", o_big]);
            let l = c.osc_json(&["image", "member", "list", o_big]);
            assert_eq!(
                l,
                serde_json::json!([{"Image ID": o_big, "Member ID": "proj-o", "Status": "accepted"}]),
            );
        });
    });
    eprintln!(
        "phase B (cross downloads, sharing) done at {:?}",
        t0.elapsed()
    );

    // ---- Phase C: deactivate/reactivate with each client.
    std::thread::scope(|s| {
        s.spawn(|| {
            c.glance(&["image-deactivate", g_big]);
            let show = c.glance_show(g_big);
            assert_eq!(get(&show, "status"), Some("deactivated"), "{show:?}");
            // Glance 33 refuses data of a deactivated image to non-admins
            // only; the noauth context is admin, so the download succeeds.
            let out = work.join("glance-deactivated.img");
            c.glance(&["image-download", "--file", out.to_str().unwrap(), g_big]);
            check_download(
                &out,
                "glance image-download of a deactivated image (admin)",
                get(&show, "checksum").unwrap(),
                get(&show, "os_hash_value").unwrap(),
            );
            c.glance(&["image-reactivate", g_big]);
            let show = c.glance_show(g_big);
            assert_eq!(get(&show, "status"), Some("active"), "{show:?}");
        });
        s.spawn(|| {
            c.osc(&["image", "set", "--deactivate", o_big]);
            let show = c.osc_json(&["image", "show", o_big]);
            assert_eq!(show["status"], "deactivated", "{show}");
            c.osc(&["image", "set", "--activate", o_big]);
            let show = c.osc_json(&["image", "show", o_big]);
            assert_eq!(show["status"], "active", "{show}");
        });
    });
    eprintln!("phase C (deactivation) done at {:?}", t0.elapsed());

    // ---- Phase D: listing, filters, sorting, paging.
    let all = {
        let mut v = vec![g_big.to_string(), o_big.to_string()];
        v.extend(small.iter().cloned());
        v
    };
    // The server's own default order (created_at desc, id desc), for the
    // marker checks.
    let server_order: Vec<String> = {
        let r = request(port, "GET", "/v2/images", &[], b"").unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(sorted(server_order.clone()), sorted(all.clone()));
    std::thread::scope(|s| {
        s.spawn(|| {
            // Paging: 6 images, 2 per request; glanceclient follows `next`.
            let out = c.glance_out(&["--debug", "image-list", "--page-size", "2"]);
            assert_eq!(out.code, Some(0), "{}", c.explain(&out, "glance failed"));
            let listed: Vec<(String, String)> = table_rows(&out.stdout)
                .into_iter()
                .skip(1)
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect();
            let ids: Vec<String> = listed.iter().map(|x| x.0.clone()).collect();
            assert_eq!(
                sorted(ids),
                sorted(all.clone()),
                "{}",
                c.explain(&out, "paged image-list")
            );
            let names: Vec<&str> = listed.iter().map(|x| x.1.as_str()).collect();
            let mut by_name = names.clone();
            by_name.sort();
            assert_eq!(names, by_name, "glanceclient asks for sort_key=name");
            let pages = out
                .stderr
                .lines()
                .filter(|l| l.contains("\"GET /v2/images?limit=2"))
                .count();
            assert!(
                pages >= 3,
                "{}",
                c.explain(&out, &format!("expected >= 3 page requests, saw {pages}"))
            );

            let l = c.glance_list(&[
                "image-list",
                "--property-filter",
                "group=listing",
                "--sort",
                "name:desc",
            ]);
            let names: Vec<&str> = l.iter().map(|x| x.1.as_str()).collect();
            assert_eq!(names, ["list-4", "list-3", "list-2", "list-1"], "{l:?}");
            let l = c.glance_list(&["image-list", "--tag", "blue"]);
            assert_eq!(l, [(small[2].clone(), "list-3".to_string())]);
            let l = c.glance_list(&["image-list", "--property-filter", "purpose=glance"]);
            assert_eq!(l, [(g_big.to_string(), "g-big".to_string())]);
        });
        s.spawn(|| {
            // osc filters server-side and sorts client-side.
            let l = c.osc_json(&[
                "image",
                "list",
                "--property",
                "group=listing",
                "--sort",
                "name:desc",
            ]);
            let names: Vec<&str> = l
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["Name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["list-4", "list-3", "list-2", "list-1"], "{l}");
            assert_eq!(sorted(ids_of(&l)), sorted(small.clone()), "{l}");
            let l = c.osc_json(&["image", "list", "--tag", "big"]);
            assert_eq!(ids_of(&l), [o_big], "{l}");
            let l = c.osc_json(&["image", "list", "--status", "active", "--sort", "name:asc"]);
            assert_eq!(ids_of(&l), [g_big, o_big], "{l}");
        });
        s.spawn(|| {
            // --limit/--marker go to the server (osc then sorts the page by
            // name client-side, so compare as sets).
            let l = c.osc_json(&[
                "image",
                "list",
                "--limit",
                "2",
                "--marker",
                &server_order[1],
            ]);
            assert_eq!(
                sorted(ids_of(&l)),
                sorted(server_order[2..4].to_vec()),
                "page after {} in {server_order:?}: {l}",
                server_order[1]
            );
            let l = c.osc_json(&[
                "image",
                "list",
                "--limit",
                "2",
                "--marker",
                &server_order[5],
            ]);
            assert_eq!(l, serde_json::json!([]), "page after the last image");
        });
    });
    eprintln!("phase D (listing) done at {:?}", t0.elapsed());

    // ---- Phase E: updates.
    std::thread::scope(|s| {
        s.spawn(|| {
            let img = c.glance_dict(&[
                "image-update",
                "--name",
                "list-1-renamed",
                "--property",
                "color=green",
                "--remove-property",
                "group",
                &small[0],
            ]);
            assert_eq!(get(&img, "name"), Some("list-1-renamed"), "{img:?}");
            assert_eq!(get(&img, "color"), Some("green"), "{img:?}");
            assert_eq!(get(&img, "group"), None, "{img:?}");
        });
        s.spawn(|| {
            let id = small[1].as_str();
            c.osc(&[
                "image",
                "set",
                "--name",
                "list-2-renamed",
                "--property",
                "color=red",
                "--tag",
                "osc-tag",
                id,
            ]);
            c.osc(&["image", "unset", "--property", "group", id]);
            let show = c.osc_json(&["image", "show", id]);
            assert_eq!(show["name"], "list-2-renamed", "{show}");
            assert_eq!(osc_field(&show, "color"), "red", "{show}");
            assert!(osc_field(&show, "group").is_null(), "{show}");
            assert_eq!(show["tags"], serde_json::json!(["osc-tag"]), "{show}");
        });
    });
    // What the server now stores, through glanceclient's filters.
    let l = c.glance_list(&["image-list", "--property-filter", "group=listing"]);
    let names: Vec<&str> = l.iter().map(|x| x.1.as_str()).collect();
    assert_eq!(names, ["list-3", "list-4"], "{l:?}");
    eprintln!("phase E (updates) done at {:?}", t0.elapsed());

    // ---- Phase F: delete with each client; show must then fail.
    std::thread::scope(|s| {
        s.spawn(|| {
            let id = small[3].as_str();
            c.glance(&["image-delete", id]);
            let out = c.glance_out(&["image-show", id]);
            assert!(
                out.code != Some(0) && out.stderr.contains("404"),
                "{}",
                c.explain(&out, "image-show after image-delete should fail with a 404")
            );
        });
        s.spawn(|| {
            let id = small[2].as_str();
            c.osc(&["image", "delete", id]);
            let out = c.osc_out(&["image", "show", id, "-f", "json"]);
            assert!(
                out.code != Some(0) && out.stderr.contains("No Image found"),
                "{}",
                c.explain(&out, "image show after image delete should fail")
            );
        });
    });
    let l = c.glance_list(&["image-list"]);
    let ids: Vec<String> = l.into_iter().map(|x| x.0).collect();
    assert_eq!(
        sorted(ids),
        sorted(vec![
            g_big.to_string(),
            o_big.to_string(),
            small[0].clone(),
            small[1].clone()
        ])
    );
    eprintln!("all client checks passed in {:?}", t0.elapsed());
}
