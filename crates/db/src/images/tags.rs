//! Image tags (`image_tag_*`): live rows are `deleted = 0`; removing a tag
//! soft-deletes its row and adding one always inserts a new row, as Glance
//! does.

use glimpse_domain::py::Timestamp;

use super::sql::{Conn, Dialect, Kind, Sql, Val, fetch, now, run};
use super::{Repo, no_image};
use crate::DbError;

async fn live(d: Dialect, conn: Conn<'_>, image_id: &str) -> Result<Vec<String>, DbError> {
    let mut q = Sql::new(
        d,
        "SELECT value FROM image_tags WHERE NOT deleted AND image_id = ",
    );
    q.text(image_id).push(" ORDER BY id");
    Ok(fetch(conn, &q, &[Kind::Text])
        .await?
        .iter()
        .filter_map(|r| r.first().and_then(Val::text))
        .collect())
}

async fn insert(
    d: Dialect,
    conn: Conn<'_>,
    image_id: &str,
    tag: &str,
    t: Timestamp,
) -> Result<(), DbError> {
    let mut q = Sql::new(
        d,
        "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) VALUES (",
    );
    q.text(image_id)
        .push(", ")
        .text(tag)
        .push(", ")
        .ts(t)
        .push(", ")
        .ts(t);
    q.push(", ").bool(false).push(")");
    run(conn, &q).await.map(|_| ())
}

async fn soft_delete(
    d: Dialect,
    conn: Conn<'_>,
    image_id: &str,
    tag: &str,
    t: Timestamp,
) -> Result<u64, DbError> {
    let mut q = Sql::new(d, "UPDATE image_tags SET deleted = ");
    q.bool(true)
        .push(", deleted_at = ")
        .ts(t)
        .push(", updated_at = ")
        .ts(t)
        .push(" WHERE NOT deleted AND image_id = ")
        .text(image_id)
        .push(" AND value = ")
        .text(tag);
    run(conn, &q).await
}

/// `image_tag_set_all`: insert the missing tags in the given order,
/// soft-delete the ones no longer wanted.
/// The tags of a new image (no rows can exist yet): one insert per
/// distinct tag.
pub(super) async fn insert_all(
    d: Dialect,
    mut conn: Conn<'_>,
    image_id: &str,
    tags: &[String],
    t: Timestamp,
) -> Result<(), DbError> {
    let mut created: Vec<&str> = Vec::new();
    for tag in tags {
        if !created.contains(&tag.as_str()) {
            created.push(tag);
            insert(d, conn.re(), image_id, tag, t).await?;
        }
    }
    Ok(())
}

pub(super) async fn set_all(
    d: Dialect,
    mut conn: Conn<'_>,
    image_id: &str,
    tags: &[String],
    t: Timestamp,
) -> Result<(), DbError> {
    let existing = live(d, conn.re(), image_id).await?;
    let mut created: Vec<&str> = Vec::new();
    for tag in tags {
        if !created.contains(&tag.as_str()) && !existing.contains(tag) {
            created.push(tag);
            insert(d, conn.re(), image_id, tag, t).await?;
        }
    }
    for tag in &existing {
        if !tags.contains(tag) {
            soft_delete(d, conn.re(), image_id, tag, t).await?;
        }
    }
    Ok(())
}

impl Repo {
    /// The image's live tags, oldest first.
    pub async fn tags(&self, image_id: &str) -> Result<Vec<String>, DbError> {
        live(self.d(), Conn::Pool(&self.db), image_id).await
    }

    /// Adds a tag unless the image already has it, and sets the image's
    /// `updated_at` to now either way (Glance's tag PUT saves the image).
    /// `NotFound` for a missing or deleted image. Returns the new
    /// `updated_at`.
    pub async fn tag_add(&self, image_id: &str, tag: &str) -> Result<Timestamp, DbError> {
        let d = self.d();
        let t = now();
        let mut tx = self.db.begin_write().await?;
        touch(d, Conn::Tx(&mut tx), image_id, t).await?;
        if !live(d, Conn::Tx(&mut tx), image_id)
            .await?
            .iter()
            .any(|x| x == tag)
        {
            insert(d, Conn::Tx(&mut tx), image_id, tag, t).await?;
        }
        tx.commit().await?;
        Ok(t)
    }

    /// Soft-deletes a tag and sets the image's `updated_at`; `NotFound`
    /// when the image or the tag is not there. Returns the new
    /// `updated_at`.
    pub async fn tag_delete(&self, image_id: &str, tag: &str) -> Result<Timestamp, DbError> {
        let d = self.d();
        let t = now();
        let mut tx = self.db.begin_write().await?;
        touch(d, Conn::Tx(&mut tx), image_id, t).await?;
        if soft_delete(d, Conn::Tx(&mut tx), image_id, tag, t).await? == 0 {
            let _ = tx.rollback().await;
            return Err(DbError::NotFound(format!(
                "Tag {tag} not found on image {image_id}"
            )));
        }
        tx.commit().await?;
        Ok(t)
    }
}

/// Sets a live image's `updated_at`; `NotFound` otherwise.
async fn touch(d: Dialect, conn: Conn<'_>, image_id: &str, t: Timestamp) -> Result<(), DbError> {
    let mut q = Sql::new(d, "UPDATE images SET updated_at = ");
    q.ts(t).push(" WHERE NOT deleted AND id = ").text(image_id);
    if run(conn, &q).await? == 0 {
        return Err(no_image(image_id));
    }
    Ok(())
}
