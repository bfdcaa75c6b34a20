//! Differential tests against Python Glance 33: one database made by
//! `glance-manage db sync`, one by `glimpse_db::sync`; their normalised
//! schemas must be equal. Then the reverse check: glance-manage accepts
//! Glimpse's database as up to date.
//!
//! Needs the Glance venv (`scripts/test-env.sh` makes `.cache/venv`; override
//! with `GLIMPSE_GLANCE_VENV`). PostgreSQL (127.0.0.1:5432, user postgres,
//! trust) and MariaDB/MySQL (127.0.0.1:3306, root, no password) are used when
//! they answer. Anything missing skips with a loud message instead of failing.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glimpse_db::{Backend, Db, DbConfig, DbUrl, HEAD};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn glance_manage() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("GLIMPSE_GLANCE_VENV") {
        Some(v) => vec![PathBuf::from(v)],
        None => vec![
            repo_root().join(".cache/venv"),
            repo_root().join(".cache/bench-venv"),
        ],
    };
    let found = candidates
        .iter()
        .map(|v| v.join("bin/glance-manage"))
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!(
            "\n!!!! SKIPPED: no Glance venv with bin/glance-manage in {candidates:?}.\n\
             !!!! Run scripts/test-env.sh (or set GLIMPSE_GLANCE_VENV) to enable the \
             differential schema tests.\n"
        );
    }
    found
}

