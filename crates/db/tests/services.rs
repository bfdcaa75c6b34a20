//! Service records and heartbeats on SQLite, PostgreSQL and MariaDB/MySQL
//! (the latter two when they answer; loudly skipped otherwise): the table
//! is created on first use, concurrent heartbeats of one node keep one
//! record, the node URL lands once in Glance's `node_reference`, and the
//! list tells up from down.
#![allow(clippy::unwrap_used)]

mod common;

use common::{on_mysql, on_postgres, open, scalar, scratch_dir};
use glimpse_db::Db;
use glimpse_db::images::{Repo, now};
use glimpse_db::services::list_table;

async fn suite(db: Db) {
    glimpse_db::sync(&db).await.unwrap();
    let repo = Repo::new(db.clone());
    let s = repo.services();
    assert!(s.list().await.unwrap().is_empty(), "the table starts empty");
    s.ensure_table().await.unwrap();
    // Many workers of two nodes beating at once.
    let mut beats = Vec::new();
    for i in 0..12 {
        let repo = repo.clone();
        beats.push(tokio::spawn(async move {
            let host = if i % 2 == 0 { "node-a" } else { "node-b" };
            let url = format!("http://{host}:9292");
            repo.services()
                .heartbeat(host, "glimpse-api", Some(&url))
                .await
        }));
    }
    for b in beats {
        b.await.unwrap().unwrap();
    }
    let list = s.list().await.unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0].host, "node-a");
    assert_eq!(list[0].report_count + list[1].report_count, 12);
    assert_eq!(list[1].node_url.as_deref(), Some("http://node-b:9292"));
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM node_reference").await,
        "2"
    );
    let table = list_table(&list, now(), 60);
    assert!(table.lines().nth(1).unwrap().contains(" up "), "{table}");
    let later = glimpse_domain::py::Timestamp {
        micros: now().micros + 61_000_000,
    };
    assert!(list_table(&list, later, 60).contains(" down "));
}

#[tokio::test]
async fn sqlite_services() {
    let dir = scratch_dir();
    let db = open(&format!("sqlite:///{}/svc.sqlite", dir.display())).await;
    suite(db.clone()).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_services() {
    on_postgres("glimpse_services", suite).await;
}

#[tokio::test]
async fn mysql_services() {
    on_mysql("glimpse_services", suite).await;
}
