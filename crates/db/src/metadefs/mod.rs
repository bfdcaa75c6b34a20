//! The metadata-definition repository (`glance.db.sqlalchemy.metadef_api`):
//! namespaces, their resource-type associations, objects, properties and
//! tags in Glance 33's six `metadef_*` tables, read and written as
//! [`glimpse_domain::metadefs`] types, on the same pool and SQL toolkit as
//! the image repository.
//!
//! Differences from Glance, deliberate:
//! - a namespace created with children is written in one transaction (Glance
//!   uses one per child and deletes the namespace when a child fails, which
//!   leaves the resource types it created behind);
//! - renaming an object or property onto an existing name is a clean
//!   `Duplicate` (Glance means to say 409 and fails with a 500).
//!
//! Child rows are read in name order (objects, properties; id order on
//! MySQL), insertion order (associations) and newest first (tags), which
//! is what Glance's queries give in practice on each backend; no order is
//! promised there (on MySQL, Glance's association order changes with the
//! optimizer's plan).
//!
//! [`load`] is `glance-manage db_load_metadefs`.

pub mod load;

use std::collections::HashMap;

use glimpse_domain::metadefs::{
    Association, MetaObject, Namespace, NamespaceFields, ObjectFields, Property, ResourceType, Tag,
    required_from_column,
};
use glimpse_domain::py::Timestamp;
use serde_json::{Map, Value};

use crate::DbError;
use crate::images::Repo;
use crate::images::sql::{Conn, Dialect, Kind, Sql, Val, fetch, keyset, now, order_by, run};

/// Sort columns a namespace list accepts.
pub const NAMESPACE_SORT_KEYS: &[&str] = &[
    "id",
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "created_at",
    "updated_at",
];

/// Sort columns a tag list accepts.
pub const TAG_SORT_KEYS: &[&str] = &["id", "namespace_id", "name", "created_at", "updated_at"];

/// What a namespace list asks for.
#[derive(Clone, Debug, Default)]
pub struct NamespaceQuery {
    /// `None` for an admin (sees every namespace).
    pub viewer_project: Option<Option<String>>,
    pub visibility: Option<String>,
    pub resource_types: Vec<String>,
    pub marker: Option<Namespace>,
    pub limit: i64,
    pub sort_key: String,
    pub sort_desc: bool,
}

/// Which children a bulk delete removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Children {
    Objects,
    Properties,
    Tags,
}

impl Children {
    fn table(self) -> &'static str {
        match self {
            Children::Objects => "metadef_objects",
            Children::Properties => "metadef_properties",
            Children::Tags => "metadef_tags",
        }
    }
}

/// The children a namespace is created with.
#[derive(Clone, Debug, Default)]
pub struct NewChildren {
    pub associations: Vec<Association>,
    pub objects: Vec<ObjectFields>,
    pub tags: Vec<String>,
    /// `(name, stored PropertyType)`.
    pub properties: Vec<(String, Map<String, Value>)>,
}

const NS_KINDS: &[Kind] = &[
    Kind::Int32,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Bool,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];

fn ns_select(d: Dialect) -> String {
    format!(
        "SELECT id, namespace, display_name, description, visibility, protected, owner, {}, {} \
         FROM metadef_namespaces",
        d.ts_out("created_at"),
        d.ts_out("updated_at")
    )
}

fn ts_required(v: &Val) -> Result<Timestamp, DbError> {
    Ok(v.ts()?.unwrap_or_default())
}

fn namespace_from_row(r: &[Val]) -> Result<Namespace, DbError> {
    let text = |i: usize| r.get(i).and_then(Val::text);
    Ok(Namespace {
        id: r.first().and_then(Val::int).unwrap_or(0),
        namespace: text(1).unwrap_or_default(),
        display_name: text(2),
        description: text(3),
        visibility: text(4),
        protected: match r.get(5) {
            Some(Val::Bool(b)) => *b,
            Some(v) => v.int().map(|i| i != 0),
            None => None,
        },
        owner: text(6).unwrap_or_default(),
        created_at: ts_required(&r[7])?,
        updated_at: r[8].ts()?,
    })
}

fn dup_namespace(name: &str) -> DbError {
    DbError::Duplicate(format!(
        "The metadata definition namespace={name} already exists."
    ))
}

fn dup_object(ns: &str, name: &str) -> DbError {
    DbError::Duplicate(format!(
        "A metadata definition object with name={name} already exists in namespace={ns}."
    ))
}

