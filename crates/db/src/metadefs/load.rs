//! `glance-manage db_load_metadefs [path] [--merge [--prefer_new |
//! --overwrite]]`: metadata-definition seed files (one namespace per JSON
//! file, the format Glance ships under `/etc/glance/metadefs/`) loaded into
//! the `metadef_*` tables the way Glance's loader writes them: owner
//! `admin` unless the file names one, visibility and protection as given
//! (possibly NULL), resource types created protected, raw property JSON,
//! object `required` left out, `updated_at` NULL.
//!
//! An existing namespace (same name) is skipped, unless `merge`: then
//! missing children are added; with `prefer_new` the namespace's fields and
//! its existing children are also overwritten from the file; with
//! `overwrite` the namespace is deleted and loaded afresh.
//!
//! Files are read in name order (Glance takes the directory's order).
//! A file that is not valid JSON is reported and skipped, as in Glance;
//! each file is loaded in its own transaction.

use std::path::{Path, PathBuf};

use glimpse_domain::py::Timestamp;
use serde_json::{Map, Value};

use super::Metadefs;
use crate::images::sql::{Conn, Kind, Sql, fetch, now, run};
use crate::{DbError, Tx};

/// How an existing namespace is treated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeMode {
    pub merge: bool,
    pub prefer_new: bool,
    pub overwrite: bool,
}

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: Vec<String>,
    pub merged: Vec<String>,
    pub skipped: Vec<String>,
    /// `(file, reason)` for files that could not be read or parsed.
    pub failed: Vec<(String, String)>,
}

