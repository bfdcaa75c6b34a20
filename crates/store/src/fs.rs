//! The filesystem driver (glance_store's `file` store).
//!
//! Compatibility points, all checked against glance_store 5.x:
//! - the file of image `<id>` is `os.path.join(datadir, <id>)` and its
//!   location is `file://` + that path, unnormalised, so a database and a
//!   directory shared with Python Glance keep working;
//! - `filesystem_store_datadir` and `filesystem_store_datadirs` are
//!   mutually exclusive; with both (including the datadir *default*) the
//!   store keeps reading but refuses adds (`AddDisabled`, 410), as upstream;
//! - with several datadirs the highest priority wins, then the most free
//!   space (`f_bavail * f_bsize`), and a directory with no room is skipped;
//! - thin provisioning skips all-zero `chunk_size` blocks (aligned to the
//!   start of the data) and leaves holes.
//!
//! Where Glimpse does better than upstream (which writes straight into the
//! final path and leaves a truncated image behind after a crash): data goes
//! to a temporary file in the same directory (`<id>.glimpse-<pid>-<n>.part`:
//! Glance's staging cleaner reads the id before the first dot, so crash
//! residue of a deleted image is removed like its staged data),
//! is `fdatasync`ed, and is then hard-linked to the final name, which is
//! atomic and fails if the name exists, so two concurrent uploads of one id
//! cannot overwrite each other. A crash leaves only a `.part` file, never
//! a short image under the real name. Every error, and dropping the future,
//! removes the temporary file; upstream keeps it on EACCES.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::future::Future as _;
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use crate::error::{Result, StoreError};
use crate::location::{file_uri, join_path, parse_file_uri};
use crate::range::ByteRange;
use crate::store::{
    AddOptions, BoxFuture, DataStream, FileSlice, Store, StoreInfo, StoreReader, StoredImage,
};

/// glance_store's default datadir.
pub const DEFAULT_DATADIR: &str = "/var/lib/glance/images";
/// glance_store's default read/write chunk size (64 KiB).
pub const DEFAULT_CHUNK_SIZE: usize = 65536;

/// Bytes handed to one blocking read or write call. Larger than the chunk
/// size so a GiB costs a thousand thread hand-offs, not sixteen thousand.
const IO_BATCH: usize = 1 << 20;

/// The filesystem options of one store (one config group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemConfig {
    /// `filesystem_store_datadir`; `None` or empty means unset.
    pub datadir: Option<String>,
    /// `filesystem_store_datadirs`, each `path[:priority]`.
    pub datadirs: Vec<String>,
    /// `filesystem_store_file_perm`: decimal digits read as octal; ≤ 0
    /// leaves permissions alone.
    pub file_perm: i64,
    /// `filesystem_store_chunk_size`.
    pub chunk_size: usize,
    /// `filesystem_store_metadata_file`.
    pub metadata_file: Option<String>,
    /// `filesystem_thin_provisioning`.
    pub thin_provisioning: bool,
    /// The store id in multi-store mode (goes into location metadata and
    /// enables the URL prefix); `None` in single-store mode.
    pub backend_id: Option<String>,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            datadir: Some(DEFAULT_DATADIR.to_string()),
            datadirs: Vec::new(),
            file_perm: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            metadata_file: None,
            thin_provisioning: false,
            backend_id: None,
        }
    }
}

impl FilesystemConfig {
    /// A single-directory store at `dir` with every other option default.
    pub fn with_datadir(dir: impl Into<String>) -> Self {
        FilesystemConfig {
            datadir: Some(dir.into()),
            ..FilesystemConfig::default()
        }
    }
}

#[derive(Debug)]
enum Dirs {
    One(String),
    /// (priority, dirs), highest priority first.
    Many(Vec<(i64, Vec<String>)>),
}

