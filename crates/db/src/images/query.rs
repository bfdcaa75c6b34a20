//! `image_get_all` for `GET /v2/images`: the candidate set, filters, sort
//! and keyset pagination of Glance's `_image_get_all`,
//! `_make_conditions_from_filters` and `_paginate_query` as one SELECT
//! (see the module docs of [`super`] for the index reasoning).

use glimpse_domain::query::{IMAGE_COLUMNS, TimeOp};
use glimpse_domain::{Filter, Image, ListQuery, SortDir, Visibility};

use super::sql::{Arg, Conn, Dialect, Kind, Sql, Val, count_rows, fetch};
use super::{ImageRow, LISTABLE_STATUSES, Repo, Viewer, id_fits, image_columns};
use crate::{Backend, DbError};

/// How a column compares and what stands in for its NULLs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColKind {
    Text,
    Int,
    Time,
}

fn column_kind(col: &str) -> Option<(ColKind, bool)> {
    // (kind, nullable)
    Some(match col {
        "id" | "status" => (ColKind::Text, false),
        "name" | "disk_format" | "container_format" | "checksum" | "owner" | "os_hash_algo"
        | "os_hash_value" | "visibility" => (ColKind::Text, true),
        "size" | "virtual_size" => (ColKind::Int, true),
        "min_disk" | "min_ram" => (ColKind::Int, false),
        "created_at" => (ColKind::Time, false),
        "updated_at" | "deleted_at" => (ColKind::Time, true),
        _ => return None,
    })
}

fn bad_column(col: &str) -> DbError {
    DbError::Other(format!("cannot filter or sort images on {col:?}"))
}

/// The sort key's expression in the keyset condition: Glance compares
/// `CASE WHEN col IS NOT NULL THEN col ELSE <default> END`, the default
/// being '' for strings, 0 for integers and NULL for datetimes.
fn key_expr(col: &str, kind: ColKind, nullable: bool) -> String {
    match (kind, nullable) {
        (ColKind::Text, true) => {
            format!("CASE WHEN images.{col} IS NOT NULL THEN images.{col} ELSE '' END")
        }
        (ColKind::Int, true) => {
            format!("CASE WHEN images.{col} IS NOT NULL THEN images.{col} ELSE 0 END")
        }
        _ => format!("images.{col}"),
    }
}

/// The marker's value for a sort key (NULL becomes '', as in Glance).
fn push_marker_value(q: &mut Sql, marker: &Image, col: &str, kind: ColKind) {
    let text = |v: Option<&str>| Arg::Text(Some(v.unwrap_or("").to_string()));
    match col {
        "size" | "virtual_size" => {
            let v = if col == "size" {
                marker.size
            } else {
                marker.virtual_size
            };
            match v {
                Some(v) => q.int(v),
                None => q.arg("?", text(None)),
            };
        }
        "created_at" => {
            q.ts(marker.created_at);
        }
        "updated_at" => {
            q.ts(marker.updated_at);
        }
        _ => {
            let v = match col {
                "id" => Some(marker.id.as_str()),
                "name" => marker.name.as_deref(),
                "status" => Some(marker.status.as_str()),
                "disk_format" => marker.disk_format.as_deref(),
                "container_format" => marker.container_format.as_deref(),
                _ => None,
            };
            debug_assert!(kind == ColKind::Text);
            q.arg("?", text(v));
        }
    }
}

