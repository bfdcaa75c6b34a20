//! `/v2/tasks` (`glance/api/v2/tasks.py`, deprecated upstream but
//! served): create, list and show tasks; every call needs
//! `tasks_api_access` (admin by default), checked before anything else.
//!
//! Tour:
//! - this module: the routes and the request checks;
//! - [`filter`]: `[import_filtering_opts]`, which URLs data may be fetched
//!   from;
//! - [`legacy_import`]: the `import` task's work (create the image, fetch
//!   `import_from` into the default store, activate), run in the worker
//!   that accepted the task.
//!
//! Only `import` tasks can be created here: the other types
//! (`api_image_import`, `location_import`) are made by the image import
//! and locations calls with inputs only those calls build; Glance accepts
//! them here and fails them later, Glimpse refuses them with a 400.

pub mod filter;
pub mod legacy_import;

use std::sync::Arc;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_db::DbError;
use glimpse_db::tasks::{TASK_SORT_KEYS, TaskQuery};
use glimpse_domain::py;
use glimpse_domain::task::{Task, TaskStatus, parse_create};
use glimpse_http::{Request, Response};
use glimpse_policy::Values;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};

use super::images::viewer;
use super::service::{
    ImageService, context, handler, json_response, link_query, param, parse_limit, read_json,
    require_body,
};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult, bad_request, forbidden, http_error, not_found};
use crate::router::{Params, Router};

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_group("task", "Tasks.");
    conf.register(
        "task",
        Opt::int("task_time_to_live")
            .default("48")
            .help("Hours a finished task is kept (shown) before it is deleted."),
    )?;
    filter::register_opts(conf)
}

pub fn add_routes(router: &mut Router, svc: &Arc<ImageService>) {
    router.route(Method::GET, "/tasks", handler(svc.clone(), index));
    router.route(Method::POST, "/tasks", handler(svc.clone(), create));
    router.route(Method::GET, "/tasks/{task_id}", handler(svc.clone(), show));
    router.route(
        Method::DELETE,
        "/tasks/{task_id}",
        handler(svc.clone(), delete),
    );
}

/// `TasksAPIPolicy.tasks_api_access` (an empty target).
fn access(svc: &ImageService, ctx: &RequestContext) -> ApiResult<()> {
    svc.enforcer
        .enforce_values(ctx, "tasks_api_access", &Values::new())
}

fn db_error(e: DbError) -> ApiError {
    match e {
        DbError::NotFound(m) => not_found(m),
        DbError::Forbidden(m) => forbidden(m),
        e => e.into(),
    }
}

/// `script_utils.validate_location_uri`'s answer for a legacy import's
/// `import_from`, before the filtering.
fn check_location(location: &Value) -> ApiResult<String> {
    let text = match location {
        Value::String(s) => s.clone(),
        Value::Null => return Err(bad_request("Invalid location: None")),
        other => {
            return Err(bad_request(format!(
                "Invalid location: {}",
                py::str_of(other)
            )));
        }
    };
    if text.is_empty() {
        return Err(bad_request("Invalid location: "));
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        return Ok(text);
    }
    if text.starts_with("file:///") || text.starts_with("filesystem:///") {
        return Err(bad_request(
            "File based imports are not allowed. Please use a non-local source of image data.",
        ));
    }
    Err(bad_request(
        "The given uri is not valid. Please specify a valid uri from the following list of \
         supported uri ['http']",
    ))
}

