//! What the database suites share: scratch names and directories, opening
//! a pool, and running a suite on a fresh PostgreSQL or MariaDB/MySQL
//! database on loopback (dropped afterwards), skipped loudly when the
//! server does not answer.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glimpse_db::{Backend, Db, DbConfig, DbUrl};

pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

pub fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(unique("glimpse-db"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub async fn open(url: &str) -> Db {
    let mut conf = DbConfig::new(DbUrl::parse(url).unwrap());
    conf.max_retries = 0;
    conf.sqlite_busy_timeout = Duration::from_secs(10);
    Db::connect(&conf).await.unwrap()
}

pub fn server_up(port: u16, what: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok();
    if !up {
        eprintln!("\n!!!! SKIPPED: no {what} on 127.0.0.1:{port}; this suite did not run on it.\n");
    }
    up
}

/// Runs `suite` on a scratch database created through `admin_url`, then
/// drops it; a panic in the suite is re-raised after the drop.
async fn on_scratch<F, Fut>(
    admin_url: &str,
    prefix: &str,
    url_of: impl Fn(&str) -> String,
    drop_sql: impl Fn(&str) -> String,
    suite: F,
) where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let admin = open(admin_url).await;
    let name = unique(prefix);
    admin
        .execute_script(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = url_of(&name);
    let result = tokio::spawn(async move {
        let db = open(&url).await;
        suite(db.clone()).await;
        db.close().await;
    })
    .await;
    let _ = admin.execute_script(&drop_sql(&name)).await;
    admin.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `suite` on a fresh PostgreSQL database (127.0.0.1:5432, postgres, trust).
pub async fn on_postgres<F, Fut>(prefix: &str, suite: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    if !server_up(5432, "PostgreSQL") {
        return;
    }
    on_scratch(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        prefix,
        |n| format!("postgresql://postgres@127.0.0.1:5432/{n}"),
        |n| format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"),
        suite,
    )
    .await;
}

/// `suite` on a fresh MariaDB/MySQL database (127.0.0.1:3306, root).
pub async fn on_mysql<F, Fut>(prefix: &str, suite: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    if !server_up(3306, "MySQL/MariaDB") {
        return;
    }
    on_scratch(
        "mysql://root@127.0.0.1:3306/",
        prefix,
        |n| format!("mysql://root@127.0.0.1:3306/{n}?charset=utf8"),
        |n| format!("DROP DATABASE IF EXISTS {n}"),
        suite,
    )
    .await;
}

/// The value of a scalar SQL expression, as text.
pub async fn scalar(db: &Db, expr_sql: &str) -> String {
    let cast = match db.backend() {
        Backend::MySql => "CHAR",
        _ => "TEXT",
    };
    let sql = format!("SELECT CAST(({expr_sql}) AS {cast})");
    db.fetch_strings(&sql)
        .await
        .unwrap()
        .pop()
        .unwrap_or_default()
}
