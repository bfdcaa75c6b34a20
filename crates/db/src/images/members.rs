//! Image members (`image_member_*` and `ImageMemberRepo`). A removed
//! member's row is soft-deleted; adding the same member again revives
//! that row (status reset, `created_at` and `deleted_at` kept, as Glance's
//! update drops both).

use glimpse_domain::{Member, MemberStatus};

use super::Repo;
use super::sql::{Conn, Dialect, Kind, Sql, Val, fetch, now, run};
use crate::DbError;

const KINDS: &[Kind] = &[
    Kind::Int32,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
];

fn select(d: Dialect) -> String {
    format!(
        "SELECT id, image_id, member, status, {}, {} FROM image_members WHERE ",
        d.ts_out("created_at"),
        d.ts_out("updated_at")
    )
}

fn member_from_row(r: &[Val]) -> Result<Member, DbError> {
    let text = |i: usize| r.get(i).and_then(Val::text).unwrap_or_default();
    let status = text(3);
    let created_at = r
        .get(4)
        .map(Val::ts)
        .transpose()?
        .flatten()
        .unwrap_or_default();
    Ok(Member {
        image_id: text(1),
        member_id: text(2),
        status: MemberStatus::from_str(&status)
            .ok_or_else(|| DbError::Other(format!("unknown member status {status:?}")))?,
        created_at,
        updated_at: r
            .get(5)
            .map(Val::ts)
            .transpose()?
            .flatten()
            .unwrap_or(created_at),
    })
}

fn not_found(image_id: &str, member: &str) -> DbError {
    DbError::NotFound(format!(
        "The specified member {member} could not be found on image {image_id}"
    ))
}

impl Repo {
    async fn member_rows(
        &self,
        conn: Conn<'_>,
        image_id: &str,
        member: Option<&str>,
        include_deleted: bool,
    ) -> Result<Vec<(i64, Member)>, DbError> {
        let d = self.d();
        let mut q = Sql::new(d, &select(d));
        q.push("image_id = ").text(image_id);
        if let Some(m) = member {
            q.push(" AND member = ").text(m);
        }
        if !include_deleted {
            q.push(" AND NOT deleted");
        }
        q.push(" ORDER BY id");
        fetch(conn, &q, KINDS)
            .await?
            .iter()
            .map(|r| Ok((r[0].int().unwrap_or(0), member_from_row(r)?)))
            .collect()
    }

    /// Shares the image with `member` (status `pending`). `Duplicate` when
    /// the member is already live; a soft-deleted row for the pair is
    /// revived instead of inserting a new one.
    pub async fn member_create(&self, image_id: &str, member: &str) -> Result<Member, DbError> {
        let d = self.d();
        let t = now();
        let mut tx = self.db.begin_write().await?;
        let rows = self
            .member_rows(Conn::Tx(&mut tx), image_id, Some(member), true)
            .await?;
        let mut q;
        if let Some((id, _)) = rows.first() {
            let live = self
                .member_rows(Conn::Tx(&mut tx), image_id, Some(member), false)
                .await?;
            if !live.is_empty() {
                let _ = tx.rollback().await;
                return Err(DbError::Duplicate(format!(
                    "The target member {member} is already associated with image {image_id}."
                )));
            }
            q = Sql::new(d, "UPDATE image_members SET deleted = ");
            q.bool(false)
                .push(", status = 'pending', can_share = ")
                .bool(false)
                .push(", updated_at = ")
                .ts(t)
                .push(" WHERE id = ")
                .int(*id);
        } else {
            q = Sql::new(
                d,
                "INSERT INTO image_members (image_id, member, can_share, created_at, updated_at, \
                 deleted, status) VALUES (",
            );
            q.text(image_id)
                .push(", ")
                .text(member)
                .push(", ")
                .bool(false);
            q.push(", ").ts(t).push(", ").ts(t).push(", ").bool(false);
            q.push(", 'pending')");
        }
        run(Conn::Tx(&mut tx), &q).await?;
        let out = self
            .member_rows(Conn::Tx(&mut tx), image_id, Some(member), false)
            .await?;
        tx.commit().await?;
        out.into_iter()
            .next()
            .map(|(_, m)| m)
            .ok_or_else(|| not_found(image_id, member))
    }

    /// A live member of the image; `NotFound` otherwise.
    pub async fn member_get(&self, image_id: &str, member: &str) -> Result<Member, DbError> {
        self.member_rows(Conn::Pool(&self.db), image_id, Some(member), false)
            .await?
            .into_iter()
            .next()
            .map(|(_, m)| m)
            .ok_or_else(|| not_found(image_id, member))
    }

    /// The image's live members, oldest row first.
    pub async fn member_list(&self, image_id: &str) -> Result<Vec<Member>, DbError> {
        Ok(self
            .member_rows(Conn::Pool(&self.db), image_id, None, false)
            .await?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    /// Sets a live member's status; `updated_at` changes only when the
    /// status does (Glance writes nothing otherwise). `NotFound` when the
    /// member is not live.
    pub async fn member_update(
        &self,
        image_id: &str,
        member: &str,
        status: MemberStatus,
    ) -> Result<Member, DbError> {
        let d = self.d();
        let mut tx = self.db.begin_write().await?;
        let rows = self
            .member_rows(Conn::Tx(&mut tx), image_id, Some(member), false)
            .await?;
        let Some((id, current)) = rows.into_iter().next() else {
            let _ = tx.rollback().await;
            return Err(not_found(image_id, member));
        };
        if current.status == status {
            tx.commit().await?;
            return Ok(current);
        }
        let t = now();
        let mut q = Sql::new(d, "UPDATE image_members SET status = ");
        q.text(status.as_str())
            .push(", updated_at = ")
            .ts(t)
            .push(" WHERE id = ")
            .int(id);
        run(Conn::Tx(&mut tx), &q).await?;
        let out = self
            .member_rows(Conn::Tx(&mut tx), image_id, Some(member), false)
            .await?;
        tx.commit().await?;
        out.into_iter()
            .next()
            .map(|(_, m)| m)
            .ok_or_else(|| not_found(image_id, member))
    }

    /// Soft-deletes a live member (`deleted_at`, `updated_at` = now);
    /// `NotFound` when there is none.
    pub async fn member_delete(&self, image_id: &str, member: &str) -> Result<(), DbError> {
        let t = now();
        let mut tx = self.db.begin_write().await?;
        let mut q = Sql::new(self.d(), "UPDATE image_members SET deleted = ");
        q.bool(true)
            .push(", deleted_at = ")
            .ts(t)
            .push(", updated_at = ")
            .ts(t)
            .push(" WHERE NOT deleted AND image_id = ")
            .text(image_id)
            .push(" AND member = ")
            .text(member);
        if run(Conn::Tx(&mut tx), &q).await? == 0 {
            let _ = tx.rollback().await;
            return Err(not_found(image_id, member));
        }
        tx.commit().await
    }
}
