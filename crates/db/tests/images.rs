//! The image repository against real databases: one suite, run on SQLite
//! always and on PostgreSQL (127.0.0.1:5432, postgres, trust) and
//! MariaDB/MySQL (127.0.0.1:3306, root) when they answer (scratch
//! databases, dropped afterwards; a loud SKIPPED otherwise). Plus, on
//! SQLite: index use (EXPLAIN QUERY PLAN) and timings with 100,000 images,
//! and cross-reading with Python Glance 33's own DB API.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{on_mysql, on_postgres, open, scalar, scratch_dir};

use glimpse_db::images::{Repo, Update, Viewer};
use glimpse_db::{Backend, Db, DbError};
use glimpse_domain::py::{Timestamp, parse_query_string};
use glimpse_domain::{
    Image, ImageStatus, ListLimits, ListQuery, Location, MemberStatus, Visibility, parse_list_query,
};

fn t(secs: i64) -> Timestamp {
    // 2024-01-01T00:00:00Z + secs, whole seconds (MySQL DATETIME keeps no
    // fraction).
    Timestamp {
        micros: (1_704_067_200 + secs) * 1_000_000,
    }
}

fn img(id: &str, owner: Option<&str>, vis: Visibility, at: i64) -> Image {
    let mut i = Image::new(id.to_string(), t(at));
    i.owner = owner.map(str::to_string);
    i.visibility = vis;
    i.status = ImageStatus::Active;
    i.disk_format = Some("raw".into());
    i.container_format = Some("bare".into());
    i.name = Some(format!("name-{id}"));
    i.size = Some(at * 10);
    i
}

fn query(qs: &str) -> ListQuery {
    parse_list_query(
        &parse_query_string(qs.as_bytes()).unwrap(),
        ListLimits::default(),
    )
    .unwrap()
}

async fn ids(repo: &Repo, qs: &str, v: &Viewer) -> Vec<String> {
    repo.list(&query(qs), v)
        .await
        .unwrap_or_else(|e| panic!("list {qs}: {e}"))
        .into_iter()
        .map(|i| i.id)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strs(v: &[&str]) -> Vec<String> {
    sorted(v.iter().map(|s| s.to_string()).collect())
}

// --- the suite -------------------------------------------------------

async fn suite(db: &Db) {
    glimpse_db::sync(db).await.unwrap();
    let repo = Repo::new(db.clone());
    round_trip_and_duplicates(&repo).await;
    save_semantics(&repo).await;
    cas(&repo).await;
    read_modify_write(&repo).await;
    destroy(&repo).await;
    members(&repo).await;
    tags_and_counts(&repo).await;
    atomic_properties(&repo).await;
    visibility(&repo).await;
    filters(&repo).await;
    sorting_and_pages(&repo).await;
}

async fn round_trip_and_duplicates(repo: &Repo) {
    let mut i = img("rt-1", Some("p1"), Visibility::Shared, 1);
    i.updated_at = t(2);
    i.checksum = Some("c".repeat(32));
    i.os_hash_algo = Some("sha512".into());
    i.os_hash_value = Some("ab".repeat(64));
    i.virtual_size = Some(1 << 40);
    i.min_ram = 512;
    i.min_disk = 7;
    i.protected = true;
    i.os_hidden = true;
    i.tags = vec!["b".into(), "a".into(), "b".into()];
    i.extra_properties.set("zeta", Some("1".into()));
    i.extra_properties.set("legacy_null", None);
    i.extra_properties.set("ünï", Some("çödé ☃".into()));
    let mut meta = serde_json::Map::new();
    meta.insert("store".into(), "file".into());
    meta.insert("n".into(), 3.into());
    i.locations = vec![Location {
        url: "file:///var/lib/glance/images/rt-1".into(),
        metadata: meta,
        status: "active".into(),
        id: None,
    }];
    let stored = repo.create(&i).await.unwrap();
    let got = repo.get("rt-1", &Viewer::project("p1")).await.unwrap();
    assert_eq!(stored, got);
    assert!(got.locations[0].id.is_some());
    let mut expect = i.clone();
    expect.tags = vec!["b".into(), "a".into()];
    expect.locations[0].id = got.locations[0].id;
    assert_eq!(got, expect);
    assert_eq!(repo.get_any("rt-1").await.unwrap(), got);

    // Duplicate id, also once soft-deleted.
    let dup = repo
        .create(&img("rt-1", Some("p2"), Visibility::Public, 3))
        .await;
    assert_eq!(
        dup,
        Err(DbError::Duplicate("Image ID rt-1 already exists!".into()))
    );
    repo.create(&img("rt-2", None, Visibility::Private, 4))
        .await
        .unwrap();
    repo.destroy("rt-2").await.unwrap();
    assert!(matches!(
        repo.create(&img("rt-2", None, Visibility::Private, 5))
            .await,
        Err(DbError::Duplicate(_))
    ));
    // Empty owner is stored as NULL; killed images are still returned.
    let mut k = img("rt-3", Some(""), Visibility::Private, 6);
    k.status = ImageStatus::Killed;
    let k = repo.create(&k).await.unwrap();
    assert_eq!(k.owner, None);
    assert_eq!(
        repo.get("rt-3", &Viewer::project("x"))
            .await
            .unwrap()
            .status,
        ImageStatus::Killed
    );
    for missing in ["nope", "rt-2", &"x".repeat(37)] {
        assert_eq!(
            repo.get(missing, &Viewer::admin()).await,
            Err(DbError::NotFound(format!(
                "No image found with ID {missing}"
            )))
        );
        assert!(matches!(
            repo.get_any(missing).await,
            Err(DbError::NotFound(_))
        ));
    }
    // Microseconds survive where the column keeps them.
    if repo.db().backend() != Backend::MySql {
        let mut m = img("rt-4", Some("p1"), Visibility::Private, 7);
        m.created_at.micros += 123_456;
        m.updated_at = m.created_at;
        let s = repo.create(&m).await.unwrap();
        assert_eq!(s.created_at, m.created_at);
    }
}

async fn save_semantics(repo: &Repo) {
    let db = repo.db();
    let mut i = img("sv-1", Some("p1"), Visibility::Private, 10);
    i.extra_properties.set("a", Some("1".into()));
    i.extra_properties.set("b", Some("2".into()));
    i.extra_properties
        .set("os_glance_import_task", Some("task-1".into()));
    i.tags = vec!["x".into(), "y".into()];
    i.locations = vec![Location {
        url: "file:///one".into(),
        metadata: Default::default(),
        status: "active".into(),
        id: None,
    }];
    let created = repo.create(&i).await.unwrap();
    let prop_id_b = scalar(
        db,
        "SELECT id FROM image_properties WHERE image_id = 'sv-1' AND name = 'b'",
    )
    .await;

    // Remove b and the atomic property, change a, add c; retag; add a
    // location and keep the first.
    let mut s = created.clone();
    s.extra_properties.remove("b");
    s.extra_properties.remove("os_glance_import_task");
    s.extra_properties.set("a", Some("one".into()));
    s.extra_properties.set("c", None);
    s.tags = vec!["y".into(), "z".into()];
    s.name = Some("renamed".into());
    s.min_ram = 1;
    s.locations.push(Location {
        url: "file:///two".into(),
        metadata: Default::default(),
        status: "active".into(),
        id: None,
    });
    let saved = repo.save(&s, None).await.unwrap();
    assert!(saved.updated_at > created.updated_at, "updated_at is now");
    assert_eq!(saved.created_at, created.created_at);
    assert_eq!(saved.name.as_deref(), Some("renamed"));
    assert_eq!(saved.min_ram, 1);
    assert_eq!(saved.extra_properties.get("a"), Some(&Some("one".into())));
    assert_eq!(saved.extra_properties.get("c"), Some(&None));
    assert!(!saved.extra_properties.contains("b"));
    // The atomic property is not save's to delete.
    assert_eq!(
        saved.extra_properties.get("os_glance_import_task"),
        Some(&Some("task-1".into()))
    );
    assert_eq!(saved.tags, vec!["y", "z"]);
    assert_eq!(
        saved
            .locations
            .iter()
            .map(|l| l.url.as_str())
            .collect::<Vec<_>>(),
        vec!["file:///one", "file:///two"]
    );
    assert_eq!(saved.locations[0].id, created.locations[0].id);
    assert_eq!(
        scalar(
            db,
            "SELECT deleted FROM image_properties WHERE image_id = 'sv-1' AND name = 'b'"
        )
        .await
        .as_str()
        .replace("true", "1"),
        "1"
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM image_tags WHERE image_id = 'sv-1' AND value = 'x' AND deleted_at IS NOT NULL").await,
        "1"
    );
    // Re-adding b revives its row.
    let mut r = saved.clone();
    r.extra_properties.set("b", Some("again".into()));
    let revived = repo.save(&r, None).await.unwrap();
    assert_eq!(
        revived.extra_properties.get("b"),
        Some(&Some("again".into()))
    );
    assert_eq!(
        scalar(
            db,
            "SELECT id FROM image_properties WHERE image_id = 'sv-1' AND name = 'b'"
        )
        .await,
        prop_id_b
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM image_properties WHERE image_id = 'sv-1' AND name = 'b'"
        )
        .await,
        "1"
    );
    // Dropping a location by leaving out its id soft-deletes it; an empty
    // list leaves locations alone (Glance).
    let mut l = revived.clone();
    l.locations.remove(0);
    let l = repo.save(&l, None).await.unwrap();
    assert_eq!(l.locations.len(), 1);
    assert_eq!(
        scalar(
            db,
            "SELECT status FROM image_locations WHERE image_id = 'sv-1' AND value = 'file:///one'"
        )
        .await,
        "deleted"
    );
    let mut e = l.clone();
    e.locations.clear();
    assert_eq!(repo.save(&e, None).await.unwrap().locations.len(), 1);
    // An unknown location id is NotFound, and nothing is written.
    let mut bad = l.clone();
    bad.name = Some("not-written".into());
    bad.locations[0].id = Some(999_999);
    assert!(matches!(
        repo.save(&bad, None).await,
        Err(DbError::NotFound(_))
    ));
    assert_eq!(
        repo.get_any("sv-1").await.unwrap().name.as_deref(),
        Some("renamed")
    );
    // Missing image.
    let ghost = img("sv-ghost", None, Visibility::Private, 1);
    assert!(matches!(
        repo.save(&ghost, None).await,
        Err(DbError::NotFound(_))
    ));
}