#[derive(Debug)]
struct Inner {
    dirs: Dirs,
    chunk_size: usize,
    thin: bool,
    /// Octal mode for new image files.
    perm: Option<u32>,
    metadata: Vec<Map<String, Value>>,
    backend_id: Option<String>,
    add_disabled: Option<String>,
    url_prefix: Option<String>,
}

/// A filesystem store.
#[derive(Debug, Clone)]
pub struct FilesystemStore {
    inner: Arc<Inner>,
}

/// Parses `path[:priority]` like glance_store (split on the last colon).
pub fn parse_datadir_priority(spec: &str) -> std::result::Result<(String, i64), String> {
    let (path, prio) = match spec.rsplit_once(':') {
        Some((p, n)) => (p.trim(), n.trim()),
        None => (spec.trim(), ""),
    };
    let priority = if prio.is_empty() {
        0
    } else {
        parse_py_int(prio)
            .ok_or_else(|| format!("Invalid priority value {prio} in filesystem configuration"))?
    };
    if path.is_empty() {
        return Err("Invalid directory specified in filesystem configuration".into());
    }
    Ok((path.to_string(), priority))
}

/// Python `int()` on a stripped string (sign, digits, single underscores).
fn parse_py_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

/// `int(str(perm), 8)`: the configured decimal digits read as octal.
fn octal_perm(perm: i64) -> Result<Option<u32>> {
    if perm <= 0 {
        return Ok(None);
    }
    u32::from_str_radix(&perm.to_string(), 8)
        .map(Some)
        .map_err(|_| {
            StoreError::Config(format!(
                "invalid literal for int() with base 8: '{perm}' (filesystem_store_file_perm)"
            ))
        })
}

/// Loads and validates `filesystem_store_metadata_file`.
fn load_metadata(path: &str) -> std::result::Result<Vec<Map<String, Value>>, String> {
    let text = fs::read(path).map_err(|e| {
        format!("The path for the metadata file {path} could not be accessed: {e}.")
    })?;
    let invalid = |why: String| {
        format!("The JSON in the metadata file {path} is not valid and it can not be used: {why}.")
    };
    let value: Value = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    let items = match value {
        Value::Object(m) => vec![m],
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => Ok(m),
                other => Err(invalid(format!("{other} is not of type 'object'"))),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        other => return Err(invalid(format!("{other} is not of type 'array'"))),
    };
    for m in &items {
        for key in ["id", "mountpoint"] {
            match m.get(key) {
                Some(Value::String(_)) => {}
                Some(v) => return Err(invalid(format!("{v} is not of type 'string'"))),
                None => return Err(invalid(format!("'{key}' is a required property"))),
            }
        }
        check_metadata_types(&Value::Object(m.clone()), "").map_err(invalid)?;
    }
    Ok(items)
}

/// Location metadata may only hold strings, lists and objects.
fn check_metadata_types(v: &Value, key: &str) -> std::result::Result<(), String> {
    match v {
        Value::Object(m) => m.iter().try_for_each(|(k, v)| check_metadata_types(v, k)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_metadata_types(v, &format!("{key}[{i}]"))),
        Value::String(_) => Ok(()),
        _ => Err(format!(
            "The image metadata key {key} has an invalid type. Only dict, list, and unicode are supported."
        )),
    }
}

/// Adds search permission for group/others on `dir` when the file mode
/// grants them anything, so other services can reach the files.
fn set_exec_permission(dir: &str, perm: Option<u32>) {
    let Some(perm) = perm else { return };
    let result = (|| -> io::Result<()> {
        let mut mode = fs::metadata(dir)?.permissions().mode() & 0o7777;
        if perm & 0o007 != 0 && mode & 0o001 == 0 {
            mode |= 0o001;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
        }
        if perm & 0o070 != 0 && mode & 0o010 == 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o010))?;
        }
        Ok(())
    })();
    if result.is_err() {
        log::warn!(
            "Unable to set execution permission of owner-group and/or other-users to datadir: {dir}"
        );
    }
}

