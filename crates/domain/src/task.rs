//! Tasks (`glance.domain.Task` and `glance/api/v2/tasks.py`'s views): the
//! status machine (`pending → processing → success | failure`, or straight
//! to `failure`), the expiry a finished task gets (`task_time_to_live`
//! hours after it finished), the create body's checks and the two JSON
//! views (a task, and the stub a list shows).

use serde_json::{Map, Value};

use crate::error::DomainError;
use crate::py::Timestamp;
use crate::schema::validate;

/// The task types Glance knows (`Task._supported_task_type`).
pub const TASK_TYPES: &[&str] = &["import", "api_image_import", "location_import"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Pending,
    Processing,
    Success,
    Failure,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Success,
        TaskStatus::Failure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Processing => "processing",
            TaskStatus::Success => "success",
            TaskStatus::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }

    fn may_become(self, next: TaskStatus) -> bool {
        matches!(
            (self, next),
            (
                TaskStatus::Pending,
                TaskStatus::Processing | TaskStatus::Failure
            ) | (
                TaskStatus::Processing,
                TaskStatus::Success | TaskStatus::Failure
            )
        )
    }
}

/// A task with its `task_info` (input, result, message).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub owner: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub input: Value,
    pub result: Option<Value>,
    /// `''` unless the task failed (Glance never stores NULL here).
    pub message: String,
}

