//! The metadata-definition repository against real databases: one suite on
//! SQLite always, and on PostgreSQL and MariaDB/MySQL when they answer
//! (scratch databases, dropped afterwards; a loud SKIPPED otherwise):
//! namespaces with children in one transaction, duplicates, visibility,
//! keyset pages, renames, bulk tag replace/append, cascading deletes and
//! the seed loader's merge modes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{on_mysql, on_postgres, open, scalar, scratch_dir};
use glimpse_db::images::Repo;
use glimpse_db::metadefs::load::MergeMode;
use glimpse_db::metadefs::{Children, NamespaceQuery, NewChildren};
use glimpse_db::{Db, DbError};
use glimpse_domain::metadefs::{Association, Namespace, NamespaceFields, ObjectFields};
use serde_json::{Map, Value, json};

fn fields(name: &str, owner: &str, vis: &str) -> NamespaceFields {
    NamespaceFields {
        namespace: name.into(),
        display_name: Some(format!("{name} display")),
        description: None,
        visibility: vis.into(),
        protected: false,
        owner: owner.into(),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn assoc(name: &str, prefix: Option<&str>) -> Association {
    Association {
        name: name.into(),
        prefix: prefix.map(str::to_string),
        properties_target: None,
        created_at: None,
        updated_at: None,
    }
}

async fn names(repo: &Repo, q: NamespaceQuery) -> Vec<String> {
    repo.metadefs()
        .ns_list(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.namespace)
        .collect()
}

fn query(viewer: Option<&str>, sort_key: &str, desc: bool, limit: i64) -> NamespaceQuery {
    NamespaceQuery {
        viewer_project: viewer.map(|p| Some(p.to_string())),
        limit,
        sort_key: sort_key.into(),
        sort_desc: desc,
        ..Default::default()
    }
}

async fn suite(db: Db) {
    glimpse_db::sync(&db).await.unwrap();
    let repo = Repo::new(db.clone());
    let md = repo.metadefs();

    // A namespace and its children, all at once.
    let kids = NewChildren {
        associations: vec![assoc("Z::Type", Some("z_")), assoc("A::Type", None)],
        objects: vec![ObjectFields {
            name: "o1".into(),
            description: Some("d".into()),
            required: vec!["a".into(), "b".into()],
            properties: obj(json!({"a": {"type": "string", "title": "A"}})),
        }],
        tags: vec!["t1".into(), "t2".into()],
        properties: vec![("p1".into(), obj(json!({"type": "integer", "title": "P"})))],
    };
    let ns = md
        .ns_create(&fields("ns-a", "p1", "private"), &kids)
        .await
        .unwrap();
    assert_eq!(ns.updated_at, Some(ns.created_at));
    let got = md.ns_get("ns-a").await.unwrap().unwrap();
    assert_eq!((got.owner.as_str(), got.protected), ("p1", Some(false)));
    let assocs = md
        .associations(&[got.id])
        .await
        .unwrap()
        .remove(&got.id)
        .unwrap();
    // Insertion order on SQLite and PostgreSQL, key order on MySQL (as
    // Glance's unordered query gives).
    let mut an: Vec<&str> = assocs.iter().map(|a| a.name.as_str()).collect();
    if db.backend() == glimpse_db::Backend::MySql {
        an.sort_by_key(|n| if *n == "Z::Type" { 0 } else { 1 });
    }
    assert_eq!(an, ["Z::Type", "A::Type"]);
    let o = md.object_get(&got, "o1").await.unwrap().unwrap();
    assert_eq!(o.required, ["a", "b"]);
    assert_eq!(
        o.properties,
        obj(json!({"a": {"type": "string", "title": "A"}}))
    );
    assert_eq!(md.properties(&got).await.unwrap().len(), 1);
    let tags: Vec<String> = md
        .tags(&got, None, None, "name", false)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tags, ["t1", "t2"]);

    // Duplicates: the namespace, and a child's duplicate undoes everything.
    let e = md
        .ns_create(&fields("ns-a", "p1", "private"), &NewChildren::default())
        .await;
    assert!(
        matches!(e, Err(DbError::Duplicate(m)) if m == "The metadata definition namespace=ns-a already exists.")
    );
    let dup_kids = NewChildren {
        tags: vec!["x".into(), "x".into()],
        ..Default::default()
    };
    assert!(matches!(
        md.ns_create(&fields("ns-dup", "p1", "public"), &dup_kids)
            .await,
        Err(DbError::Duplicate(_))
    ));
    assert!(md.ns_get("ns-dup").await.unwrap().is_none());

    // Visibility and keyset pages.
    for (n, owner, vis) in [
        ("ns-b", "p2", "public"),
        ("ns-c", "p2", "private"),
        ("ns-d", "p1", "public"),
    ] {
        md.ns_create(&fields(n, owner, vis), &NewChildren::default())
            .await
            .unwrap();
    }
    assert_eq!(
        names(&repo, query(None, "namespace", false, 10)).await,
        ["ns-a", "ns-b", "ns-c", "ns-d"]
    );
    assert_eq!(
        names(&repo, query(Some("p1"), "namespace", false, 10)).await,
        ["ns-a", "ns-b", "ns-d"]
    );
    assert_eq!(
        names(&repo, query(Some("p3"), "namespace", true, 10)).await,
        ["ns-d", "ns-b"]
    );
    let mut q = query(None, "namespace", false, 2);
    q.marker = md.ns_get("ns-b").await.unwrap();
    assert_eq!(names(&repo, q).await, ["ns-c", "ns-d"]);
    let mut q = query(None, "created_at", true, 10);
    q.marker = md.ns_get("ns-c").await.unwrap();
    assert_eq!(names(&repo, q).await, ["ns-b", "ns-a"]);
    let mut q = query(None, "namespace", false, 10);
    q.resource_types = vec!["A::Type".into()];
    assert_eq!(names(&repo, q).await, ["ns-a"]);
    let mut q = query(None, "namespace", false, 10);
    q.visibility = Some("public".into());
    assert_eq!(names(&repo, q).await, ["ns-b", "ns-d"]);

    // Rename keeps the children; onto a taken name is refused.
    let e = md.ns_update(&got, &fields("ns-b", "p1", "private")).await;
    assert!(matches!(e, Err(DbError::Duplicate(_))));
    md.ns_update(&got, &fields("ns-a2", "p1", "public"))
        .await
        .unwrap();
    let renamed: Namespace = md.ns_get("ns-a2").await.unwrap().unwrap();
    assert_eq!(renamed.id, got.id);
    assert!(renamed.updated_at.is_some());
    assert!(md.object_get(&renamed, "o1").await.unwrap().is_some());

    // Objects, properties and tags.
    let mut of = ObjectFields {
        name: "o2".into(),
        ..Default::default()
    };
    md.object_create(&renamed, &of).await.unwrap();
    assert!(matches!(
        md.object_create(&renamed, &of).await,
        Err(DbError::Duplicate(_))
    ));
    let o2 = md.object_get(&renamed, "o2").await.unwrap().unwrap();
    of.name = "o1".into();
    assert!(matches!(
        md.object_update(&renamed, &o2, &of).await,
        Err(DbError::Duplicate(_))
    ));
    of.name = "o3".into();
    md.object_update(&renamed, &o2, &of).await.unwrap();
    let objs: Vec<String> = md
        .objects(&renamed)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(objs, ["o1", "o3"]);
    assert!(md.object_delete(&renamed, "o3").await.unwrap());
    assert!(!md.object_delete(&renamed, "o3").await.unwrap());
    let p = md.property_get(&renamed, "p1").await.unwrap().unwrap();
    md.property_update(
        &renamed,
        &p,
        "p2",
        &obj(json!({"type": "string", "title": "Q"})),
    )
    .await
    .unwrap();
    assert!(md.property_get(&renamed, "p1").await.unwrap().is_none());
    md.tags_create(&renamed, &["t3".into()], true)
        .await
        .unwrap();
    assert_eq!(
        md.tags(&renamed, None, None, "created_at", true)
            .await
            .unwrap()
            .len(),
        3
    );
    // A failing bulk create changes nothing.
    assert!(matches!(
        md.tags_create(&renamed, &["n1".into(), "n1".into()], false)
            .await,
        Err(DbError::Duplicate(_))
    ));
    assert_eq!(
        md.tags(&renamed, None, None, "created_at", true)
            .await
            .unwrap()
            .len(),
        3
    );
    md.tags_create(&renamed, &["n1".into(), "n2".into()], false)
        .await
        .unwrap();
    let t: Vec<String> = md
        .tags(&renamed, Some("n1"), Some(5), "name", false)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(t, ["n2"]);
    assert!(matches!(
        md.tags(&renamed, Some("gone"), None, "name", false).await,
        Err(DbError::NotFound(_))
    ));
    let n1 = md.tag_get(&renamed, "n1").await.unwrap().unwrap();
    assert!(matches!(
        md.tag_update(&renamed, &n1, "n2").await,
        Err(DbError::Duplicate(_))
    ));
    md.tag_update(&renamed, &n1, "n9").await.unwrap();
    md.ns_delete_children(&renamed, Children::Tags)
        .await
        .unwrap();
    assert!(
        md.tags(&renamed, None, None, "created_at", true)
            .await
            .unwrap()
            .is_empty()
    );

    // Associations create the type when new; deletes keep the type.
    let a = md
        .assoc_create(&renamed, &assoc("New::Type", Some("n_")))
        .await
        .unwrap();
    assert_eq!(a.created_at, a.updated_at);
    assert!(matches!(
        md.assoc_create(&renamed, &assoc("New::Type", None)).await,
        Err(DbError::Duplicate(_))
    ));
    md.assoc_delete(&renamed, "New::Type").await.unwrap();
    let types: Vec<String> = md
        .resource_types()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(types, ["Z::Type", "A::Type", "New::Type"]);

    // A namespace delete takes every child row with it.
    md.ns_delete(&renamed).await.unwrap();
    assert!(md.ns_get("ns-a2").await.unwrap().is_none());
    for table in [
        "metadef_objects",
        "metadef_properties",
        "metadef_tags",
        "metadef_namespace_resource_types",
    ] {
        let n = scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, "0", "{table}");
    }

    seeds(&repo).await;
}