/// Creates `dir` if needed (start-up and first use).
fn ensure_dir(dir: &str, perm: Option<u32>) -> io::Result<()> {
    if Path::new(dir).is_dir() {
        return Ok(());
    }
    log::info!("Directory to write image files does not exist ({dir}). Creating.");
    fs::create_dir_all(dir)?;
    set_exec_permission(dir, perm);
    Ok(())
}

/// Free bytes for unprivileged users, as glance_store computes them.
fn free_space(dir: &str) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
    Ok((st.blocks_available() as u64).saturating_mul(st.block_size() as u64))
}

/// Runs blocking filesystem work off the async threads (inline when no
/// tokio runtime is around, rather than panicking).
async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(h) => h
            .spawn_blocking(f)
            .await
            .unwrap_or_else(|e| Err(StoreError::Io(io::Error::other(e.to_string())))),
        Err(_) => f(),
    }
}

impl FilesystemStore {
    /// Configures a store like glance_store's `configure()`: problems with
    /// the option values disable adding (the store still reads); only an
    /// unreadable `filesystem_store_file_perm` aborts, as it does upstream.
    /// Missing directories are created now and again on first use.
    pub fn new(cfg: FilesystemConfig) -> Result<FilesystemStore> {
        let perm = octal_perm(cfg.file_perm)?;
        let datadir = cfg.datadir.filter(|d| !d.is_empty());
        let mut disabled: Option<String> = None;
        let mut dirs = Dirs::One(datadir.clone().unwrap_or_default());
        match (&datadir, cfg.datadirs.is_empty()) {
            (None, true) => disabled = Some(
                "Specify at least 'filesystem_store_datadir' or 'filesystem_store_datadirs' option"
                    .into(),
            ),
            (Some(_), false) => disabled = Some(
                "Specify either 'filesystem_store_datadir' or 'filesystem_store_datadirs' option"
                    .into(),
            ),
            (Some(d), true) => dirs = Dirs::One(d.clone()),
            (None, false) => match Self::priority_map(&cfg.datadirs) {
                Ok(m) => dirs = Dirs::Many(m),
                Err(e) => disabled = Some(e),
            },
        }
        if disabled.is_none()
            && let Some(p) = perm
            && p & 0o400 == 0
        {
            log::error!(
                "Specified an invalid 'filesystem_store_file_perm' option which could make image file to be unaccessible by glance service."
            );
            disabled = Some("Invalid 'filesystem_store_file_perm' option.".into());
        }
        let mut metadata = Vec::new();
        if disabled.is_none()
            && let Some(mf) = cfg.metadata_file.as_deref().filter(|m| !m.is_empty())
        {
            match load_metadata(mf) {
                Ok(m) => metadata = m,
                Err(e) => disabled = Some(e),
            }
        }
        let mut inner = Inner {
            dirs,
            chunk_size: cfg.chunk_size.max(1),
            thin: cfg.thin_provisioning,
            perm,
            metadata,
            backend_id: cfg.backend_id,
            add_disabled: None,
            url_prefix: None,
        };
        if let Some(reason) = disabled {
            log::warn!(
                "Failed to configure store correctly: Store filesystem could not be configured correctly. Reason: {reason} Disabling add method."
            );
            inner.add_disabled = Some(reason);
        } else {
            for dir in inner.all_dirs() {
                match ensure_dir(&dir, perm) {
                    Ok(()) => {
                        if nix::unistd::access(dir.as_str(), nix::unistd::AccessFlags::W_OK)
                            .is_err()
                        {
                            log::warn!("Permission to write in {dir} denied");
                        }
                        set_exec_permission(&dir, perm);
                    }
                    Err(e) => log::warn!("Unable to create datadir: {dir}: {e}"),
                }
            }
            if inner.backend_id.is_some() {
                inner.url_prefix = inner.find_best_datadir(0).ok().map(|d| file_uri(&d));
            }
        }
        Ok(FilesystemStore {
            inner: Arc::new(inner),
        })
    }

