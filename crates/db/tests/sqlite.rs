//! SQLite behaviour Glimpse relies on: WAL, the busy timeout, write
//! transactions that take the lock up front, and `sync`'s refusals.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use glimpse_db::{Db, DbConfig, DbError, DbUrl, HEAD, SchemaState, SyncOutcome};

fn scratch(name: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(
        format!(
            "glimpse-db-sqlite-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        )
        .replace([' ', '{', '}', ':', ','], "_"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:///{}/g.sqlite", dir.display());
    (dir, url)
}

fn open(url: &str, busy: Duration) -> Db {
    let mut conf = DbConfig::new(DbUrl::parse(url).unwrap());
    conf.sqlite_busy_timeout = busy;
    Db::open(&conf).unwrap()
}

#[tokio::test]
async fn sync_creates_then_is_a_noop_and_uses_wal() {
    let (dir, url) = scratch("sync");
    let db = open(&url, Duration::from_secs(5));
    assert_eq!(glimpse_db::state(&db).await.unwrap(), SchemaState::Empty);
    assert_eq!(glimpse_db::version(&db).await.unwrap(), None);
    assert_eq!(glimpse_db::sync(&db).await.unwrap(), SyncOutcome::Created);
    assert_eq!(glimpse_db::sync(&db).await.unwrap(), SyncOutcome::UpToDate);
    assert_eq!(
        glimpse_db::version(&db).await.unwrap().as_deref(),
        Some(HEAD)
    );
    assert_eq!(glimpse_db::migrate::tables(&db).await.unwrap().len(), 16);
    let mode = db.fetch_strings("PRAGMA journal_mode").await.unwrap();
    assert_eq!(mode, vec!["wal".to_string()]);
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn in_memory_database_survives_across_queries() {
    let db = open("sqlite://", Duration::from_secs(1));
    glimpse_db::sync(&db).await.unwrap();
    assert_eq!(
        glimpse_db::version(&db).await.unwrap().as_deref(),
        Some(HEAD)
    );
}

#[tokio::test]
async fn older_unknown_and_foreign_schemas_are_refused() {
    let cases: [(&str, &str, &str); 3] = [
        (
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('zed_contract01');",
            "older than Glance 33",
            "zed_contract01",
        ),
        (
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
             INSERT INTO alembic_version VALUES ('abc123');",
            "does not know",
            "abc123",
        ),
        (
            "CREATE TABLE users (id INTEGER);",
            "not under Glance migration control",
            "users",
        ),
    ];
    for (setup, says, names) in cases {
        let db = open("sqlite://", Duration::from_secs(1));
        db.execute_script(setup).await.unwrap();
        match glimpse_db::sync(&db).await {
            Err(DbError::Schema(m)) => assert!(m.contains(says) && m.contains(names), "{m}"),
            other => panic!("{setup}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn writers_queue_behind_the_write_lock_instead_of_failing() {
    let (dir, url) = scratch("lock");
    let a = open(&url, Duration::from_secs(10));
    glimpse_db::sync(&a).await.unwrap();
    let b = open(&url, Duration::from_secs(10));
    let mut tx = a.begin_write().await.unwrap();
    tx.execute("INSERT INTO node_reference (node_reference_url) VALUES ('a')")
        .await
        .unwrap();
    // b's BEGIN IMMEDIATE waits (busy timeout) while a holds the lock...
    let waiter = tokio::spawn(async move {
        let mut tx = b.begin_write().await?;
        let n = tx
            .fetch_strings("SELECT node_reference_url FROM node_reference")
            .await?;
        tx.execute("INSERT INTO node_reference (node_reference_url) VALUES ('b')")
            .await?;
        tx.commit().await?;
        Ok::<_, DbError>(n)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the second writer must wait for the lock"
    );
    tx.commit().await.unwrap();
    // ...and then sees a's row: its read happened under the write lock.
    assert_eq!(waiter.await.unwrap().unwrap(), vec!["a".to_string()]);

    // With a short timeout, a blocked writer reports Unavailable (→ 503).
    let c = open(&url, Duration::from_millis(100));
    let _held = a.begin_write().await.unwrap();
    match c.begin_write().await {
        Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        Ok(_) => panic!("took the write lock twice"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn constraint_errors_are_classified() {
    let db = open("sqlite://", Duration::from_secs(1));
    glimpse_db::sync(&db).await.unwrap();
    let ins = "INSERT INTO node_reference (node_reference_url) VALUES ('x')";
    db.execute_script(ins).await.unwrap();
    assert!(matches!(
        db.execute_script(ins).await,
        Err(DbError::Duplicate(_))
    ));
    let bad = "INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES ('x', 't', '2024-01-01', 2)";
    assert!(matches!(
        db.execute_script(bad).await,
        Err(DbError::Conflict(_))
    ));
}

async fn node_urls(db: &Db) -> Vec<String> {
    db.fetch_strings("SELECT node_reference_url FROM node_reference ORDER BY node_reference_url")
        .await
        .unwrap()
}

async fn insert_node(tx: &mut glimpse_db::Tx, url: &str) -> Result<u64, DbError> {
    tx.execute(&format!(
        "INSERT INTO node_reference (node_reference_url) VALUES ('{url}')"
    ))
    .await
}

/// Many writers at once share commits (group commit), yet each one's
/// outcome is its own: a writer that fails or rolls back loses only its
/// own rows, and every "committed" is true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits_and_keep_their_own_outcomes() {
    let (dir, url) = scratch("group");
    let db = open(&url, Duration::from_secs(10));
    glimpse_db::sync(&db).await.unwrap();
    let before = db.write_groups().unwrap();
    let mut tasks = Vec::new();
    for i in 0..60u32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin_write().await?;
            insert_node(&mut tx, &format!("n{i:02}")).await?;
            if i % 5 == 0 {
                // A unique violation: `?` drops the transaction.
                insert_node(&mut tx, &format!("n{i:02}")).await?;
            }
            if i % 7 == 0 {
                tx.rollback().await?;
                return Ok::<_, DbError>(false);
            }
            tx.commit().await?;
            Ok(true)
        }));
    }
    let mut expected = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(true) => expected.push(format!("n{i:02}")),
            Ok(false) => assert!(i % 7 == 0 && i % 5 != 0, "{i} rolled back"),
            Err(DbError::Duplicate(_)) => assert_eq!(i % 5, 0, "{i}"),
            Err(e) => panic!("writer {i}: {e:?}"),
        }
    }
    // 12 multiples of 5 fail; 7 other multiples of 7 roll back.
    assert_eq!(expected.len(), 60 - 12 - 7);
    assert_eq!(node_urls(&db).await, expected);
    // A fresh connection (another process's view) sees the same rows.
    assert_eq!(
        node_urls(&open(&url, Duration::from_secs(1))).await,
        expected
    );
    let after = db.write_groups().unwrap();
    let writers = after.writers - before.writers;
    let commits = after.commits - before.commits;
    assert_eq!(writers, expected.len() as u64);
    assert!(commits < writers, "{commits} commits for {writers} writers");
    let _ = std::fs::remove_dir_all(dir);
}

/// A writer dropped in the middle (its request cancelled, or an error
/// returned with `?`) is rolled back and ends its turn, so the writers
/// whose commit waited on the group still get it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_writer_is_undone_and_the_group_still_commits() {
    let (dir, url) = scratch("drop");
    let db = open(&url, Duration::from_secs(10));
    glimpse_db::sync(&db).await.unwrap();

    let mut a = db.begin_write().await.unwrap();
    insert_node(&mut a, "a").await.unwrap();
    let w = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await.unwrap();
            insert_node(&mut tx, "w").await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(tx);
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // `w` is queued, so `a` leaves the group open for it and its commit
    // completes when `w` ends its turn.
    a.commit().await.unwrap();
    assert!(
        w.is_finished(),
        "a's commit returned before the group ended"
    );
    w.await.unwrap();
    assert_eq!(node_urls(&db).await, vec!["a".to_string()]);

    // A cancelled writer future, mid-transaction.
    let cancelled = tokio::time::timeout(Duration::from_millis(100), async {
        let mut tx = db.begin_write().await.unwrap();
        insert_node(&mut tx, "c").await.unwrap();
        std::future::pending::<()>().await;
    })
    .await;
    assert!(cancelled.is_err());
    let mut d = db.begin_write().await.unwrap();
    insert_node(&mut d, "d").await.unwrap();
    d.commit().await.unwrap();
    assert_eq!(node_urls(&db).await, vec!["a".to_string(), "d".to_string()]);
    let _ = std::fs::remove_dir_all(dir);
}
