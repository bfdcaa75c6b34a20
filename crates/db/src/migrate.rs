//! Schema versioning, in Glance's terms: the revision in `alembic_version`.
//!
//! [`sync`] creates Glance 33's schema in an empty database and stamps
//! [`HEAD`], so Python `glance-manage` (and Glance itself) accept the result
//! as its own. Upgrading an older Glance database is not implemented yet: it
//! is reported as a [`DbError::Schema`] that says to run Glance 33's
//! `glance-manage db sync` once.

use crate::schema::{HEAD, KNOWN_REVISIONS};
use crate::{Backend, Db, DbError, Tx, ddl};

/// What [`sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The database was empty; the schema was created at [`HEAD`].
    Created,
    /// The database was already at [`HEAD`].
    UpToDate,
}

/// Where a database stands relative to Glance 33.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// No tables at all (or only an empty `alembic_version`).
    Empty,
    /// `alembic_version` holds [`HEAD`].
    Current,
    /// An older Glance revision (or the expand branch of a rolling upgrade).
    Older(Vec<String>),
    /// A revision Glance 33 does not know (a newer Glance?).
    Unknown(Vec<String>),
    /// Tables exist but nothing records a Glance revision.
    Foreign(Vec<String>),
}

fn list_tables_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY 1"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() ORDER BY 1"
        }
    }
}

/// The tables in the connection's database (schema), sorted.
pub async fn tables(db: &Db) -> Result<Vec<String>, DbError> {
    db.fetch_strings(list_tables_sql(db.backend())).await
}

/// Every revision recorded in `alembic_version` (empty when the table is
/// absent), like alembic's `get_current_heads`.
pub async fn heads(db: &Db) -> Result<Vec<String>, DbError> {
    if !tables(db).await?.iter().any(|t| t == "alembic_version") {
        return Ok(Vec::new());
    }
    db.fetch_strings("SELECT version_num FROM alembic_version ORDER BY version_num")
        .await
}

/// The database's revision: [`HEAD`] when it is among the heads, else the
/// first recorded one; `None` when not under migration control.
pub async fn version(db: &Db) -> Result<Option<String>, DbError> {
    let heads = heads(db).await?;
    Ok(heads
        .iter()
        .find(|h| *h == HEAD)
        .or_else(|| heads.first())
        .cloned())
}

/// Classifies the database (see [`SchemaState`]).
pub async fn state(db: &Db) -> Result<SchemaState, DbError> {
    classify(tables(db).await?, heads(db).await?)
}

/// [`state`], read inside a transaction (on its connection).
async fn state_in(tx: &mut Tx, backend: Backend) -> Result<SchemaState, DbError> {
    let tables = tx.fetch_strings(list_tables_sql(backend)).await?;
    let heads = if tables.iter().any(|t| t == "alembic_version") {
        tx.fetch_strings("SELECT version_num FROM alembic_version ORDER BY version_num")
            .await?
    } else {
        Vec::new()
    };
    classify(tables, heads)
}

fn classify(tables: Vec<String>, heads: Vec<String>) -> Result<SchemaState, DbError> {
    if heads.iter().any(|h| h == HEAD) {
        return Ok(SchemaState::Current);
    }
    if !heads.is_empty() {
        return Ok(
            if heads.iter().all(|h| KNOWN_REVISIONS.contains(&h.as_str())) {
                SchemaState::Older(heads)
            } else {
                SchemaState::Unknown(heads)
            },
        );
    }
    let others: Vec<String> = tables
        .into_iter()
        .filter(|t| t != "alembic_version")
        .collect();
    Ok(if others.is_empty() {
        SchemaState::Empty
    } else {
        SchemaState::Foreign(others)
    })
}

/// The error for a database `sync` cannot bring to [`HEAD`], or `None`.
pub fn state_error(state: &SchemaState) -> Option<DbError> {
    let list = |v: &Vec<String>| v.join(", ");
    match state {
        SchemaState::Empty | SchemaState::Current => None,
        SchemaState::Older(heads) => Some(DbError::Schema(format!(
            "The database is at Glance revision {} (older than Glance 33's {HEAD}). \
             Glimpse cannot upgrade Glance databases yet: run Glance 33's \
             `glance-manage db sync` once, then start Glimpse.",
            list(heads)
        ))),
        SchemaState::Unknown(heads) => Some(DbError::Schema(format!(
            "The database is at revision {}, which Glance 33 does not know \
             (a newer Glance, or another application's alembic history); \
             Glimpse serves Glance 33's schema ({HEAD}) and will not touch it.",
            list(heads)
        ))),
        SchemaState::Foreign(tables) => {
            let shown: Vec<&str> = tables.iter().take(8).map(String::as_str).collect();
            let more = if tables.len() > shown.len() {
                ", …"
            } else {
                ""
            };
            Some(DbError::Schema(format!(
                "The database is not empty but not under Glance migration control \
                 (no alembic_version revision; tables: {}{more}). Point [database] \
                 connection at an empty database or a Glance one.",
                shown.join(", ")
            )))
        }
    }
}

