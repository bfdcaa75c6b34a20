//! The image repository: Glance 33's image, property, tag, location and
//! member rows read and written as [`glimpse_domain`] types, with the
//! semantics of `glance.db.sqlalchemy.api` (soft deletes, revivals,
//! the `from_state` compare-and-swap, visibility, list filtering and
//! keyset pagination) so that Glimpse and Python Glance can share one
//! database.
//!
//! One code path serves the three backends; the `sql` submodule holds every
//! difference (placeholders, PostgreSQL's ENUM and timestamp typing,
//! MySQL's whole-second `DATETIME`). Writes run in [`Db::begin_write`]
//! transactions (`BEGIN IMMEDIATE` on SQLite), so a compare-and-swap and the
//! child-row changes that go with it are atomic.
//!
//! Where Glance's behaviour is odd it is kept, deliberately:
//! - a re-added member revives its soft-deleted row, keeping that row's
//!   `created_at` and `deleted_at` (Glance drops both from the update);
//! - a re-added property revives its row (deleted → 0) the same way;
//! - [`Repo::save`] leaves locations alone when the image has none (Glance
//!   only calls `_image_locations_set` for a non-empty list);
//! - `os_glance_import_task` is never written by [`Repo::save`]; it changes
//!   only through [`Repo::set_property_atomic`] /
//!   [`Repo::delete_property_atomic`] (Glance's `IMAGE_ATOMIC_PROPS`).
//!
//! Differences: a property that is already soft-deleted is not soft-deleted
//! again on every save (Glance rewrites its `deleted_at` each time); tags,
//! properties and locations are read in row-id order (Glance leaves the
//! order to the database).
//!
//! Index use, observed with `EXPLAIN QUERY PLAN` on SQLite holding 100,000
//! images (`tests/images.rs` asserts the first two):
//! - default list (`created_at desc, id desc`, limit 25): `SCAN images USING
//!   INDEX created_at_image_idx` + `USE TEMP B-TREE FOR LAST TERM OF ORDER
//!   BY` — the index walk stops after the page; only rows tied on
//!   `created_at` are sorted by id (Glance's schema has no
//!   `(created_at, id)` index, so a partial sort is the best it allows);
//! - marker page: `SEARCH images USING INDEX created_at_image_idx
//!   (created_at<?)`, same partial sort; the marker itself is a primary-key
//!   lookup;
//! - a regular user adds `SEARCH m USING INDEX
//!   ix_image_members_image_id_member (image_id=? AND member=?)` per row;
//! - sorting on a column without an index (`name`) is a full scan and sort,
//!   as under Glance (about 60 ms for 100,000 rows in a debug build, against
//!   about 2 ms for the indexed cases).
//!
//! On SQLite, which keeps no statistics, each list first counts up to 2,000
//! rows to pick a plan: a regular user whose candidates (public, own,
//! shared-with-me: Glance's UNION) are few gets them as an indexed id set
//! and the few sorted; otherwise, when the filters keep at least 2,000
//! images, the sort index is forced (`INDEXED BY`) and the walk stops after
//! one page; when they keep fewer, the planner uses the filter's index and
//! sorts. With 1,000,000 images that keeps the default page near 3 ms, a
//! `tag`/`status`/`disk_format` page under 20 ms and a user who sees few
//! images near 1 ms (release build); filters on columns Glance never
//! indexed (`name`, extra properties) and sorts on them still read every
//! row, as they do under Glance.
//!
//! How: the candidate set is one `WHERE` (Glance's UNION of three selects
//! becomes an OR of the same three conditions, which selects the same
//! rows); tag, property and member conditions are `EXISTS` probes on their
//! `(image_id, …)` indexes; the keyset condition repeats its first key as a
//! plain range the planner can seek on; and low-cardinality columns are
//! kept away from SQLite's planner, which has no statistics and would pick
//! their indexes over the sort order (`+images.deleted`, `+os_hidden`,
//! `+visibility` on SQLite; `NOT deleted` for child tables on every
//! backend, equivalent since the column is NOT NULL).

mod members;
mod query;
pub(crate) mod sql;
mod tags;

use glimpse_domain::py::Timestamp;
use glimpse_domain::{ExtraProperties, Image, ImageStatus, Location, Visibility};
use serde_json::{Map, Value};

use crate::{Backend, Db, DbError};
use sql::{Conn, Dialect, Kind, Sql, Val, count_rows, fetch, run};

/// A timestamp as SQLAlchemy stores it in SQLite
/// (`YYYY-MM-DD HH:MM:SS.ffffff`), for raw SQL written by tools and tests.
pub fn sql_timestamp(t: Timestamp) -> String {
    sql::format_ts(t)
}

/// The current time as Glance's `timeutils.utcnow()` gives it.
pub fn now() -> Timestamp {
    sql::now()
}