fn server_up(port: u16, what: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok();
    if !up {
        eprintln!(
            "\n!!!! SKIPPED: no {what} on 127.0.0.1:{port}; its schema differential did not run.\n"
        );
    }
    up
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

struct Manage {
    bin: PathBuf,
    dir: PathBuf,
}

impl Manage {
    /// Runs glance-manage against `url`; returns (exit code, stdout).
    fn run(&self, url: &str, args: &[&str]) -> (i32, String) {
        let conf = self.dir.join(unique("glance-manage") + ".conf");
        std::fs::write(&conf, format!("[database]\nconnection = {url}\n")).expect("write conf");
        let out = Command::new(&self.bin)
            .arg("--config-file")
            .arg(&conf)
            .args(args)
            .output()
            .expect("run glance-manage");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = out.status.code().unwrap_or(-1);
        if code != 0 && args != ["db", "check"] {
            panic!(
                "glance-manage {args:?} failed ({code}):\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (code, stdout)
    }
}

async fn open(url: &str) -> Db {
    let mut conf = DbConfig::new(DbUrl::parse(url).expect("url"));
    conf.max_retries = 0;
    Db::connect(&conf).await.expect("connect")
}

/// Every schema fact as one text line, so two databases compare as sets.
async fn dump(db: &Db) -> BTreeSet<String> {
    let mut lines = BTreeSet::new();
    let queries: Vec<String> = match db.backend() {
        Backend::Sqlite => {
            let tables = glimpse_db::migrate::tables(db).await.expect("tables");
            let mut q = Vec::new();
            for t in &tables {
                q.push(format!(
                    "SELECT 'column|{t}|' || cid || '|' || name || '|' || type || '|' || \"notnull\" \
                     || '|' || coalesce(dflt_value, 'NULL') || '|' || pk FROM pragma_table_info('{t}')"
                ));
                q.push(format!(
                    "SELECT 'index|{t}|' || il.name || '|' || il.\"unique\" || '|' || il.origin || '|' || \
                     (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) \
                     FROM pragma_index_list('{t}') il"
                ));
                q.push(format!(
                    "SELECT 'fk|{t}|' || seq || '|' || \"table\" || '|' || \"from\" || '|' || \"to\" || '|' \
                     || on_update || '|' || on_delete FROM pragma_foreign_key_list('{t}')"
                ));
                q.push(format!("SELECT 'sql|{t}|' || sql FROM sqlite_master WHERE name = '{t}'"));
            }
            q
        }
        Backend::Postgres => vec![
            // Positions are ranked: PostgreSQL keeps a hole where Glance
            // dropped images.is_public, invisible to any query.
            "SELECT 'column|' || table_name || '|' \
             || row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position) || '|' || column_name \
             || '|' || data_type || '|' || udt_name || '|' || coalesce(character_maximum_length::text, '') \
             || '|' || is_nullable || '|' || coalesce(column_default, 'NULL') \
             FROM information_schema.columns WHERE table_schema = 'public'"
                .into(),
            "SELECT 'constraint|' || conrelid::regclass::text || '|' || conname || '|' || contype::text || '|' \
             || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                .into(),
            "SELECT 'index|' || tablename || '|' || indexname || '|' || indexdef FROM pg_indexes \
             WHERE schemaname = 'public'"
                .into(),
            "SELECT 'enum|' || t.typname || '|' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) \
             FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
                .into(),
            "SELECT 'sequence|' || sequence_name || '|' || data_type FROM information_schema.sequences \
             WHERE sequence_schema = 'public'"
                .into(),
        ],
        Backend::MySql => vec![
            "SELECT CAST(CONCAT_WS('|', 'table', table_name, engine, table_collation) AS CHAR) \
             FROM information_schema.tables WHERE table_schema = DATABASE()"
                .into(),
            "SELECT CAST(CONCAT_WS('|', 'column', table_name, ordinal_position, column_name, column_type, \
             is_nullable, IFNULL(column_default, 'NULL'), extra, IFNULL(collation_name, '')) AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE()"
                .into(),
            "SELECT CAST(CONCAT_WS('|', 'index', table_name, index_name, non_unique, seq_in_index, column_name) AS CHAR) \
             FROM information_schema.statistics WHERE table_schema = DATABASE()"
                .into(),
            "SELECT CAST(CONCAT_WS('|', 'fk', table_name, constraint_name, column_name, referenced_table_name, \
             referenced_column_name) AS CHAR) FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL"
                .into(),
            // Check constraints by table and clause; MariaDB names them
            // CONSTRAINT_<n> by position, and Glance's images table keeps
            // the numbers of a dropped column's check, so names are skipped.
            "SELECT CAST(CONCAT_WS('|', 'check', table_name, check_clause) AS CHAR) \
             FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()"
                .into(),
        ],
    };
    for q in queries {
        for line in db.fetch_strings(&q).await.expect("schema query") {
            lines.insert(normalise(db.backend(), &line));
        }
    }
    lines
}

/// Makes SQLite's stored CREATE text comparable: only the CHECK clauses are
/// kept (everything else is covered by the pragmas), without identifier quotes.
fn normalise(backend: Backend, line: &str) -> String {
    if backend != Backend::Sqlite || !line.starts_with("sql|") {
        return line.to_string();
    }
    let mut checks: Vec<String> = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("CHECK (") {
        let body = &rest[i + 6..];
        let mut depth = 0;
        let mut end = body.len();
        for (j, c) in body.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        checks.push(body[..end].replace(['"', '`'], ""));
        rest = &body[end..];
    }
    checks.sort();
    let table = line.split('|').nth(1).unwrap_or("");
    format!("checks|{table}|{}", checks.join(" "))
}

fn assert_same(oracle: &BTreeSet<String>, ours: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = oracle.difference(ours).collect();
    let extra: Vec<&String> = ours.difference(oracle).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: schemas differ\n  only in glance-manage's:\n    {}\n  only in Glimpse's:\n    {}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n    "),
        extra
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n    ")
    );
    assert!(oracle.len() > 100, "{what}: suspiciously small schema dump");
    eprintln!("{what}: {} schema facts identical", oracle.len());
}

/// glance-manage must see Glimpse's database as its own, at head: every
/// `db` command answers as it does for the database it made itself.
fn reverse_check(manage: &Manage, oracle_url: &str, ours_url: &str, backend: Backend) {
    for cmd in [["db", "version"], ["db", "check"], ["db", "sync"]] {
        let theirs = manage.run(oracle_url, &cmd);
        let (code, out) = manage.run(ours_url, &cmd);
        assert_eq!(
            (code, &out),
            (theirs.0, &theirs.1),
            "glance-manage {cmd:?}: Glimpse's database vs its own"
        );
        match cmd[1] {
            "version" => assert_eq!(out.trim(), HEAD),
            // Glance 33 refuses `db check` on PostgreSQL (rolling upgrades
            // are MySQL/SQLite only) with exit 1, for its own databases too.
            "check" if backend == Backend::Postgres => assert_eq!(code, 1),
            "check" => assert!(
                code == 0 && out.contains("Database is up to date. No upgrades needed."),
                "{out}"
            ),
            _ => assert!(
                out.contains("Database is up to date. No migrations needed."),
                "{out}"
            ),
        }
    }
}

async fn compare(manage: &Manage, oracle_url: &str, ours_url: &str, what: &str) {
    manage.run(oracle_url, &["db", "sync"]);
    let ours = open(ours_url).await;
    assert_eq!(
        glimpse_db::sync(&ours).await.expect("sync"),
        glimpse_db::SyncOutcome::Created
    );
    assert_eq!(
        glimpse_db::sync(&ours).await.expect("second sync"),
        glimpse_db::SyncOutcome::UpToDate
    );
    let oracle = open(oracle_url).await;
    assert_eq!(
        glimpse_db::version(&oracle)
            .await
            .expect("version")
            .as_deref(),
        Some(HEAD)
    );
    let b_backend = ours.backend();
    let (a, b) = (dump(&oracle).await, dump(&ours).await);
    oracle.close().await;
    ours.close().await;
    assert_same(&a, &b, what);
    reverse_check(manage, oracle_url, ours_url, b_backend);
}

fn scratch_dir() -> PathBuf {
    let d = std::env::temp_dir().join(unique("glimpse-db-test"));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[tokio::test]
async fn sqlite_schema_matches_glance_manage() {
    let Some(bin) = glance_manage() else { return };
    let dir = scratch_dir();
    let manage = Manage {
        bin,
        dir: dir.clone(),
    };
    let oracle = format!("sqlite:///{}/oracle.sqlite", dir.display());
    let ours = format!("sqlite:///{}/glimpse.sqlite", dir.display());
    compare(&manage, &oracle, &ours, "SQLite").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_schema_matches_glance_manage() {
    let Some(bin) = glance_manage() else { return };
    if !server_up(5432, "PostgreSQL") {
        return;
    }
    let dir = scratch_dir();
    let manage = Manage {
        bin,
        dir: dir.clone(),
    };
    let admin = open("postgresql://postgres@127.0.0.1:5432/postgres").await;
    let base = unique("glimpse_test");
    let (o, g) = (format!("{base}_o"), format!("{base}_g"));
    for d in [&o, &g] {
        admin
            .execute_script(&format!("CREATE DATABASE {d}"))
            .await
            .expect("create db");
    }
    let result = tokio::spawn({
        let (o, g) = (o.clone(), g.clone());
        async move {
            let manage = manage;
            compare(
                &manage,
                &format!("postgresql+psycopg2://postgres@127.0.0.1:5432/{o}"),
                &format!("postgresql+psycopg2://postgres@127.0.0.1:5432/{g}"),
                "PostgreSQL",
            )
            .await
        }
    })
    .await;
    for d in [&o, &g] {
        let _ = admin
            .execute_script(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"))
            .await;
    }
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn mysql_schema_matches_glance_manage() {
    let Some(bin) = glance_manage() else { return };
    if !server_up(3306, "MySQL/MariaDB") {
        return;
    }
    let dir = scratch_dir();
    let manage = Manage {
        bin,
        dir: dir.clone(),
    };
    let admin = open("mysql://root@127.0.0.1:3306/").await;
    let base = unique("glimpse_test");
    let (o, g) = (format!("{base}_o"), format!("{base}_g"));
    for d in [&o, &g] {
        admin
            .execute_script(&format!("CREATE DATABASE {d}"))
            .await
            .expect("create db");
    }
    let result = tokio::spawn({
        let (o, g) = (o.clone(), g.clone());
        async move {
            let manage = manage;
            compare(
                &manage,
                &format!("mysql+pymysql://root@127.0.0.1:3306/{o}?charset=utf8"),
                &format!("mysql+pymysql://root@127.0.0.1:3306/{g}?charset=utf8"),
                "MySQL",
            )
            .await
        }
    })
    .await;
    for d in [&o, &g] {
        let _ = admin
            .execute_script(&format!("DROP DATABASE IF EXISTS {d}"))
            .await;
    }
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