/// The seed loader: defaults, skip, merge, prefer_new, overwrite.
async fn seeds(repo: &Repo) {
    let md = repo.metadefs();
    let dir = scratch_dir();
    let write = |v: Value| std::fs::write(dir.join("seed.json"), v.to_string()).unwrap();
    write(json!({
        "namespace": "S::One", "display_name": "One", "protected": true,
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "s_"}],
        "properties": {"p": {"title": "P", "type": "integer", "default": 3}},
        "objects": [{"name": "obj", "required": ["p"], "properties": {"q": {"title": "Q", "type": "string"}}}],
        "tags": [{"name": "tag"}]
    }));
    std::fs::write(dir.join("broken.json"), "{").unwrap();
    std::fs::write(dir.join("README"), "not json").unwrap();
    let r = md.load_metadefs(&dir, MergeMode::default()).await.unwrap();
    assert_eq!(r.loaded, ["S::One"]);
    assert_eq!(r.failed.len(), 1);
    let ns = md.ns_get("S::One").await.unwrap().unwrap();
    assert_eq!(
        (ns.owner.as_str(), ns.visibility.as_deref(), ns.updated_at),
        ("admin", None, None)
    );
    let o = md.object_get(&ns, "obj").await.unwrap().unwrap();
    assert!(
        o.required.is_empty(),
        "Glance's loader leaves `required` out"
    );
    let p = md.property_get(&ns, "p").await.unwrap().unwrap();
    assert_eq!(
        p.schema["default"],
        json!(3),
        "stored raw, stringified on output"
    );

    // Again: skipped; with merge, new children are added.
    let r = md.load_metadefs(&dir, MergeMode::default()).await.unwrap();
    assert_eq!(r.skipped, ["S::One"]);
    write(
        json!({"namespace": "S::One", "display_name": "Two", "tags": [{"name": "tag"}, {"name": "tag2"}]}),
    );
    let merge = MergeMode {
        merge: true,
        ..Default::default()
    };
    assert_eq!(
        md.load_metadefs(&dir, merge).await.unwrap().merged,
        ["S::One"]
    );
    assert_eq!(
        md.tags(&ns, None, None, "name", false).await.unwrap().len(),
        2
    );
    assert_eq!(
        md.ns_get("S::One")
            .await
            .unwrap()
            .unwrap()
            .display_name
            .as_deref(),
        Some("One")
    );
    let prefer = MergeMode {
        merge: true,
        prefer_new: true,
        overwrite: false,
    };
    md.load_metadefs(&dir, prefer).await.unwrap();
    let ns2 = md.ns_get("S::One").await.unwrap().unwrap();
    assert_eq!(ns2.display_name.as_deref(), Some("Two"));
    assert!(ns2.updated_at.is_some());
    let over = MergeMode {
        merge: true,
        prefer_new: false,
        overwrite: true,
    };
    md.load_metadefs(&dir, over).await.unwrap();
    let ns3 = md.ns_get("S::One").await.unwrap().unwrap();
    assert!(
        md.object_get(&ns3, "obj").await.unwrap().is_none(),
        "overwrite starts afresh"
    );
    assert_eq!(
        md.tags(&ns3, None, None, "name", false)
            .await
            .unwrap()
            .len(),
        2
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sqlite_suite() {
    let dir = scratch_dir();
    let db = open(&format!("sqlite:///{}/md.sqlite", dir.display())).await;
    suite(db.clone()).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_suite() {
    on_postgres("glimpse_metadefs", suite).await;
}

#[tokio::test]
async fn mysql_suite() {
    on_mysql("glimpse_metadefs", suite).await;
}