/// The JSON files to load: `path` itself, or every `*.json` in it.
pub fn seed_files(path: &Path) -> Result<Vec<PathBuf>, DbError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| DbError::Other(format!("cannot read {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn s<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

/// The file's `protected`, which may be absent (stored NULL).
fn protected(q: &mut Sql, doc: &Map<String, Value>) {
    match doc.get("protected").and_then(Value::as_bool) {
        Some(p) => q.bool(p),
        None => q.push("NULL"),
    };
}

fn raw_json(v: Option<&Value>) -> String {
    match v {
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => "{}".to_string(),
    }
}

impl Metadefs<'_> {
    /// Loads every seed file under `path`.
    pub async fn load_metadefs(&self, path: &Path, mode: MergeMode) -> Result<LoadReport, DbError> {
        let mut report = LoadReport::default();
        for file in seed_files(path)? {
            let name = file.display().to_string();
            let doc = match std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
            {
                Ok(Value::Object(o)) => o,
                Ok(_) => {
                    report.failed.push((name, "not a JSON object".into()));
                    continue;
                }
                Err(e) => {
                    report.failed.push((name, e));
                    continue;
                }
            };
            let Some(ns_name) = s(&doc, "namespace").map(str::to_string) else {
                report.failed.push((name, "no \"namespace\" key".into()));
                continue;
            };
            let mut tx = self.db().begin_write().await?;
            let existing = self.seed_ns_id(&mut tx, &ns_name).await?;
            let t = now();
            let outcome = match existing {
                Some(_) if !mode.merge => {
                    report.skipped.push(ns_name);
                    let _ = tx.rollback().await;
                    continue;
                }
                Some(id) if mode.overwrite => {
                    self.delete_namespace_rows(&mut tx, id).await?;
                    let id = self.seed_namespace(&mut tx, &doc, t).await?;
                    self.seed_children(&mut tx, id, &doc, t, false).await?;
                    &mut report.loaded
                }
                Some(id) => {
                    if mode.prefer_new {
                        self.seed_update_namespace(&mut tx, id, &doc, t).await?;
                    }
                    self.seed_children(&mut tx, id, &doc, t, mode.prefer_new)
                        .await?;
                    &mut report.merged
                }
                None => {
                    let id = self.seed_namespace(&mut tx, &doc, t).await?;
                    self.seed_children(&mut tx, id, &doc, t, false).await?;
                    &mut report.loaded
                }
            };
            tx.commit().await?;
            outcome.push(ns_name);
        }
        Ok(report)
    }

    async fn seed_ns_id(&self, tx: &mut Tx, name: &str) -> Result<Option<i64>, DbError> {
        Ok(self.ns_by_name(Conn::Tx(tx), name).await?.map(|n| n.id))
    }

    async fn seed_namespace(
        &self,
        tx: &mut Tx,
        doc: &Map<String, Value>,
        t: Timestamp,
    ) -> Result<i64, DbError> {
        let mut q = Sql::new(
            self.d(),
            "INSERT INTO metadef_namespaces (namespace, display_name, description, visibility, \
             protected, owner, created_at) VALUES (",
        );
        q.opt_text(s(doc, "namespace"))
            .push(", ")
            .opt_text(s(doc, "display_name"))
            .push(", ")
            .opt_text(s(doc, "description"))
            .push(", ")
            .opt_text(s(doc, "visibility"))
            .push(", ");
        protected(&mut q, doc);
        q.push(", ")
            .text(s(doc, "owner").unwrap_or("admin"))
            .push(", ")
            .ts(t)
            .push(")");
        run(Conn::Tx(tx), &q).await?;
        self.seed_ns_id(tx, s(doc, "namespace").unwrap_or_default())
            .await?
            .ok_or_else(|| DbError::Other("the loaded namespace vanished".into()))
    }

    async fn seed_update_namespace(
        &self,
        tx: &mut Tx,
        id: i64,
        doc: &Map<String, Value>,
        t: Timestamp,
    ) -> Result<(), DbError> {
        let mut q = Sql::new(self.d(), "UPDATE metadef_namespaces SET display_name = ");
        q.opt_text(s(doc, "display_name"))
            .push(", description = ")
            .opt_text(s(doc, "description"))
            .push(", visibility = ")
            .opt_text(s(doc, "visibility"))
            .push(", protected = ");
        protected(&mut q, doc);
        q.push(", owner = ")
            .text(s(doc, "owner").unwrap_or("admin"))
            .push(", updated_at = ")
            .ts(t)
            .push(" WHERE id = ")
            .int(id);
        run(Conn::Tx(tx), &q).await?;
        Ok(())
    }

    /// Whether `table` has a row named `name` in namespace `id`.
    async fn seed_child_exists(
        &self,
        tx: &mut Tx,
        table: &str,
        id: i64,
        name: &str,
    ) -> Result<bool, DbError> {
        let mut q = Sql::new(
            self.d(),
            &format!("SELECT 1 FROM {table} WHERE namespace_id = "),
        );
        q.int(id).push(" AND name = ").text(name);
        Ok(!fetch(Conn::Tx(tx), &q, &[Kind::Int32]).await?.is_empty())
    }

    async fn seed_children(
        &self,
        tx: &mut Tx,
        id: i64,
        doc: &Map<String, Value>,
        t: Timestamp,
        prefer_new: bool,
    ) -> Result<(), DbError> {
        let d = self.d();
        let list = |k: &str| -> Vec<Map<String, Value>> {
            doc.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect())
                .unwrap_or_default()
        };
        for a in list("resource_type_associations") {
            let Some(name) = s(&a, "name") else { continue };
            let rt = self.resource_type_id(tx, name, t, true).await?;
            let mut q = Sql::new(
                d,
                "SELECT 1 FROM metadef_namespace_resource_types WHERE namespace_id = ",
            );
            q.int(id).push(" AND resource_type_id = ").int(rt);
            let exists = !fetch(Conn::Tx(tx), &q, &[Kind::Int32]).await?.is_empty();
            let mut q;
            if exists && !prefer_new {
                continue;
            } else if exists {
                q = Sql::new(d, "UPDATE metadef_namespace_resource_types SET prefix = ");
                q.opt_text(s(&a, "prefix"))
                    .push(", properties_target = ")
                    .opt_text(s(&a, "properties_target"))
                    .push(", updated_at = ")
                    .ts(t)
                    .push(" WHERE namespace_id = ")
                    .int(id)
                    .push(" AND resource_type_id = ")
                    .int(rt);
            } else {
                q = Sql::new(
                    d,
                    "INSERT INTO metadef_namespace_resource_types (resource_type_id, \
                     namespace_id, properties_target, prefix, created_at) VALUES (",
                );
                q.int(rt)
                    .push(", ")
                    .int(id)
                    .push(", ")
                    .opt_text(s(&a, "properties_target"))
                    .push(", ")
                    .opt_text(s(&a, "prefix"))
                    .push(", ")
                    .ts(t)
                    .push(")");
            }
            run(Conn::Tx(tx), &q).await?;
        }
        if let Some(Value::Object(props)) = doc.get("properties") {
            for (name, schema) in props {
                let json = raw_json(Some(schema));
                let exists = self
                    .seed_child_exists(tx, "metadef_properties", id, name)
                    .await?;
                let mut q;
                if exists && !prefer_new {
                    continue;
                } else if exists {
                    q = Sql::new(d, "UPDATE metadef_properties SET json_schema = ");
                    q.text(json)
                        .push(", updated_at = ")
                        .ts(t)
                        .push(" WHERE namespace_id = ")
                        .int(id)
                        .push(" AND name = ")
                        .text(name.clone());
                } else {
                    q = Sql::new(
                        d,
                        "INSERT INTO metadef_properties (namespace_id, name, json_schema, \
                         created_at) VALUES (",
                    );
                    q.int(id)
                        .push(", ")
                        .text(name.clone())
                        .push(", ")
                        .text(json)
                        .push(", ")
                        .ts(t)
                        .push(")");
                }
                run(Conn::Tx(tx), &q).await?;
            }
        }
        for o in list("objects") {
            let Some(name) = s(&o, "name") else { continue };
            let json = raw_json(o.get("properties"));
            let exists = self
                .seed_child_exists(tx, "metadef_objects", id, name)
                .await?;
            let mut q;
            if exists && !prefer_new {
                continue;
            } else if exists {
                q = Sql::new(d, "UPDATE metadef_objects SET description = ");
                q.opt_text(s(&o, "description"))
                    .push(", json_schema = ")
                    .text(json)
                    .push(", updated_at = ")
                    .ts(t)
                    .push(" WHERE namespace_id = ")
                    .int(id)
                    .push(" AND name = ")
                    .text(name);
            } else {
                q = Sql::new(
                    d,
                    "INSERT INTO metadef_objects (namespace_id, name, description, json_schema, \
                     created_at) VALUES (",
                );
                q.int(id)
                    .push(", ")
                    .text(name)
                    .push(", ")
                    .opt_text(s(&o, "description"))
                    .push(", ")
                    .text(json)
                    .push(", ")
                    .ts(t)
                    .push(")");
            }
            run(Conn::Tx(tx), &q).await?;
        }
        for tag in list("tags") {
            let Some(name) = s(&tag, "name") else {
                continue;
            };
            if self.seed_child_exists(tx, "metadef_tags", id, name).await? {
                continue;
            }
            let mut q = Sql::new(
                d,
                "INSERT INTO metadef_tags (namespace_id, name, created_at) VALUES (",
            );
            q.int(id).push(", ").text(name).push(", ").ts(t).push(")");
            run(Conn::Tx(tx), &q).await?;
        }
        Ok(())
    }
}
