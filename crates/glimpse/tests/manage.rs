//! `glimpse manage … db sync|version|check`, black-box (SQLite).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const HEAD: &str = "2024_1_contract01";

fn manage(dir: &TempDir, conf: &std::path::Path, words: &[&str]) -> (Option<i32>, String, String) {
    let conf = conf.to_string_lossy().into_owned();
    let mut args = vec!["manage", "--config-file", conf.as_str()];
    args.extend_from_slice(words);
    run(&args, dir.path())
}

#[test]
fn db_sync_then_version_then_sync_again_is_a_noop() {
    let dir = TempDir::new("manage");
    let db = dir.path().join("glance.sqlite");
    let conf = dir.write(
        "glance-api.conf",
        &format!("[database]\nconnection = sqlite:///{}\n", db.display()),
    );

    let (code, out, err) = manage(&dir, &conf, &["db", "version"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("not under migration control"), "{out}");
    let (code, out, _) = manage(&dir, &conf, &["db", "check"]);
    assert_eq!(code, Some(3), "{out}");

    let (code, out, err) = manage(&dir, &conf, &["db", "sync"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.ends_with("Database is synced successfully.\n"), "{out}");
    assert!(db.exists());

    let (code, out, err) = manage(&dir, &conf, &["db", "version"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), format!("{HEAD}\n").as_str()),
        "{err}"
    );

    let before = std::fs::metadata(&db).unwrap().len();
    let (code, out, _) = manage(&dir, &conf, &["db", "sync"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "Database is up to date. No migrations needed.\n");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), before);

    // The legacy spelling and `db check` agree.
    let (code, out, _) = manage(&dir, &conf, &["db_check"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "Database is up to date. No upgrades needed.\n")
    );
}

#[test]
fn bad_urls_and_commands_are_reported() {
    let dir = TempDir::new("manage-bad");
    let conf = dir.write(
        "glance-api.conf",
        "[database]\nconnection = mysql+pymysql://glance:hunter2@db:notaport/glance\n",
    );
    let (code, _, err) = manage(&dir, &conf, &["db", "sync"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("glance:***@db:notaport") && !err.contains("hunter2"),
        "{err}"
    );

    let (code, _, err) = manage(&dir, &conf, &["db", "frob"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid choice: 'frob'"), "{err}");
    let (code, _, err) = manage(&dir, &conf, &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("the following arguments are required: command"),
        "{err}"
    );
}

/// A running node records itself and its heartbeats; `manage service list`
/// shows it up, then down once it has stopped for `service_down_time`.
#[test]
fn heartbeats_and_service_list() {
    let port = free_port();
    let srv_dir = TempDir::new("heartbeat");
    let data = srv_dir.path().join("data");
    std::fs::create_dir_all(data.join("images")).unwrap();
    let conf_text = base_conf(
        port,
        2,
        "host = node-under-test\nreport_interval = 1\nservice_down_time = 3",
        &format!(
            "[database]\nconnection = sqlite:///{d}/glance.sqlite\n\
             [glance_store]\nfilesystem_store_datadir = {d}/images\n",
            d = data.display()
        ),
    );
    let mut srv = start_in(srv_dir, &conf_text, &[], true);
    let conf = srv.dir.path().join("glance-api.conf");
    let home = TempDir::new("heartbeat-cli");
    let list = || {
        let (code, out, err) = run(
            &[
                "manage",
                "--config-file",
                &conf.to_string_lossy(),
                "service",
                "list",
            ],
            home.path(),
        );
        assert_eq!(code, Some(0), "{err}");
        out
    };
    let up = wait_until(std::time::Duration::from_secs(10), || {
        let out = list();
        out.lines().any(|l| {
            l.starts_with("glimpse-api")
                && l.contains("node-under-test")
                && l.contains(&format!("http://node-under-test:{port}"))
                && l.contains(" up ")
        })
    });
    assert!(up, "{}", list());
    let header = list();
    assert!(
        header.starts_with("Binary       Host             Node URL"),
        "{header}"
    );
    // Beats keep coming (report_count grows) while it runs.
    let count = |out: &str| -> i64 {
        out.lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let first = count(&list());
    assert!(
        wait_until(std::time::Duration::from_secs(10), || count(&list())
            > first),
        "no further heartbeats: {}",
        list()
    );
    srv.signal("TERM");
    assert!(srv.wait_exit(std::time::Duration::from_secs(20)).is_some());
    let down = wait_until(std::time::Duration::from_secs(10), || {
        list().lines().nth(1).is_some_and(|l| l.contains(" down "))
    });
    assert!(down, "{}", list());
    // One record for the node, however many workers it had.
    assert_eq!(list().lines().count(), 2, "{}", list());
}
