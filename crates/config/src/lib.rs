//! oslo.config-compatible configuration for Glimpse.
//!
//! Module tour:
//! - [`ini`]: oslo's ini dialect (continuations, quotes, multi-values,
//!   oslo's parse-error texts); [`parse_ini_str`] is the fuzzing entry point.
//! - [`opt`]: the [`Opt`] builder and the type converters with oslo's exact
//!   validation messages.
//! - [`value`]: [`Value`], the converted form of an option.
//! - `conf`: [`ConfigOpts`] — registry, source precedence (override > CLI >
//!   `OS_<GROUP>__<OPT>` > files > `set_default` > default), `$var`
//!   interpolation, deprecated names, `validate_all`, reload and diffs.
//! - `cli`: argv handling with argparse's usage/error wording and oslo's
//!   `--config-file`/`--config-dir` ordering; `--help` text.
//! - [`search`]: default config-file discovery ([`SearchPaths`]).
//! - `sample`: oslo-config-generator-style sample output.
//! - [`error`]: [`ConfigError`] with oslo's texts and Glance's exit codes.
//!
//! Unlike oslo, nothing here is lazy by necessity: callers are expected to
//! run [`ConfigOpts::validate_all`] after parsing, before forking workers.
//!
//! ```
//! use glimpse_config::{ConfigOpts, Opt, Parsed};
//! let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0")
//!     .without_env()
//!     .with_search_paths(glimpse_config::SearchPaths::rooted("/nonexistent", "/nonexistent"));
//! conf.register("DEFAULT", Opt::int("workers").min(0).default("2")).unwrap();
//! conf.register("DEFAULT", Opt::bool("debug").short('d').default("false")).unwrap();
//! assert_eq!(conf.parse_args(&["--debug".to_string()]).unwrap(), Parsed::Ready);
//! conf.validate_all().unwrap();
//! assert_eq!(conf.get_int("DEFAULT", "workers").unwrap(), Some(2));
//! assert_eq!(conf.get_bool("DEFAULT", "debug").unwrap(), Some(true));
//! ```

mod cli;
mod conf;
pub mod error;
pub mod ini;
pub mod opt;
mod pyfmt;
mod sample;
pub mod search;
pub mod value;

#[cfg(test)]
mod tests;

pub use conf::{ConfigOpts, EnvSource, OptionChange, Parsed};
pub use error::{ConfigError, Location};
pub use ini::{IniEntry, IniError, IniFile, parse_ini_str};
pub use opt::{DeprecatedName, ListItem, Opt, OptKind};
pub use pyfmt::{py_float_repr, py_repr};
pub use search::SearchPaths;
pub use value::{Dict, Value};

/// This machine's host name (`socket.gethostname()`), the default of the
/// `host` options services register; `None` when the kernel will not say.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
