//! [`Db`]: a connection pool for one of the three backends, opened from a
//! [`DbConfig`] (the `[database]` options).
//!
//! **Open pools after fork, inside the process that uses them.** A pool owns
//! sockets, SQLite file handles and tokio tasks; the launcher's master never
//! opens one (it has no runtime, and its children would inherit shared
//! connections). Each worker calls [`Db::open`] from within its own tokio
//! runtime; `open` connects lazily, so it never blocks start-up on the
//! database.
//!
//! SQLite settings, chosen for several worker processes on one file:
//! WAL (readers never block the writer), a busy timeout (writers queue
//! instead of failing with "database is locked"), and [`Db::begin_write`]
//! takes the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction
//! that reads first and writes later cannot wait for the lock, it fails at
//! once, which is exactly the 500s Python Glance shows under load.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Executor, Row, Transaction};

use crate::group::{GroupStats, WriteQueue, WriteTx};
use crate::url::{DbUrl, SqlitePath};
use crate::{Backend, DbError};

/// The `[database]` options Glimpse uses (oslo.db names and defaults).
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: DbUrl,
    /// Connections kept open (`max_pool_size`, default 5).
    pub max_pool_size: u32,
    /// Extra connections allowed under load (`max_overflow`, default 50).
    pub max_overflow: u32,
    /// How long to wait for a free connection (`pool_timeout`; oslo leaves
    /// it unset, meaning SQLAlchemy's 30 s).
    pub pool_timeout: Duration,
    /// Connections older than this are replaced (`connection_recycle_time`,
    /// default 3600 s; 0 or less disables).
    pub connection_recycle_time: Option<Duration>,
    /// Start-up connection attempts (`max_retries`, default 10; -1 = forever).
    pub max_retries: i64,
    /// Pause between them (`retry_interval`, default 10 s).
    pub retry_interval: Duration,
    /// `sqlite_synchronous` (default true): false turns fsync off.
    pub sqlite_synchronous: bool,
    /// `mysql_sql_mode` (default TRADITIONAL; empty leaves the server's).
    pub mysql_sql_mode: Option<String>,
    /// SQLite busy timeout. Not an oslo option: the URL's `?timeout=`
    /// (seconds, as pysqlite reads it) overrides the 30 s default.
    pub sqlite_busy_timeout: Duration,
}

impl DbConfig {
    /// oslo.db's defaults for `url`.
    pub fn new(url: DbUrl) -> DbConfig {
        let sqlite_busy_timeout = url
            .query_value("timeout")
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(30));
        DbConfig {
            url,
            max_pool_size: 5,
            max_overflow: 50,
            pool_timeout: Duration::from_secs(30),
            connection_recycle_time: Some(Duration::from_secs(3600)),
            max_retries: 10,
            retry_interval: Duration::from_secs(10),
            sqlite_synchronous: true,
            mysql_sql_mode: Some("TRADITIONAL".into()),
            sqlite_busy_timeout,
        }
    }
}