    fn priority_map(specs: &[String]) -> std::result::Result<Vec<(i64, Vec<String>)>, String> {
        let mut map: Vec<(i64, Vec<String>)> = Vec::new();
        let mut seen: Vec<(String, i64)> = Vec::new();
        for spec in specs {
            let (path, prio) = parse_datadir_priority(spec)?;
            if let Some((_, p)) = seen.iter().find(|(s, _)| *s == path) {
                let msg = format!(
                    "Directory {path} specified multiple times in filesystem_store_datadirs option of filesystem configuration"
                );
                if *p != prio {
                    return Err(msg);
                }
                log::warn!("{msg}");
            }
            seen.push((path.clone(), prio));
            match map.iter_mut().find(|(p, _)| *p == prio) {
                Some((_, v)) => v.push(path),
                None => map.push((prio, vec![path])),
            }
        }
        map.sort_by_key(|e| std::cmp::Reverse(e.0));
        Ok(map)
    }

    /// Why adds are refused, if they are.
    pub fn add_disabled_reason(&self) -> Option<&str> {
        self.inner.add_disabled.as_deref()
    }

    /// The single datadir, or the first one of the highest priority.
    pub fn primary_datadir(&self) -> &str {
        match &self.inner.dirs {
            Dirs::One(d) => d,
            Dirs::Many(m) => m
                .first()
                .and_then(|(_, v)| v.first())
                .map(String::as_str)
                .unwrap_or(""),
        }
    }

    /// The chunk size reads are delivered in.
    pub fn chunk_size(&self) -> usize {
        self.inner.chunk_size
    }
}

impl Inner {
    fn all_dirs(&self) -> Vec<String> {
        match &self.dirs {
            Dirs::One(d) => vec![d.clone()],
            Dirs::Many(m) => {
                let mut out: Vec<String> = Vec::new();
                for d in m.iter().flat_map(|(_, v)| v) {
                    if !out.contains(d) {
                        out.push(d.clone());
                    }
                }
                out
            }
        }
    }

    /// glance_store's `_find_best_datadir`.
    fn find_best_datadir(&self, size: u64) -> Result<String> {
        let levels = match &self.dirs {
            Dirs::One(d) => return Ok(d.clone()),
            Dirs::Many(m) => m,
        };
        for (_, dirs) in levels {
            let mut best: Option<&String> = None;
            let mut max_free = 0u64;
            for d in dirs {
                let free = free_space(d).map_err(StoreError::Io)?;
                if free >= size && free > max_free {
                    max_free = free;
                    best = Some(d);
                }
            }
            if let Some(b) = best {
                return Ok(b.clone());
            }
        }
        Err(StoreError::StorageFull(format!(
            "There is no enough disk space left on the image storage media. requested={size}"
        )))
    }

    /// Location metadata for a new file.
    fn metadata_for(&self, path: &str) -> Map<String, Value> {
        let mut md = Map::new();
        if !self.metadata.is_empty() {
            let hit = self.metadata.iter().find(|m| {
                m.get("mountpoint")
                    .and_then(Value::as_str)
                    .is_some_and(|mp| path.starts_with(mp))
            });
            match hit {
                Some(m) => md = m.clone(),
                None => log::error!(
                    "The image path {path} does not match with any of the mountpoint defined in metadata. An empty dictionary will be returned to the client."
                ),
            }
        }
        if let Some(id) = &self.backend_id {
            md.insert("store".into(), Value::String(id.clone()));
        }
        md
    }
}