fn dup_property(ns: &str, name: &str) -> DbError {
    DbError::Duplicate(format!(
        "A metadata definition property with name={name} already exists in namespace={ns}."
    ))
}

fn dup_tag(ns: &str, name: &str) -> DbError {
    DbError::Duplicate(format!(
        "A metadata tag with name={name} already exists in namespace={ns}. (Please note that \
         metadata tag names are case insensitive)."
    ))
}

fn dup_association(ns: &str, rt: &str) -> DbError {
    DbError::Duplicate(format!(
        "The metadata definition resource-type association of resource-type={rt} to \
         namespace={ns} already exists."
    ))
}

/// Binds a namespace column's value from the marker row.
fn bind_ns_column(q: &mut Sql, ns: &Namespace, col: &str) {
    match col {
        "id" => {
            q.int(ns.id);
        }
        "namespace" => {
            q.text(ns.namespace.clone());
        }
        "display_name" => {
            q.opt_text(ns.display_name.as_deref());
        }
        "description" => {
            q.opt_text(ns.description.as_deref());
        }
        "visibility" => {
            q.opt_text(ns.visibility.as_deref());
        }
        "protected" => match ns.protected {
            Some(p) => {
                q.bool(p);
            }
            None => {
                q.push("NULL");
            }
        },
        "owner" => {
            q.text(ns.owner.clone());
        }
        "created_at" => {
            q.ts(ns.created_at);
        }
        _ => {
            q.opt_ts(ns.updated_at);
        }
    }
}

/// The order of a namespace's objects or properties, as Glance's unordered
/// query returns them: by name (the `(namespace_id, name)` unique index)
/// on SQLite and PostgreSQL, by id (InnoDB's clustered key) on MySQL.
fn child_order(d: Dialect) -> &'static str {
    match d.0 {
        crate::Backend::MySql => "id",
        _ => "name",
    }
}

/// Glance's sort list: `sort_key` before `created_at, id`, unless it is one
/// of those two.
fn sort_keys(first: &str) -> Vec<&str> {
    if first == "created_at" || first == "id" {
        vec!["created_at", "id"]
    } else {
        vec![first, "created_at", "id"]
    }
}

const OBJ_KINDS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];

fn object_from_row(r: &[Val]) -> Result<MetaObject, DbError> {
    let text = |i: usize| r.get(i).and_then(Val::text);
    let properties = text(3)
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    Ok(MetaObject {
        name: text(0).unwrap_or_default(),
        description: text(1),
        required: required_from_column(text(2).as_deref()),
        properties,
        created_at: ts_required(&r[4])?,
        updated_at: r[5].ts()?,
    })
}

fn property_from_row(r: &[Val]) -> Property {
    let text = |i: usize| r.get(i).and_then(Val::text);
    Property {
        name: text(0).unwrap_or_default(),
        schema: text(1)
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default(),
    }
}

fn tag_from_row(r: &[Val]) -> Result<Tag, DbError> {
    Ok(Tag {
        name: r.first().and_then(Val::text).unwrap_or_default(),
        created_at: ts_required(&r[1])?,
        updated_at: r[2].ts()?,
    })
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

/// The metadata-definition half of the repository: `repo.metadefs()`.
#[derive(Clone, Copy, Debug)]
pub struct Metadefs<'a>(&'a Repo);

impl Repo {
    pub fn metadefs(&self) -> Metadefs<'_> {
        Metadefs(self)
    }
}