/// A pool on one backend. Cloning is cheap (the pools are `Arc`s inside).
#[derive(Debug, Clone)]
pub enum Db {
    /// The pool and its queue of write transactions (see [`Db::begin_write`]).
    Sqlite(SqlitePool, Arc<WriteQueue>),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// A transaction on one backend; see [`Db::begin_write`].
#[derive(Debug)]
pub enum Tx {
    /// A read transaction ([`Db::begin_read`]).
    Sqlite(Transaction<'static, Sqlite>),
    /// A writer's turn in its pool's commit group ([`Db::begin_write`]).
    SqliteWrite(WriteTx),
    Postgres(Transaction<'static, Postgres>),
    MySql(Transaction<'static, MySql>),
}

/// Runs the same code against whichever concrete pool/transaction is inside;
/// the body is compiled once per backend, so it may use backend-typed sqlx
/// APIs generically.
#[macro_export]
macro_rules! on_backend {
    ($value:expr, $ty:ident, |$p:ident| $body:expr) => {
        match $value {
            $ty::Sqlite($p, ..) => $body,
            $ty::Postgres($p) => $body,
            $ty::MySql($p) => $body,
        }
    };
}

/// [`on_backend!`] for a [`Tx`], whose SQLite writers come in their own
/// variant; every arm's binding derefs to the backend's connection.
#[macro_export]
macro_rules! on_tx {
    ($value:expr, |$p:ident| $body:expr) => {
        match $value {
            $crate::Tx::Sqlite($p) => $body,
            $crate::Tx::SqliteWrite($p) => $body,
            $crate::Tx::Postgres($p) => $body,
            $crate::Tx::MySql($p) => $body,
        }
    };
}

impl Db {
    /// Builds the pool without connecting (see the module docs: call it in
    /// the worker, inside its tokio runtime).
    pub fn open(conf: &DbConfig) -> Result<Db, DbError> {
        let url = &conf.url;
        let max = conf.max_pool_size.max(1) + conf.max_overflow;
        let lifetime = conf.connection_recycle_time;
        Ok(match url.backend {
            Backend::Sqlite => {
                let mut opts = SqliteConnectOptions::new()
                    .busy_timeout(conf.sqlite_busy_timeout)
                    .synchronous(if conf.sqlite_synchronous {
                        SqliteSynchronous::Full
                    } else {
                        SqliteSynchronous::Off
                    });
                let pool = SqlitePoolOptions::new().acquire_timeout(conf.pool_timeout);
                let pool = match url.sqlite_path() {
                    Some(SqlitePath::File(path)) => {
                        opts = opts
                            .filename(path)
                            .create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal);
                        pool.max_connections(conf.max_pool_size.max(1))
                            .max_lifetime(lifetime)
                    }
                    // Every connection to ":memory:" is a new database: keep
                    // exactly one, forever.
                    _ => {
                        opts = opts.in_memory(true);
                        pool.max_connections(1)
                            .min_connections(1)
                            .max_lifetime(None)
                            .idle_timeout(None)
                    }
                };
                Db::Sqlite(pool.connect_lazy_with(opts), Default::default())
            }
            Backend::Postgres => {
                let mut opts = PgConnectOptions::new_without_pgpass();
                if let Some(h) = &url.host {
                    opts = opts.host(h);
                }
                if let Some(p) = url.port {
                    opts = opts.port(p);
                }
                if let Some(u) = &url.username {
                    opts = opts.username(u);
                }
                if let Some(pw) = &url.password {
                    opts = opts.password(pw);
                }
                if let Some(d) = &url.database {
                    opts = opts.database(d);
                }
                for (k, v) in &url.query {
                    opts = match k.as_str() {
                        "host" => opts.host(v),
                        "sslmode" => opts.ssl_mode(PgSslMode::from_str(v).map_err(|e| {
                            DbError::Config(format!("{}: sslmode: {e}", url.masked()))
                        })?),
                        "sslrootcert" => opts.ssl_root_cert(v),
                        "sslcert" => opts.ssl_client_cert(v),
                        "sslkey" => opts.ssl_client_key(v),
                        "application_name" => opts.application_name(v),
                        _ => {
                            log::warn!(target: "glimpse.db", "Ignoring unsupported PostgreSQL connection option {k:?} in [database] connection");
                            opts
                        }
                    };
                }
                Db::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(conf.pool_timeout)
                        .max_lifetime(lifetime)
                        .idle_timeout(Duration::from_secs(60))
                        .connect_lazy_with(opts),
                )
            }
            Backend::MySql => {
                let mut opts = MySqlConnectOptions::new();
                if let Some(h) = &url.host {
                    opts = opts.host(h);
                }
                if let Some(p) = url.port {
                    opts = opts.port(p);
                }
                if let Some(u) = &url.username {
                    opts = opts.username(u);
                }
                if let Some(pw) = &url.password {
                    opts = opts.password(pw);
                }
                if let Some(d) = &url.database {
                    opts = opts.database(d);
                }
                for (k, v) in &url.query {
                    opts = match k.as_str() {
                        "charset" => opts.charset(v),
                        "unix_socket" => opts.socket(v),
                        "ssl_ca" => opts.ssl_ca(v),
                        "ssl_cert" => opts.ssl_client_cert(v),
                        "ssl_key" => opts.ssl_client_key(v),
                        _ => {
                            log::warn!(target: "glimpse.db", "Ignoring unsupported MySQL connection option {k:?} in [database] connection");
                            opts
                        }
                    };
                }
                let mut pool = MySqlPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(conf.pool_timeout)
                    .max_lifetime(lifetime)
                    .idle_timeout(Duration::from_secs(60));
                if let Some(mode) = conf.mysql_sql_mode.clone().filter(|m| !m.is_empty()) {
                    // oslo.db sets the session sql_mode on every connection.
                    let stmt = format!("SET SESSION sql_mode = '{}'", mode.replace('\'', "''"));
                    pool = pool.after_connect(move |conn, _meta| {
                        let stmt = stmt.clone();
                        Box::pin(async move {
                            conn.execute(AssertSqlSafe(stmt)).await?;
                            Ok(())
                        })
                    });
                }
                Db::MySql(pool.connect_lazy_with(opts))
            }
        })
    }

    /// Opens the pool and waits until the database answers, retrying
    /// connection failures `max_retries` times `retry_interval` apart, as
    /// oslo.db does when it creates an engine (for `glimpse manage` and the
    /// start-up check). Each attempt is one connection ([`Db::probe`]), so
    /// a database that refuses connections fails an attempt at once.
    pub async fn connect(conf: &DbConfig) -> Result<Db, DbError> {
        let db = Db::open(conf)?;
        let mut attempt: i64 = 0;
        loop {
            match db.probe(conf.pool_timeout).await {
                Ok(()) => return Ok(db),
                Err(e @ DbError::Unavailable(_))
                    if conf.max_retries < 0 || attempt < conf.max_retries =>
                {
                    attempt += 1;
                    log::warn!(target: "glimpse.db", "Database {} unavailable ({e}); retrying in {:?}", conf.url.masked(), conf.retry_interval);
                    tokio::time::sleep(conf.retry_interval).await;
                }
                Err(e) => {
                    return Err(match e {
                        DbError::Unavailable(m) => DbError::Unavailable(format!(
                            "Cannot connect to the database {}: {m}",
                            conf.url.masked()
                        )),
                        other => other,
                    });
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
            Db::MySql(_) => Backend::MySql,
        }
    }

    /// One connection attempt outside the pool, given up after `timeout`:
    /// Ok once the server accepted it and answered a ping. (The pool retries
    /// a refused connection until its acquire timeout, `pool_timeout`; a
    /// start-up attempt made through it lasted that long even against a
    /// closed port, so `max_retries` attempts took `max_retries ×
    /// (pool_timeout + retry_interval)` — 7 minutes with the defaults — where
    /// oslo.db takes `max_retries × retry_interval`.) SQLite has no server:
    /// its ping goes through the pool.
    pub async fn probe(&self, timeout: Duration) -> Result<(), DbError> {
        use sqlx::{ConnectOptions, Connection};
        let attempt = async {
            match self {
                Db::Sqlite(..) => self.ping().await,
                Db::Postgres(p) => {
                    let mut c = p.connect_options().connect().await?;
                    c.ping().await?;
                    let _ = c.close().await;
                    Ok(())
                }
                Db::MySql(p) => {
                    let mut c = p.connect_options().connect().await?;
                    c.ping().await?;
                    let _ = c.close().await;
                    Ok(())
                }
            }
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(DbError::Unavailable(format!(
                    "no connection within {timeout:?}"
                )))
            })
    }

    /// One round trip (`SELECT 1`).
    pub async fn ping(&self) -> Result<(), DbError> {
        on_backend!(self, Db, |p| {
            p.execute("SELECT 1").await?;
        });
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock now (`BEGIN IMMEDIATE`), waiting up to the busy timeout, so a
    /// read-then-write transaction cannot fail half-way on a lock upgrade.
    ///
    /// SQLite writers of one pool take turns in a queue (SQLite's busy
    /// handler sleeps 1, 2, 5, 10 ms… between retries; a queue keeps write
    /// latency at the work itself) and share commits: see [`crate::group`].
    /// The queue is bounded by the pool's acquire timeout.
    pub async fn begin_write(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(p, queue) => Tx::SqliteWrite(queue.begin(p).await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
            Db::MySql(p) => Tx::MySql(p.begin().await?),
        })
    }

    /// SQLite's commit-group counters (`None` on other backends).
    pub fn write_groups(&self) -> Option<GroupStats> {
        match self {
            Db::Sqlite(_, queue) => Some(queue.stats()),
            _ => None,
        }
    }

    /// Begins a read-only unit of work whose statements all see one
    /// snapshot, so that a row and its child rows read in several
    /// statements are never torn by a write committing in between.
    /// PostgreSQL needs `REPEATABLE READ` for that (its default, READ
    /// COMMITTED, gives each statement a snapshot of its own); read-only
    /// transactions at that level never fail to serialize. InnoDB's default
    /// is already REPEATABLE READ, and a SQLite read transaction keeps the
    /// snapshot of its first read.
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Postgres(p) => p
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?
                .into(),
            Db::Sqlite(p, _) => p.begin().await?.into(),
            Db::MySql(p) => p.begin().await?.into(),
        })
    }