async fn cas(repo: &Repo) {
    let mut i = img("cas-1", Some("p1"), Visibility::Private, 20);
    i.status = ImageStatus::Queued;
    let i = repo.create(&i).await.unwrap();
    let mut s = i.clone();
    s.status = ImageStatus::Saving;
    repo.save(&s, Some(ImageStatus::Queued)).await.unwrap();
    let mut again = i.clone();
    again.status = ImageStatus::Active;
    assert_eq!(
        repo.save(&again, Some(ImageStatus::Queued)).await,
        Err(DbError::Conflict(
            "cannot transition from saving to active in update (wanted from_state=queued)".into()
        ))
    );
    assert_eq!(
        repo.get_any("cas-1").await.unwrap().status,
        ImageStatus::Saving
    );
    // Concurrent CAS: exactly one of several racing writers wins.
    let mut set = tokio::task::JoinSet::new();
    for n in 0..6 {
        let repo = repo.clone();
        let mut w = s.clone();
        w.status = ImageStatus::Active;
        w.name = Some(format!("writer-{n}"));
        set.spawn(async move { repo.save(&w, Some(ImageStatus::Saving)).await.is_ok() });
    }
    let mut wins = 0;
    while let Some(r) = set.join_next().await {
        wins += usize::from(r.unwrap());
    }
    assert_eq!(wins, 1);
}