/// Image ids become file names: refuse anything that is not one plain
/// path component (upstream would happily join `../x`).
fn check_image_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(StoreError::BadLocation(format!(
            "invalid image id for a file name: {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// Removes the temporary file unless disarmed (covers errors, panics and
/// the add future being dropped).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take()
            && let Err(e) = fs::remove_file(&p)
            && e.kind() != io::ErrorKind::NotFound
        {
            log::error!("Unable to remove partial image data {}: {e}", p.display());
        }
    }
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn is_zero(buf: &[u8]) -> bool {
    // OR-folding fixed blocks vectorises; `all` with early exit does not.
    buf.chunks(4096)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// The blocking half of an upload: owns the file between batches.
struct Writer {
    file: File,
    pos: u64,
    chunk: usize,
    thin: bool,
    block: Vec<u8>,
}

impl Writer {
    fn write_batch(&mut self, batch: &[Bytes]) -> io::Result<()> {
        if self.thin {
            for b in batch {
                self.feed_thin(b)?;
            }
            return Ok(());
        }
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n as u64;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Splits the data into `chunk`-sized blocks aligned to the start of
    /// the image, as glance_store's reader does, and skips zero blocks.
    fn feed_thin(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.block.is_empty() && data.len() >= self.chunk {
                let (blk, rest) = data.split_at(self.chunk);
                self.put_block(blk)?;
                data = rest;
                continue;
            }
            let take = (self.chunk - self.block.len()).min(data.len());
            self.block.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.block.len() == self.chunk {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        let blk = std::mem::take(&mut self.block);
        let r = self.put_block(&blk);
        self.block = blk;
        self.block.clear();
        r
    }

    fn put_block(&mut self, blk: &[u8]) -> io::Result<()> {
        if !is_zero(blk) {
            self.file.write_all_at(blk, self.pos)?;
        }
        self.pos += blk.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.thin {
            if !self.block.is_empty() {
                self.flush_block()?;
            }
            // Trailing holes: extend the file to the full length.
            self.file.set_len(self.pos)?;
        }
        self.file.sync_data()
    }
}

type Inflight = JoinHandle<(Writer, io::Result<()>)>;

async fn next_chunk(data: &mut DataStream) -> Option<io::Result<Bytes>> {
    std::future::poll_fn(|cx| data.as_mut().poll_next(cx)).await
}

/// Waits for the in-flight write (if any) and returns the writer.
async fn settle(writer: Option<Writer>, inflight: &mut Option<Inflight>) -> Result<Writer> {
    if let Some(h) = inflight.take() {
        let (w, r) = h
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))?;
        r.map_err(|e| StoreError::from_write(e, "writing image data"))?;
        return Ok(w);
    }
    writer.ok_or_else(|| StoreError::Io(io::Error::other("image writer lost")))
}

impl FilesystemStore {
    async fn add_impl(
        &self,
        image_id: &str,
        mut data: DataStream,
        opts: AddOptions,
    ) -> Result<StoredImage> {
        check_image_id(image_id)?;
        if let Some(r) = &self.inner.add_disabled {
            return Err(StoreError::AddDisabled(r.clone()));
        }
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))?;
        let hint = opts.size_hint.filter(|&n| n > 0);
        let inner = self.inner.clone();
        let id = image_id.to_string();
        let (datadir, final_path, tmp_path, file) = blocking(move || {
            let datadir = inner.find_best_datadir(hint.unwrap_or(0))?;
            let final_path = join_path(&datadir, &id);
            ensure_dir(&datadir, inner.perm)
                .map_err(|e| StoreError::from_write(e, &format!("creating {datadir}")))?;
            if fs::symlink_metadata(&final_path).is_ok() {
                return Err(StoreError::Duplicate(final_path));
            }
            let tmp = join_path(
                &datadir,
                &format!(
                    "{id}.glimpse-{}-{}.part",
                    std::process::id(),
                    TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
                ),
            );
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| StoreError::from_write(e, &format!("creating {tmp}")))?;
            Ok((datadir, final_path, tmp, file))
        })
        .await?;
        let mut guard = TempGuard(Some(PathBuf::from(&tmp_path)));

        let mut writer = Some(Writer {
            file,
            pos: 0,
            chunk: self.inner.chunk_size,
            thin: self.inner.thin,
            block: Vec::new(),
        });
        let mut inflight: Option<Inflight> = None;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batch_len = 0usize;
        let mut total = 0u64;
        let batch_target = IO_BATCH.max(self.inner.chunk_size);
        loop {
            let item = next_chunk(&mut data).await;
            let done = match item {
                None => true,
                Some(Err(e)) => return Err(StoreError::Input(e)),
                Some(Ok(b)) => {
                    if b.is_empty() {
                        continue;
                    }
                    total += b.len() as u64;
                    if let Some(limit) = opts.max_size
                        && total > limit
                    {
                        return Err(StoreError::SizeLimit { limit });
                    }
                    if let Some(expected) = hint
                        && total > expected
                    {
                        return Err(StoreError::SizeMismatch {
                            expected,
                            actual: total,
                            exceeded: true,
                        });
                    }
                    batch_len += b.len();
                    batch.push(b);
                    false
                }
            };
            if (done && !batch.is_empty()) || batch_len >= batch_target {
                // One write in flight while the next batch is received.
                let mut w = settle(writer.take(), &mut inflight).await?;
                let b = std::mem::take(&mut batch);
                batch_len = 0;
                inflight = Some(rt.spawn_blocking(move || {
                    let r = w.write_batch(&b);
                    (w, r)
                }));
            }
            if done {
                break;
            }
        }
        let mut w = settle(writer.take(), &mut inflight).await?;
        if let Some(expected) = hint
            && total != expected
        {
            return Err(StoreError::SizeMismatch {
                expected,
                actual: total,
                exceeded: false,
            });
        }
        let perm = self.inner.perm;
        let (tmp, fin) = (tmp_path.clone(), final_path.clone());
        blocking(move || {
            w.finish()
                .map_err(|e| StoreError::from_write(e, "writing image data"))?;
            drop(w);
            if let Some(p) = perm
                && fs::set_permissions(&tmp, fs::Permissions::from_mode(p)).is_err()
            {
                log::warn!("Unable to set permission to image: {fin}");
            }
            publish(&tmp, &fin)?;
            // Make the new name durable too.
            if let Ok(d) = File::open(&datadir) {
                let _ = d.sync_all();
            }
            Ok(())
        })
        .await?;
        guard.0 = None;
        log::debug!("Wrote {total} bytes to {final_path}");
        Ok(StoredImage {
            uri: file_uri(&final_path),
            size: total,
            metadata: self.inner.metadata_for(&final_path),
        })
    }
}