    /// Runs SQL text without parameters (several statements allowed).
    pub async fn execute_script(&self, sql: &str) -> Result<(), DbError> {
        on_backend!(self, Db, |p| {
            p.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
                .await?;
        });
        Ok(())
    }

    /// The first column of every row of a parameterless query, as text.
    pub async fn fetch_strings(&self, sql: &str) -> Result<Vec<String>, DbError> {
        Ok(on_backend!(self, Db, |p| {
            let rows = p.fetch_all(AssertSqlSafe(sql.to_string())).await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        on_backend!(self, Db, |p| p.close().await)
    }
}

impl From<Transaction<'static, Sqlite>> for Tx {
    fn from(t: Transaction<'static, Sqlite>) -> Tx {
        Tx::Sqlite(t)
    }
}
impl From<Transaction<'static, Postgres>> for Tx {
    fn from(t: Transaction<'static, Postgres>) -> Tx {
        Tx::Postgres(t)
    }
}
impl From<Transaction<'static, MySql>> for Tx {
    fn from(t: Transaction<'static, MySql>) -> Tx {
        Tx::MySql(t)
    }
}

impl Tx {
    /// Commits; on PostgreSQL and MySQL a connection failing during the
    /// `COMMIT` is [`DbError::InDoubt`] (SQLite's commit is local: it
    /// either happened or it reports why not).
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(t) => t.commit().await.map_err(DbError::from),
            Tx::SqliteWrite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await.map_err(DbError::from_commit),
            Tx::MySql(t) => t.commit().await.map_err(DbError::from_commit),
        }
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        on_tx!(self, |t| t.rollback().await?);
        Ok(())
    }

    /// Runs one parameterless statement inside the transaction.
    pub async fn execute(&mut self, sql: &str) -> Result<u64, DbError> {
        Ok(on_tx!(self, |t| {
            (&mut **t)
                .execute(AssertSqlSafe(sql.to_string()))
                .await?
                .rows_affected()
        }))
    }

    /// Like [`Db::fetch_strings`], inside the transaction.
    pub async fn fetch_strings(&mut self, sql: &str) -> Result<Vec<String>, DbError> {
        Ok(on_tx!(self, |t| {
            let rows = (&mut **t).fetch_all(AssertSqlSafe(sql.to_string())).await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conf(url: &str, retries: i64, pool_timeout: Duration) -> DbConfig {
        let mut c = DbConfig::new(DbUrl::parse(url).unwrap());
        c.max_retries = retries;
        c.retry_interval = Duration::from_millis(100);
        c.pool_timeout = pool_timeout;
        c
    }

    /// A refused connection fails a start-up attempt at once: three
    /// attempts against a closed port take about the two retry intervals,
    /// not three pool timeouts (20 s each here).
    #[tokio::test]
    async fn connect_retries_refused_connections_quickly() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for url in [
            format!("postgresql://u@127.0.0.1:{port}/db"),
            format!("mysql://u@127.0.0.1:{port}/db"),
        ] {
            let t = std::time::Instant::now();
            let e = Db::connect(&conf(&url, 2, Duration::from_secs(20)))
                .await
                .unwrap_err();
            assert!(e.is_unavailable(), "{e}");
            assert!(
                e.to_string().contains("Cannot connect to the database"),
                "{e}"
            );
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{url}: {:?}",
                t.elapsed()
            );
        }
    }

    /// A server that accepts and never answers costs an attempt
    /// `pool_timeout`, no more.
    #[tokio::test]
    async fn a_silent_server_is_bounded_by_pool_timeout() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let url = format!("postgresql://u@127.0.0.1:{port}/db");
        let t = std::time::Instant::now();
        let e = Db::connect(&conf(&url, 0, Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        drop(silent);
    }
}