/// `Repo::update`: concurrent read-modify-writes (and tag changes) of one
/// image lose nothing; `Keep` writes nothing, an error rolls back,
/// `Destroy` deletes and hands back the locations; missing, deleted and
/// invisible images are `NotFound`.
async fn read_modify_write(repo: &Repo) {
    let mut i = img("rmw-1", Some("p1"), Visibility::Private, 25);
    i.locations = vec![Location {
        url: "file:///rmw-1".into(),
        metadata: Default::default(),
        status: "active".into(),
        id: None,
    }];
    let created = repo.create(&i).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for n in 0..8 {
        let repo = repo.clone();
        set.spawn(async move {
            if n % 2 == 0 {
                repo.tag_add("rmw-1", &format!("tag-{n}")).await.map(|_| ())
            } else {
                repo.update("rmw-1", None, |img| {
                    img.extra_properties
                        .set(&format!("k{n}"), Some(format!("v{n}")));
                    img.tags.push(format!("tag-{n}"));
                    Ok::<_, DbError>(Update::Save(()))
                })
                .await
                .map(|_| ())
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    let after = repo.get_any("rmw-1").await.unwrap();
    assert_eq!(after.tags.len(), 8, "{:?}", after.tags);
    for n in [1, 3, 5, 7] {
        assert_eq!(
            after.extra_properties.get(&format!("k{n}")),
            Some(&Some(format!("v{n}"))),
            "{:?}",
            after.extra_properties
        );
    }
    assert!(after.updated_at > created.updated_at);
    assert_eq!(after.locations.len(), 1);

    // Keep: nothing written, the image as read comes back.
    let (seen, out) = repo
        .update("rmw-1", None, |img| {
            img.name = Some("not saved".into());
            Ok::<_, DbError>(Update::Keep(7))
        })
        .await
        .unwrap();
    assert_eq!((seen.name.as_deref(), out), (Some("not saved"), 7));
    assert_eq!(repo.get_any("rmw-1").await.unwrap(), after);
    // An error rolls back.
    let r: Result<(Image, ()), DbError> = repo
        .update("rmw-1", None, |img| {
            img.name = Some("not saved".into());
            Err(DbError::Other("refused".into()))
        })
        .await;
    assert_eq!(r.unwrap_err(), DbError::Other("refused".into()));
    assert_eq!(repo.get_any("rmw-1").await.unwrap(), after);
    // Visibility, as `get`.
    let private = |v: Viewer| {
        let repo = repo.clone();
        async move {
            repo.update("rmw-1", Some(&v), |_| Ok::<_, DbError>(Update::Keep(())))
                .await
                .map(|_| ())
        }
    };
    assert!(matches!(
        private(Viewer::project("p2")).await,
        Err(DbError::NotFound(_))
    ));
    private(Viewer::project("p1")).await.unwrap();
    // Destroy hands back what the image had, locations included.
    let (gone, ()) = repo
        .update("rmw-1", None, |_| {
            Ok::<_, DbError>(Update::Destroy(ImageStatus::Deleted, ()))
        })
        .await
        .unwrap();
    assert_eq!(gone.locations.len(), 1);
    assert_eq!(gone.locations[0].url, "file:///rmw-1");
    assert_eq!(
        scalar(
            repo.db(),
            "SELECT status FROM image_locations WHERE image_id = 'rmw-1'"
        )
        .await,
        "deleted"
    );
    for id in ["rmw-1", "rmw-missing"] {
        let r = repo
            .update(id, None, |_| Ok::<_, DbError>(Update::Save(())))
            .await;
        assert!(matches!(r, Err(DbError::NotFound(_))), "{id}: {r:?}");
    }
}

async fn destroy(repo: &Repo) {
    let db = repo.db();
    let mut i = img("del-1", Some("p1"), Visibility::Shared, 30);
    i.extra_properties.set("k", Some("v".into()));
    i.tags = vec!["t".into()];
    i.locations = vec![Location {
        url: "file:///d".into(),
        metadata: Default::default(),
        status: "active".into(),
        id: None,
    }];
    repo.create(&i).await.unwrap();
    repo.member_create("del-1", "p2").await.unwrap();
    let at = repo.destroy("del-1").await.unwrap();
    assert!(matches!(
        repo.get("del-1", &Viewer::admin()).await,
        Err(DbError::NotFound(_))
    ));
    assert_eq!(
        scalar(db, "SELECT status FROM images WHERE id = 'del-1'").await,
        "deleted"
    );
    for table in [
        "image_properties",
        "image_tags",
        "image_members",
        "image_locations",
    ] {
        assert_eq!(
            scalar(
                db,
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE image_id = 'del-1' AND deleted = false"
                )
            )
            .await,
            "0",
            "{table}"
        );
        assert_eq!(
            scalar(db, &format!("SELECT COUNT(*) FROM {table} WHERE image_id = 'del-1' AND deleted_at IS NOT NULL")).await,
            "1",
            "{table}"
        );
    }
    assert_eq!(
        scalar(
            db,
            "SELECT status FROM image_locations WHERE image_id = 'del-1'"
        )
        .await,
        "deleted"
    );
    assert!(at.micros > 0);
    assert!(matches!(
        repo.destroy("del-1").await,
        Err(DbError::NotFound(_))
    ));
    repo.create(&img("del-2", Some("p1"), Visibility::Private, 31))
        .await
        .unwrap();
    repo.destroy_as("del-2", ImageStatus::PendingDelete)
        .await
        .unwrap();
    assert_eq!(
        scalar(db, "SELECT status FROM images WHERE id = 'del-2'").await,
        "pending_delete"
    );
}

async fn members(repo: &Repo) {
    let db = repo.db();
    repo.create(&img("mem-1", Some("p1"), Visibility::Shared, 40))
        .await
        .unwrap();
    let m = repo.member_create("mem-1", "p2").await.unwrap();
    assert_eq!(
        (m.image_id.as_str(), m.member_id.as_str(), m.status),
        ("mem-1", "p2", MemberStatus::Pending)
    );
    assert!(matches!(
        repo.member_create("mem-1", "p2").await,
        Err(DbError::Duplicate(_))
    ));
    repo.member_create("mem-1", "p3").await.unwrap();
    assert_eq!(
        repo.member_list("mem-1")
            .await
            .unwrap()
            .iter()
            .map(|m| m.member_id.as_str())
            .collect::<Vec<_>>(),
        vec!["p2", "p3"]
    );
    let u = repo
        .member_update("mem-1", "p2", MemberStatus::Accepted)
        .await
        .unwrap();
    assert_eq!(u.status, MemberStatus::Accepted);
    assert_eq!(repo.member_get("mem-1", "p2").await.unwrap(), u);
    let same = repo
        .member_update("mem-1", "p2", MemberStatus::Accepted)
        .await
        .unwrap();
    assert_eq!(same.updated_at, u.updated_at);
    let row_id = scalar(
        db,
        "SELECT id FROM image_members WHERE image_id = 'mem-1' AND member = 'p2'",
    )
    .await;
    repo.member_delete("mem-1", "p2").await.unwrap();
    assert!(matches!(
        repo.member_get("mem-1", "p2").await,
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        repo.member_delete("mem-1", "p2").await,
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        repo.member_update("mem-1", "p2", MemberStatus::Rejected)
            .await,
        Err(DbError::NotFound(_))
    ));
    assert_eq!(repo.count_members("mem-1").await.unwrap(), 1);
    // Re-adding revives the same row, pending again; created_at and
    // deleted_at are kept as Glance keeps them.
    let back = repo.member_create("mem-1", "p2").await.unwrap();
    assert_eq!(back.status, MemberStatus::Pending);
    assert_eq!(back.created_at, m.created_at);
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM image_members WHERE image_id = 'mem-1' AND member = 'p2'"
        )
        .await,
        "1"
    );
    assert_eq!(
        scalar(
            db,
            "SELECT id FROM image_members WHERE image_id = 'mem-1' AND member = 'p2'"
        )
        .await,
        row_id
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM image_members WHERE image_id = 'mem-1' AND member = 'p2' AND deleted_at IS NOT NULL").await,
        "1"
    );
    assert_eq!(repo.count_members("mem-1").await.unwrap(), 2);
}

async fn tags_and_counts(repo: &Repo) {
    let mut i = img("tag-1", Some("cnt"), Visibility::Private, 50);
    i.size = Some(100);
    i.locations = vec![
        Location {
            url: "file:///a".into(),
            metadata: Default::default(),
            status: "active".into(),
            id: None,
        },
        Location {
            url: "file:///b".into(),
            metadata: Default::default(),
            status: "active".into(),
            id: None,
        },
    ];
    i.extra_properties.set("p", Some("1".into()));
    let before = repo.create(&i).await.unwrap();
    let t1 = repo.tag_add("tag-1", "one").await.unwrap();
    assert!(t1 > before.updated_at);
    repo.tag_add("tag-1", "two").await.unwrap();
    repo.tag_add("tag-1", "one").await.unwrap();
    assert_eq!(repo.tags("tag-1").await.unwrap(), vec!["one", "two"]);
    assert_eq!(repo.count_tags("tag-1").await.unwrap(), 2);
    repo.tag_delete("tag-1", "one").await.unwrap();
    assert!(matches!(
        repo.tag_delete("tag-1", "one").await,
        Err(DbError::NotFound(_))
    ));
    assert!(matches!(
        repo.tag_add("nope", "x").await,
        Err(DbError::NotFound(_))
    ));
    assert_eq!(repo.tags("tag-1").await.unwrap(), vec!["two"]);
    assert_eq!(repo.get_any("tag-1").await.unwrap().tags, vec!["two"]);
    assert_eq!(repo.count_properties("tag-1").await.unwrap(), 1);

    let mut j = img("tag-2", Some("cnt"), Visibility::Private, 51);
    j.size = Some(7);
    j.locations = vec![Location {
        url: "file:///c".into(),
        metadata: Default::default(),
        status: "active".into(),
        id: None,
    }];
    repo.create(&j).await.unwrap();
    let mut k = img("tag-3", Some("cnt"), Visibility::Private, 52);
    k.status = ImageStatus::Killed;
    k.size = Some(1000);
    repo.create(&k).await.unwrap();
    assert_eq!(repo.count_images("cnt").await.unwrap(), 2);
    assert_eq!(repo.total_size("cnt").await.unwrap(), 100 * 2 + 7);
    repo.destroy("tag-2").await.unwrap();
    assert_eq!(repo.count_images("cnt").await.unwrap(), 1);
    assert_eq!(repo.total_size("cnt").await.unwrap(), 200);
    assert_eq!(repo.count_images("nobody").await.unwrap(), 0);
    assert_eq!(repo.total_size("nobody").await.unwrap(), 0);
}

async fn atomic_properties(repo: &Repo) {
    repo.create(&img("atom-1", Some("p1"), Visibility::Private, 60))
        .await
        .unwrap();
    repo.set_property_atomic("atom-1", "os_glance_import_task", "t1")
        .await
        .unwrap();
    assert!(matches!(
        repo.set_property_atomic("atom-1", "os_glance_import_task", "t2")
            .await,
        Err(DbError::Duplicate(_))
    ));
    assert!(matches!(
        repo.delete_property_atomic("atom-1", "os_glance_import_task", "t2")
            .await,
        Err(DbError::NotFound(_))
    ));
    repo.delete_property_atomic("atom-1", "os_glance_import_task", "t1")
        .await
        .unwrap();
    repo.set_property_atomic("atom-1", "os_glance_import_task", "t3")
        .await
        .unwrap();
    assert_eq!(
        repo.get_any("atom-1")
            .await
            .unwrap()
            .extra_properties
            .get("os_glance_import_task"),
        Some(&Some("t3".into()))
    );
}

/// §5: GET by id and the list's candidate set.
async fn visibility(repo: &Repo) {
    let o = Some("vA");
    for (id, owner, vis, at) in [
        ("v-pub", o, Visibility::Public, 1000),
        ("v-priv", o, Visibility::Private, 1001),
        ("v-shr", o, Visibility::Shared, 1002),
        ("v-com", o, Visibility::Community, 1003),
        ("v-ecom", Some("vE"), Visibility::Community, 1004),
        ("v-noowner", None, Visibility::Private, 1005),
    ] {
        let mut i = img(id, owner, vis, at);
        i.tags = vec!["vis".into()];
        repo.create(&i).await.unwrap();
    }
    repo.member_create("v-shr", "vB").await.unwrap();
    repo.member_update("v-shr", "vB", MemberStatus::Accepted)
        .await
        .unwrap();
    repo.member_create("v-shr", "vC").await.unwrap();
    repo.member_create("v-shr", "vD").await.unwrap();
    repo.member_update("v-shr", "vD", MemberStatus::Rejected)
        .await
        .unwrap();
    // A member row on a private image grants nothing.
    repo.member_create("v-priv", "vE").await.unwrap();

    let admin = Viewer::admin();
    let admin_a = Viewer {
        project_id: Some("vA".into()),
        is_admin: true,
    };
    let (a, b, c, d, e) = (
        Viewer::project("vA"),
        Viewer::project("vB"),
        Viewer::project("vC"),
        Viewer::project("vD"),
        Viewer::project("vE"),
    );
    let get_ok = |v: &Viewer, id: &str| {
        let (repo, v, id) = (repo.clone(), v.clone(), id.to_string());
        async move { repo.get(&id, &v).await.is_ok() }
    };
    for (v, visible) in [
        (
            &admin,
            ["v-pub", "v-priv", "v-shr", "v-com", "v-ecom", "v-noowner"].as_slice(),
        ),
        (
            &a,
            &["v-pub", "v-priv", "v-shr", "v-com", "v-ecom", "v-noowner"],
        ),
        (&b, &["v-pub", "v-shr", "v-com", "v-ecom", "v-noowner"]),
        (&c, &["v-pub", "v-shr", "v-com", "v-ecom", "v-noowner"]),
        (&d, &["v-pub", "v-shr", "v-com", "v-ecom", "v-noowner"]),
        (&e, &["v-pub", "v-com", "v-ecom", "v-noowner"]),
        (
            &Viewer::default(),
            &["v-pub", "v-com", "v-ecom", "v-noowner"],
        ),
    ] {
        for id in ["v-pub", "v-priv", "v-shr", "v-com", "v-ecom", "v-noowner"] {
            assert_eq!(
                get_ok(v, id).await,
                visible.contains(&id),
                "GET {id} as {v:?}"
            );
        }
    }

    let l = |qs: &'static str, v: Viewer| {
        let repo = repo.clone();
        async move { sorted(ids(&repo, &format!("tag=vis&{qs}"), &v).await) }
    };
    assert_eq!(
        l("", admin.clone()).await,
        strs(&["v-pub", "v-priv", "v-shr", "v-noowner"])
    );
    assert_eq!(
        l("", admin_a.clone()).await,
        strs(&["v-pub", "v-priv", "v-shr", "v-com", "v-noowner"])
    );
    assert_eq!(l("visibility=all", admin.clone()).await.len(), 6);
    assert_eq!(
        l("", a.clone()).await,
        strs(&["v-pub", "v-priv", "v-shr", "v-com"])
    );
    assert_eq!(l("", b.clone()).await, strs(&["v-pub", "v-shr"]));
    assert_eq!(l("", c.clone()).await, strs(&["v-pub"]));
    assert_eq!(
        l("member_status=pending", c.clone()).await,
        strs(&["v-pub", "v-shr"])
    );
    assert_eq!(
        l("member_status=pending&visibility=shared", c.clone()).await,
        strs(&["v-shr"])
    );
    assert_eq!(
        l("member_status=rejected", d.clone()).await,
        strs(&["v-pub", "v-shr"])
    );
    assert_eq!(
        l("member_status=all", d.clone()).await,
        strs(&["v-pub", "v-shr"])
    );
    assert_eq!(
        l("member_status=accepted", d.clone()).await,
        strs(&["v-pub"])
    );
    assert_eq!(l("", e.clone()).await, strs(&["v-pub", "v-ecom"]));
    assert_eq!(
        l("visibility=community", b.clone()).await,
        strs(&["v-com", "v-ecom"])
    );
    assert_eq!(l("visibility=private", e.clone()).await, strs(&[]));
    assert_eq!(l("visibility=private", a.clone()).await, strs(&["v-priv"]));
    assert_eq!(l("visibility=", a.clone()).await, strs(&[]));
    assert_eq!(
        l("visibility=all&member_status=all", c.clone()).await,
        strs(&["v-pub", "v-shr", "v-com", "v-ecom"])
    );
    // Glance's quirk: a non-admin without a project sees shared images
    // that have any live member (no member condition applies).
    assert_eq!(l("", Viewer::default()).await, strs(&["v-pub", "v-shr"]));

    // Markers must exist and be visible.
    let err = |qs: &'static str, v: Viewer| {
        let repo = repo.clone();
        async move { repo.list(&query(qs), &v).await.unwrap_err() }
    };
    assert_eq!(
        err("marker=nope", a.clone()).await,
        DbError::NotFound("No image found with ID nope".into())
    );
    assert_eq!(
        err("marker=v-priv", e.clone()).await,
        DbError::Forbidden("Forbidding request, image v-priv not visible".into())
    );
    assert_eq!(
        err("marker=0123456789012345678901234567890123456789", a.clone()).await,
        DbError::NotFound("Image with the given id %(image_id)s was not found".into())
    );
    assert_eq!(
        err("marker=rt-2", a.clone()).await,
        DbError::NotFound("No image found with ID rt-2".into())
    );
    // Admins may page from a deleted image.
    repo.list(&query("marker=rt-2"), &admin).await.unwrap();
}

