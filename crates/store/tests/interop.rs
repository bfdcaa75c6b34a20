//! Interoperability with Python glance_store's filesystem driver: a file
//! Glimpse stores is read back by glance_store from the same location URI,
//! and the other way round, byte for byte.
//!
//! Needs the Glance 33 venv (`.cache/venv` from scripts/test-env.sh, or `GLIMPSE_GLANCE_VENV`);
//! without it the test says SKIPPED and passes.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use glimpse_store::{AddOptions, ByteRange, DataStream, FilesystemConfig, FilesystemStore, Store};

const SCRIPT: &str = r#"
import io, logging, sys, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from glance_store import backend, exceptions, location

mode, datadir = sys.argv[1], sys.argv[2]
conf = cfg.ConfigOpts()
backend.register_opts(conf)
conf([], project="glimpse-interop")
conf.set_override("stores", ["file"], group="glance_store")
conf.set_override("default_store", "file", group="glance_store")
conf.set_override("filesystem_store_datadir", datadir, group="glance_store")
backend.create_stores(conf)
store = backend.get_store_from_scheme("file")

if mode == "read":
    uri, out = sys.argv[3], sys.argv[4]
    offset = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    length = int(sys.argv[6]) if len(sys.argv) > 6 else None
    loc = location.get_location_from_uri(uri, conf)
    it, size = store.get(loc, offset=offset, chunk_size=length)
    with open(out, "wb") as f:
        for chunk in it:
            f.write(chunk)
    print(size)
elif mode == "add":
    image_id, src = sys.argv[3], sys.argv[4]
    data = open(src, "rb").read()
    uri, size, _md5, _mh, _md = store.add(image_id, io.BytesIO(data), len(data), "sha512")
    print(uri)
elif mode == "exists":
    try:
        store.get_size(location.get_location_from_uri(sys.argv[3], conf))
        print("yes")
    except exceptions.NotFound:
        print("no")
"#;

fn python() -> Option<PathBuf> {
    let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache");
    let venv = std::env::var_os("GLIMPSE_GLANCE_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            [cache.join("venv"), cache.join("bench-venv")]
                .into_iter()
                .find(|v| v.join("bin/python").exists())
        })
        .unwrap_or_else(|| cache.join("venv"));
    // Canonical, because Python finds its venv lexically from argv[0].
    let venv = std::fs::canonicalize(&venv).unwrap_or(venv);
    let py = venv.join("bin/python");
    if !py.exists() {
        eprintln!(
            "SKIPPED glance_store interop: no Python venv at {} (run scripts/test-env.sh or set GLIMPSE_GLANCE_VENV)",
            venv.display()
        );
        return None;
    }
    let ok = Command::new(&py)
        .args(["-c", "import glance_store"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED glance_store interop: {} cannot import glance_store",
            py.display()
        );
        return None;
    }
    Some(py)
}

fn run_py(py: &PathBuf, script: &PathBuf, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Chunks(std::vec::IntoIter<Bytes>);

impl Stream for Chunks {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().0.next().map(Ok))
    }
}

fn stream(data: &[u8]) -> DataStream {
    let v: Vec<Bytes> = data.chunks(50_000).map(Bytes::copy_from_slice).collect();
    Box::pin(Chunks(v.into_iter()))
}

async fn read_all(store: &dyn Store, uri: &str, range: Option<ByteRange>) -> Vec<u8> {
    let mut r = store.get(uri, range).await.expect("get");
    let mut out = Vec::new();
    while let Some(c) = std::future::poll_fn(|cx| r.stream.as_mut().poll_next(cx)).await {
        out.extend_from_slice(&c.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn glance_store_reads_ours_and_we_read_theirs() {
    let Some(py) = python() else { return };
    let root = std::env::temp_dir().join(format!("glimpse-store-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("mkdir");
    let datadir = root.join("images").to_string_lossy().into_owned();
    let script = root.join("gs.py");
    std::fs::write(&script, SCRIPT).expect("script");
    // Thin provisioning on our side: glance_store must read holes as zeros.
    let mut cfg = FilesystemConfig::with_datadir(&datadir);
    cfg.thin_provisioning = true;
    let ours = FilesystemStore::new(cfg).expect("store");
    let mut data: Vec<u8> = (0..1_300_007u32).map(|i| (i % 253) as u8).collect();
    data[100_000..400_000].fill(0);

    // Glimpse writes, glance_store reads (whole and a range).
    let id = "6f1c0d2e-0000-4000-8000-00000000abcd";
    let got = ours
        .add(id, stream(&data), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(got.uri, format!("file://{datadir}/{id}"));
    let out = root.join("out.bin");
    let out_s = out.to_string_lossy().into_owned();
    let size = run_py(&py, &script, &["read", &datadir, &got.uri, &out_s]);
    assert_eq!(size, data.len().to_string());
    assert!(
        std::fs::read(&out).expect("read out") == data,
        "bytes differ"
    );
    run_py(
        &py,
        &script,
        &["read", &datadir, &got.uri, &out_s, "1000", "5000"],
    );
    assert!(std::fs::read(&out).expect("read out") == data[1000..6000]);

    // glance_store writes, Glimpse reads by the URI it returned.
    let src = root.join("src.bin");
    let theirs_data: Vec<u8> = data.iter().rev().copied().collect();
    std::fs::write(&src, &theirs_data).expect("src");
    let id2 = "6f1c0d2e-0000-4000-8000-00000000beef";
    let uri = run_py(
        &py,
        &script,
        &["add", &datadir, id2, &src.to_string_lossy()],
    );
    assert_eq!(
        uri,
        format!("file://{datadir}/{id2}"),
        "same URI convention"
    );
    assert!(
        read_all(&ours, &uri, None).await == theirs_data,
        "bytes differ"
    );
    assert_eq!(
        ours.size(&uri).await.expect("size"),
        theirs_data.len() as u64
    );
    let r = ByteRange::parse("-4096").expect("range");
    assert!(read_all(&ours, &uri, Some(r)).await == theirs_data[theirs_data.len() - 4096..]);

    // Both refuse a duplicate of the other's image; deletes are visible.
    let dup = ours
        .add(id2, stream(b"x"), AddOptions::default())
        .await
        .expect_err("dup");
    assert_eq!(dup.http_status(), 409);
    ours.delete(&uri).await.expect("delete");
    assert_eq!(run_py(&py, &script, &["exists", &datadir, &uri]), "no");
    assert_eq!(run_py(&py, &script, &["exists", &datadir, &got.uri]), "yes");

    let _ = std::fs::remove_dir_all(&root);
}
