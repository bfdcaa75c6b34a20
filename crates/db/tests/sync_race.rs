//! `sync` run by several nodes at once on one empty database (nodes
//! started together): one creates the schema, the others find it made;
//! none fails. SQLite with separate pools (as separate processes have),
//! PostgreSQL and MariaDB/MySQL with concurrent connections of one pool,
//! on scratch databases (skipped loudly when the server is absent).
#![allow(clippy::unwrap_used)]

mod common;

use common::{on_mysql, on_postgres, open, scratch_dir};
use glimpse_db::{Db, SchemaState, SyncOutcome};

async fn race(dbs: Vec<Db>) {
    let mut set = tokio::task::JoinSet::new();
    for db in dbs.clone() {
        set.spawn(async move { glimpse_db::sync(&db).await });
    }
    let mut outcomes = Vec::new();
    while let Some(r) = set.join_next().await {
        outcomes.push(r.unwrap().unwrap());
    }
    let created = outcomes
        .iter()
        .filter(|o| **o == SyncOutcome::Created)
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert_eq!(
        glimpse_db::state(&dbs[0]).await.unwrap(),
        SchemaState::Current
    );
}

#[tokio::test]
async fn sqlite_nodes_syncing_at_once() {
    let dir = scratch_dir();
    let url = format!("sqlite:///{}/g.sqlite", dir.display());
    let mut dbs = Vec::new();
    for _ in 0..4 {
        dbs.push(open(&url).await);
    }
    race(dbs.clone()).await;
    for db in dbs {
        db.close().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_nodes_syncing_at_once() {
    on_postgres("glimpse_sync_race", |db| async move {
        race(vec![db.clone(), db.clone(), db.clone(), db]).await
    })
    .await;
}

#[tokio::test]
async fn mysql_nodes_syncing_at_once() {
    on_mysql("glimpse_sync_race", |db| async move {
        race(vec![db.clone(), db.clone(), db.clone(), db]).await
    })
    .await;
}