/// §9 filters, on images tagged `flt`.
async fn filters(repo: &Repo) {
    let p = Some("fP");
    let mk = |id: &str, at: i64| img(id, p, Visibility::Private, at);
    let mut a = mk("f-a", 2000);
    a.name = Some("alpha".into());
    a.disk_format = Some("qcow2".into());
    a.extra_properties.set("hw_disk_bus", Some("scsi".into()));
    a.tags = vec!["flt".into(), "red".into(), "big".into()];
    a.min_ram = 128;
    a.checksum = Some("aaaa".into());
    let mut b = mk("f-b", 2001);
    b.name = Some("beta,gamma".into());
    b.container_format = Some("ovf".into());
    b.extra_properties.set("hw_disk_bus", Some("virtio".into()));
    b.tags = vec!["flt".into(), "red".into()];
    b.protected = true;
    let mut c = mk("f-c", 2002);
    c.name = None;
    c.status = ImageStatus::Queued;
    c.size = None;
    c.tags = vec!["flt".into()];
    c.os_hidden = true;
    let mut k = mk("f-killed", 2003);
    k.status = ImageStatus::Killed;
    k.tags = vec!["flt".into()];
    let mut dd = mk("f-deleted", 2004);
    dd.tags = vec!["flt".into()];
    let mut e = mk("f-e", 2005);
    e.updated_at = t(2100);
    e.tags = vec!["flt".into()];
    e.extra_properties.set("hw_disk_bus", Some("scsi".into()));
    for i in [&a, &b, &c, &k, &dd, &e] {
        repo.create(i).await.unwrap();
    }
    repo.destroy("f-deleted").await.unwrap();
    // A soft-deleted property must not match.
    let mut e2 = repo.get_any("f-e").await.unwrap();
    e2.extra_properties.remove("hw_disk_bus");
    repo.save(&e2, None).await.unwrap();

    let v = Viewer::project("fP");
    let f = |qs: &'static str| {
        let (repo, v) = (repo.clone(), v.clone());
        async move { sorted(ids(&repo, &format!("tag=flt&{qs}"), &v).await) }
    };
    assert_eq!(
        f("").await,
        strs(&["f-a", "f-b", "f-e"]),
        "killed, deleted, hidden excluded"
    );
    assert_eq!(f("os_hidden=true").await, strs(&["f-c"]));
    assert_eq!(f("protected=true").await, strs(&["f-b"]));
    assert_eq!(f("protected=false").await, strs(&["f-a", "f-e"]));
    assert_eq!(f("tag=red").await, strs(&["f-a", "f-b"]));
    assert_eq!(f("tag=red&tag=big").await, strs(&["f-a"]));
    assert_eq!(f("tag=nothing").await, strs(&[]));
    assert_eq!(f("name=alpha").await, strs(&["f-a"]));
    assert_eq!(
        f("name=in:alpha,%22beta,gamma%22").await,
        strs(&["f-a", "f-b"])
    );
    assert_eq!(f("name=eq:beta,gamma").await, strs(&["f-b"]));
    assert_eq!(f("id=in:f-a,f-e,f-c").await, strs(&["f-a", "f-e"]));
    assert_eq!(f("status=queued&os_hidden=true").await, strs(&["f-c"]));
    assert_eq!(f("status=killed").await, strs(&[]));
    assert_eq!(f("disk_format=qcow2").await, strs(&["f-a"]));
    assert_eq!(f("container_format=in:ovf,docker").await, strs(&["f-b"]));
    assert_eq!(f("hw_disk_bus=scsi").await, strs(&["f-a"]));
    assert_eq!(f("hw_disk_bus=virtio&name=alpha").await, strs(&[]));
    assert_eq!(f("owner=fP").await, strs(&["f-a", "f-b", "f-e"]));
    assert_eq!(f("owner=other").await, strs(&[]));
    assert_eq!(f("checksum=aaaa").await, strs(&["f-a"]));
    assert_eq!(f("min_ram=128").await, strs(&["f-a"]));
    assert_eq!(f("size_min=20010").await, strs(&["f-b", "f-e"]));
    assert_eq!(f("size_max=20010").await, strs(&["f-a", "f-b"]));
    assert_eq!(f("size_min=20005&size_max=20015").await, strs(&["f-b"]));
    assert_eq!(f("min_ram_min=100").await, strs(&["f-a"]));
    // created_at of f-b is 2024-01-01T00:33:21Z (2001 s).
    assert_eq!(f("created_at=2024-01-01T00:33:21Z").await, strs(&["f-b"]));
    assert_eq!(
        f("created_at=eq:2024-01-01T00:33:21Z").await,
        strs(&["f-b"])
    );
    assert_eq!(
        f("created_at=gt:2024-01-01T00:33:21Z").await,
        strs(&["f-e"])
    );
    assert_eq!(
        f("created_at=gte:2024-01-01T00:33:21Z").await,
        strs(&["f-b", "f-e"])
    );
    assert_eq!(
        f("created_at=lt:2024-01-01T00:33:21Z").await,
        strs(&["f-a"])
    );
    assert_eq!(
        f("created_at=lte:2024-01-01T00:33:21%2B00:00").await,
        strs(&["f-a", "f-b"])
    );
    assert_eq!(
        f("created_at=neq:2024-01-01T00:33:21Z").await,
        strs(&["f-a", "f-e"])
    );
    assert_eq!(
        f("created_at=lt:2024-01-01T01:33:21%2B01:00").await,
        strs(&["f-a"])
    );
    // f-e was saved (updated_at now); the others still have created_at.
    assert_eq!(f("updated_at=gt:2025-01-01T00:00:00").await, strs(&["f-e"]));
    assert_eq!(f("limit=1").await.len(), 1);
    assert_eq!(f("limit=0").await.len(), 0);
}