async fn create(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    access(&svc, &ctx)?;
    let host_url = glimpse_http::ext::host_url(&req);
    let body = require_body(read_json(req).await?)?;
    let (task_type, input) = parse_create(&body, &svc.tasks.schema)?;
    if task_type != "import" {
        return Err(bad_request(format!(
            "Tasks of type {task_type} are created by the image import and locations calls, \
             not through the tasks API."
        )));
    }
    let uri = check_location(input.get("import_from").unwrap_or(&Value::Null))?;
    if let Err(why) = svc.tasks.filter.addresses(&uri).await {
        log::info!(target: "glance.api.v2.tasks", "Legacy import URI refused: {why}");
        return Err(bad_request(format!(
            "URI for legacy import task does not pass filtering: {uri}"
        )));
    }
    let task = Task::new(
        uuid::Uuid::new_v4().to_string(),
        task_type,
        ctx.project_id.clone().unwrap_or_default(),
        input,
        ctx.user_id.clone(),
        Some(ctx.request_id.clone()),
        glimpse_db::images::now(),
    );
    svc.repo().await?.tasks().create(&task).await?;
    legacy_import::spawn(svc.clone(), task.clone(), ctx.clone());
    let mut resp = json_response(StatusCode::CREATED, &task.to_json());
    // Glance sets a relative Location; WebOb absolutizes it.
    if let Ok(v) = HeaderValue::from_str(&format!("{host_url}/v2/tasks/{}", task.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn index(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    access(&svc, &ctx)?;
    let params = py::parse_query_string(req.uri().query().unwrap_or("").as_bytes())?;
    let first = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let sort_desc = match first("sort_dir").as_deref().unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => return Err(bad_request(format!("Invalid sort direction: {other}"))),
    };
    let status = first("status").filter(|s| !s.is_empty());
    if let Some(s) = &status
        && TaskStatus::parse(s).is_none()
    {
        return Err(bad_request(format!("Invalid status value: {s}")));
    }
    let task_type = first("type").filter(|s| !s.is_empty());
    if let Some(t) = &task_type
        && t != "import"
    {
        return Err(bad_request(format!("Invalid type value: {t}")));
    }
    let marker = first("marker");
    if let Some(m) = &marker
        && !m.is_empty()
        && uuid::Uuid::parse_str(m).is_err()
    {
        return Err(bad_request("Invalid marker format"));
    }
    let limits = &svc.settings.limits;
    let limit = match first("limit") {
        None => limits.limit_param_default,
        Some(l) => match parse_limit(&l)? {
            n if n < 0 => return Err(bad_request("limit param must be positive")),
            n => n,
        },
    }
    .min(limits.api_limit_max);
    let sort_key = first("sort_key").unwrap_or_else(|| "created_at".into());
    if !TASK_SORT_KEYS.contains(&sort_key.as_str()) {
        return Err(bad_request("Sort key supplied was not valid."));
    }
    let tasks = svc
        .repo()
        .await?
        .tasks()
        .list(
            &viewer(&ctx),
            &TaskQuery {
                status,
                task_type,
                marker: marker.filter(|m| !m.is_empty()),
                limit: Some(limit),
                sort_key,
                sort_desc,
            },
        )
        .await
        .map_err(|e| match e {
            DbError::NotFound(m) => bad_request(m),
            e => db_error(e),
        })?;
    let mut body = Map::new();
    body.insert(
        "tasks".into(),
        Value::Array(tasks.iter().map(Task::stub_json).collect()),
    );
    body.insert(
        "first".into(),
        Value::String(match link_query(&params, None) {
            q if q.is_empty() => "/v2/tasks".into(),
            q => format!("/v2/tasks?{q}"),
        }),
    );
    body.insert("schema".into(), Value::String("/v2/schemas/tasks".into()));
    if !tasks.is_empty()
        && tasks.len() as i64 == limit
        && let Some(last) = tasks.last()
    {
        body.insert(
            "next".into(),
            Value::String(format!("/v2/tasks?{}", link_query(&params, Some(&last.id)))),
        );
    }
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

async fn show(svc: Arc<ImageService>, req: Request, p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    access(&svc, &ctx)?;
    let id = param(&p, "task_id");
    let task = svc
        .repo()
        .await?
        .tasks()
        .get(id, &viewer(&ctx))
        .await
        .map_err(|e| match e {
            // The task repository words it so (`TaskRepo.get`).
            DbError::NotFound(_) => not_found(format!("Could not find task {id}")),
            e => db_error(e),
        })?;
    Ok(json_response(StatusCode::OK, &task.to_json()))
}

/// Tasks are never deleted through the API (they expire).
async fn delete(svc: Arc<ImageService>, req: Request, _p: Params) -> ApiResult<Response> {
    let ctx = context(&req)?;
    access(&svc, &ctx)?;
    let text = "This operation is currently not permitted on Glance Tasks. They are auto \
                deleted after reaching the time based on their expires_at property.";
    let mut resp = http_error(StatusCode::METHOD_NOT_ALLOWED, text);
    if let ApiError::Http(h) = resp {
        resp = ApiError::Http(Box::new(
            h.header(header::ALLOW, HeaderValue::from_static("GET"))
                .explanation_only(),
        ));
    }
    Err(resp)
}

/// What the task handlers share beyond the image service.
#[derive(Debug)]
pub struct TaskSettings {
    /// The create body's schema (`get_task_schema().raw()`).
    pub schema: Value,
    pub filter: filter::ImportFilter,
    pub time_to_live_hours: i64,
}

impl TaskSettings {
    pub fn from_conf(conf: &ConfigOpts) -> Result<TaskSettings, String> {
        Ok(TaskSettings {
            schema: glimpse_domain::schema::task_validation_schema(),
            filter: filter::ImportFilter::from_conf(conf)?,
            time_to_live_hours: conf
                .get_int("task", "task_time_to_live")
                .map_err(|e| e.to_string())?
                .unwrap_or(48),
        })
    }
}
