//! The task repository (`task_*` in `glance.db.sqlalchemy.api`): `tasks`
//! rows with their `task_info` (input, result and message as JSON text),
//! visible to an admin or to the owner project; a list first soft-deletes
//! the caller's expired tasks, as Glance's does.

use glimpse_domain::py::Timestamp;
use glimpse_domain::task::{Task, TaskStatus};
use serde_json::Value;

use crate::DbError;
use crate::images::sql::{Conn, Dialect, Kind, Sql, Val, fetch, keyset, now, order_by, run};
use crate::images::{Repo, Viewer};

/// Columns a task list may be sorted on.
pub const TASK_SORT_KEYS: &[&str] = &[
    "id",
    "type",
    "status",
    "owner",
    "expires_at",
    "created_at",
    "updated_at",
    "image_id",
    "request_id",
    "user_id",
];

/// What a task list asks for.
#[derive(Clone, Debug, Default)]
pub struct TaskQuery {
    pub status: Option<String>,
    pub task_type: Option<String>,
    pub marker: Option<String>,
    pub limit: Option<i64>,
    pub sort_key: String,
    pub sort_desc: bool,
}

/// The task half of the repository: `repo.tasks()`.
#[derive(Clone, Copy, Debug)]
pub struct Tasks<'a>(&'a Repo);

impl Repo {
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks(self)
    }
}

/// Every column is read as text (timestamps through `ts_out`).
const KINDS: &[Kind] = &[Kind::Text; 13];

fn select(d: Dialect) -> String {
    format!(
        "SELECT t.id, t.type, t.status, t.owner, {}, {}, {}, t.image_id, t.request_id, \
         t.user_id, i.input, i.result, i.message FROM tasks t \
         LEFT JOIN task_info i ON i.task_id = t.id WHERE ",
        d.ts_out("t.expires_at"),
        d.ts_out("t.created_at"),
        d.ts_out("t.updated_at")
    )
}

fn json_of(v: Option<String>) -> Option<Value> {
    v.and_then(|s| serde_json::from_str(&s).ok())
}

fn task_from_row(r: &[Val]) -> Result<Task, DbError> {
    let text = |i: usize| r.get(i).and_then(Val::text);
    let status = text(2).unwrap_or_default();
    Ok(Task {
        id: text(0).unwrap_or_default(),
        task_type: text(1).unwrap_or_default(),
        status: TaskStatus::parse(&status)
            .ok_or_else(|| DbError::Other(format!("unknown task status {status:?}")))?,
        owner: text(3).unwrap_or_default(),
        expires_at: r[4].ts()?,
        created_at: r[5].ts()?.unwrap_or_default(),
        updated_at: r[6].ts()?.unwrap_or_default(),
        image_id: text(7),
        request_id: text(8),
        user_id: text(9),
        input: json_of(text(10)).unwrap_or(Value::Null),
        result: json_of(text(11)).filter(|v| !v.is_null()),
        message: text(12).unwrap_or_default(),
    })
}

/// `json.dumps(x)` for the `task_info` columns (`None` stays NULL).
fn json_text(v: Option<&Value>) -> Option<String> {
    v.map(Value::to_string)
}