impl Metadefs<'_> {
    fn d(&self) -> Dialect {
        self.0.d()
    }
    fn db(&self) -> &crate::Db {
        self.0.db()
    }

    // --- namespaces ----------------------------------------------------

    pub(crate) async fn ns_by_name(
        &self,
        conn: Conn<'_>,
        name: &str,
    ) -> Result<Option<Namespace>, DbError> {
        let d = self.d();
        let mut q = Sql::new(d, &ns_select(d));
        q.push(" WHERE namespace = ").text(name);
        fetch(conn, &q, NS_KINDS)
            .await?
            .first()
            .map(|r| namespace_from_row(r))
            .transpose()
    }

    /// The namespace named `name`, whoever may see it.
    pub async fn ns_get(&self, name: &str) -> Result<Option<Namespace>, DbError> {
        self.ns_by_name(Conn::Pool(self.db()), name).await
    }

    /// A page of namespaces (`metadef_namespace_get_all`).
    pub async fn ns_list(&self, nq: &NamespaceQuery) -> Result<Vec<Namespace>, DbError> {
        let d = self.d();
        let mut q = Sql::new(d, &ns_select(d));
        q.push(" WHERE 1 = 1");
        if let Some(project) = &nq.viewer_project {
            q.push(" AND (visibility = 'public' OR owner = ")
                .opt_text(project.as_deref())
                .push(")");
        }
        if let Some(v) = &nq.visibility {
            q.push(" AND visibility = ").text(v.clone());
        }
        if !nq.resource_types.is_empty() {
            q.push(
                " AND id IN (SELECT nrt.namespace_id FROM metadef_namespace_resource_types nrt \
                 JOIN metadef_resource_types rt ON rt.id = nrt.resource_type_id WHERE rt.name IN ",
            )
            .text_list(nq.resource_types.iter().map(String::as_str))
            .push(")");
        }
        let keys = sort_keys(&nq.sort_key);
        if let Some(m) = &nq.marker {
            keyset(&mut q, "", &keys, nq.sort_desc, &|q, k| {
                bind_ns_column(q, m, k)
            });
        }
        order_by(&mut q, "", &keys, nq.sort_desc);
        q.push(" LIMIT ").int(nq.limit.max(0));
        fetch(Conn::Pool(self.db()), &q, NS_KINDS)
            .await?
            .iter()
            .map(|r| namespace_from_row(r))
            .collect()
    }

    /// Creates a namespace and its children in one transaction. The
    /// first duplicate (the namespace, or a child) is a `Duplicate` with
    /// Glance's text, and nothing is written.
    pub async fn ns_create(
        &self,
        f: &NamespaceFields,
        children: &NewChildren,
    ) -> Result<Namespace, DbError> {
        let d = self.d();
        let t = now();
        let mut tx = self.db().begin_write().await?;
        if self
            .ns_by_name(Conn::Tx(&mut tx), &f.namespace)
            .await?
            .is_some()
        {
            let _ = tx.rollback().await;
            return Err(dup_namespace(&f.namespace));
        }
        let mut q = Sql::new(
            d,
            "INSERT INTO metadef_namespaces (namespace, display_name, description, visibility, \
             protected, owner, created_at, updated_at) VALUES (",
        );
        q.text(f.namespace.clone())
            .push(", ")
            .opt_text(f.display_name.as_deref())
            .push(", ")
            .opt_text(f.description.as_deref())
            .push(", ")
            .text(f.visibility.clone())
            .push(", ")
            .bool(f.protected)
            .push(", ")
            .text(f.owner.clone())
            .push(", ")
            .ts(t)
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(&mut tx), &q).await?;
        let ns = self
            .ns_by_name(Conn::Tx(&mut tx), &f.namespace)
            .await?
            .ok_or_else(|| DbError::Other("the new namespace vanished".into()))?;
        for a in &children.associations {
            self.assoc_insert(&mut tx, &ns, a, t).await?;
        }
        for o in &children.objects {
            self.object_insert(&mut tx, &ns, o, t).await?;
        }
        for name in &children.tags {
            self.tag_insert(&mut tx, &ns, name, t).await?;
        }
        for (name, schema) in &children.properties {
            self.property_insert(&mut tx, &ns, name, schema, t).await?;
        }
        tx.commit().await?;
        Ok(Namespace {
            created_at: t,
            updated_at: Some(t),
            ..ns
        })
    }

    /// Replaces a namespace's own fields (children stay, by id). Writes
    /// only when something changed, as the ORM does; a rename onto a
    /// taken name is a `Duplicate`.
    pub async fn ns_update(&self, ns: &Namespace, f: &NamespaceFields) -> Result<(), DbError> {
        let unchanged = ns.namespace == f.namespace
            && ns.display_name == f.display_name
            && ns.description == f.description
            && ns.visibility.as_deref() == Some(f.visibility.as_str())
            && ns.protected == Some(f.protected)
            && ns.owner == f.owner;
        if unchanged {
            return Ok(());
        }
        let d = self.d();
        let mut tx = self.db().begin_write().await?;
        if f.namespace != ns.namespace
            && let Some(other) = self.ns_by_name(Conn::Tx(&mut tx), &f.namespace).await?
            && other.id != ns.id
        {
            let _ = tx.rollback().await;
            return Err(DbError::Duplicate(format!(
                "Invalid update. It would result in a duplicate metadata definition namespace \
                 with the same name of {}",
                f.namespace
            )));
        }
        let mut q = Sql::new(d, "UPDATE metadef_namespaces SET namespace = ");
        q.text(f.namespace.clone())
            .push(", display_name = ")
            .opt_text(f.display_name.as_deref())
            .push(", description = ")
            .opt_text(f.description.as_deref())
            .push(", visibility = ")
            .text(f.visibility.clone())
            .push(", protected = ")
            .bool(f.protected)
            .push(", owner = ")
            .text(f.owner.clone())
            .push(", updated_at = ")
            .ts(now())
            .push(" WHERE id = ")
            .int(ns.id);
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    /// Deletes a namespace with every child row (the resource types stay).
    pub async fn ns_delete(&self, ns: &Namespace) -> Result<(), DbError> {
        let mut tx = self.db().begin_write().await?;
        self.delete_namespace_rows(&mut tx, ns.id).await?;
        tx.commit().await
    }

    /// Deletes namespace `id`'s row and every child row, in `tx`.
    pub(crate) async fn delete_namespace_rows(
        &self,
        tx: &mut crate::Tx,
        id: i64,
    ) -> Result<(), DbError> {
        let d = self.d();
        for table in [
            "metadef_tags",
            "metadef_objects",
            "metadef_properties",
            "metadef_namespace_resource_types",
        ] {
            let mut q = Sql::new(d, &format!("DELETE FROM {table} WHERE namespace_id = "));
            q.int(id);
            run(Conn::Tx(tx), &q).await?;
        }
        let mut q = Sql::new(d, "DELETE FROM metadef_namespaces WHERE id = ");
        q.int(id);
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    /// Deletes all objects, properties or tags of a namespace.
    pub async fn ns_delete_children(&self, ns: &Namespace, which: Children) -> Result<(), DbError> {
        let mut q = Sql::new(
            self.d(),
            &format!("DELETE FROM {} WHERE namespace_id = ", which.table()),
        );
        q.int(ns.id);
        let mut tx = self.db().begin_write().await?;
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    // --- resource types and associations ---------------------------------

    /// Every resource type, in id order.
    pub async fn resource_types(&self) -> Result<Vec<ResourceType>, DbError> {
        let d = self.d();
        let q = Sql::new(
            d,
            &format!(
                "SELECT name, {}, {} FROM metadef_resource_types ORDER BY id",
                d.ts_out("created_at"),
                d.ts_out("updated_at")
            ),
        );
        fetch(
            Conn::Pool(self.db()),
            &q,
            &[Kind::Text, Kind::Text, Kind::Text],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(ResourceType {
                name: r[0].text().unwrap_or_default(),
                created_at: ts_required(&r[1])?,
                updated_at: r[2].ts()?,
            })
        })
        .collect()
    }

    /// The associations of each of `ns_ids`.
    pub async fn associations(
        &self,
        ns_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<Association>>, DbError> {
        let mut out: HashMap<i64, Vec<Association>> = HashMap::new();
        if ns_ids.is_empty() {
            return Ok(out);
        }
        let d = self.d();
        let mut q = Sql::new(
            d,
            &format!(
                "SELECT nrt.namespace_id, rt.name, nrt.prefix, nrt.properties_target, {}, {} \
                 FROM metadef_namespace_resource_types nrt JOIN metadef_resource_types rt \
                 ON rt.id = nrt.resource_type_id WHERE nrt.namespace_id IN (",
                d.ts_out("nrt.created_at"),
                d.ts_out("nrt.updated_at")
            ),
        );
        for (i, id) in ns_ids.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.int(*id);
        }
        // Glance's query has no ORDER BY: rows come in insertion order on
        // SQLite and PostgreSQL; on MySQL the order follows whichever plan
        // the optimizer picks (it changes as the tables grow), so the
        // primary key's order is as good as any.
        q.push(") ORDER BY ")
            .push(&d.insertion_order("nrt", "nrt.resource_type_id"));
        let kinds = [
            Kind::Int32,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
        ];
        for r in fetch(Conn::Pool(self.db()), &q, &kinds).await? {
            let id = r[0].int().unwrap_or(0);
            out.entry(id).or_default().push(Association {
                name: r[1].text().unwrap_or_default(),
                prefix: r[2].text(),
                properties_target: r[3].text(),
                created_at: r[4].ts()?,
                updated_at: r[5].ts()?,
            });
        }
        Ok(out)
    }

    /// The id of resource type `name`, created when missing: unprotected
    /// with both timestamps through the API, `seeded` (Glance's loader)
    /// protected with `created_at` only.
    pub(crate) async fn resource_type_id(
        &self,
        tx: &mut crate::Tx,
        name: &str,
        t: Timestamp,
        seeded: bool,
    ) -> Result<i64, DbError> {
        let d = self.d();
        let find = || {
            let mut q = Sql::new(d, "SELECT id FROM metadef_resource_types WHERE name = ");
            q.text(name);
            q
        };
        if let Some(r) = fetch(Conn::Tx(tx), &find(), &[Kind::Int32]).await?.first() {
            return Ok(r[0].int().unwrap_or(0));
        }
        let mut q = Sql::new(
            d,
            "INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES (",
        );
        q.text(name)
            .push(", ")
            .bool(seeded)
            .push(", ")
            .ts(t)
            .push(", ")
            .opt_ts((!seeded).then_some(t))
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        fetch(Conn::Tx(tx), &find(), &[Kind::Int32])
            .await?
            .first()
            .and_then(|r| r[0].int())
            .ok_or_else(|| DbError::Other("the new resource type vanished".into()))
    }

    async fn assoc_insert(
        &self,
        tx: &mut crate::Tx,
        ns: &Namespace,
        a: &Association,
        t: Timestamp,
    ) -> Result<(), DbError> {
        let d = self.d();
        let rt = self.resource_type_id(tx, &a.name, t, false).await?;
        let mut q = Sql::new(
            d,
            "SELECT 1 FROM metadef_namespace_resource_types WHERE namespace_id = ",
        );
        q.int(ns.id).push(" AND resource_type_id = ").int(rt);
        if !fetch(Conn::Tx(tx), &q, &[Kind::Int32]).await?.is_empty() {
            return Err(dup_association(&ns.namespace, &a.name));
        }
        let mut q = Sql::new(
            d,
            "INSERT INTO metadef_namespace_resource_types (resource_type_id, namespace_id, \
             properties_target, prefix, created_at, updated_at) VALUES (",
        );
        q.int(rt)
            .push(", ")
            .int(ns.id)
            .push(", ")
            .opt_text(a.properties_target.as_deref())
            .push(", ")
            .opt_text(a.prefix.as_deref())
            .push(", ")
            .ts(t)
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    /// Associates a resource type (created when missing) with a namespace.
    pub async fn assoc_create(
        &self,
        ns: &Namespace,
        a: &Association,
    ) -> Result<Association, DbError> {
        let t = now();
        let mut tx = self.db().begin_write().await?;
        self.assoc_insert(&mut tx, ns, a, t).await?;
        tx.commit().await?;
        Ok(Association {
            created_at: Some(t),
            updated_at: Some(t),
            ..a.clone()
        })
    }

    /// Removes the association with resource type `name` (the type stays).
    pub async fn assoc_delete(&self, ns: &Namespace, name: &str) -> Result<(), DbError> {
        let mut q = Sql::new(
            self.d(),
            "DELETE FROM metadef_namespace_resource_types WHERE namespace_id = ",
        );
        q.int(ns.id)
            .push(" AND resource_type_id IN (SELECT id FROM metadef_resource_types WHERE name = ");
        q.text(name).push(")");
        let mut tx = self.db().begin_write().await?;
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    /// Whether resource type `name` exists.
    pub async fn resource_type_exists(&self, name: &str) -> Result<bool, DbError> {
        let mut q = Sql::new(
            self.d(),
            "SELECT id FROM metadef_resource_types WHERE name = ",
        );
        q.text(name);
        Ok(!fetch(Conn::Pool(self.db()), &q, &[Kind::Int32])
            .await?
            .is_empty())
    }

    // --- objects --------------------------------------------------------

    fn object_select(&self, ns: &Namespace) -> Sql {
        let d = self.d();
        let mut q = Sql::new(
            d,
            &format!(
                "SELECT name, description, required, json_schema, {}, {} FROM metadef_objects \
                 WHERE namespace_id = ",
                d.ts_out("created_at"),
                d.ts_out("updated_at")
            ),
        );
        q.int(ns.id);
        q
    }

    /// The namespace's objects, by name.
    pub async fn objects(&self, ns: &Namespace) -> Result<Vec<MetaObject>, DbError> {
        let mut q = self.object_select(ns);
        q.push(" ORDER BY ").push(child_order(self.d()));
        fetch(Conn::Pool(self.db()), &q, OBJ_KINDS)
            .await?
            .iter()
            .map(|r| object_from_row(r))
            .collect()
    }

    async fn object_by_name(
        &self,
        conn: Conn<'_>,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<MetaObject>, DbError> {
        let mut q = self.object_select(ns);
        q.push(" AND name = ").text(name);
        fetch(conn, &q, OBJ_KINDS)
            .await?
            .first()
            .map(|r| object_from_row(r))
            .transpose()
    }

    pub async fn object_get(
        &self,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<MetaObject>, DbError> {
        self.object_by_name(Conn::Pool(self.db()), ns, name).await
    }

    async fn object_insert(
        &self,
        tx: &mut crate::Tx,
        ns: &Namespace,
        o: &ObjectFields,
        t: Timestamp,
    ) -> Result<(), DbError> {
        if self
            .object_by_name(Conn::Tx(tx), ns, &o.name)
            .await?
            .is_some()
        {
            return Err(dup_object(&ns.namespace, &o.name));
        }
        let mut q = Sql::new(
            self.d(),
            "INSERT INTO metadef_objects (namespace_id, name, description, required, \
             json_schema, created_at, updated_at) VALUES (",
        );
        q.int(ns.id)
            .push(", ")
            .text(o.name.clone())
            .push(", ")
            .opt_text(o.description.as_deref())
            .push(", ")
            .opt_text(o.required_column().as_deref())
            .push(", ")
            .text(json_text(&o.properties))
            .push(", ")
            .ts(t)
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    /// Creates an object; returns its timestamp.
    pub async fn object_create(
        &self,
        ns: &Namespace,
        o: &ObjectFields,
    ) -> Result<Timestamp, DbError> {
        let t = now();
        let mut tx = self.db().begin_write().await?;
        self.object_insert(&mut tx, ns, o, t).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Replaces object `old`'s columns with `o` (a rename included).
    pub async fn object_update(
        &self,
        ns: &Namespace,
        old: &MetaObject,
        o: &ObjectFields,
    ) -> Result<(), DbError> {
        let changed = old.name != o.name
            || old.description != o.description
            || old.required != o.required
            || old.properties != o.properties;
        if !changed {
            return Ok(());
        }
        let mut tx = self.db().begin_write().await?;
        if o.name != old.name
            && self
                .object_by_name(Conn::Tx(&mut tx), ns, &o.name)
                .await?
                .is_some()
        {
            let _ = tx.rollback().await;
            return Err(DbError::Duplicate(format!(
                "Invalid update. It would result in a duplicate metadata definition object \
                 with the same name={} in namespace={}.",
                o.name, ns.namespace
            )));
        }
        let mut q = Sql::new(self.d(), "UPDATE metadef_objects SET name = ");
        q.text(o.name.clone())
            .push(", description = ")
            .opt_text(o.description.as_deref())
            .push(", required = ")
            .opt_text(o.required_column().as_deref())
            .push(", json_schema = ")
            .text(json_text(&o.properties))
            .push(", updated_at = ")
            .ts(now())
            .push(" WHERE namespace_id = ")
            .int(ns.id)
            .push(" AND name = ")
            .text(old.name.clone());
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    /// Deletes one child row by name; false when there was none.
    async fn delete_child(
        &self,
        ns: &Namespace,
        which: Children,
        name: &str,
    ) -> Result<bool, DbError> {
        let mut q = Sql::new(
            self.d(),
            &format!("DELETE FROM {} WHERE namespace_id = ", which.table()),
        );
        q.int(ns.id).push(" AND name = ").text(name);
        let mut tx = self.db().begin_write().await?;
        let n = run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn object_delete(&self, ns: &Namespace, name: &str) -> Result<bool, DbError> {
        self.delete_child(ns, Children::Objects, name).await
    }

    // --- properties -------------------------------------------------------

    fn property_select(&self, ns: &Namespace) -> Sql {
        let mut q = Sql::new(
            self.d(),
            "SELECT name, json_schema FROM metadef_properties WHERE namespace_id = ",
        );
        q.int(ns.id);
        q
    }

    /// The namespace's properties, by name.
    pub async fn properties(&self, ns: &Namespace) -> Result<Vec<Property>, DbError> {
        let mut q = self.property_select(ns);
        q.push(" ORDER BY ").push(child_order(self.d()));
        Ok(fetch(Conn::Pool(self.db()), &q, &[Kind::Text, Kind::Text])
            .await?
            .iter()
            .map(|r| property_from_row(r))
            .collect())
    }

    async fn property_by_name(
        &self,
        conn: Conn<'_>,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<Property>, DbError> {
        let mut q = self.property_select(ns);
        q.push(" AND name = ").text(name);
        Ok(fetch(conn, &q, &[Kind::Text, Kind::Text])
            .await?
            .first()
            .map(|r| property_from_row(r)))
    }

    pub async fn property_get(
        &self,
        ns: &Namespace,
        name: &str,
    ) -> Result<Option<Property>, DbError> {
        self.property_by_name(Conn::Pool(self.db()), ns, name).await
    }

    async fn property_insert(
        &self,
        tx: &mut crate::Tx,
        ns: &Namespace,
        name: &str,
        schema: &Map<String, Value>,
        t: Timestamp,
    ) -> Result<(), DbError> {
        if self
            .property_by_name(Conn::Tx(tx), ns, name)
            .await?
            .is_some()
        {
            return Err(dup_property(&ns.namespace, name));
        }
        let mut q = Sql::new(
            self.d(),
            "INSERT INTO metadef_properties (namespace_id, name, json_schema, created_at, \
             updated_at) VALUES (",
        );
        q.int(ns.id)
            .push(", ")
            .text(name)
            .push(", ")
            .text(json_text(schema))
            .push(", ")
            .ts(t)
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    pub async fn property_create(
        &self,
        ns: &Namespace,
        name: &str,
        schema: &Map<String, Value>,
    ) -> Result<(), DbError> {
        let mut tx = self.db().begin_write().await?;
        self.property_insert(&mut tx, ns, name, schema, now())
            .await?;
        tx.commit().await
    }

    /// Replaces property `old` with `name` and `schema`.
    pub async fn property_update(
        &self,
        ns: &Namespace,
        old: &Property,
        name: &str,
        schema: &Map<String, Value>,
    ) -> Result<(), DbError> {
        if old.name == name && &old.schema == schema {
            return Ok(());
        }
        let mut tx = self.db().begin_write().await?;
        if name != old.name
            && self
                .property_by_name(Conn::Tx(&mut tx), ns, name)
                .await?
                .is_some()
        {
            let _ = tx.rollback().await;
            return Err(DbError::Duplicate(format!(
                "Invalid update. It would result in a duplicate metadata definition property \
                 with the same name={name} in namespace={}.",
                ns.namespace
            )));
        }
        let mut q = Sql::new(self.d(), "UPDATE metadef_properties SET name = ");
        q.text(name)
            .push(", json_schema = ")
            .text(json_text(schema))
            .push(", updated_at = ")
            .ts(now())
            .push(" WHERE namespace_id = ")
            .int(ns.id)
            .push(" AND name = ")
            .text(old.name.clone());
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    pub async fn property_delete(&self, ns: &Namespace, name: &str) -> Result<bool, DbError> {
        self.delete_child(ns, Children::Properties, name).await
    }

    // --- tags -------------------------------------------------------------

    fn tag_select(&self, ns: &Namespace) -> Sql {
        let d = self.d();
        let mut q = Sql::new(
            d,
            &format!(
                "SELECT name, {}, {}, id FROM metadef_tags WHERE namespace_id = ",
                d.ts_out("created_at"),
                d.ts_out("updated_at")
            ),
        );
        q.int(ns.id);
        q
    }

    const TAG_KINDS: &'static [Kind] = &[Kind::Text, Kind::Text, Kind::Text, Kind::Int32];

    async fn tag_rows(
        &self,
        conn: Conn<'_>,
        ns: &Namespace,
        name: Option<&str>,
    ) -> Result<Vec<(i64, Tag)>, DbError> {
        let mut q = self.tag_select(ns);
        if let Some(n) = name {
            q.push(" AND name = ").text(n);
        }
        q.push(" ORDER BY created_at DESC, id DESC");
        fetch(conn, &q, Self::TAG_KINDS)
            .await?
            .iter()
            .map(|r| Ok((r[3].int().unwrap_or(0), tag_from_row(r)?)))
            .collect()
    }

    /// A page of tags: `sort_key` then `created_at`, `id`, all one way;
    /// `marker` is a tag name (`NotFound` when it is not a tag here).
    pub async fn tags(
        &self,
        ns: &Namespace,
        marker: Option<&str>,
        limit: Option<i64>,
        sort_key: &str,
        desc: bool,
    ) -> Result<Vec<Tag>, DbError> {
        let mut q = self.tag_select(ns);
        let keys = sort_keys(sort_key);
        if let Some(m) = marker {
            let Some((id, row)) = self
                .tag_rows(Conn::Pool(self.db()), ns, Some(m))
                .await?
                .into_iter()
                .next()
            else {
                return Err(DbError::NotFound(format!(
                    "Could not find metadata tag {m}"
                )));
            };
            let bind = |q: &mut Sql, k: &str| match k {
                "id" => {
                    q.int(id);
                }
                "namespace_id" => {
                    q.int(ns.id);
                }
                "name" => {
                    q.text(row.name.clone());
                }
                "created_at" => {
                    q.ts(row.created_at);
                }
                _ => {
                    q.opt_ts(row.updated_at);
                }
            };
            keyset(&mut q, "", &keys, desc, &bind);
        }
        order_by(&mut q, "", &keys, desc);
        if let Some(l) = limit {
            q.push(" LIMIT ").int(l.max(0));
        }
        fetch(Conn::Pool(self.db()), &q, Self::TAG_KINDS)
            .await?
            .iter()
            .map(|r| tag_from_row(r))
            .collect()
    }

    pub async fn tag_get(&self, ns: &Namespace, name: &str) -> Result<Option<Tag>, DbError> {
        Ok(self
            .tag_rows(Conn::Pool(self.db()), ns, Some(name))
            .await?
            .into_iter()
            .next()
            .map(|(_, t)| t))
    }

    async fn tag_insert(
        &self,
        tx: &mut crate::Tx,
        ns: &Namespace,
        name: &str,
        t: Timestamp,
    ) -> Result<(), DbError> {
        if !self
            .tag_rows(Conn::Tx(tx), ns, Some(name))
            .await?
            .is_empty()
        {
            return Err(dup_tag(&ns.namespace, name));
        }
        let mut q = Sql::new(
            self.d(),
            "INSERT INTO metadef_tags (namespace_id, name, created_at, updated_at) VALUES (",
        );
        q.int(ns.id)
            .push(", ")
            .text(name)
            .push(", ")
            .ts(t)
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    /// Creates one tag.
    pub async fn tag_create(&self, ns: &Namespace, name: &str) -> Result<Tag, DbError> {
        let t = now();
        let mut tx = self.db().begin_write().await?;
        self.tag_insert(&mut tx, ns, name, t).await?;
        tx.commit().await?;
        Ok(Tag {
            name: name.to_string(),
            created_at: t,
            updated_at: Some(t),
        })
    }

    /// Creates `names` in order, first removing every existing tag unless
    /// `append`; all or nothing. An empty list changes nothing.
    pub async fn tags_create(
        &self,
        ns: &Namespace,
        names: &[String],
        append: bool,
    ) -> Result<(), DbError> {
        if names.is_empty() {
            return Ok(());
        }
        let t = now();
        let mut tx = self.db().begin_write().await?;
        if !append {
            let mut q = Sql::new(self.d(), "DELETE FROM metadef_tags WHERE namespace_id = ");
            q.int(ns.id);
            run(Conn::Tx(&mut tx), &q).await?;
        }
        for n in names {
            self.tag_insert(&mut tx, ns, n, t).await?;
        }
        tx.commit().await
    }

    /// Renames tag `old` to `name`.
    pub async fn tag_update(&self, ns: &Namespace, old: &Tag, name: &str) -> Result<(), DbError> {
        if old.name == name {
            return Ok(());
        }
        let mut tx = self.db().begin_write().await?;
        if !self
            .tag_rows(Conn::Tx(&mut tx), ns, Some(name))
            .await?
            .is_empty()
        {
            let _ = tx.rollback().await;
            return Err(dup_tag(&ns.namespace, name));
        }
        let mut q = Sql::new(self.d(), "UPDATE metadef_tags SET name = ");
        q.text(name)
            .push(", updated_at = ")
            .ts(now())
            .push(" WHERE namespace_id = ")
            .int(ns.id)
            .push(" AND name = ")
            .text(old.name.clone());
        run(Conn::Tx(&mut tx), &q).await?;
        tx.commit().await
    }

    pub async fn tag_delete(&self, ns: &Namespace, name: &str) -> Result<bool, DbError> {
        self.delete_child(ns, Children::Tags, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;

    #[test]
    fn keyset_condition_follows_paginate_query() {
        let mut q = Sql::new(Dialect(Backend::Sqlite), "WHERE 1 = 1");
        keyset(&mut q, "", &sort_keys("namespace"), true, &|q, _| {
            q.int(0);
        });
        assert_eq!(
            q.text,
            "WHERE 1 = 1 AND ((namespace < ?) OR (namespace = ? AND created_at < ?) OR \
             (namespace = ? AND created_at = ? AND id < ?))"
        );
        assert_eq!(sort_keys("id"), vec!["created_at", "id"]);
        assert_eq!(sort_keys("created_at"), vec!["created_at", "id"]);
    }
}