/// What [`Repo::update`]'s closure decided about the image it was given;
/// each carries the closure's own result.
#[derive(Debug)]
pub enum Update<T> {
    /// Write the image as changed.
    Save(T),
    /// Write nothing.
    Keep(T),
    /// Delete the image, leaving it in this status (`deleted`, or
    /// `pending_delete` for delayed delete).
    Destroy(ImageStatus, T),
}

/// Properties [`Repo::save`] never writes (Glance's `IMAGE_ATOMIC_PROPS`).
pub const ATOMIC_PROPERTIES: &[&str] = &["os_glance_import_task"];

/// The statuses a list may return (Glance's `STATUSES` without `killed`).
const LISTABLE_STATUSES: &[&str] = &[
    "active",
    "saving",
    "queued",
    "pending_delete",
    "deleted",
    "deactivated",
    "importing",
    "uploading",
];

/// Who is asking: the request context's project (`context.owner`) and
/// admin flag, which is all Glance's visibility rules look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Viewer {
    pub project_id: Option<String>,
    pub is_admin: bool,
}

impl Viewer {
    pub fn admin() -> Viewer {
        Viewer {
            project_id: None,
            is_admin: true,
        }
    }
    pub fn project(p: &str) -> Viewer {
        Viewer {
            project_id: Some(p.to_string()),
            is_admin: false,
        }
    }
}

/// The image repository. Cheap to clone (it is the pool).
#[derive(Clone, Debug)]
pub struct Repo {
    db: Db,
    /// SQLite list-plan decisions by query (see `query::Repo::list_sql`).
    plans: std::sync::Arc<std::sync::Mutex<query::PlanCache>>,
}

/// `images` columns in the order [`IMAGE_KINDS`] decodes them.
fn image_columns(d: Dialect) -> String {
    format!(
        "images.id, images.name, images.size, images.status, {}, {}, images.deleted, \
         images.disk_format, images.container_format, images.checksum, images.owner, \
         images.min_disk, images.min_ram, images.protected, images.virtual_size, {}, \
         images.os_hidden, images.os_hash_algo, images.os_hash_value",
        d.ts_out("images.created_at"),
        d.ts_out("images.updated_at"),
        d.vis_out("images.visibility"),
    )
}

const IMAGE_KINDS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Int64,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Bool,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int32,
    Kind::Int32,
    Kind::Bool,
    Kind::Int64,
    Kind::Text,
    Kind::Bool,
    Kind::Text,
    Kind::Text,
];

/// One `images` row, before children are attached.
struct ImageRow {
    image: Image,
    deleted: bool,
}

fn image_from_row(r: &[Val]) -> Result<ImageRow, DbError> {
    let text = |i: usize| r.get(i).and_then(Val::text);
    let int = |i: usize| r.get(i).and_then(Val::int);
    let flag = |i: usize| r.get(i).is_some_and(Val::bool);
    let ts = |i: usize| -> Result<Timestamp, DbError> {
        Ok(r.get(i)
            .map(Val::ts)
            .transpose()?
            .flatten()
            .unwrap_or_default())
    };
    let id = text(0).unwrap_or_default();
    let status_text = text(3).unwrap_or_default();
    let status = ImageStatus::from_str(&status_text).ok_or_else(|| {
        DbError::Other(format!("image {id} has an unknown status {status_text:?}"))
    })?;
    let vis_text = text(15).unwrap_or_default();
    let visibility = Visibility::from_str(&vis_text).ok_or_else(|| {
        DbError::Other(format!("image {id} has an unknown visibility {vis_text:?}"))
    })?;
    let created_at = ts(4)?;
    // A NULL updated_at (legacy rows) reads as created_at.
    let updated_at = match r.get(5).map(Val::ts).transpose()?.flatten() {
        Some(t) => t,
        None => created_at,
    };
    Ok(ImageRow {
        deleted: flag(6),
        image: Image {
            id,
            name: text(1),
            status,
            visibility,
            protected: flag(13),
            os_hidden: flag(16),
            checksum: text(9),
            os_hash_algo: text(17),
            os_hash_value: text(18),
            owner: text(10),
            size: int(2),
            virtual_size: int(14),
            disk_format: text(7),
            container_format: text(8),
            min_ram: int(12).unwrap_or(0),
            min_disk: int(11).unwrap_or(0),
            created_at,
            updated_at,
            tags: Vec::new(),
            extra_properties: ExtraProperties::default(),
            locations: Vec::new(),
        },
    })
}