/// Creates Glance 33's schema in an empty database and records [`HEAD`];
/// a no-op at [`HEAD`]; a [`DbError::Schema`] for anything else.
///
/// Several nodes started together on an empty database all get here at
/// once: the creation is serialised (a transaction-scoped advisory lock on
/// PostgreSQL, `GET_LOCK` on MySQL, the write lock on SQLite) and the state
/// read again under it, so one node creates the schema and the others find
/// it made (`UpToDate`) instead of failing on a duplicate table or type.
pub async fn sync(db: &Db) -> Result<SyncOutcome, DbError> {
    let st = state(db).await?;
    if st == SchemaState::Current {
        return Ok(SyncOutcome::UpToDate);
    }
    if let Some(e) = state_error(&st) {
        return Err(e);
    }
    let backend = db.backend();
    let mut tx = db.begin_write().await?;
    match backend {
        Backend::Postgres => {
            tx.execute(&format!("SELECT pg_advisory_xact_lock({SYNC_LOCK_KEY})"))
                .await?;
        }
        Backend::MySql => {
            let got = tx
                .fetch_strings(&format!(
                    "SELECT CAST(GET_LOCK({MYSQL_SYNC_LOCK}, 120) AS CHAR)"
                ))
                .await?;
            if got.first().map(String::as_str) != Some("1") {
                return Err(DbError::Unavailable(
                    "another node held the schema-creation lock for 120 s".into(),
                ));
            }
        }
        // `begin_write` took the database's write lock.
        Backend::Sqlite => {}
    }
    let created = create_schema(db, &mut tx, backend).await;
    if backend == Backend::MySql {
        // A session lock outlives transactions: release it explicitly, or
        // the pooled connection would keep it.
        let _ = tx
            .fetch_strings(&format!(
                "SELECT CAST(RELEASE_LOCK({MYSQL_SYNC_LOCK}) AS CHAR)"
            ))
            .await;
    }
    match created {
        Ok(outcome) => {
            tx.commit().await?;
            Ok(outcome)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// `pg_advisory_xact_lock`'s key for [`sync`] ("glimpse1"); advisory locks
/// are per database.
const SYNC_LOCK_KEY: i64 = 0x676c_696d_7073_6531;

/// `GET_LOCK`'s name for [`sync`]: names are server-wide (and at most 64
/// characters), so it is a digest of the database's name.
const MYSQL_SYNC_LOCK: &str = "SHA1(CONCAT('glimpse-db-sync.', DATABASE()))";

/// The body of [`sync`], under its lock: the state read again, then the
/// schema created in `tx` (SQLite, PostgreSQL) or statement by statement
/// (MySQL).
async fn create_schema(db: &Db, tx: &mut Tx, backend: Backend) -> Result<SyncOutcome, DbError> {
    // MySQL reads outside the transaction: its snapshot could predate the
    // other node's tables. The others read on the transaction's connection
    // (an in-memory SQLite database has no other).
    let (st, tables) = match backend {
        Backend::MySql => (state(db).await?, tables(db).await?),
        _ => (
            state_in(tx, backend).await?,
            tx.fetch_strings(list_tables_sql(backend)).await?,
        ),
    };
    if st == SchemaState::Current {
        return Ok(SyncOutcome::UpToDate);
    }
    if let Some(e) = state_error(&st) {
        return Err(e);
    }
    let mut statements = ddl::create_schema(backend);
    // An empty alembic_version left behind by a failed run is recreated.
    if tables.iter().any(|t| t == "alembic_version") {
        statements.insert(0, "DROP TABLE alembic_version".to_string());
    }
    statements.push(format!(
        "INSERT INTO alembic_version (version_num) VALUES ('{HEAD}')"
    ));
    match backend {
        // Transactional DDL: all or nothing.
        Backend::Sqlite | Backend::Postgres => {
            for s in &statements {
                tx.execute(s).await.map_err(|e| in_statement(e, s))?;
            }
        }
        // MySQL commits each DDL statement implicitly; a failure leaves a
        // partial schema without a revision, which the next run reports as
        // foreign rather than guessing.
        Backend::MySql => {
            for s in &statements {
                db.execute_script(s).await.map_err(|e| in_statement(e, s))?;
            }
        }
    }
    Ok(SyncOutcome::Created)
}

fn in_statement(e: DbError, stmt: &str) -> DbError {
    let first_line = stmt.lines().next().unwrap_or(stmt);
    match e {
        DbError::Other(m) => DbError::Schema(format!("{m} (while running: {first_line} …)")),
        other => other,
    }
}
