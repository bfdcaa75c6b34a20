//! Unit tests of the filesystem driver and the registry, on temp dirs.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use glimpse_config::{ConfigOpts, SearchPaths};
use serde_json::Value;

use crate::*;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "glimpse-store-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn sub(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.join(sub))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Undo read-only modes set by permission tests first.
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        if let Ok(rd) = std::fs::read_dir(&self.0) {
            for e in rd.flatten() {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o755));
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Yields the given items, then ends (or stays pending forever).
struct VecStream {
    items: std::collections::VecDeque<io::Result<Bytes>>,
    hang: bool,
}

impl Stream for VecStream {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.items.pop_front() {
            Some(i) => Poll::Ready(Some(i)),
            None if this.hang => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

pub(crate) fn stream_of(chunks: Vec<io::Result<Bytes>>) -> DataStream {
    Box::pin(VecStream {
        items: chunks.into(),
        hang: false,
    })
}

fn data_stream(data: &[u8], piece: usize) -> DataStream {
    stream_of(
        data.chunks(piece.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

async fn collect(mut s: DataStream) -> io::Result<Vec<Bytes>> {
    let mut out = Vec::new();
    while let Some(item) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
        out.push(item?);
    }
    Ok(out)
}

async fn read_all(store: &dyn Store, uri: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
    let r = store.get(uri, range).await?;
    let chunks = collect(r.stream).await.map_err(StoreError::Io)?;
    Ok(chunks.concat())
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn fs_store(dir: &str) -> FilesystemStore {
    FilesystemStore::new(FilesystemConfig::with_datadir(dir)).expect("store")
}

const ID: &str = "0b4c1f4a-7f52-4e57-9d3a-1c1e0f3e7a11";

#[tokio::test]
async fn add_then_get_roundtrip_with_glance_uri() {
    let t = TempDir::new();
    let dir = t.sub("images");
    let s = fs_store(&dir);
    let data = pattern(3 * 1024 * 1024 + 17);
    let got = s
        .add(ID, data_stream(&data, 8000), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(got.uri, format!("file://{dir}/{ID}"));
    assert_eq!(got.size, data.len() as u64);
    assert!(got.metadata.is_empty());
    assert_eq!(
        std::fs::read(format!("{dir}/{ID}")).ok(),
        Some(data.clone())
    );
    assert_eq!(
        t.entries("images"),
        vec![ID.to_string()],
        "no temp file left"
    );
    assert_eq!(read_all(&s, &got.uri, None).await.ok(), Some(data.clone()));
    assert_eq!(s.size(&got.uri).await.ok(), Some(data.len() as u64));
    // Datadir with a trailing slash: os.path.join does not double it.
    let s2 = fs_store(&format!("{dir}/"));
    let got2 = s2
        .add("x2", data_stream(b"abc", 1), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(got2.uri, format!("file://{dir}/x2"));
}

#[tokio::test]
async fn reads_come_in_chunk_size_pieces_with_a_file_slice() {
    let t = TempDir::new();
    let dir = t.sub("i");
    let mut cfg = FilesystemConfig::with_datadir(&dir);
    cfg.chunk_size = 1000;
    let s = FilesystemStore::new(cfg).expect("store");
    let data = pattern(2_500_123);
    let got = s
        .add(ID, data_stream(&data, 65536), AddOptions::default())
        .await
        .expect("add");
    let r = s.get(&got.uri, None).await.expect("get");
    assert_eq!(
        (r.offset, r.len, r.total_size),
        (0, data.len() as u64, data.len() as u64)
    );
    let slice = r.file.as_ref().expect("file slice");
    assert_eq!((slice.offset, slice.len), (0, data.len() as u64));
    let chunks = collect(r.stream).await.expect("read");
    let (last, full) = chunks.split_last().expect("chunks");
    assert!(full.iter().all(|c| c.len() == 1000));
    assert_eq!(last.len(), 123);
    assert_eq!(chunks.concat(), data);
}

#[tokio::test]
async fn range_reads() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    let data = pattern(10_000);
    let uri = s
        .add(ID, data_stream(&data, 999), AddOptions::default())
        .await
        .expect("add")
        .uri;
    let rd = |spec: &str| ByteRange::parse(spec).expect("range");
    assert_eq!(
        read_all(&s, &uri, Some(rd("0-9"))).await.ok(),
        Some(data[..10].to_vec())
    );
    assert_eq!(
        read_all(&s, &uri, Some(rd("9990-20000"))).await.ok(),
        Some(data[9990..].to_vec())
    );
    assert_eq!(
        read_all(&s, &uri, Some(rd("5000-"))).await.ok(),
        Some(data[5000..].to_vec())
    );
    assert_eq!(
        read_all(&s, &uri, Some(rd("-7"))).await.ok(),
        Some(data[9993..].to_vec())
    );
    let r = s.get(&uri, Some(rd("100-199"))).await.expect("get");
    assert_eq!((r.offset, r.len, r.total_size), (100, 100, 10_000));
    let f = r.file.expect("slice");
    assert_eq!((f.offset, f.len), (100, 100));
    for bad in ["10000-", "10000-10001", "-0"] {
        assert!(
            matches!(
                s.get(&uri, Some(rd(bad))).await,
                Err(StoreError::RangeNotSatisfiable { size: 10_000 })
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn duplicate_is_refused_and_keeps_the_original() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    s.add(ID, data_stream(b"first", 5), AddOptions::default())
        .await
        .expect("add");
    let err = s
        .add(ID, data_stream(b"second", 6), AddOptions::default())
        .await
        .expect_err("dup");
    assert!(matches!(err, StoreError::Duplicate(_)));
    assert_eq!(err.http_status(), 409);
    assert_eq!(
        std::fs::read(format!("{}/{ID}", t.sub("i"))).ok(),
        Some(b"first".to_vec())
    );
    assert_eq!(t.entries("i"), vec![ID.to_string()]);
}

#[tokio::test]
async fn failing_input_removes_partial_data() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    let mut items: Vec<io::Result<Bytes>> = (0..40)
        .map(|_| Ok(Bytes::from(vec![7u8; 100_000])))
        .collect();
    items.push(Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "client went away",
    )));
    let err = s
        .add(ID, stream_of(items), AddOptions::default())
        .await
        .expect_err("must fail");
    match err {
        StoreError::Input(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("unexpected {other:?}"),
    }
    assert!(t.entries("i").is_empty(), "left: {:?}", t.entries("i"));
}

#[tokio::test]
async fn size_cap_and_size_mismatch() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    let data = pattern(5000);
    let cap = AddOptions {
        size_hint: None,
        max_size: Some(4999),
    };
    let err = s
        .add(ID, data_stream(&data, 1000), cap)
        .await
        .expect_err("cap");
    assert!(matches!(err, StoreError::SizeLimit { limit: 4999 }));
    assert_eq!(err.http_status(), 413);
    assert!(t.entries("i").is_empty());
    // Exactly at the cap is fine.
    let ok = AddOptions {
        size_hint: None,
        max_size: Some(5000),
    };
    let got = s
        .add(ID, data_stream(&data, 1000), ok)
        .await
        .expect("at cap");
    assert_eq!(got.size, 5000);
    s.delete(&got.uri).await.expect("delete");

    let more = AddOptions {
        size_hint: Some(4000),
        max_size: None,
    };
    let err = s
        .add(ID, data_stream(&data, 1000), more)
        .await
        .expect_err("exceeds");
    assert_eq!(
        err.to_string(),
        "Size exceeds: expected 4000 bytes, got 5000 bytes"
    );
    assert_eq!(err.http_status(), 400);
    let less = AddOptions {
        size_hint: Some(6000),
        max_size: None,
    };
    let err = s
        .add(ID, data_stream(&data, 1000), less)
        .await
        .expect_err("short");
    assert_eq!(
        err.to_string(),
        "Size mismatch: expected 6000 bytes, got 5000 bytes"
    );
    assert!(t.entries("i").is_empty());
    // Some(0) means "unknown", as in glance_store.
    let zero = AddOptions {
        size_hint: Some(0),
        max_size: None,
    };
    assert!(s.add(ID, data_stream(&data, 1000), zero).await.is_ok());
}

#[tokio::test]
async fn dropping_the_add_future_cleans_up() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    let stream: DataStream = Box::pin(VecStream {
        items: vec![Ok(Bytes::from(vec![1u8; 3 << 20]))].into(),
        hang: true,
    });
    let fut = s.add(ID, stream, AddOptions::default());
    let res = tokio::time::timeout(std::time::Duration::from_millis(200), fut).await;
    assert!(res.is_err(), "the add must still be waiting for data");
    assert!(t.entries("i").is_empty(), "left: {:?}", t.entries("i"));
}

#[tokio::test]
async fn missing_files_and_bad_locations() {
    let t = TempDir::new();
    let s = fs_store(&t.sub("i"));
    let uri = format!("file://{}/nope", t.sub("i"));
    assert!(matches!(
        s.get(&uri, None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(s.size(&uri).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete(&uri).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        s.get("swift://x/y", None).await,
        Err(StoreError::BadLocation(_))
    ));
    assert!(matches!(
        s.get("file://", None).await,
        Err(StoreError::BadLocation(_))
    ));
    for bad in ["", "..", "a/b", "x\0"] {
        assert!(
            matches!(
                s.add(bad, data_stream(b"x", 1), AddOptions::default())
                    .await,
                Err(StoreError::BadLocation(_))
            ),
            "{bad:?}"
        );
    }
    let got = s
        .add(ID, data_stream(b"x", 1), AddOptions::default())
        .await
        .expect("add");
    s.delete(&got.uri).await.expect("delete");
    assert!(matches!(
        s.delete(&got.uri).await,
        Err(StoreError::NotFound(_))
    ));
    // The filesystem:// alias reads the same file.
    let got = s
        .add(ID, data_stream(b"yz", 1), AddOptions::default())
        .await
        .expect("add");
    let alias = got.uri.replacen("file://", "filesystem://", 1);
    assert_eq!(read_all(&s, &alias, None).await.ok(), Some(b"yz".to_vec()));
}

#[tokio::test]
async fn thin_provisioning_leaves_holes() {
    let t = TempDir::new();
    let mut cfg = FilesystemConfig::with_datadir(t.sub("i"));
    cfg.thin_provisioning = true;
    let s = FilesystemStore::new(cfg).expect("store");
    // 4 MiB zeros, 64 KiB + 3 data, 2 MiB trailing zeros; odd input pieces
    // so blocks straddle input chunks.
    let mut data = vec![0u8; 4 << 20];
    data.extend(pattern(65536 + 3));
    data.extend(vec![0u8; 2 << 20]);
    let got = s
        .add(ID, data_stream(&data, 77_777), AddOptions::default())
        .await
        .expect("add");
    let path = format!("{}/{ID}", t.sub("i"));
    let md = std::fs::metadata(&path).expect("stat");
    assert_eq!(md.len(), data.len() as u64);
    assert!(
        md.blocks() * 512 < 1 << 20,
        "allocated {} blocks",
        md.blocks()
    );
    assert_eq!(read_all(&s, &got.uri, None).await.ok(), Some(data));
    assert_eq!(
        s.info().properties.get("thin_provisioning"),
        Some(&Value::Bool(true))
    );
}

#[tokio::test]
async fn multiple_datadirs_by_priority_then_free_space() {
    let t = TempDir::new();
    let (a, b, c) = (t.sub("a"), t.sub("b"), t.sub("c"));
    let cfg = FilesystemConfig {
        datadir: None,
        datadirs: vec![format!("{a}:1"), format!("{b}:5"), format!("{c} : 5")],
        ..FilesystemConfig::default()
    };
    let s = FilesystemStore::new(cfg.clone()).expect("store");
    assert!(s.add_disabled_reason().is_none());
    for d in [&a, &b, &c] {
        assert!(Path::new(d).is_dir(), "{d} created at start-up");
    }
    // Same filesystem: equal free space, so the first of priority 5.
    let got = s
        .add(ID, data_stream(b"hi", 2), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(got.uri, format!("file://{b}/{ID}"));
    assert_eq!(s.primary_datadir(), b);
    // Nothing has room for an exabyte.
    let huge = AddOptions {
        size_hint: Some(1 << 60),
        max_size: None,
    };
    let err = s
        .add("other", data_stream(b"x", 1), huge)
        .await
        .expect_err("full");
    assert!(matches!(err, StoreError::StorageFull(_)));
    assert_eq!(err.http_status(), 413);

    // The datadir default plus datadirs: reads work, adds are disabled.
    let both = FilesystemConfig {
        datadir: Some(a.clone()),
        ..cfg.clone()
    };
    let s2 = FilesystemStore::new(both).expect("store");
    assert!(s2.add_disabled_reason().is_some());
    let err = s2
        .add("z", data_stream(b"x", 1), AddOptions::default())
        .await
        .expect_err("disabled");
    assert_eq!(err.http_status(), 410);
    assert_eq!(
        read_all(&s2, &got.uri, None).await.ok(),
        Some(b"hi".to_vec())
    );
    let neither = FilesystemConfig {
        datadir: Some(String::new()),
        datadirs: vec![],
        ..cfg.clone()
    };
    assert!(
        FilesystemStore::new(neither)
            .expect("store")
            .add_disabled_reason()
            .is_some()
    );
    // Same directory at two priorities, or a bad priority: disabled.
    for specs in [
        vec![format!("{a}:1"), format!("{a}:2")],
        vec![format!("{a}:x")],
        vec![":3".into()],
    ] {
        let bad = FilesystemConfig {
            datadir: None,
            datadirs: specs.clone(),
            ..cfg.clone()
        };
        assert!(
            FilesystemStore::new(bad)
                .expect("store")
                .add_disabled_reason()
                .is_some(),
            "{specs:?}"
        );
    }
}

#[test]
fn datadir_priority_parsing() {
    assert_eq!(
        fs::parse_datadir_priority("/a/b:10"),
        Ok(("/a/b".into(), 10))
    );
    assert_eq!(fs::parse_datadir_priority("/a/b"), Ok(("/a/b".into(), 0)));
    assert_eq!(fs::parse_datadir_priority("/a/b: "), Ok(("/a/b".into(), 0)));
    assert_eq!(
        fs::parse_datadir_priority("/a:b:-3"),
        Ok(("/a:b".into(), -3))
    );
    assert_eq!(fs::parse_datadir_priority("/a:+1_0"), Ok(("/a".into(), 10)));
    assert!(fs::parse_datadir_priority("/a:1.5").is_err());
    assert!(fs::parse_datadir_priority(" :1").is_err());
}

#[tokio::test]
async fn file_permissions_and_datadir_exec_bits() {
    let t = TempDir::new();
    let dir = t.sub("p");
    let mut cfg = FilesystemConfig::with_datadir(&dir);
    cfg.file_perm = 640;
    let s = FilesystemStore::new(cfg.clone()).expect("store");
    let got = s
        .add(ID, data_stream(b"x", 1), AddOptions::default())
        .await
        .expect("add");
    let mode = std::fs::metadata(format!("{dir}/{ID}"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let dmode = std::fs::metadata(&dir).expect("stat").permissions().mode();
    assert_ne!(dmode & 0o010, 0, "group search bit set on the datadir");
    assert!(got.uri.ends_with(ID));
    // No owner read: adds disabled. Not octal digits: start-up failure.
    cfg.file_perm = 200;
    assert!(
        FilesystemStore::new(cfg.clone())
            .expect("store")
            .add_disabled_reason()
            .is_some()
    );
    cfg.file_perm = 648;
    assert!(matches!(
        FilesystemStore::new(cfg),
        Err(StoreError::Config(_))
    ));
}

#[tokio::test]
async fn datadir_is_created_on_first_use() {
    let t = TempDir::new();
    let dir = t.sub("deep/er/images");
    let s = fs_store(&dir);
    assert!(Path::new(&dir).is_dir());
    std::fs::remove_dir_all(t.path().join("deep")).expect("rm");
    let got = s
        .add(ID, data_stream(b"abc", 3), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(
        read_all(&s, &got.uri, None).await.ok(),
        Some(b"abc".to_vec())
    );
}

#[tokio::test]
async fn write_denied_maps_to_503() {
    if nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED write_denied_maps_to_503: running as root");
        return;
    }
    let t = TempDir::new();
    let dir = t.sub("ro");
    let s = fs_store(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let err = s
        .add(ID, data_stream(b"abc", 3), AddOptions::default())
        .await
        .expect_err("denied");
    assert!(matches!(err, StoreError::WriteDenied(_)), "{err:?}");
    assert_eq!(err.http_status(), 503);
}

#[test]
fn write_error_mapping() {
    let map = |e: io::Error| StoreError::from_write(e, "x");
    assert!(matches!(
        map(io::Error::from_raw_os_error(28)),
        StoreError::StorageFull(_)
    )); // ENOSPC
    assert!(matches!(
        map(io::Error::from_raw_os_error(27)),
        StoreError::StorageFull(_)
    )); // EFBIG
    assert!(matches!(
        map(io::Error::from_raw_os_error(13)),
        StoreError::WriteDenied(_)
    )); // EACCES
    assert!(matches!(
        map(io::Error::from_raw_os_error(5)),
        StoreError::Io(_)
    )); // EIO
}

#[tokio::test]
async fn metadata_file_entries() {
    let t = TempDir::new();
    let dir = t.sub("m");
    let mf = t.sub("meta.json");
    std::fs::write(
        &mf,
        format!(r#"{{"id": "nfs1", "mountpoint": "{dir}", "extra": ["a"]}}"#),
    )
    .expect("write");
    let mut cfg = FilesystemConfig::with_datadir(&dir);
    cfg.metadata_file = Some(mf.clone());
    cfg.backend_id = Some("fast".into());
    let s = FilesystemStore::new(cfg.clone()).expect("store");
    let got = s
        .add(ID, data_stream(b"x", 1), AddOptions::default())
        .await
        .expect("add");
    let md = Value::Object(got.metadata);
    assert_eq!(
        md,
        serde_json::json!({"id": "nfs1", "mountpoint": dir, "extra": ["a"], "store": "fast"})
    );
    assert_eq!(s.url_prefix(), Some(format!("file://{dir}")));
    // No matching mountpoint: only the store id.
    std::fs::write(&mf, r#"[{"id": "a", "mountpoint": "/elsewhere"}]"#).expect("write");
    let s = FilesystemStore::new(cfg.clone()).expect("store");
    let got = s
        .add("i2", data_stream(b"x", 1), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(
        Value::Object(got.metadata),
        serde_json::json!({"store": "fast"})
    );
    // Invalid content disables adds.
    for bad in [
        r#"{"id": "a"}"#,
        r#"{"id": 1, "mountpoint": "/"}"#,
        r#"{"id": "a", "mountpoint": "/", "n": 3}"#,
        "nope",
        "[1]",
    ] {
        std::fs::write(&mf, bad).expect("write");
        assert!(
            FilesystemStore::new(cfg.clone())
                .expect("store")
                .add_disabled_reason()
                .is_some(),
            "{bad}"
        );
    }
}

// ---- registry ----------------------------------------------------------

fn conf_from(ini: &str, t: &TempDir) -> ConfigOpts {
    let path = t.sub("glance-api.conf");
    std::fs::write(&path, ini).expect("write conf");
    let mut conf = ConfigOpts::new("glance", "glance-api", "")
        .without_env()
        .with_search_paths(SearchPaths::rooted("/nonexistent", "/nonexistent"));
    register_opts(&mut conf).expect("register");
    conf.parse_args(&["--config-file".to_string(), path])
        .expect("parse");
    register_opts(&mut conf).expect("register after parse");
    conf
}

#[tokio::test]
async fn single_store_mode() {
    let t = TempDir::new();
    let conf = conf_from(
        &format!(
            "[DEFAULT]\nnode_staging_uri = file://{}\n[glance_store]\nfilesystem_store_datadir = {}\nfilesystem_store_chunk_size = 4096\n",
            t.sub("staging"),
            t.sub("images")
        ),
        &t,
    );
    let reg = StoreRegistry::from_conf(&conf).expect("registry");
    assert_eq!(reg.mode(), StoreMode::Single);
    assert_eq!(reg.default_id(), "file");
    // `http` (in the default `stores`) is not implemented yet: skipped.
    assert_eq!(
        reg.user_stores().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["file"]
    );
    assert!(reg.tasks().is_none());
    let st = reg.default_store().expect("default");
    let info = st.info();
    assert_eq!(info.properties.get("chunk_size"), Some(&Value::from(4096)));
    assert_eq!(
        info.properties.get("data_dir"),
        Some(&Value::from(t.sub("images")))
    );
    let got = st
        .add(ID, data_stream(b"abc", 3), AddOptions::default())
        .await
        .expect("add");
    assert!(got.metadata.is_empty(), "no store id in single-store mode");
    assert!(reg.for_location(&got.uri, None).is_ok());
    assert!(matches!(
        reg.for_location("swift://a/b/c", None),
        Err(StoreError::UnknownScheme(_))
    ));
    let staging = reg.staging().expect("staging");
    let staged = staging
        .add(ID, data_stream(b"s", 1), AddOptions::default())
        .await
        .expect("stage");
    assert_eq!(staged.uri, format!("file://{}/{ID}", t.sub("staging")));
}

#[test]
fn single_store_errors() {
    let t = TempDir::new();
    let dir = t.sub("images");
    let conf = conf_from(
        &format!("[glance_store]\nfilesystem_store_datadir = {dir}\ndefault_store = swift\n"),
        &t,
    );
    let err = StoreRegistry::from_conf(&conf).expect_err("no swift");
    assert_eq!(err.to_string(), "Store for scheme swift not found");
    let conf = conf_from(
        &format!(
            "[DEFAULT]\nnode_staging_uri = http://x/\n[glance_store]\nfilesystem_store_datadir = {dir}\n"
        ),
        &t,
    );
    let err = StoreRegistry::from_conf(&conf).expect_err("bad staging");
    assert!(
        err.to_string()
            .contains("Unexpected scheme in staging store")
    );
}

#[tokio::test]
async fn multi_store_mode() {
    let t = TempDir::new();
    let ini = format!(
        "[DEFAULT]\nenabled_backends = fast:file, slow:file, web:http\nnode_staging_uri = file:///ignored/in/multi\n\
         [glance_store]\ndefault_backend = fast\n\
         [fast]\nfilesystem_store_datadir = {fast}\nstore_description = Fast disks\n\
         [slow]\nfilesystem_store_datadir = {slow}\nweight = 5\nfilesystem_store_chunk_size = 999\n\
         [backend_defaults]\nfilesystem_store_chunk_size = 1234\nfilesystem_store_datadir = {shared}\n",
        fast = t.sub("fast"),
        slow = t.sub("slow"),
        shared = t.sub("shared"),
    );
    let conf = conf_from(&ini, &t);
    let reg = StoreRegistry::from_conf(&conf).expect("registry");
    assert!(reg.is_multi());
    assert_eq!(reg.default_id(), "fast");
    assert_eq!(reg.ids_by_weight(), vec!["slow", "fast"]);
    let fast = reg.entry("fast").expect("fast");
    assert_eq!(fast.description.as_deref(), Some("Fast disks"));
    assert_eq!(
        fast.store.info().properties.get("chunk_size"),
        Some(&Value::from(1234))
    );
    let slow = reg.entry("slow").expect("slow");
    assert_eq!(slow.weight, 5);
    assert_eq!(
        slow.store.info().properties.get("chunk_size"),
        Some(&Value::from(999))
    );
    assert!(reg.get("web").is_none(), "http not implemented yet");
    // Reserved stores exist, hidden, and (as upstream) fall back to
    // [backend_defaults] for their datadir.
    assert!(reg.user_stores().all(|e| !e.id.starts_with("os_glance_")));
    let staging = reg.staging().expect("staging");
    assert_eq!(
        staging.info().properties.get("data_dir"),
        Some(&Value::from(t.sub("shared")))
    );
    assert!(reg.tasks().is_some());

    let got = reg
        .get("slow")
        .expect("slow")
        .add(ID, data_stream(b"abc", 3), AddOptions::default())
        .await
        .expect("add");
    assert_eq!(got.metadata.get("store"), Some(&Value::from("slow")));
    assert_eq!(reg.store_id_for_uri(&got.uri), Some("slow"));
    let by_prefix = reg.for_location(&got.uri, None).expect("by prefix");
    assert_eq!(
        read_all(by_prefix.as_ref(), &got.uri, None).await.ok(),
        Some(b"abc".to_vec())
    );
    assert!(
        reg.for_location(&got.uri, Some("fast")).is_ok(),
        "named store wins"
    );
    assert!(matches!(
        reg.for_location(&got.uri, Some("web")),
        Err(StoreError::UnknownScheme(_))
    ));
    assert!(matches!(
        reg.for_location("rbd://x", None),
        Err(StoreError::UnknownScheme(_))
    ));
}

#[test]
fn multi_store_errors() {
    let t = TempDir::new();
    let d = t.sub("x");
    let cases = [
        (
            "[DEFAULT]\nenabled_backends = os_glance_mine:file\n[glance_store]\ndefault_backend = os_glance_mine\n".to_string(),
            "'os_glance_' prefix",
        ),
        (
            format!("[DEFAULT]\nenabled_backends = a:file\n[a]\nfilesystem_store_datadir = {d}\n"),
            "'default_backend' config option is not set.",
        ),
        (
            format!(
                "[DEFAULT]\nenabled_backends = a:file\n[glance_store]\ndefault_backend = b\n[a]\nfilesystem_store_datadir = {d}\n"
            ),
            "Store for identifier b not found",
        ),
    ];
    for (ini, want) in cases {
        let conf = conf_from(&ini, &t);
        let err = StoreRegistry::from_conf(&conf).expect_err(want);
        assert!(err.to_string().contains(want), "{err} / {want}");
    }
}

#[test]
fn error_statuses() {
    let cases: Vec<(StoreError, u16)> = vec![
        (StoreError::NotFound("x".into()), 404),
        (StoreError::Duplicate("x".into()), 409),
        (StoreError::StorageFull(String::new()), 413),
        (StoreError::SizeLimit { limit: 1 }, 413),
        (StoreError::WriteDenied("x".into()), 503),
        (StoreError::Unavailable("x".into()), 503),
        (StoreError::BadLocation("x".into()), 400),
        (StoreError::ReadOnly("x".into()), 410),
        (StoreError::AddDisabled("x".into()), 410),
        (StoreError::Forbidden("x".into()), 403),
        (StoreError::RangeNotSatisfiable { size: 1 }, 416),
        (StoreError::Io(io::Error::other("x")), 500),
    ];
    for (e, s) in cases {
        assert_eq!(e.http_status(), s, "{e:?}");
    }
}