/// `_check_image_id`: ids longer than the column cannot exist.
/// The `images` columns both [`Repo::create`] and [`Repo::save`] write from
/// an image (owner "" is stored as NULL), with each one's placeholder.
fn written_columns(d: Dialect, image: &Image) -> [(&'static str, &'static str, sql::Arg); 15] {
    use sql::Arg;
    let text = |v: Option<&str>| Arg::Text(v.map(str::to_string));
    [
        ("name", "?", text(image.name.as_deref())),
        ("size", "?", Arg::Int(image.size)),
        ("status", "?", text(Some(image.status.as_str()))),
        ("disk_format", "?", text(image.disk_format.as_deref())),
        (
            "container_format",
            "?",
            text(image.container_format.as_deref()),
        ),
        ("checksum", "?", text(image.checksum.as_deref())),
        (
            "owner",
            "?",
            text(image.owner.as_deref().filter(|o| !o.is_empty())),
        ),
        ("min_disk", "?", Arg::Int(Some(image.min_disk))),
        ("min_ram", "?", Arg::Int(Some(image.min_ram))),
        ("protected", "?", Arg::Bool(image.protected)),
        ("virtual_size", "?", Arg::Int(image.virtual_size)),
        (
            "visibility",
            d.vis_in(),
            text(Some(image.visibility.as_str())),
        ),
        ("os_hidden", "?", Arg::Bool(image.os_hidden)),
        ("os_hash_algo", "?", text(image.os_hash_algo.as_deref())),
        ("os_hash_value", "?", text(image.os_hash_value.as_deref())),
    ]
}

fn id_fits(id: &str) -> bool {
    id.chars().count() <= 36
}

fn no_image(id: &str) -> DbError {
    DbError::NotFound(format!("No image found with ID {id}"))
}

/// Location metadata as stored (Glance's `JSONEncodedDict`).
fn metadata_json(m: &Map<String, Value>) -> String {
    Value::Object(m.clone()).to_string()
}