/// Every sort key with both directions, and pages with ties.
async fn sorting_and_pages(repo: &Repo) {
    let owner = "pg";
    // 30 images, created_at in groups of three equal values, names in
    // groups of five, sizes in groups of four.
    for n in 0..30i64 {
        let mut i = img(
            &format!("pg-{n:02}"),
            Some(owner),
            Visibility::Private,
            3000 + n / 3,
        );
        i.name = Some(format!("n{}", n % 5));
        i.size = Some(n / 4);
        i.status = if n % 2 == 0 {
            ImageStatus::Active
        } else {
            ImageStatus::Queued
        };
        i.disk_format = Some(if n % 3 == 0 { "raw" } else { "qcow2" }.into());
        i.container_format = Some(if n % 4 == 0 { "bare" } else { "ovf" }.into());
        i.updated_at = t(5000 - n / 2);
        i.tags = vec!["pages".into()];
        repo.create(&i).await.unwrap();
    }
    let v = Viewer::project(owner);
    let all = repo.list(&query("tag=pages&limit=1000"), &v).await.unwrap();
    assert_eq!(all.len(), 30);
    // Default order: created_at desc, id desc.
    let mut expect: Vec<&Image> = all.iter().collect();
    expect.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    assert_eq!(
        all.iter().map(|i| &i.id).collect::<Vec<_>>(),
        expect.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    for sort in [
        "",
        "sort=name:asc",
        "sort=name:desc,size:asc",
        "sort=status:asc,disk_format:desc",
        "sort=container_format:desc",
        "sort=size:desc",
        "sort=id:asc",
        "sort=created_at:asc",
        "sort=updated_at:desc",
        "sort=updated_at:asc,name:desc",
        "sort_key=name&sort_key=size&sort_dir=asc",
        "sort_key=disk_format&sort_dir=desc",
    ] {
        let full = ids(repo, &format!("tag=pages&limit=1000&{sort}"), &v).await;
        assert_eq!(full.len(), 30, "{sort}");
        // Rust-side check of the order: key tuples are monotonic.
        let q = query(&format!("tag=pages&{sort}"));
        let imgs = repo
            .list(&query(&format!("tag=pages&limit=1000&{sort}")), &v)
            .await
            .unwrap();
        for w in imgs.windows(2) {
            let mut ord = std::cmp::Ordering::Equal;
            for (k, dir) in &q.sort {
                let key = |i: &Image| -> (Option<i64>, String) {
                    match *k {
                        "name" => (None, i.name.clone().unwrap_or_default()),
                        "status" => (None, i.status.as_str().to_string()),
                        "container_format" => {
                            (None, i.container_format.clone().unwrap_or_default())
                        }
                        "disk_format" => (None, i.disk_format.clone().unwrap_or_default()),
                        "size" => (i.size, String::new()),
                        "id" => (None, i.id.clone()),
                        "created_at" => (Some(i.created_at.micros), String::new()),
                        _ => (Some(i.updated_at.micros), String::new()),
                    }
                };
                let o = key(&w[0]).cmp(&key(&w[1]));
                let o = if *dir == glimpse_domain::SortDir::Desc {
                    o.reverse()
                } else {
                    o
                };
                if o != std::cmp::Ordering::Equal {
                    ord = o;
                    break;
                }
            }
            assert_eq!(
                ord,
                std::cmp::Ordering::Less,
                "{sort}: {} then {}",
                w[0].id,
                w[1].id
            );
        }
        // Pages of 7 after markers give the same sequence.
        let mut paged = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let qs = match &marker {
                Some(m) => format!("tag=pages&limit=7&{sort}&marker={m}"),
                None => format!("tag=pages&limit=7&{sort}"),
            };
            let page = ids(repo, &qs, &v).await;
            paged.extend(page.iter().cloned());
            if page.len() < 7 {
                break;
            }
            marker = page.last().cloned();
        }
        assert_eq!(paged, full, "pages for {sort:?}");
    }
    // NULLs in a nullable sort key: SQLite and MySQL sort them first
    // ascending, the keyset maps them to '' (consistent there); PostgreSQL
    // sorts them last, where Glance's pagination is inconsistent too.
    if repo.db().backend() != Backend::Postgres {
        for n in 0..4 {
            let mut i = img(
                &format!("pg-null-{n}"),
                Some(owner),
                Visibility::Private,
                3100,
            );
            i.name = None;
            i.tags = vec!["pages".into()];
            repo.create(&i).await.unwrap();
        }
        let full = ids(repo, "tag=pages&limit=1000&sort=name:asc", &v).await;
        assert!(full[..4].iter().all(|i| i.starts_with("pg-null-")));
        let mut paged = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let qs = match &marker {
                Some(m) => format!("tag=pages&limit=3&sort=name:asc&marker={m}"),
                None => "tag=pages&limit=3&sort=name:asc".to_string(),
            };
            let page = ids(repo, &qs, &v).await;
            paged.extend(page.iter().cloned());
            if page.len() < 3 {
                break;
            }
            marker = page.last().cloned();
        }
        assert_eq!(paged, full);
    }
}

