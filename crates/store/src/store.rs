//! The driver interface every backend implements, and its data types.
//!
//! The trait is object-safe (futures are boxed) so the registry can hold
//! `Arc<dyn Store>` per store id and pick one at run time.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::range::ByteRange;

/// A boxed, sendable future (what every trait method returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Image bytes flowing into or out of a store.
pub type DataStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Limits and hints for [`Store::add`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// The declared size (`x-openstack-image-size` or Content-Length).
    /// Like glance_store, `Some(0)` means unknown; otherwise the data must
    /// be exactly this long (→ [`StoreError::SizeMismatch`]). Multi-dir
    /// filesystem stores also pick a directory with this much free space.
    ///
    /// [`StoreError::SizeMismatch`]: crate::StoreError::SizeMismatch
    pub size_hint: Option<u64>,
    /// Refuse more than this many bytes (→ [`StoreError::SizeLimit`]).
    ///
    /// [`StoreError::SizeLimit`]: crate::StoreError::SizeLimit
    pub max_size: Option<u64>,
}

/// What [`Store::add`] stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage {
    /// The location URI to record (e.g. `file:///var/lib/glance/images/<id>`).
    pub uri: String,
    /// Bytes written.
    pub size: u64,
    /// Location metadata (`{"store": id}` in multi-store mode, plus the
    /// filesystem metadata file's entry when configured).
    pub metadata: Map<String, Value>,
}

/// An open file slice the HTTP layer may `sendfile` instead of polling
/// the stream. Reads must be positional (`pread`/`sendfile` with an
/// offset): the descriptor may be shared with the stream.
#[derive(Debug)]
pub struct FileSlice {
    pub file: std::fs::File,
    pub offset: u64,
    pub len: u64,
}

/// Data coming out of [`Store::get`].
pub struct StoreReader {
    /// The requested bytes, in chunks of the store's chunk size. Lazy:
    /// nothing is read until it is polled.
    pub stream: DataStream,
    /// First byte of the slice within the stored data.
    pub offset: u64,
    /// Number of bytes `stream` yields.
    pub len: u64,
    /// Size of the whole stored object (for `Content-Range`).
    pub total_size: u64,
    /// Zero-copy alternative to `stream`, when the driver has a local file.
    pub file: Option<FileSlice>,
}

impl fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreReader")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("total_size", &self.total_size)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A store's entry in `/v2/info/stores/detail` (minus `id`, `default`,
/// `description` and `weight`, which the registry knows).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInfo {
    /// The driver type as configured (`file`, `http`, ...).
    pub type_name: &'static str,
    /// Driver-specific `properties` (file: `data_dir`, `chunk_size`,
    /// `thin_provisioning`).
    pub properties: Map<String, Value>,
}

/// One storage backend.
pub trait Store: Send + Sync + fmt::Debug {
    /// URI schemes this driver reads (`file`, `filesystem` for the
    /// filesystem driver).
    fn schemes(&self) -> &'static [&'static str];

    /// True for stores that cannot add or delete (the HTTP store).
    fn is_read_only(&self) -> bool {
        false
    }

    /// The URI prefix of locations this store writes, used in multi-store
    /// mode to find the store of a location that lacks `metadata.store`
    /// (glance's `_get_store_id_from_uri`).
    fn url_prefix(&self) -> Option<String> {
        None
    }

    /// Type and properties for the stores-detail discovery call.
    fn info(&self) -> StoreInfo;

    /// Stores `data` under `image_id`. On any error nothing is left
    /// behind; dropping the future also cleans up.
    fn add<'a>(
        &'a self,
        image_id: &'a str,
        data: DataStream,
        opts: AddOptions,
    ) -> BoxFuture<'a, Result<StoredImage>>;

    /// Opens the data at `location`, optionally a byte range of it.
    fn get<'a>(
        &'a self,
        location: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<StoreReader>>;

    /// The size of the data at `location`.
    fn size<'a>(&'a self, location: &'a str) -> BoxFuture<'a, Result<u64>>;

    /// Deletes the data at `location` (a missing object is `NotFound`).
    fn delete<'a>(&'a self, location: &'a str) -> BoxFuture<'a, Result<()>>;
}
