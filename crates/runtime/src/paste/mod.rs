//! A PasteDeploy-compatible loader for `*-paste.ini` files.
//!
//! It reads the file with Python `ConfigParser` semantics ([`ini`]), resolves
//! `app`/`filter`/`pipeline`/`composite`/`filter-app` sections the way
//! `paste.deploy.loadwsgi` does ([`loader`]), and builds handlers through a
//! [`FactoryRegistry`] that maps the Python factory names written in the file
//! (`glance.api.versions:create_resource`, `egg:Paste#urlmap`, ...) to Rust
//! constructors. [`urlmap`] is Paste's prefix dispatcher.
//!
//! Factories run once in the master process (to validate the deployment
//! before forking) and again in each worker, so they must be pure: no
//! threads, no async runtime, no sockets.

pub mod ini;
pub mod loader;
pub mod registry;
pub mod urlmap;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

pub use loader::{load_app, load_app_from_str, locate_paste_file};
pub use registry::{
    AppFactory, CompositeFactory, CompositeLoader, FactoryContext, FactoryRegistry, Filter,
    FilterFactory,
};
pub use urlmap::UrlMap;

/// An insertion-ordered string map with Python `dict` update semantics
/// (re-inserting a key keeps its position). Used for `global_conf` and
/// `local_conf`, whose order matters only for error messages, but keeping
/// it makes those match paste's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfMap {
    entries: Vec<(String, String)>,
}

/// The per-section options handed to a factory (`**local_conf` in paste).
pub type LocalConf = ConfMap;

impl ConfMap {
    pub fn new() -> Self {
        ConfMap::default()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Insert or replace; a replaced key keeps its position.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// `dict.update(other)`.
    pub fn update(&mut self, other: &ConfMap) {
        for (k, v) in other.iter() {
            self.insert(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ConfMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = ConfMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// Everything that can go wrong while locating, parsing or building a paste
/// deployment. The variants mirror the Python exception classes because
/// Glance's error text embeds their `repr()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasteError {
    /// Paste's `LookupError` (missing or ambiguous section, missing
    /// `pipeline`/`next` setting, no loader given, ...).
    Lookup(String),
    /// A `KeyError`: `get k = missing_global`, or an unknown flavor in
    /// `glance.api:pipeline_factory`. Holds the missing key.
    Key(String),
    /// No Rust factory is registered under the Python name the file uses
    /// (Python raises `ImportError` here).
    UnknownFactory {
        section: String,
        factory: String,
        file: String,
    },
    /// The factory exists but is the wrong kind for the section (e.g. a
    /// filter factory named by `paste.app_factory`).
    WrongFactoryKind {
        section: String,
        factory: String,
        expected: &'static str,
    },
    /// A `configparser` error (syntax, duplicates, interpolation); the
    /// message is complete, in Python's wording.
    Config(String),
    /// The file could not be read.
    Io { path: String, message: String },
    /// A factory refused its configuration (Python `TypeError`,
    /// `ValueError`, `ConfigInvalid`, ...).
    Factory { section: String, message: String },
    /// Glance's `load_paste_app` wrapper around a Lookup/Key/Import error.
    Load {
        app_name: String,
        conf_file: String,
        cause: Box<PasteError>,
    },
    /// Glance's `_get_deployment_config_file` failure.
    Locate { prog: String },
}

impl PasteError {
    /// Glance raises `RuntimeError` for all of these, which exits 1.
    pub fn exit_code(&self) -> i32 {
        1
    }

    /// A factory-level failure, for use by factories in the registry.
    pub fn factory(section: impl Into<String>, message: impl Into<String>) -> Self {
        PasteError::Factory {
            section: section.into(),
            message: message.into(),
        }
    }

    /// True for the errors Glance's `load_paste_app` catches and rewraps
    /// (`LookupError`, its subclass `KeyError`, and `ImportError`).
    pub fn is_lookup(&self) -> bool {
        matches!(
            self,
            PasteError::Lookup(_) | PasteError::Key(_) | PasteError::UnknownFactory { .. }
        )
    }

    /// Python's `repr()` of the equivalent exception, as `%r` renders it.
    pub fn python_repr(&self) -> String {
        match self {
            PasteError::Lookup(m) => format!("LookupError({})", py_repr(m)),
            PasteError::Key(k) => format!("KeyError({})", py_repr(k)),
            PasteError::UnknownFactory { .. } => {
                format!("ImportError({})", py_repr(&self.to_string()))
            }
            PasteError::Io { .. } => format!("OSError({})", py_repr(&self.to_string())),
            PasteError::Load { .. } | PasteError::Locate { .. } => {
                format!("RuntimeError({})", py_repr(&self.to_string()))
            }
            _ => format!("Exception({})", py_repr(&self.to_string())),
        }
    }
}

impl fmt::Display for PasteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasteError::Lookup(m) | PasteError::Config(m) => f.write_str(m),
            // str(KeyError('x')) is the repr of the key.
            PasteError::Key(k) => f.write_str(&py_repr(k)),
            PasteError::UnknownFactory {
                section,
                factory,
                file,
            } => write!(
                f,
                "No factory registered for {} (section [{}] in {})",
                py_repr(factory),
                section,
                file
            ),
            PasteError::WrongFactoryKind {
                section,
                factory,
                expected,
            } => write!(
                f,
                "Factory {} used in section [{}] is not {}",
                py_repr(factory),
                section,
                expected
            ),
            PasteError::Io { path, message } => write!(f, "{message}: {}", py_repr(path)),
            PasteError::Factory { section, message } => {
                write!(f, "Error loading section [{section}]: {message}")
            }
            PasteError::Load {
                app_name,
                conf_file,
                cause,
            } => write!(
                f,
                "Unable to load {app_name} from configuration file {conf_file}.\nGot: {}",
                cause.python_repr()
            ),
            PasteError::Locate { prog } => {
                write!(f, "Unable to locate paste config file for {prog}.")
            }
        }
    }
}

impl std::error::Error for PasteError {}

/// Python's `repr()` of a `str` (one implementation, in the config crate).
pub(crate) use glimpse_config::py_repr;

/// `os.path.abspath`: join with the current directory and normalise
/// lexically (no symlink resolution), as Glance does for the paste file.
pub(crate) fn py_abspath(p: &std::path::Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut out = PathBuf::from("/");
    for comp in joined.components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(c) => out.push(c),
            std::path::Component::RootDir
            | std::path::Component::CurDir
            | std::path::Component::Prefix(_) => {}
        }
    }
    out
}