impl Repo {
    /// `image_get_all` as Glance's `GET /v2/images` calls it (`deleted`
    /// false, `return_tag`): at most `q.limit` images in `q.sort` order,
    /// after `q.marker`.
    ///
    /// A marker that does not exist (or is deleted, for non-admins) is
    /// `NotFound("No image found with ID <m>")`; one the viewer may not see
    /// is `Forbidden("Forbidding request, image <m> not visible")` — Glance
    /// answers 400 to the first and 403 to the second; an over-long marker
    /// gives Glance's unformatted "Image with the given id %(image_id)s was
    /// not found".
    pub async fn list(&self, q: &ListQuery, viewer: &Viewer) -> Result<Vec<Image>, DbError> {
        let sql = self.list_sql(q, viewer).await?;
        // One snapshot for the page and its child rows (see `Repo::get`).
        let mut tx = self.db.begin_read().await?;
        let rows = self.load_rows(Conn::Tx(&mut tx), sql).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|r: ImageRow| r.image).collect())
    }

    /// The database's plan for the query [`Repo::list`] would run, one
    /// line per plan step (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on
    /// PostgreSQL, `EXPLAIN FORMAT=JSON` on MySQL). For diagnostics and the
    /// index tests.
    pub async fn explain_list(
        &self,
        q: &ListQuery,
        viewer: &Viewer,
    ) -> Result<Vec<String>, DbError> {
        let mut sql = self.list_sql(q, viewer).await?;
        let (prefix, kinds, col): (&str, &[Kind], usize) = match self.db.backend() {
            Backend::Sqlite => (
                "EXPLAIN QUERY PLAN ",
                &[Kind::Int64, Kind::Int64, Kind::Int64, Kind::Text],
                3,
            ),
            Backend::Postgres => ("EXPLAIN ", &[Kind::Text], 0),
            Backend::MySql => ("EXPLAIN FORMAT=JSON ", &[Kind::Text], 0),
        };
        sql.text = format!("{prefix}{}", sql.text);
        let rows = fetch(Conn::Pool(&self.db), &sql, kinds).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get(col).and_then(Val::text))
            .collect())
    }

    /// Whether `probe` (a capped count) reaches DENSE, remembered for a
    /// while per query: the same list asked again (the first page, above
    /// all) costs no second scan.
    async fn dense(&self, probe: &Sql) -> Result<bool, DbError> {
        let key = format!("{}|{:?}", probe.text, probe.args);
        let now = std::time::Instant::now();
        if let Ok(cache) = self.plans.lock()
            && let Some((at, dense)) = cache.0.get(&key)
            && now.duration_since(*at) < PLAN_TTL
        {
            return Ok(*dense);
        }
        let dense = count_rows(Conn::Pool(&self.db), probe).await? >= DENSE;
        if let Ok(mut cache) = self.plans.lock() {
            if cache.0.len() >= PLAN_CACHE_MAX {
                cache.0.clear();
            }
            cache.0.insert(key, (now, dense));
        }
        Ok(dense)
    }

    async fn list_sql(&self, lq: &ListQuery, viewer: &Viewer) -> Result<Sql, DbError> {
        let d = self.d();
        // The marker first: Glance fetches it with the viewer's rights
        // (admins see deleted rows) before paginating.
        let marker = match &lq.marker {
            None => None,
            Some(m) => {
                if !id_fits(m) {
                    return Err(DbError::NotFound(
                        "Image with the given id %(image_id)s was not found".into(),
                    ));
                }
                let row = self.row_by_id(Conn::Pool(&self.db), m).await?;
                match row {
                    Some(r) if viewer.is_admin || !r.deleted => {
                        if !self.visible(Conn::Pool(&self.db), &r.image, viewer).await? {
                            return Err(DbError::Forbidden(format!(
                                "Forbidding request, image {m} not visible"
                            )));
                        }
                        Some(r.image)
                    }
                    _ => return Err(DbError::NotFound(format!("No image found with ID {m}"))),
                }
            }
        };

        // The sort keys, with how each compares (for the keyset condition).
        let mut keys = Vec::with_capacity(lq.sort.len());
        for (col, dir) in &lq.sort {
            let (kind, nullable) = column_kind(col).ok_or_else(|| bad_column(col))?;
            keys.push((*col, *dir, kind, nullable));
        }
        // SQLite has no statistics, so it cannot tell a filter that keeps
        // most images (walk the sort index, stop after one page) from one
        // that keeps a few (use the filter's index, sort the few). Count
        // up to DENSE first and say which: a regular user's candidates,
        // when they are few, drive the query by id; otherwise the matches,
        // when they are many, force the sort index (`INDEXED BY`).
        let mut hint = String::new();
        let mut candidate_ids = false;
        if self.db.backend() == Backend::MySql {
            // InnoDB's statistics favour intersecting the two boolean
            // indexes (`deleted`, `os_hidden`: nearly every row matches
            // both) and sorting everything over walking the sort index for
            // one page: ~30 ms instead of ~0.3 ms with 20,000 images, and
            // growing with the table. They are never selective for a list.
            const NOT_BOOLEANS: &str = " IGNORE INDEX (ix_images_deleted, os_hidden_image_idx)";
            hint = NOT_BOOLEANS.into();
            // Left alone, the optimizer then walks the sort index even
            // when the filters keep few rows, visiting every image to find
            // them (27 s for `name=<one>` with 1,000,000 images). As on
            // SQLite, a bounded count decides: many matches walk the sort
            // index, few are found by scanning and sorted.
            if let Some(&("created_at" | "updated_at", ..)) = keys.first() {
                let mut probe = Sql::new(
                    d,
                    &format!("SELECT count(*) FROM (SELECT 1 FROM images{NOT_BOOLEANS} WHERE "),
                );
                push_where(&mut probe, d, lq, viewer, marker.as_ref(), &keys, false)?;
                probe.push(" LIMIT ").int(DENSE).push(") AS probe");
                if !self.dense(&probe).await? {
                    hint.push_str(
                        " IGNORE INDEX FOR ORDER BY (created_at_image_idx, updated_at_image_idx)",
                    );
                }
            }
        }
        if self.db.backend() == Backend::Sqlite {
            if !viewer.is_admin
                && let Some(p) = &viewer.project_id
            {
                let mut probe = Sql::new(d, "SELECT count(*) FROM (");
                push_candidates(&mut probe, p);
                probe.push(" LIMIT ").int(DENSE).push(")");
                candidate_ids = !self.dense(&probe).await?;
            }
            if !candidate_ids && let Some(&(col @ ("created_at" | "updated_at"), ..)) = keys.first()
            {
                let mut probe = Sql::new(d, "SELECT count(*) FROM (SELECT 1 FROM images WHERE ");
                push_where(&mut probe, d, lq, viewer, marker.as_ref(), &keys, false)?;
                probe.push(" LIMIT ").int(DENSE).push(")");
                if self.dense(&probe).await? {
                    hint = format!(" INDEXED BY {col}_image_idx");
                }
            }
        }
        let order_by = |q: &mut Sql| {
            q.push(" ORDER BY ");
            for (i, (col, dir, _, _)) in keys.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("images.").push(col).push(if *dir == SortDir::Desc {
                    " DESC"
                } else {
                    " ASC"
                });
            }
        };
        // PostgreSQL and MySQL carry every selected column through the
        // sort (and PostgreSQL formats the timestamps of every row before
        // it): the page is chosen by id first, and only its rows are read
        // in full. With 1,000,000 images and a sort no index serves
        // (`name`), 620 -> 180 ms on PostgreSQL. SQLite already reads the
        // columns after choosing the rows.
        let mut q = if self.db.backend() == Backend::Sqlite {
            Sql::new(
                d,
                &format!("SELECT {} FROM images{hint} WHERE ", image_columns(d)),
            )
        } else {
            Sql::new(
                d,
                &format!(
                    "SELECT {} FROM images JOIN (SELECT images.id AS page_id FROM images{hint} WHERE ",
                    image_columns(d)
                ),
            )
        };
        push_where(&mut q, d, lq, viewer, marker.as_ref(), &keys, candidate_ids)?;
        order_by(&mut q);
        q.push(" LIMIT ").int(lq.limit.max(0));
        if self.db.backend() != Backend::Sqlite {
            q.push(") page ON images.id = page.page_id");
            order_by(&mut q);
        }
        Ok(q)
    }
}