// --- per backend -----------------------------------------------------

#[tokio::test]
async fn sqlite_suite() {
    let dir = scratch_dir();
    let db = open(&format!("sqlite:///{}/g.sqlite", dir.display())).await;
    suite(&db).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_suite() {
    on_postgres("glimpse_images", |db| async move { suite(&db).await }).await;
}

#[tokio::test]
async fn mysql_suite() {
    on_mysql("glimpse_images", |db| async move { suite(&db).await }).await;
}

// --- SQLite: indexes and timings with 100,000 images ------------------

#[tokio::test]
async fn sqlite_hundred_thousand_images_use_the_indexes() {
    let dir = scratch_dir();
    let db = open(&format!("sqlite:///{}/big.sqlite", dir.display())).await;
    glimpse_db::sync(&db).await.unwrap();
    let n_images = 100_000i64;
    let started = Instant::now();
    let mut tx = db.begin_write().await.unwrap();
    let mut values = Vec::with_capacity(500);
    for n in 0..n_images {
        // Two images per second, 100 owners, one in ten public.
        let created = glimpse_db::images::sql_timestamp(t(n / 2));
        let vis = if n % 10 == 0 {
            "public"
        } else if n % 10 == 1 {
            "shared"
        } else {
            "private"
        };
        values.push(format!(
            "('img-{n:06}', 'name-{}', {n}, 'active', '{created}', '{created}', 0, 'raw', 'bare', \
             'proj-{}', 0, 0, 0, '{vis}', 0)",
            n % 977,
            n % 100
        ));
        if values.len() == 500 || n == n_images - 1 {
            tx.execute(&format!(
                "INSERT INTO images (id, name, size, status, created_at, updated_at, deleted, \
                 disk_format, container_format, owner, min_disk, min_ram, protected, visibility, \
                 os_hidden) VALUES {}",
                values.join(", ")
            ))
            .await
            .unwrap();
            values.clear();
        }
    }
    tx.execute("INSERT INTO image_members (image_id, member, can_share, created_at, updated_at, deleted, status) \
                SELECT id, 'proj-7', 0, created_at, created_at, 0, 'accepted' FROM images WHERE visibility = 'shared' AND owner = 'proj-1'")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    eprintln!("inserted {n_images} images in {:?}", started.elapsed());

    let repo = Repo::new(db.clone());
    let admin = Viewer {
        project_id: Some("proj-0".into()),
        is_admin: true,
    };
    let user = Viewer::project("proj-7");
    // Image n = 10,000 sits about 90,000 rows down the default order.
    let deep = "marker=img-010000";
    for (what, qs, v) in [
        ("admin first page", "", &admin),
        ("admin deep marker page", deep, &admin),
        ("user first page", "", &user),
        ("user deep marker page", deep, &user),
        (
            "user name asc, deep marker",
            "sort=name:asc&marker=img-010000",
            &user,
        ),
    ] {
        let q = query(qs);
        let plan = repo.explain_list(&q, v).await.unwrap();
        let started = Instant::now();
        let page = repo.list(&q, v).await.unwrap();
        let took = started.elapsed();
        eprintln!("{what}: {} images in {took:?}; plan: {plan:?}", page.len());
        assert_eq!(page.len(), 25, "{what}");
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
        if qs.is_empty() || qs == deep {
            let plan = plan.join(" | ");
            assert!(plan.contains("created_at_image_idx"), "{what}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE FOR ORDER BY"),
                "{what}: full sort: {plan}"
            );
        }
    }
    // The deep page continues exactly where the order says.
    let page = ids(&repo, deep, &admin).await;
    assert_eq!(page[0], "img-009999");
    assert_eq!(page[1], "img-009998");
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

// --- Python Glance 33 reads Glimpse's rows and vice versa --------------

fn glance_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var_os("GLIMPSE_GLANCE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/venv"));
    let py = venv.join("bin/python");
    if py.exists() {
        Some(py)
    } else {
        eprintln!(
            "\n!!!! SKIPPED: no Glance venv at {} (run scripts/test-env.sh or set \
             GLIMPSE_GLANCE_VENV); the Python Glance cross-compatibility test did not run.\n",
            venv.display()
        );
        None
    }
}

