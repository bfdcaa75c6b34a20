//! Image stores for Glimpse: where image data lives, behind one trait.
//!
//! Module tour:
//! - [`store`]: the object-safe [`Store`] trait every backend implements,
//!   and its types ([`DataStream`], [`AddOptions`], [`StoredImage`],
//!   [`StoreReader`] with an optional zero-copy [`FileSlice`], [`StoreInfo`]).
//! - [`error`]: [`StoreError`], with the HTTP status Glance maps each case to.
//! - [`fs`]: the filesystem driver, byte-compatible with glance_store's
//!   (same paths, same location URIs, same option semantics).
//! - [`registry`]: [`StoreRegistry`], the configured stores in single- or
//!   multi-store mode, by id and by location URI.
//! - [`opts`]: [`register_opts`], glance_store's option names and defaults.
//! - [`location`]: URI parsing that splits like Python's `urllib.parse`.
//! - [`range`]: [`ByteRange`] for partial downloads.
//!
//! Checksums are not computed here: the API layer hashes (md5 + the
//! multihash) around the stream, so every driver stays a byte mover.

pub mod error;
pub mod fs;
pub mod location;
pub mod opts;
pub mod range;
pub mod registry;
pub mod store;

#[cfg(test)]
mod tests;

pub use error::{Result, StoreError};
pub use fs::{FilesystemConfig, FilesystemStore};
pub use opts::register_opts;
pub use range::ByteRange;
pub use registry::{StoreEntry, StoreMode, StoreRegistry};
pub use store::{
    AddOptions, BoxFuture, DataStream, FileSlice, Store, StoreInfo, StoreReader, StoredImage,
};