impl Tasks<'_> {
    fn d(&self) -> Dialect {
        self.0.d()
    }

    /// Stores a new task and its info in one transaction.
    pub async fn create(&self, t: &Task) -> Result<(), DbError> {
        let d = self.d();
        let mut q = Sql::new(
            d,
            "INSERT INTO tasks (id, type, status, owner, expires_at, created_at, updated_at, \
             deleted, image_id, request_id, user_id) VALUES (",
        );
        q.text(t.id.clone())
            .push(", ")
            .text(t.task_type.clone())
            .push(", ")
            .text(t.status.as_str())
            .push(", ")
            .text(t.owner.clone())
            .push(", ")
            .opt_ts(t.expires_at)
            .push(", ")
            .ts(t.created_at)
            .push(", ")
            .ts(t.updated_at)
            .push(", ")
            .bool(false)
            .push(", ")
            .opt_text(t.image_id.as_deref())
            .push(", ")
            .opt_text(t.request_id.as_deref())
            .push(", ")
            .opt_text(t.user_id.as_deref())
            .push(")");
        let mut info = Sql::new(
            d,
            "INSERT INTO task_info (task_id, input, result, message) VALUES (",
        );
        info.text(t.id.clone())
            .push(", ")
            .opt_text(json_text(Some(&t.input)).as_deref())
            .push(", ")
            .opt_text(json_text(t.result.as_ref()).as_deref())
            .push(", ")
            .text(t.message.clone())
            .push(")");
        let mut tx = self.0.db().begin_write().await?;
        run(Conn::Tx(&mut tx), &q).await?;
        run(Conn::Tx(&mut tx), &info).await?;
        tx.commit().await
    }

    /// A live task, if `viewer` may see it: `NotFound` when there is none,
    /// `Forbidden` when it belongs to another project.
    pub async fn get(&self, id: &str, viewer: &Viewer) -> Result<Task, DbError> {
        let mut q = Sql::new(self.d(), &select(self.d()));
        q.push("t.id = ").text(id).push(" AND NOT t.deleted");
        let Some(t) = fetch(Conn::Pool(self.0.db()), &q, KINDS)
            .await?
            .first()
            .map(|r| task_from_row(r))
            .transpose()?
        else {
            return Err(DbError::NotFound(format!(
                "Task with the given id {id} was not found"
            )));
        };
        if !viewer.is_admin && viewer.project_id.as_deref() != Some(t.owner.as_str()) {
            return Err(DbError::Forbidden(format!(
                "Forbidding request, task {id} is not visible"
            )));
        }
        Ok(t)
    }

    /// Writes a task's status, expiry and info back (`updated_at` = now).
    pub async fn save(&self, t: &Task) -> Result<Timestamp, DbError> {
        let d = self.d();
        let at = now();
        let mut q = Sql::new(d, "UPDATE tasks SET status = ");
        q.text(t.status.as_str())
            .push(", expires_at = ")
            .opt_ts(t.expires_at)
            .push(", image_id = ")
            .opt_text(t.image_id.as_deref())
            .push(", updated_at = ")
            .ts(at)
            .push(" WHERE id = ")
            .text(t.id.clone());
        let mut info = Sql::new(d, "UPDATE task_info SET result = ");
        info.opt_text(json_text(t.result.as_ref()).as_deref())
            .push(", message = ")
            .text(t.message.clone())
            .push(" WHERE task_id = ")
            .text(t.id.clone());
        let mut tx = self.0.db().begin_write().await?;
        if run(Conn::Tx(&mut tx), &q).await? == 0 {
            let _ = tx.rollback().await;
            return Err(DbError::NotFound(format!(
                "Task with the given id {} was not found",
                t.id
            )));
        }
        run(Conn::Tx(&mut tx), &info).await?;
        tx.commit().await?;
        Ok(at)
    }

    /// A page of live tasks (`task_get_all`), after soft-deleting the
    /// caller's expired ones.
    pub async fn list(&self, viewer: &Viewer, tq: &TaskQuery) -> Result<Vec<Task>, DbError> {
        let d = self.d();
        let at = now();
        let mut expire = Sql::new(d, "UPDATE tasks SET deleted = ");
        expire
            .bool(true)
            .push(", deleted_at = ")
            .ts(at)
            .push(" WHERE NOT deleted AND expires_at <= ")
            .ts(at)
            .push(" AND owner = ")
            .opt_text(viewer.project_id.as_deref());
        let mut tx = self.0.db().begin_write().await?;
        run(Conn::Tx(&mut tx), &expire).await?;
        tx.commit().await?;

        let marker = match &tq.marker {
            Some(m) => Some(self.get(m, viewer).await?),
            None => None,
        };
        let mut q = Sql::new(d, &select(d));
        q.push("NOT t.deleted");
        if !viewer.is_admin {
            q.push(" AND t.owner = ")
                .opt_text(viewer.project_id.as_deref());
        }
        if let Some(s) = &tq.status {
            q.push(" AND t.status = ").text(s.clone());
        }
        if let Some(ty) = &tq.task_type {
            q.push(" AND t.type = ").text(ty.clone());
        }
        let keys: Vec<&str> = if tq.sort_key == "created_at" || tq.sort_key == "id" {
            vec!["created_at", "id"]
        } else {
            vec![tq.sort_key.as_str(), "created_at", "id"]
        };
        if let Some(m) = &marker {
            let bind = |q: &mut Sql, k: &str| match k {
                "id" => {
                    q.text(m.id.clone());
                }
                "type" => {
                    q.text(m.task_type.clone());
                }
                "status" => {
                    q.text(m.status.as_str());
                }
                "owner" => {
                    q.text(m.owner.clone());
                }
                "expires_at" => {
                    q.opt_ts(m.expires_at);
                }
                "created_at" => {
                    q.ts(m.created_at);
                }
                "updated_at" => {
                    q.ts(m.updated_at);
                }
                "image_id" => {
                    q.opt_text(m.image_id.as_deref());
                }
                "request_id" => {
                    q.opt_text(m.request_id.as_deref());
                }
                _ => {
                    q.opt_text(m.user_id.as_deref());
                }
            };
            keyset(&mut q, "t.", &keys, tq.sort_desc, &bind);
        }
        order_by(&mut q, "t.", &keys, tq.sort_desc);
        if let Some(l) = tq.limit {
            q.push(" LIMIT ").int(l.max(0));
        }
        fetch(Conn::Pool(self.0.db()), &q, KINDS)
            .await?
            .iter()
            .map(|r| task_from_row(r))
            .collect()
    }
}