impl Repo {
    pub fn new(db: Db) -> Repo {
        Repo {
            db,
            plans: Default::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn d(&self) -> Dialect {
        Dialect(self.db.backend())
    }

    // --- reads -------------------------------------------------------

    /// Loads rows by id (any deleted state) with their live children, in
    /// the order of `ids`' rows as the query returned them.
    async fn load_rows(
        &self,
        mut conn: Conn<'_>,
        where_sql: Sql,
    ) -> Result<Vec<ImageRow>, DbError> {
        let rows = fetch(conn.re(), &where_sql, IMAGE_KINDS).await?;
        let mut out = rows
            .iter()
            .map(|r| image_from_row(r))
            .collect::<Result<Vec<_>, _>>()?;
        if !out.is_empty() {
            self.attach_children(conn, &mut out).await?;
        }
        Ok(out)
    }

    /// Fills properties, tags and locations (live rows, row-id order) in
    /// three queries for the whole batch.
    async fn attach_children(
        &self,
        mut conn: Conn<'_>,
        rows: &mut [ImageRow],
    ) -> Result<(), DbError> {
        let d = self.d();
        let ids: Vec<String> = rows.iter().map(|r| r.image.id.clone()).collect();
        let positions: std::collections::HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let idx = |id: &Option<String>| id.as_deref().and_then(|id| positions.get(id).copied());
        let mut q = Sql::new(
            d,
            "SELECT image_id, name, value FROM image_properties WHERE NOT deleted AND image_id IN ",
        );
        q.text_list(ids.iter().map(String::as_str))
            .push(" ORDER BY id");
        let props = fetch(conn.re(), &q, &[Kind::Text, Kind::Text, Kind::Text]).await?;
        let mut q = Sql::new(
            d,
            "SELECT image_id, value FROM image_tags WHERE NOT deleted AND image_id IN ",
        );
        q.text_list(ids.iter().map(String::as_str))
            .push(" ORDER BY id");
        let tags = fetch(conn.re(), &q, &[Kind::Text, Kind::Text]).await?;
        let mut q = Sql::new(
            d,
            "SELECT image_id, id, value, meta_data, status FROM image_locations \
             WHERE NOT deleted AND image_id IN ",
        );
        q.text_list(ids.iter().map(String::as_str))
            .push(" ORDER BY id");
        let locs = fetch(
            conn,
            &q,
            &[Kind::Text, Kind::Int32, Kind::Text, Kind::Text, Kind::Text],
        )
        .await?;
        let props: Vec<(Option<usize>, String, Option<String>)> = props
            .iter()
            .map(|p| {
                (
                    idx(&p[0].text()),
                    p[1].text().unwrap_or_default(),
                    p[2].text(),
                )
            })
            .collect();
        for (i, name, value) in props {
            if let Some(i) = i {
                rows[i].image.extra_properties.set(&name, value);
            }
        }
        let tags: Vec<(Option<usize>, String)> = tags
            .iter()
            .map(|t| (idx(&t[0].text()), t[1].text().unwrap_or_default()))
            .collect();
        for (i, tag) in tags {
            if let Some(i) = i {
                rows[i].image.add_tag(&tag);
            }
        }
        let locs: Vec<(Option<usize>, Location)> = locs
            .iter()
            .map(|l| {
                let metadata = match l[3]
                    .text()
                    .and_then(|m| serde_json::from_str::<Value>(&m).ok())
                {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                (
                    idx(&l[0].text()),
                    Location {
                        url: l[2].text().unwrap_or_default(),
                        metadata,
                        status: l[4].text().unwrap_or_else(|| "active".into()),
                        id: l[1].int(),
                    },
                )
            })
            .collect();
        for (i, loc) in locs {
            if let Some(i) = i {
                rows[i].image.locations.push(loc);
            }
        }
        Ok(())
    }

    async fn row_by_id(&self, conn: Conn<'_>, id: &str) -> Result<Option<ImageRow>, DbError> {
        if !id_fits(id) {
            return Ok(None);
        }
        let d = self.d();
        let mut q = Sql::new(
            d,
            &format!("SELECT {} FROM images WHERE images.id = ", image_columns(d)),
        );
        q.text(id);
        Ok(self.load_rows(conn, q).await?.into_iter().next())
    }

    /// Glance's `is_image_visible` (members in any status count).
    async fn visible(
        &self,
        conn: Conn<'_>,
        image: &Image,
        viewer: &Viewer,
    ) -> Result<bool, DbError> {
        if viewer.is_admin
            || image.owner.is_none()
            || matches!(image.visibility, Visibility::Public | Visibility::Community)
        {
            return Ok(true);
        }
        let Some(project) = &viewer.project_id else {
            return Ok(false);
        };
        if image.owner.as_deref() == Some(project.as_str()) {
            return Ok(true);
        }
        if image.visibility != Visibility::Shared {
            return Ok(false);
        }
        let mut q = Sql::new(
            self.d(),
            "SELECT COUNT(*) FROM image_members WHERE NOT deleted AND image_id = ",
        );
        q.text(image.id.as_str())
            .push(" AND member = ")
            .text(project.as_str());
        Ok(count_rows(conn, &q).await? > 0)
    }

    /// An image the viewer may see: `NotFound` ("No image found with ID
    /// …") when it is missing, deleted (even for admins) or not visible.
    /// Killed images are returned.
    ///
    /// The image and its child rows are read from one snapshot
    /// ([`Db::begin_read`]): read statement by statement, a delete
    /// committing in between showed a live image without its properties.
    pub async fn get(&self, id: &str, viewer: &Viewer) -> Result<Image, DbError> {
        let mut tx = self.db.begin_read().await?;
        let row = self.row_by_id(Conn::Tx(&mut tx), id).await?;
        let found = match row {
            Some(r) if !r.deleted && self.visible(Conn::Tx(&mut tx), &r.image, viewer).await? => {
                Some(r.image)
            }
            _ => None,
        };
        tx.commit().await?;
        found.ok_or_else(|| no_image(id))
    }

    /// A live (not deleted) image, without any visibility check (one
    /// snapshot, as [`Repo::get`]).
    pub async fn get_any(&self, id: &str) -> Result<Image, DbError> {
        let mut tx = self.db.begin_read().await?;
        let row = self.row_by_id(Conn::Tx(&mut tx), id).await?;
        tx.commit().await?;
        match row {
            Some(r) if !r.deleted => Ok(r.image),
            _ => Err(no_image(id)),
        }
    }

    async fn get_in(&self, conn: Conn<'_>, id: &str) -> Result<Image, DbError> {
        match self.row_by_id(conn, id).await? {
            Some(r) if !r.deleted => Ok(r.image),
            _ => Err(no_image(id)),
        }
    }

    // --- writes ------------------------------------------------------

    /// `image_create` + `image_tag_set_all`: inserts the image with the
    /// caller's `created_at`/`updated_at`, its properties, tags and
    /// locations. `Duplicate` when the id exists, soft-deleted rows
    /// included (the primary key still holds it). Returns the stored image
    /// (location ids filled in).
    pub async fn create(&self, image: &Image) -> Result<Image, DbError> {
        let d = self.d();
        let mut tx = self.db.begin_write().await?;
        let cols = written_columns(d, image);
        let mut q = Sql::new(
            d,
            "INSERT INTO images (id, created_at, updated_at, deleted_at, deleted",
        );
        for (name, _, _) in &cols {
            q.push(", ").push(name);
        }
        q.push(") VALUES (");
        q.text(image.id.as_str()).push(", ");
        q.ts(image.created_at).push(", ");
        q.ts(image.updated_at).push(", NULL, ");
        q.bool(false);
        for (_, placeholder, arg) in cols {
            q.push(", ").arg(placeholder, arg);
        }
        q.push(")");
        match run(Conn::Tx(&mut tx), &q).await {
            Ok(_) => {}
            Err(DbError::Duplicate(_)) => {
                let _ = tx.rollback().await;
                return Err(DbError::Duplicate(format!(
                    "Image ID {} already exists!",
                    image.id
                )));
            }
            Err(e) => return Err(e),
        }
        let t = now();
        self.write_properties(Conn::Tx(&mut tx), image, t, false)
            .await?;
        tags::insert_all(d, Conn::Tx(&mut tx), &image.id, &image.tags, t).await?;
        if image.locations.is_empty() {
            // Nothing the database assigns is shown: what was written is
            // what a read would return (owner "" is stored as NULL).
            tx.commit().await?;
            let mut stored = image.clone();
            stored.owner = stored.owner.filter(|o| !o.is_empty());
            return Ok(stored);
        }
        self.set_locations(Conn::Tx(&mut tx), &image.id, &image.locations, t)
            .await?;
        let stored = self.get_in(Conn::Tx(&mut tx), &image.id).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// `image_update(purge_props=True, from_state=…)` + `image_tag_set_all`:
    /// writes the core columns (not `created_at`), sets `updated_at` to now
    /// (as Glance does on every update), replaces the properties (removed
    /// ones are soft-deleted, re-added ones revived; atomic ones untouched),
    /// the tags, and — when the image has any — the locations.
    ///
    /// With `from_state` the update only applies while the row's status is
    /// still that state; otherwise `Conflict` with Glance's text. A missing
    /// or deleted image is `NotFound`. Returns the stored image.
    pub async fn save(
        &self,
        image: &Image,
        from_state: Option<ImageStatus>,
    ) -> Result<Image, DbError> {
        let d = self.d();
        let mut tx = self.db.begin_write().await?;
        let mut q = Sql::new(d, "SELECT status FROM images WHERE NOT deleted AND id = ");
        q.text(image.id.as_str());
        let current = if id_fits(&image.id) {
            fetch(Conn::Tx(&mut tx), &q, &[Kind::Text]).await?
        } else {
            Vec::new()
        };
        let Some(current) = current.first().and_then(|r| r.first()).and_then(Val::text) else {
            let _ = tx.rollback().await;
            return Err(no_image(&image.id));
        };
        let t = now();
        let mut q = Sql::new(d, "UPDATE images SET updated_at = ");
        q.ts(t);
        for (name, placeholder, arg) in written_columns(d, image) {
            q.push(", ").push(name).push(" = ").arg(placeholder, arg);
        }
        q.push(" WHERE NOT deleted AND id = ");
        q.text(image.id.as_str());
        if let Some(from) = from_state {
            q.push(" AND status = ").text(from.as_str());
        }
        if run(Conn::Tx(&mut tx), &q).await? == 0 {
            let _ = tx.rollback().await;
            return Err(DbError::Conflict(format!(
                "cannot transition from {current} to {} in update (wanted from_state={})",
                image.status,
                from_state.map_or("None", ImageStatus::as_str)
            )));
        }
        self.save_children(tx, image, t).await
    }

    /// A read-modify-write of one image that cannot lose a concurrent
    /// update. In one write transaction: the image's row is locked
    /// (`SELECT … FOR UPDATE`; a SQLite write transaction holds the
    /// database's lock already), the image is read — `NotFound` when it is
    /// missing, deleted, or (with a `viewer`) not visible to them, as
    /// [`Repo::get`] — and `change` decides on it: [`Update::Save`] writes
    /// the changed image as [`Repo::save`] would (with `updated_at` now),
    /// [`Update::Keep`] writes nothing, [`Update::Destroy`] deletes the
    /// image as [`Repo::destroy_as`] would. Returns the stored image (for
    /// `Keep` and `Destroy`, the one `change` saw, locations included:
    /// those of a destroyed image are the ones whose data must go) and what
    /// `change` returned; an `Err` from `change` rolls back.
    ///
    /// Glance reads, changes and then saves unconditionally (at most
    /// comparing the status), which loses concurrent updates: two PATCHes
    /// adding different properties on two nodes both answer 200 and one
    /// property is gone. Every write to an image's rows takes this lock
    /// first (saves, destroys and tag changes all `UPDATE images` before
    /// anything else), so nothing can change the image between the read
    /// and the write. `change` runs inside the transaction: it must be
    /// quick and must not wait on anything.
    pub async fn update<T, E>(
        &self,
        id: &str,
        viewer: Option<&Viewer>,
        change: impl FnOnce(&mut Image) -> Result<Update<T>, E>,
    ) -> Result<(Image, T), E>
    where
        E: From<DbError>,
    {
        if !id_fits(id) {
            return Err(no_image(id).into());
        }
        let d = self.d();
        let mut tx = self.db.begin_write().await?;
        // Lock the row before reading it. On MySQL with a no-op UPDATE of
        // the very shape every other image write starts with (`UPDATE
        // images … WHERE NOT deleted AND id = ?`): InnoDB locks index
        // records along the plan, and MariaDB reaches the row through
        // `ix_images_deleted` before the primary key, so a `SELECT … FOR
        // UPDATE` by primary key took the locks in the other order and
        // deadlocked with a concurrent tag change. PostgreSQL locks the row
        // itself (`FOR UPDATE`); SQLite's write transaction holds the lock.
        let mut q = match d.0 {
            Backend::MySql => Sql::new(
                d,
                "UPDATE images SET updated_at = updated_at WHERE NOT deleted AND id = ",
            ),
            _ => Sql::new(d, "SELECT id FROM images WHERE NOT deleted AND id = "),
        };
        q.text(id);
        if d.0 == Backend::MySql {
            run(Conn::Tx(&mut tx), &q).await?;
        } else {
            q.push(d.for_update());
            fetch(Conn::Tx(&mut tx), &q, &[Kind::Text]).await?;
        }
        // Read under the lock: deleted (or missing) is decided here.
        let row = self.row_by_id(Conn::Tx(&mut tx), id).await?;
        let mut image = match row {
            Some(r) if !r.deleted => r.image,
            _ => {
                let _ = tx.rollback().await;
                return Err(no_image(id).into());
            }
        };
        if let Some(v) = viewer
            && !self.visible(Conn::Tx(&mut tx), &image, v).await?
        {
            let _ = tx.rollback().await;
            return Err(no_image(id).into());
        }
        let decision = match change(&mut image) {
            Ok(decision) => decision,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        match decision {
            Update::Keep(out) => {
                let _ = tx.rollback().await;
                Ok((image, out))
            }
            Update::Destroy(status, out) => {
                self.destroy_in(&mut tx, id, status, now()).await?;
                tx.commit().await?;
                Ok((image, out))
            }
            Update::Save(out) => {
                let t = now();
                let mut q = Sql::new(d, "UPDATE images SET updated_at = ");
                q.ts(t);
                for (name, placeholder, arg) in written_columns(d, &image) {
                    q.push(", ").push(name).push(" = ").arg(placeholder, arg);
                }
                q.push(" WHERE NOT deleted AND id = ");
                q.text(id);
                run(Conn::Tx(&mut tx), &q).await?;
                let stored = self.save_children(tx, &image, t).await?;
                Ok((stored, out))
            }
        }
    }

    /// The rest of a save once the `images` row is written: properties,
    /// tags, locations (when the image has any), then the stored image.
    async fn save_children(
        &self,
        mut tx: crate::Tx,
        image: &Image,
        t: Timestamp,
    ) -> Result<Image, DbError> {
        self.write_properties(Conn::Tx(&mut tx), image, t, true)
            .await?;
        tags::set_all(self.d(), Conn::Tx(&mut tx), &image.id, &image.tags, t).await?;
        if !image.locations.is_empty() {
            self.set_locations(Conn::Tx(&mut tx), &image.id, &image.locations, t)
                .await?;
        }
        let stored = self.get_in(Conn::Tx(&mut tx), &image.id).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// `_set_properties_for_image`: update changed or soft-deleted rows
    /// (reviving them), insert new ones, and with `purge` soft-delete live
    /// rows no longer present. Atomic properties are skipped on save.
    async fn write_properties(
        &self,
        mut conn: Conn<'_>,
        image: &Image,
        t: Timestamp,
        purge: bool,
    ) -> Result<(), DbError> {
        let d = self.d();
        let mut q = Sql::new(
            d,
            "SELECT id, name, value, deleted FROM image_properties WHERE image_id = ",
        );
        q.text(image.id.as_str());
        let existing = fetch(
            conn.re(),
            &q,
            &[Kind::Int32, Kind::Text, Kind::Text, Kind::Bool],
        )
        .await?;
        let skip = |k: &str| purge && ATOMIC_PROPERTIES.contains(&k);
        for (name, value) in &image.extra_properties.0 {
            if skip(name) {
                continue;
            }
            match existing
                .iter()
                .find(|r| r[1].text().as_deref() == Some(name.as_str()))
            {
                Some(row) => {
                    if row[3].bool() || row[2].text() != *value {
                        let mut u = Sql::new(d, "UPDATE image_properties SET value = ");
                        u.opt_text(value.as_deref())
                            .push(", deleted = ")
                            .bool(false)
                            .push(", updated_at = ")
                            .ts(t)
                            .push(" WHERE id = ")
                            .opt_int(row[0].int());
                        run(conn.re(), &u).await?;
                    }
                }
                None => {
                    let mut i = Sql::new(
                        d,
                        "INSERT INTO image_properties (image_id, name, value, created_at, \
                         updated_at, deleted) VALUES (",
                    );
                    i.text(image.id.as_str())
                        .push(", ")
                        .text(name.as_str())
                        .push(", ");
                    i.opt_text(value.as_deref())
                        .push(", ")
                        .ts(t)
                        .push(", ")
                        .ts(t);
                    i.push(", ").bool(false).push(")");
                    run(conn.re(), &i).await?;
                }
            }
        }
        if purge {
            for row in &existing {
                let name = row[1].text().unwrap_or_default();
                if row[3].bool() || skip(&name) || image.extra_properties.contains(&name) {
                    continue;
                }
                let mut u = Sql::new(d, "UPDATE image_properties SET deleted = ");
                u.bool(true)
                    .push(", deleted_at = ")
                    .ts(t)
                    .push(", updated_at = ")
                    .ts(t)
                    .push(" WHERE id = ")
                    .opt_int(row[0].int());
                run(conn.re(), &u).await?;
            }
        }
        Ok(())
    }

    /// `_image_locations_set`: soft-delete live locations whose id is not
    /// in the list, insert the new ones (no id), rewrite the others
    /// (`NotFound` for an id this image does not have).
    async fn set_locations(
        &self,
        mut conn: Conn<'_>,
        image_id: &str,
        locations: &[Location],
        t: Timestamp,
    ) -> Result<(), DbError> {
        let d = self.d();
        let keep: Vec<i64> = locations.iter().filter_map(|l| l.id).collect();
        let mut q = Sql::new(d, "UPDATE image_locations SET deleted = ");
        q.bool(true)
            .push(", status = 'deleted', updated_at = ")
            .ts(t)
            .push(", deleted_at = ")
            .ts(t)
            .push(" WHERE NOT deleted AND image_id = ")
            .text(image_id);
        if !keep.is_empty() {
            q.push(" AND id NOT IN (");
            for (i, id) in keep.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.int(*id);
            }
            q.push(")");
        }
        run(conn.re(), &q).await?;
        for loc in locations {
            let gone = matches!(loc.status.as_str(), "deleted" | "pending_delete");
            let deleted_at = gone.then_some(t);
            match loc.id {
                None => {
                    let mut i = Sql::new(
                        d,
                        "INSERT INTO image_locations (image_id, value, created_at, updated_at, \
                         deleted_at, deleted, meta_data, status) VALUES (",
                    );
                    i.text(image_id)
                        .push(", ")
                        .text(loc.url.as_str())
                        .push(", ");
                    i.ts(t)
                        .push(", ")
                        .ts(t)
                        .push(", ")
                        .opt_ts(deleted_at)
                        .push(", ");
                    i.bool(gone)
                        .push(", ")
                        .text(metadata_json(&loc.metadata))
                        .push(", ");
                    i.text(loc.status.as_str()).push(")");
                    run(conn.re(), &i).await?;
                }
                Some(id) => {
                    let mut u = Sql::new(d, "UPDATE image_locations SET value = ");
                    u.text(loc.url.as_str()).push(", meta_data = ");
                    u.text(metadata_json(&loc.metadata)).push(", status = ");
                    u.text(loc.status.as_str()).push(", deleted = ").bool(gone);
                    u.push(", updated_at = ").ts(t).push(", deleted_at = ");
                    u.opt_ts(deleted_at).push(" WHERE id = ").int(id);
                    u.push(" AND image_id = ").text(image_id);
                    if run(conn.re(), &u).await? == 0 {
                        return Err(DbError::NotFound(format!(
                            "No location found with ID {id} from image {image_id}"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// `ImageRepo.remove` with status `deleted`; see [`Repo::destroy_as`].
    pub async fn destroy(&self, id: &str) -> Result<Timestamp, DbError> {
        self.destroy_as(id, ImageStatus::Deleted).await
    }

    /// `ImageRepo.remove` + `image_destroy`: sets `status` (`deleted`, or
    /// `pending_delete` for delayed delete), `deleted=1`, `deleted_at` and
    /// `updated_at` to now, and soft-deletes the live properties, tags,
    /// members and locations (locations get status `deleted`) with the same
    /// time. `NotFound` when missing or already deleted. Returns the time.
    pub async fn destroy_as(&self, id: &str, status: ImageStatus) -> Result<Timestamp, DbError> {
        if !id_fits(id) {
            return Err(no_image(id));
        }
        let t = now();
        let mut tx = self.db.begin_write().await?;
        if let Err(e) = self.destroy_in(&mut tx, id, status, t).await {
            let _ = tx.rollback().await;
            return Err(e);
        }
        tx.commit().await?;
        Ok(t)
    }

    /// The statements of [`Repo::destroy_as`], in the caller's transaction.
    async fn destroy_in(
        &self,
        tx: &mut crate::Tx,
        id: &str,
        status: ImageStatus,
        t: Timestamp,
    ) -> Result<(), DbError> {
        let d = self.d();
        let mut q = Sql::new(d, "UPDATE images SET status = ");
        q.text(status.as_str())
            .push(", deleted = ")
            .bool(true)
            .push(", deleted_at = ")
            .ts(t)
            .push(", updated_at = ")
            .ts(t)
            .push(" WHERE NOT deleted AND id = ")
            .text(id);
        if run(Conn::Tx(tx), &q).await? == 0 {
            return Err(no_image(id));
        }
        for (table, extra) in [
            ("image_locations", ", status = 'deleted'"),
            ("image_properties", ""),
            ("image_members", ""),
            ("image_tags", ""),
        ] {
            let mut q = Sql::new(d, &format!("UPDATE {table} SET deleted = "));
            q.bool(true)
                .push(extra)
                .push(", deleted_at = ")
                .ts(t)
                .push(", updated_at = ")
                .ts(t)
                .push(" WHERE NOT deleted AND image_id = ")
                .text(id);
            run(Conn::Tx(tx), &q).await?;
        }
        Ok(())
    }

    /// `image_set_property_atomic`: revive a soft-deleted property with
    /// `value`, or insert it; `Duplicate` when a live one exists (someone
    /// else holds the lock).
    pub async fn set_property_atomic(
        &self,
        image_id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), DbError> {
        let d = self.d();
        let t = now();
        let mut tx = self.db.begin_write().await?;
        let mut u = Sql::new(d, "UPDATE image_properties SET value = ");
        u.text(value)
            .push(", deleted = ")
            .bool(false)
            .push(", updated_at = ")
            .ts(t)
            .push(" WHERE name = ")
            .text(name)
            .push(" AND image_id = ")
            .text(image_id)
            .push(" AND deleted <> false");
        if run(Conn::Tx(&mut tx), &u).await? == 0 {
            let mut i = Sql::new(
                d,
                "INSERT INTO image_properties (image_id, name, value, created_at, updated_at, \
                 deleted) VALUES (",
            );
            i.text(image_id)
                .push(", ")
                .text(name)
                .push(", ")
                .text(value);
            i.push(", ")
                .ts(t)
                .push(", ")
                .ts(t)
                .push(", ")
                .bool(false)
                .push(")");
            if let Err(e) = run(Conn::Tx(&mut tx), &i).await {
                let _ = tx.rollback().await;
                return Err(match e {
                    DbError::Duplicate(_) => DbError::Duplicate(format!(
                        "Property {name} of image {image_id} is already set"
                    )),
                    e => e,
                });
            }
        }
        tx.commit().await
    }

    /// `image_delete_property_atomic`: deletes the live property only if
    /// it still has `value` (a hard delete, as Glance does); `NotFound`
    /// otherwise.
    pub async fn delete_property_atomic(
        &self,
        image_id: &str,
        name: &str,
        value: &str,
    ) -> Result<(), DbError> {
        let mut tx = self.db.begin_write().await?;
        let mut q = Sql::new(self.d(), "DELETE FROM image_properties WHERE name = ");
        q.text(name)
            .push(" AND value = ")
            .text(value)
            .push(" AND image_id = ")
            .text(image_id)
            .push(" AND NOT deleted");
        if run(Conn::Tx(&mut tx), &q).await? != 1 {
            let _ = tx.rollback().await;
            return Err(DbError::NotFound(format!(
                "Property {name} of image {image_id} is not set to the expected value"
            )));
        }
        tx.commit().await
    }

    // --- counts for quotas ------------------------------------------

    async fn count(&self, table: &str, image_id: &str) -> Result<i64, DbError> {
        let mut q = Sql::new(
            self.d(),
            &format!("SELECT COUNT(*) FROM {table} WHERE NOT deleted AND image_id = "),
        );
        q.text(image_id);
        count_rows(Conn::Pool(&self.db), &q).await
    }

    /// Live properties of an image (atomic and `os_glance_*` ones included).
    pub async fn count_properties(&self, image_id: &str) -> Result<i64, DbError> {
        self.count("image_properties", image_id).await
    }

    pub async fn count_tags(&self, image_id: &str) -> Result<i64, DbError> {
        self.count("image_tags", image_id).await
    }

    /// `image_member_count`.
    pub async fn count_members(&self, image_id: &str) -> Result<i64, DbError> {
        self.count("image_members", image_id).await
    }

    /// `user_get_image_count`: the owner's images not killed, pending
    /// delete or deleted.
    pub async fn count_images(&self, owner: &str) -> Result<i64, DbError> {
        let mut q = Sql::new(self.d(), "SELECT COUNT(*) FROM images WHERE owner = ");
        q.text(owner)
            .push(" AND status NOT IN ('killed', 'pending_delete', 'deleted')");
        count_rows(Conn::Pool(&self.db), &q).await
    }

    /// `user_get_storage_usage`: for the owner's images with a positive
    /// size that are not killed, pending delete or deleted, the size times
    /// the number of locations whose status is not `deleted`.
    pub async fn total_size(&self, owner: &str) -> Result<i64, DbError> {
        let d = self.d();
        let sum = d.bigint(
            "SUM(images.size * (SELECT COUNT(*) FROM image_locations l \
             WHERE l.image_id = images.id AND l.status <> 'deleted'))",
        );
        let mut q = Sql::new(d, &format!("SELECT {sum} FROM images WHERE owner = "));
        q.text(owner)
            .push(" AND size > 0 AND status NOT IN ('killed', 'deleted', 'pending_delete')");
        count_rows(Conn::Pool(&self.db), &q).await
    }
}
