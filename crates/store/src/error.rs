//! The one error type of the store layer.
//!
//! Each variant notes the HTTP status Glance answers with when the error
//! escapes an upload or download (G:`glance/api/v2/image_data.py`);
//! [`StoreError::http_status`] gives the same mapping in code.

use std::fmt;
use std::io;

/// Everything a store operation can fail with.
#[derive(Debug)]
pub enum StoreError {
    /// No data at the location (glance_store `NotFound`). Download: 404,
    /// or 204 when the image has no data at all; upload: 410 (the image
    /// vanished during upload).
    NotFound(String),
    /// The image already has data in this store (`Duplicate`): 409.
    Duplicate(String),
    /// The backing medium is full (`StorageFull`, ENOSPC/EFBIG/EDQUOT, or no
    /// datadir has room): 413.
    StorageFull(String),
    /// The upload passed the caller's `max_size` (Glance's
    /// `image_size_cap` / quota `LimitingReader`): 413.
    SizeLimit { limit: u64 },
    /// The data length disagrees with the declared size (glance_store
    /// `Invalid`): 400.
    SizeMismatch {
        expected: u64,
        actual: u64,
        /// True when detected mid-stream (more data than declared).
        exceeded: bool,
    },
    /// Permission denied on the store medium (`StorageWriteDenied`): 503.
    WriteDenied(String),
    /// The store refuses to delete (`Forbidden`): 403.
    Forbidden(String),
    /// Adding is disabled because the store's configuration is unusable
    /// (`StoreAddDisabled`): 410.
    AddDisabled(String),
    /// The store is read-only (the HTTP store): 410, like `StoreAddDisabled`.
    ReadOnly(String),
    /// The backend cannot be reached right now: 503.
    Unavailable(String),
    /// The location URI cannot be parsed by this store (`BadStoreUri`): 400.
    BadLocation(String),
    /// No configured store handles this scheme or store id
    /// (`UnknownScheme`): 400.
    UnknownScheme(String),
    /// A byte range that cannot be parsed: 400 at the API.
    BadRange(String),
    /// A range that starts at or past the end of the data: 416.
    RangeNotSatisfiable { size: u64 },
    /// Unusable configuration found at start-up: the service must not start.
    Config(String),
    /// Reading the caller's data stream failed (client disconnect, or an
    /// error injected by a wrapping reader); the original error is kept so
    /// the API layer can recognise its own errors.
    Input(io::Error),
    /// Any other I/O failure: 500.
    Io(io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The HTTP status Glance returns for this error on the image data path.
    pub fn http_status(&self) -> u16 {
        match self {
            StoreError::NotFound(_) => 404,
            StoreError::Duplicate(_) => 409,
            StoreError::StorageFull(_) | StoreError::SizeLimit { .. } => 413,
            StoreError::SizeMismatch { .. }
            | StoreError::BadLocation(_)
            | StoreError::UnknownScheme(_)
            | StoreError::BadRange(_) => 400,
            StoreError::WriteDenied(_) | StoreError::Unavailable(_) => 503,
            StoreError::Forbidden(_) => 403,
            StoreError::AddDisabled(_) | StoreError::ReadOnly(_) => 410,
            StoreError::RangeNotSatisfiable { .. } => 416,
            StoreError::Config(_) | StoreError::Input(_) | StoreError::Io(_) => 500,
        }
    }

    /// Maps an I/O error from writing to the store medium the way the
    /// filesystem driver does (ENOSPC/EFBIG → full, EACCES → write denied).
    pub(crate) fn from_write(e: io::Error, what: &str) -> StoreError {
        match e.kind() {
            io::ErrorKind::StorageFull
            | io::ErrorKind::FileTooLarge
            | io::ErrorKind::QuotaExceeded => StoreError::StorageFull(format!("{what}: {e}")),
            // glance_store only maps EACCES; EPERM and EROFS are the same
            // operator problem, so they get the same 503 instead of a 500.
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::WriteDenied(format!("{what}: {e}"))
            }
            _ => StoreError::Io(e),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(what) => write!(f, "Image {what} not found"),
            StoreError::Duplicate(what) => write!(f, "Image {what} already exists"),
            StoreError::StorageFull(msg) => {
                write!(
                    f,
                    "There is not enough disk space on the image storage media."
                )?;
                if !msg.is_empty() {
                    write!(f, " {msg}")?;
                }
                Ok(())
            }
            StoreError::SizeLimit { limit } => {
                write!(
                    f,
                    "The incoming image is larger than the limit of {limit} bytes"
                )
            }
            StoreError::SizeMismatch {
                expected,
                actual,
                exceeded: true,
            } => write!(
                f,
                "Size exceeds: expected {expected} bytes, got {actual} bytes"
            ),
            StoreError::SizeMismatch {
                expected, actual, ..
            } => write!(
                f,
                "Size mismatch: expected {expected} bytes, got {actual} bytes"
            ),
            StoreError::WriteDenied(msg) => {
                write!(f, "Permission to write image storage media denied. {msg}")
            }
            StoreError::Forbidden(msg) => write!(f, "{msg}"),
            StoreError::AddDisabled(msg) => write!(
                f,
                "Configuration for store failed. Adding images to this store is disabled. {msg}"
            ),
            StoreError::ReadOnly(msg) => write!(f, "Store is read-only: {msg}"),
            StoreError::Unavailable(msg) => write!(f, "Store unavailable: {msg}"),
            StoreError::BadLocation(msg) => write!(f, "The Store URI was malformed: {msg}"),
            StoreError::UnknownScheme(s) => write!(f, "Unknown scheme '{s}' found in URI"),
            StoreError::BadRange(msg) => write!(f, "Invalid byte range: {msg}"),
            StoreError::RangeNotSatisfiable { size } => {
                write!(f, "Requested range not satisfiable (size {size})")
            }
            StoreError::Config(msg) => write!(f, "{msg}"),
            StoreError::Input(e) => write!(f, "Error reading image data: {e}"),
            StoreError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Input(e) | StoreError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<glimpse_config::ConfigError> for StoreError {
    fn from(e: glimpse_config::ConfigError) -> Self {
        StoreError::Config(e.to_string())
    }
}