impl Task {
    /// `TaskFactory.new_task`: pending, no expiry yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        task_type: String,
        owner: String,
        input: Value,
        user_id: Option<String>,
        request_id: Option<String>,
        now: Timestamp,
    ) -> Task {
        let image_id = input
            .get("image_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        Task {
            id,
            task_type,
            status: TaskStatus::Pending,
            owner,
            expires_at: None,
            created_at: now,
            updated_at: now,
            image_id,
            request_id,
            user_id,
            input,
            result: None,
            message: String::new(),
        }
    }

    fn set_status(&mut self, next: TaskStatus) -> Result<(), DomainError> {
        if !self.status.may_become(next) {
            return Err(DomainError::Conflict(format!(
                "Status transition from {} to {} is not allowed",
                self.status.as_str(),
                next.as_str()
            )));
        }
        self.status = next;
        Ok(())
    }

    pub fn begin_processing(&mut self) -> Result<(), DomainError> {
        self.set_status(TaskStatus::Processing)
    }

    /// Success with `result`; the task expires `ttl_hours` from `now`.
    pub fn succeed(
        &mut self,
        result: Value,
        now: Timestamp,
        ttl_hours: i64,
    ) -> Result<(), DomainError> {
        self.result = Some(result);
        self.set_status(TaskStatus::Success)?;
        self.expires_at = Some(expiry(now, ttl_hours));
        Ok(())
    }

    /// Failure with `message`; the task expires `ttl_hours` from `now`.
    pub fn fail(
        &mut self,
        message: &str,
        now: Timestamp,
        ttl_hours: i64,
    ) -> Result<(), DomainError> {
        self.message = message.to_string();
        self.set_status(TaskStatus::Failure)?;
        self.expires_at = Some(expiry(now, ttl_hours));
        Ok(())
    }

    fn link(&self) -> String {
        format!("/v2/tasks/{}", self.id)
    }

    /// `ResponseSerializer._format_task`, key for key.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("input".into(), self.input.clone());
        m.insert("type".into(), Value::String(self.task_type.clone()));
        m.insert("status".into(), Value::String(self.status.as_str().into()));
        m.insert("owner".into(), Value::String(self.owner.clone()));
        m.insert("message".into(), Value::String(self.message.clone()));
        m.insert("result".into(), self.result.clone().unwrap_or(Value::Null));
        self.put_common(&mut m);
        if let Some(v) = &self.image_id {
            m.insert("image_id".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.request_id {
            m.insert("request_id".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.user_id {
            m.insert("user_id".into(), Value::String(v.clone()));
        }
        self.put_expiry(&mut m);
        Value::Object(m)
    }

    /// `_format_task_stub` (a list item).
    pub fn stub_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("type".into(), Value::String(self.task_type.clone()));
        m.insert("status".into(), Value::String(self.status.as_str().into()));
        m.insert("owner".into(), Value::String(self.owner.clone()));
        self.put_common(&mut m);
        self.put_expiry(&mut m);
        Value::Object(m)
    }

    fn put_common(&self, m: &mut Map<String, Value>) {
        m.insert(
            "created_at".into(),
            Value::String(self.created_at.isotime()),
        );
        m.insert(
            "updated_at".into(),
            Value::String(self.updated_at.isotime()),
        );
        m.insert("self".into(), Value::String(self.link()));
        m.insert("schema".into(), Value::String("/v2/schemas/task".into()));
    }

    fn put_expiry(&self, m: &mut Map<String, Value>) {
        if let Some(t) = self.expires_at {
            m.insert("expires_at".into(), Value::String(t.isotime()));
        }
    }
}

fn expiry(now: Timestamp, ttl_hours: i64) -> Timestamp {
    Timestamp {
        micros: now
            .micros
            .saturating_add(ttl_hours.saturating_mul(3_600_000_000)),
    }
}

/// The create body (`RequestDeserializer.create`): `type` and `input`
/// present, then valid against the task schema (`schema`, with
/// `additionalProperties: false`). Returns the type and the input.
pub fn parse_create(body: &Value, schema: &Value) -> Result<(String, Value), DomainError> {
    let Value::Object(o) = body else {
        return Err(DomainError::BadRequest(
            "Unexpected body type. Expected list/dict.".into(),
        ));
    };
    for key in ["type", "input"] {
        if !o.contains_key(key) {
            return Err(DomainError::BadRequest(format!("Task '{key}' is required")));
        }
    }
    validate(schema, body).map_err(|v| DomainError::BadRequest(v.glance_message("task")))?;
    let task_type = o.get("type").and_then(Value::as_str).unwrap_or_default();
    Ok((
        task_type.to_string(),
        o.get("input").cloned().unwrap_or(Value::Null),
    ))
}

/// A legacy `import` task's input (`unpack_task_input`).
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyImport {
    pub import_from: String,
    pub import_from_format: Value,
    pub image_properties: Map<String, Value>,
}

impl LegacyImport {
    pub fn from_input(input: &Value) -> Result<LegacyImport, String> {
        for key in ["import_from", "import_from_format", "image_properties"] {
            if input.get(key).is_none() {
                return Err(format!("Input does not contain '{key}' field"));
            }
        }
        Ok(LegacyImport {
            import_from: input
                .get("import_from")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            import_from_format: input
                .get("import_from_format")
                .cloned()
                .unwrap_or(Value::Null),
            image_properties: input
                .get("image_properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task() -> Task {
        Task::new(
            "t".into(),
            "import".into(),
            "p".into(),
            json!({"import_from": "http://x/"}),
            None,
            Some("req-1".into()),
            Timestamp { micros: 0 },
        )
    }

    #[test]
    fn status_machine_and_expiry() {
        let mut t = task();
        assert!(t.succeed(json!({}), Timestamp { micros: 0 }, 48).is_err());
        t.begin_processing().unwrap();
        t.succeed(json!({"image_id": "i"}), Timestamp { micros: 0 }, 48)
            .unwrap();
        assert_eq!(t.expires_at.unwrap().micros, 48 * 3_600_000_000);
        assert!(t.fail("x", Timestamp { micros: 0 }, 48).is_err());
        let mut f = task();
        f.fail("boom", Timestamp { micros: 0 }, 1).unwrap();
        assert_eq!(f.status, TaskStatus::Failure);
    }

    #[test]
    fn views_in_glance_key_order() {
        let t = task();
        let keys: Vec<String> = t.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "input",
                "type",
                "status",
                "owner",
                "message",
                "result",
                "created_at",
                "updated_at",
                "self",
                "schema",
                "request_id"
            ]
        );
        let stub: Vec<String> = t.stub_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            stub,
            [
                "id",
                "type",
                "status",
                "owner",
                "created_at",
                "updated_at",
                "self",
                "schema"
            ]
        );
    }

    #[test]
    fn create_body_checks() {
        let s = json!({"name": "task", "properties": {"type": {"type": "string"}, "input": {"type": ["null", "object"]}}, "additionalProperties": false});
        assert_eq!(
            parse_create(&json!({"input": {}}), &s)
                .unwrap_err()
                .explanation(),
            "Task 'type' is required"
        );
        assert!(parse_create(&json!({"type": "import", "input": {}, "x": 1}), &s).is_err());
        assert_eq!(
            parse_create(&json!({"type": "import", "input": {"a": 1}}), &s)
                .unwrap()
                .0,
            "import"
        );
        assert_eq!(
            LegacyImport::from_input(&json!({"import_from": "u"})).unwrap_err(),
            "Input does not contain 'import_from_format' field"
        );
    }
}