/// Gives the finished temporary file its real name without ever replacing
/// an existing image.
fn publish(tmp: &str, fin: &str) -> Result<()> {
    match fs::hard_link(tmp, fin) {
        Ok(()) => {
            let _ = fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(StoreError::Duplicate(fin.to_string()))
        }
        Err(_) => {
            // Filesystems without hard links: check, then rename.
            if fs::symlink_metadata(fin).is_ok() {
                return Err(StoreError::Duplicate(fin.to_string()));
            }
            fs::rename(tmp, fin)
                .map_err(|e| StoreError::from_write(e, &format!("renaming to {fin}")))
        }
    }
}

fn not_found_or_io(e: io::Error, path: &str) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        StoreError::NotFound(path.to_string())
    } else {
        StoreError::Io(e)
    }
}

/// Reads a file slice in batches on the blocking pool, one batch ahead of
/// the consumer (at most two batches in memory), and yields it in `chunk`-sized pieces.
struct FileStream {
    file: Arc<File>,
    pos: u64,
    end: u64,
    chunk: usize,
    batch: usize,
    ready: VecDeque<Bytes>,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    failed: bool,
}

impl FileStream {
    fn new(file: Arc<File>, offset: u64, len: u64, chunk: usize) -> FileStream {
        let batch = (IO_BATCH / chunk).max(1) * chunk;
        FileStream {
            file,
            pos: offset,
            end: offset.saturating_add(len),
            chunk,
            batch,
            ready: VecDeque::new(),
            pending: None,
            failed: false,
        }
    }