/// A regular user's candidate image ids (Glance's UNION of public and
/// community images, its own, and those shared with it; the visibility
/// and member-status rules are applied by the main condition).
fn push_candidates(q: &mut Sql, project: &str) {
    q.push(
        "SELECT id FROM images WHERE visibility IN ('public', 'community') \
         UNION ALL SELECT id FROM images WHERE owner = ",
    )
    .text(project);
    q.push(" UNION ALL SELECT image_id FROM image_members WHERE member = ")
        .text(project);
}

/// How long a plan decision is reused, and how many are kept.
const PLAN_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const PLAN_CACHE_MAX: usize = 1024;

/// Probe results by query text and arguments.
#[derive(Debug, Default)]
pub(crate) struct PlanCache(std::collections::HashMap<String, (std::time::Instant, bool)>);

/// Rows a list may return before a full index walk in sort order beats
/// sorting the matches (SQLite; see [`Repo::list_sql`]).
const DENSE: i64 = 2000;

/// The WHERE clause of a list: live and listable, filters, the viewer's
/// candidates, visibility rules, tags, and the keyset condition after the
/// marker.
fn push_where(
    q: &mut Sql,
    d: Dialect,
    lq: &ListQuery,
    viewer: &Viewer,
    marker: Option<&Image>,
    keys: &[(&'static str, SortDir, ColKind, bool)],
    candidate_ids: bool,
) -> Result<(), DbError> {
    q.push(&d.no_index("images.deleted"))
        .push(" = ")
        .bool(false);
    q.push(" AND images.status IN (");
    for (i, s) in LISTABLE_STATUSES.iter().enumerate() {
        q.push(if i > 0 { ", '" } else { "'" }).push(s).push("'");
    }
    q.push(") AND ")
        .push(&d.no_index("images.os_hidden"))
        .push(" = ")
        .bool(lq.os_hidden);
    if let Some(p) = lq.protected {
        q.push(" AND images.protected = ").bool(p);
    }
    for f in &lq.filters {
        q.push(" AND ");
        push_filter(q, d, f)?;
    }

    let vis = d.no_index("images.visibility");
    // Candidates (regular users): Glance's UNION of public/community,
    // owned, and shared-with-me images, as one OR.
    if !viewer.is_admin {
        q.push(" AND (")
            .push(&vis)
            .push(" IN ('public', 'community')");
        if let Some(p) = &viewer.project_id {
            q.push(" OR images.owner = ").text(p.as_str());
        }
        q.push(" OR (").push(&vis).push(
            " = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
           WHERE m.image_id = images.id AND NOT m.deleted",
        );
        if let Some(p) = &viewer.project_id {
            q.push(" AND m.member = ").text(p.as_str());
            if lq.member_status != "all" {
                q.push(" AND m.status = ").text(lq.member_status.as_str());
            }
        }
        q.push(")))");
        // When the candidates are few (see `Repo::list_sql`), the same
        // set as indexable ids (Glance's UNION), so they are read from
        // the owner, visibility and member indexes instead of a walk
        // over every image.
        if candidate_ids && let Some(p) = &viewer.project_id {
            q.push(" AND images.id IN (");
            push_candidates(q, p);
            q.push(")");
        }
    }
    // The visibility filter, or the community rule.
    match lq.visibility.as_deref() {
        Some("all") => {}
        Some(v) => match Visibility::from_str(v) {
            // Indexable unless the candidate ids drive the query: on
            // SQLite the density probe decides between this index and
            // the sort index.
            Some(v) => {
                q.push(" AND ")
                    .push(if candidate_ids {
                        &vis
                    } else {
                        "images.visibility"
                    })
                    .push(" = '")
                    .push(v.as_str())
                    .push("'");
            }
            None => {
                q.push(" AND 1 = 0");
            }
        },
        None => match &viewer.project_id {
            None => {
                q.push(" AND ").push(&vis).push(" <> 'community'");
            }
            Some(p) => {
                q.push(" AND (images.owner = ")
                    .text(p.as_str())
                    .push(" OR ")
                    .push(&vis)
                    .push(" <> 'community')");
            }
        },
    }
    for tag in &lq.tags {
        q.push(
            " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id \
     AND NOT t.deleted AND t.value = ",
        )
        .text(tag.as_str())
        .push(")");
    }

    if let Some(m) = marker {
        let op = |dir: SortDir| if dir == SortDir::Desc { " < " } else { " > " };
        // The first key again as a plain range, so the planner can
        // seek an index on it (implied by the OR below).
        if let Some(&(col, dir, kind, nullable)) = keys.first()
            && (!nullable || kind == ColKind::Time)
        {
            q.push(" AND images.")
                .push(col)
                .push(if dir == SortDir::Desc { " <= " } else { " >= " });
            push_marker_value(q, m, col, kind);
        }
        q.push(" AND (");
        for i in 0..keys.len() {
            if i > 0 {
                q.push(" OR ");
            }
            q.push("(");
            for &(col, _, kind, nullable) in &keys[..i] {
                q.push(&key_expr(col, kind, nullable)).push(" = ");
                push_marker_value(q, m, col, kind);
                q.push(" AND ");
            }
            let (col, dir, kind, nullable) = keys[i];
            q.push(&key_expr(col, kind, nullable)).push(op(dir));
            push_marker_value(q, m, col, kind);
            q.push(")");
        }
        q.push(")");
    }
    Ok(())
}

/// One `_make_conditions_from_filters` condition.
fn push_filter(q: &mut Sql, d: Dialect, f: &Filter) -> Result<(), DbError> {
    match f {
        Filter::Min { column, value } | Filter::Max { column, value } => {
            // Any image column, compared with an integer as SQLAlchemy
            // binds it (PostgreSQL then refuses text/timestamp columns, as
            // it does under Glance).
            if !IMAGE_COLUMNS.contains(&column.as_str()) {
                return Err(bad_column(column));
            }
            let op = if matches!(f, Filter::Min { .. }) {
                " >= "
            } else {
                " <= "
            };
            q.push("images.").push(column).push(op).int(*value);
        }
        Filter::Time { column, op, at } => {
            if column != "created_at" && column != "updated_at" {
                return Err(bad_column(column));
            }
            let op = match op {
                TimeOp::Gt => " > ",
                TimeOp::Gte => " >= ",
                TimeOp::Lt => " < ",
                TimeOp::Lte => " <= ",
                TimeOp::Eq => " = ",
                TimeOp::Neq => " != ",
            };
            q.push("images.").push(column).push(op).ts(*at);
        }
        Filter::In { column, values } => {
            if !["name", "id", "status", "container_format", "disk_format"]
                .contains(&column.as_str())
            {
                return Err(bad_column(column));
            }
            if values.is_empty() {
                // SQLAlchemy's empty IN: false.
                q.push("1 = 0");
            } else if let [one] = values.as_slice() {
                q.push("images.")
                    .push(column)
                    .push(" = ")
                    .text(one.as_str());
            } else {
                q.push("images.").push(column).push(" IN ");
                q.text_list(values.iter().map(String::as_str));
            }
        }
        Filter::Column { column, value } => {
            let (kind, _) = column_kind(column).ok_or_else(|| bad_column(column))?;
            match kind {
                ColKind::Text => {
                    let col = if column == "visibility" {
                        d.vis_out("images.visibility")
                    } else {
                        format!("images.{column}")
                    };
                    q.push(&col).push(" = ").text(value.as_str());
                }
                ColKind::Int => {
                    q.push("images.")
                        .push(column)
                        .push(" = ")
                        .arg(d.int_from_text_in(), Arg::Text(Some(value.clone())));
                }
                ColKind::Time => {
                    if d.0 == Backend::Sqlite {
                        // SQLAlchemy's SQLite DateTime refuses a string.
                        return Err(DbError::Other(
                            "SQLite DateTime type only accepts Python datetime and date objects as input."
                                .into(),
                        ));
                    }
                    q.push("images.").push(column).push(" = ");
                    q.arg(d.ts_in(), Arg::Text(Some(value.clone())));
                }
            }
        }
        Filter::Property { key, value } => {
            q.push(
                "EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id \
                 AND NOT p.deleted AND p.name = ",
            )
            .text(key.as_str())
            .push(" AND p.value = ")
            .text(value.as_str())
            .push(")");
        }
    }
    Ok(())
}
