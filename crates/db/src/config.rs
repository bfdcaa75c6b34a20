//! The `[database]` options (oslo.db's names, types and defaults) and how
//! they become a [`DbConfig`].

use std::path::PathBuf;
use std::time::Duration;

use glimpse_config::{ConfigError, ConfigOpts, Opt};

use crate::{DbConfig, DbError, DbUrl};

pub const GROUP: &str = "database";

/// Where the default SQLite database lives: `$GLIMPSE_DATA_DIR`, else
/// `./glimpse-data` made absolute at start-up (the same rule as
/// `glimpse_api::command::embedded_data_dir`), so a later chdir cannot move it.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("GLIMPSE_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join("glimpse-data"),
    }
}

/// The default `[database] connection`: `sqlite:///<data dir>/glance.sqlite`
/// (four slashes when the data dir is absolute). Glance itself has no
/// default; Glimpse has one so that it runs with no configuration at all.
pub fn default_connection() -> String {
    format!("sqlite:///{}/glance.sqlite", data_dir().display())
}

/// Registers the `[database]` options Glimpse reads.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_group(GROUP, "Database connection (oslo.db options).");
    let opts = [
        Opt::str("connection")
            .secret()
            .default(&default_connection())
            .sample_default("sqlite:///$GLIMPSE_DATA_DIR/glance.sqlite")
            .help(
                "SQLAlchemy-style URL of the database: sqlite:////abs/path, \
                 postgresql://user:pass@host/db or mysql+pymysql://user:pass@host/db?charset=utf8. \
                 Defaults to a SQLite file in $GLIMPSE_DATA_DIR (or ./glimpse-data).",
            ),
        Opt::bool("sqlite_synchronous")
            .default("true")
            .help("If false, SQLite does not wait for writes to reach the disk."),
        Opt::str("mysql_sql_mode")
            .default("TRADITIONAL")
            .help("SQL mode set on every MySQL session; empty keeps the server's."),
        Opt::int("connection_recycle_time")
            .default("3600")
            .help("Seconds after which a pooled connection is replaced."),
        Opt::int("max_pool_size")
            .default("5")
            .help("Connections each worker keeps open (at least 1)."),
        Opt::int("max_retries")
            .default("10")
            .help("Attempts to reach the database at start-up (-1 = forever)."),
        Opt::int("retry_interval")
            .default("10")
            .help("Seconds between those attempts."),
        Opt::int("max_overflow")
            .default("50")
            .help("Connections allowed beyond max_pool_size under load."),
        Opt::int("pool_timeout").help("Seconds to wait for a free pooled connection (unset: 30)."),
    ];
    for o in opts {
        conf.register(GROUP, o)?;
    }
    conf.register(
        "DEFAULT",
        Opt::str("metadata_source_path")
            .default("/etc/glance/metadefs/")
            .help("Directory (or file) of metadata-definition seed files for `manage db load_metadefs`."),
    )?;
    Ok(())
}

/// Reads the registered options into a [`DbConfig`].
pub fn from_conf(conf: &ConfigOpts) -> Result<DbConfig, DbError> {
    let cfg = |e: ConfigError| DbError::Config(e.to_string());
    let int = |name: &str| conf.get_int(GROUP, name).map_err(cfg);
    let url = conf
        .get_str(GROUP, "connection")
        .map_err(cfg)?
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(default_connection);
    let mut c = DbConfig::new(DbUrl::parse(&url)?);
    let nonneg = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    if let Some(v) = int("max_pool_size")? {
        c.max_pool_size = nonneg(v).max(1);
    }
    if let Some(v) = int("max_overflow")? {
        c.max_overflow = nonneg(v);
    }
    if let Some(v) = int("pool_timeout")? {
        c.pool_timeout = Duration::from_secs(v.max(1) as u64);
    }
    if let Some(v) = int("connection_recycle_time")? {
        c.connection_recycle_time = (v > 0).then(|| Duration::from_secs(v as u64));
    }
    if let Some(v) = int("max_retries")? {
        c.max_retries = v;
    }
    if let Some(v) = int("retry_interval")? {
        c.retry_interval = Duration::from_secs(v.max(0) as u64);
    }
    if let Some(v) = conf.get_bool(GROUP, "sqlite_synchronous").map_err(cfg)? {
        c.sqlite_synchronous = v;
    }
    c.mysql_sql_mode = conf
        .get_str(GROUP, "mysql_sql_mode")
        .map_err(cfg)?
        .filter(|m| !m.is_empty());
    Ok(c)
}