fn glance_db(py: &PathBuf, url: &str, args: &[&str]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/glance_db.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "glance_db.py {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null)
}

/// Glimpse's image as the Python script prints one.
fn as_glance_json(i: &Image, members: &[(String, String)]) -> serde_json::Value {
    let ts = |t: Timestamp| glimpse_db::images::sql_timestamp(t);
    serde_json::json!({
        "id": i.id, "name": i.name, "status": i.status.as_str(),
        "visibility": i.visibility.as_str(), "protected": i.protected,
        "os_hidden": i.os_hidden, "checksum": i.checksum,
        "os_hash_algo": i.os_hash_algo, "os_hash_value": i.os_hash_value,
        "owner": i.owner, "size": i.size, "virtual_size": i.virtual_size,
        "disk_format": i.disk_format, "container_format": i.container_format,
        "min_ram": i.min_ram, "min_disk": i.min_disk,
        "created_at": ts(i.created_at), "updated_at": ts(i.updated_at),
        "deleted": false,
        "properties": serde_json::to_value(&i.extra_properties).unwrap(),
        "tags": i.tags,
        "locations": i.locations.iter().map(|l| serde_json::json!({
            "url": l.url, "metadata": l.metadata, "status": l.status
        })).collect::<Vec<_>>(),
        "members": members.iter().map(|(m, s)| serde_json::json!([m, s])).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn python_glance_reads_glimpse_rows_and_back() {
    let Some(py) = glance_python() else { return };
    let dir = scratch_dir();
    let path = dir.join("x.sqlite");
    let db = open(&format!("sqlite:///{}", path.display())).await;
    glimpse_db::sync(&db).await.unwrap();
    let repo = Repo::new(db.clone());

    let mut a = img("gx-a", Some("pA"), Visibility::Shared, 1);
    a.created_at.micros += 654_321;
    a.checksum = Some("0".repeat(32));
    a.os_hash_algo = Some("sha512".into());
    a.os_hash_value = Some("f".repeat(128));
    a.virtual_size = Some(1 << 33);
    a.min_ram = 64;
    a.protected = true;
    a.tags = vec!["one".into(), "two".into()];
    a.extra_properties.set("hw_disk_bus", Some("scsi".into()));
    a.extra_properties.set("gone", Some("soon".into()));
    a.extra_properties.set("nul", None);
    let mut meta = serde_json::Map::new();
    meta.insert("store".into(), "fast".into());
    a.locations = vec![Location {
        url: "file:///var/lib/glance/images/gx-a".into(),
        metadata: meta,
        status: "active".into(),
        id: None,
    }];
    let a = repo.create(&a).await.unwrap();
    let mut a2 = a.clone();
    a2.extra_properties.remove("gone");
    a2.tags = vec!["two".into(), "three".into()];
    let a = repo.save(&a2, Some(ImageStatus::Active)).await.unwrap();
    repo.member_create("gx-a", "pB").await.unwrap();
    repo.member_update("gx-a", "pB", MemberStatus::Accepted)
        .await
        .unwrap();
    repo.member_create("gx-a", "pC").await.unwrap();
    repo.member_delete("gx-a", "pC").await.unwrap();
    let b = repo
        .create(&img("gx-b", None, Visibility::Public, 2))
        .await
        .unwrap();
    repo.create(&img("gx-c", Some("pA"), Visibility::Private, 3))
        .await
        .unwrap();
    repo.destroy("gx-c").await.unwrap();

    let url = format!("sqlite:///{}", path.display());
    let seen = glance_db(&py, &url, &["read", "gx-a", "gx-b", "gx-c"]);
    assert_eq!(
        seen["gx-a"],
        as_glance_json(&a, &[("pB".into(), "accepted".into())])
    );
    assert_eq!(seen["gx-b"], as_glance_json(&b, &[]));
    assert_eq!(seen["gx-c"]["deleted"], true);
    assert_eq!(seen["gx-c"]["status"], "deleted");
    let ours: Vec<String> = ids(&repo, "", &Viewer::admin()).await;
    assert_eq!(seen["_list"], serde_json::json!(ours));

    // And the other way round: an image written by Glance.
    let spec = serde_json::json!({
        "image": {
            "id": "py-1", "name": "from python", "status": "active",
            "visibility": "community", "owner": "pP", "size": 5,
            "virtual_size": 9, "disk_format": "qcow2", "container_format": "bare",
            "min_ram": 1, "min_disk": 2, "protected": false, "os_hidden": false,
            "checksum": "abc", "os_hash_algo": "sha512", "os_hash_value": "def",
            "properties": {"a": "1", "b": "ü"},
            "locations": [{"url": "file:///py", "metadata": {"k": [1, 2]}, "status": "active"}]
        },
        "tags": ["t1", "t2"],
        "members": [["pM", "rejected"]]
    });
    glance_db(&py, &url, &["write", &spec.to_string()]);
    let p = repo.get("py-1", &Viewer::project("someone")).await.unwrap();
    let mut expect = Image::new(
        "py-1".into(),
        Timestamp::from_utc(2024, 5, 6, 7, 8, 9, 123_456).unwrap(),
    );
    expect.name = Some("from python".into());
    expect.status = ImageStatus::Active;
    expect.visibility = Visibility::Community;
    expect.owner = Some("pP".into());
    expect.size = Some(5);
    expect.virtual_size = Some(9);
    expect.disk_format = Some("qcow2".into());
    expect.container_format = Some("bare".into());
    expect.min_ram = 1;
    expect.min_disk = 2;
    expect.checksum = Some("abc".into());
    expect.os_hash_algo = Some("sha512".into());
    expect.os_hash_value = Some("def".into());
    expect.extra_properties.set("a", Some("1".into()));
    expect.extra_properties.set("b", Some("ü".into()));
    expect.tags = vec!["t1".into(), "t2".into()];
    let mut meta = serde_json::Map::new();
    meta.insert("k".into(), serde_json::json!([1, 2]));
    expect.locations = vec![Location {
        url: "file:///py".into(),
        metadata: meta,
        status: "active".into(),
        id: p.locations.first().and_then(|l| l.id),
    }];
    assert_eq!(p, expect);
    let members = repo.member_list("py-1").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].member_id.as_str(), members[0].status),
        ("pM", MemberStatus::Rejected)
    );
    // Glimpse can then update and page over Glance's rows.
    let mut u = p.clone();
    u.extra_properties.remove("a");
    repo.save(&u, Some(ImageStatus::Active)).await.unwrap();
    let again = glance_db(&py, &url, &["read", "py-1"]);
    assert_eq!(again["py-1"]["properties"], serde_json::json!({"b": "ü"}));
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