    fn start_read(&mut self) -> io::Result<()> {
        if self.pending.is_some() || self.pos >= self.end {
            return Ok(());
        }
        let rt = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let n = (self.end - self.pos).min(self.batch as u64) as usize;
        let (file, pos) = (self.file.clone(), self.pos);
        self.pos += n as u64;
        self.pending = Some(rt.spawn_blocking(move || {
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                match file.read_at(&mut buf[got..], pos + got as u64) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "image file shrank while being read",
                        ));
                    }
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Bytes::from(buf))
        }));
        Ok(())
    }
}

impl Stream for FileStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        loop {
            if let Some(b) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(b)));
            }
            if this.pending.is_none() {
                if this.pos >= this.end {
                    return Poll::Ready(None);
                }
                if let Err(e) = this.start_read() {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            let Some(h) = this.pending.as_mut() else {
                return Poll::Ready(None);
            };
            let res = match Pin::new(h).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.pending = None;
            match res
                .map_err(|e| io::Error::other(e.to_string()))
                .and_then(|r| r)
            {
                Ok(mut buf) => {
                    while buf.len() > this.chunk {
                        this.ready.push_back(buf.split_to(this.chunk));
                    }
                    if !buf.is_empty() {
                        this.ready.push_back(buf);
                    }
                    // Double buffering: read the next batch while this
                    // one is consumed.
                    if let Err(e) = this.start_read() {
                        this.failed = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Err(e) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Store for FilesystemStore {
    fn schemes(&self) -> &'static [&'static str] {
        &["file", "filesystem"]
    }

    fn url_prefix(&self) -> Option<String> {
        self.inner.url_prefix.clone()
    }

    fn info(&self) -> StoreInfo {
        let mut p = Map::new();
        p.insert(
            "data_dir".into(),
            Value::String(self.primary_datadir().into()),
        );
        p.insert(
            "chunk_size".into(),
            Value::from(self.inner.chunk_size as u64),
        );
        p.insert("thin_provisioning".into(), Value::Bool(self.inner.thin));
        StoreInfo {
            type_name: "file",
            properties: p,
        }
    }

    fn add<'a>(
        &'a self,
        image_id: &'a str,
        data: DataStream,
        opts: AddOptions,
    ) -> BoxFuture<'a, Result<StoredImage>> {
        Box::pin(self.add_impl(image_id, data, opts))
    }

    fn get<'a>(
        &'a self,
        location: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<StoreReader>> {
        Box::pin(async move {
            let path = parse_file_uri(location)?;
            let chunk = self.inner.chunk_size;
            blocking(move || {
                let file = File::open(&path).map_err(|e| not_found_or_io(e, &path))?;
                let md = file.metadata().map_err(StoreError::Io)?;
                if md.is_dir() {
                    return Err(StoreError::Io(io::Error::other(format!(
                        "Is a directory: '{path}'"
                    ))));
                }
                let total = md.len();
                let (offset, len) = match range {
                    Some(r) => r.resolve(total)?,
                    None => (0, total),
                };
                let shared = file.try_clone().map_err(StoreError::Io)?;
                Ok(StoreReader {
                    stream: Box::pin(FileStream::new(Arc::new(shared), offset, len, chunk)),
                    offset,
                    len,
                    total_size: total,
                    file: Some(FileSlice { file, offset, len }),
                })
            })
            .await
        })
    }

    fn size<'a>(&'a self, location: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let path = parse_file_uri(location)?;
            blocking(move || {
                fs::metadata(&path)
                    .map(|m| m.len())
                    .map_err(|e| not_found_or_io(e, &path))
            })
            .await
        })
    }

    fn delete<'a>(&'a self, location: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let path = parse_file_uri(location)?;
            blocking(move || {
                log::debug!("Deleting image at {path}");
                fs::remove_file(&path).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        StoreError::NotFound(path.clone())
                    } else {
                        StoreError::Forbidden(format!("You cannot delete file {path}"))
                    }
                })
            })
            .await
        })
    }
}
