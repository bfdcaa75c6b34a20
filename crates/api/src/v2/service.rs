//! What every image handler shares: the settings read once from the
//! configuration, the image schema, the stores, the policy enforcer, the
//! property protections and the per-process database pool; plus the
//! request plumbing Glance's WSGI resource does for each call (context,
//! body rules, JSON bodies, error rendering).
//!
//! The pool is opened lazily on a worker's first request: the service is
//! built in the master (so a bad configuration fails before forking) and
//! inherited by each worker with the pool still unopened, so no connection
//! is ever shared across processes.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_db::images::Repo;
use glimpse_db::{Db, DbConfig};
use glimpse_domain::query::ListLimits;
use glimpse_domain::render::RenderOptions;
use glimpse_http::fault::HttpError;
use glimpse_http::{Body, BoxFuture, Request, Response};
use glimpse_store::StoreRegistry;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::data::HashAlgo;
use super::schemas::Schemas;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult, bad_request};
use crate::policy::Enforcer;
use crate::protections::Protections;
use crate::pyjson;
use crate::router::Params;

/// JSON request bodies larger than this are refused (413); image data
/// never goes through this path.
pub const MAX_JSON_BODY: usize = 16 << 20;

/// Register the image options Glance reads in the v2 controllers.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    let d = "DEFAULT";
    let opts = [
        Opt::int("limit_param_default").min(1).default("25").help("Default number of items returned by a list request."),
        Opt::int("api_limit_max").min(1).default("1000").help("Maximum number of items a list request may return."),
        Opt::int("image_member_quota").default("128").help("Maximum members per image (negative = unlimited)."),
        Opt::int("image_property_quota").default("128").help("Maximum extra properties per image (negative = unlimited)."),
        Opt::int("image_tag_quota").default("128").help("Maximum tags per image (negative = unlimited)."),
        Opt::int("image_location_quota").default("10").help("Maximum locations per image (negative = unlimited)."),
        Opt::bool("show_image_direct_url").default("false").help("Show the first store location as direct_url in image responses (reveals store paths)."),
        Opt::bool("show_multiple_locations").default("false").help("Show image locations and allow changing them (reveals store paths)."),
        Opt::bool("delayed_delete").default("false").help("Deleted images with data go to pending_delete for the scrubber instead of being deleted at once."),
    ];
    for o in opts {
        conf.register(d, o)?;
    }
    conf.register_group("oslo_policy", "Policy enforcement (oslo.policy options).");
    conf.register(
        "oslo_policy",
        Opt::bool("enforce_new_defaults").default("true").help(
            "Use the secure-RBAC default rules; when false, a rule's deprecated default \
             also grants access. The embedded defaults set this to false.",
        ),
    )?;
    conf.register(
        "oslo_policy",
        Opt::bool("enforce_scope").default("true").help(
            "Check the scope of tokens against the rules' scope types (always on in \
             oslo.policy 6; false restores the lenient older behaviour).",
        ),
    )?;
    conf.register(
        "oslo_policy",
        Opt::str("policy_file").default("policy.yaml").help(
            "The policy file (YAML or JSON), relative paths searched like config files; \
             changes are picked up without a restart.",
        ),
    )?;
    conf.register(
        "oslo_policy",
        Opt::list("policy_dirs")
            .default("policy.d")
            .help("Directories of policy files applied after policy_file, in name order."),
    )?;
    Ok(())
}

/// Options that shape the image API's answers.
#[derive(Clone, Debug)]
pub struct Settings {
    pub limits: ListLimits,
    pub member_quota: i64,
    pub property_quota: i64,
    pub tag_quota: i64,
    pub render: RenderOptions,
    pub hash_algo: HashAlgo,
    pub image_size_cap: u64,
    pub delayed_delete: bool,
    /// `OpenStack-image-import-methods` (absent when empty).
    pub import_methods: Option<HeaderValue>,
    /// `OpenStack-image-store-ids` (multi-store only).
    pub store_ids: Option<HeaderValue>,
}

impl Settings {
    pub fn from_conf(conf: &ConfigOpts) -> Result<Settings, String> {
        let e = |e: ConfigError| e.to_string();
        let int = |n: &str, dflt: i64| -> Result<i64, String> {
            Ok(conf.get_int("DEFAULT", n).map_err(e)?.unwrap_or(dflt))
        };
        let flag = |n: &str| -> Result<bool, String> {
            Ok(conf.get_bool("DEFAULT", n).map_err(e)?.unwrap_or(false))
        };
        let backends = conf
            .get_dict("DEFAULT", "enabled_backends")
            .map_err(e)?
            .unwrap_or_default();
        let methods = super::info::import_methods(conf)?;
        let header = |v: String| HeaderValue::from_str(&v).ok();
        Ok(Settings {
            limits: ListLimits {
                limit_param_default: int("limit_param_default", 25)?,
                api_limit_max: int("api_limit_max", 1000)?,
            },
            member_quota: int("image_member_quota", 128)?,
            property_quota: int("image_property_quota", 128)?,
            tag_quota: int("image_tag_quota", 128)?,
            render: RenderOptions {
                show_multiple_locations: flag("show_multiple_locations")?,
                show_image_direct_url: flag("show_image_direct_url")?,
                multi_store: !backends.is_empty(),
            },
            hash_algo: HashAlgo::from_name(
                &conf
                    .get_str("DEFAULT", "hashing_algorithm")
                    .map_err(e)?
                    .unwrap_or_else(|| "sha512".into()),
            )
            .map_err(|e| e.to_string())?,
            image_size_cap: int("image_size_cap", 1 << 40)?.max(0) as u64,
            delayed_delete: flag("delayed_delete")?,
            import_methods: if methods.is_empty() {
                None
            } else {
                header(methods.join(","))
            },
            store_ids: if backends.is_empty() {
                None
            } else {
                header(backends.keys().cloned().collect::<Vec<_>>().join(","))
            },
        })
    }
}

/// The shared state of the image handlers.
pub struct ImageService {
    pub settings: Settings,
    pub schemas: Arc<Schemas>,
    pub stores: StoreRegistry,
    pub enforcer: Enforcer,
    pub tasks: super::tasks::TaskSettings,
    pub protections: Protections,
    db_conf: DbConfig,
    repo: OnceCell<Repo>,
}

impl std::fmt::Debug for ImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ImageService {
    pub fn from_conf(conf: &ConfigOpts, schemas: Arc<Schemas>) -> Result<ImageService, String> {
        let stores = StoreRegistry::from_conf(conf).map_err(|e| e.to_string())?;
        let db_conf = glimpse_db::config::from_conf(conf).map_err(|e| e.to_string())?;
        let enforcer = Enforcer::from_conf(conf)?;
        let protections = Protections::from_conf(conf, &enforcer)?;
        Ok(ImageService {
            settings: Settings::from_conf(conf)?,
            schemas,
            stores,
            enforcer,
            protections,
            tasks: super::tasks::TaskSettings::from_conf(conf)?,
            db_conf,
            repo: OnceCell::new(),
        })
    }

    /// The image schema value.
    pub fn schema(&self) -> &Value {
        &self.schemas.image_value
    }

    /// This process's repository, opening the pool on first use.
    pub async fn repo(&self) -> ApiResult<&Repo> {
        self.repo
            .get_or_try_init(|| async { Db::open(&self.db_conf).map(Repo::new) })
            .await
            .map_err(ApiError::from)
    }
}

/// The request context the context filter attached. Without one (a paste
/// pipeline lacking a context filter) Glance fails with a 500; so does this.
pub fn context(req: &Request) -> ApiResult<Arc<RequestContext>> {
    req.extensions()
        .get::<Arc<RequestContext>>()
        .cloned()
        .ok_or_else(|| {
            log::error!(target: "glance.api.v2", "No request context: the paste pipeline lacks a context filter");
            ApiError::from(HttpError::new(StatusCode::INTERNAL_SERVER_ERROR))
        })
}

/// `body_reject=True` routes: any body is a 400.
pub fn reject_body(req: &Request) -> ApiResult<()> {
    let h = req.headers();
    let chunked = h
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let len = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if chunked || len > 0 {
        return Err(bad_request("A body is not expected with this request."));
    }
    Ok(())
}

/// Read a JSON request body: `None` when there is none.
pub async fn read_json(req: Request) -> ApiResult<Option<Value>> {
    let bytes = req
        .into_body()
        .collect(MAX_JSON_BODY)
        .await
        .map_err(|e| match e {
            glimpse_http::body::CollectError::TooLarge => {
                ApiError::from(HttpError::new(StatusCode::PAYLOAD_TOO_LARGE))
            }
            glimpse_http::body::CollectError::Io(_) => {
                bad_request("Error reading the request body.")
            }
        })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(glimpse_domain::patch::parse_json_body(&bytes)?))
}

/// `_get_request_body`: a body is required.
pub fn require_body(v: Option<Value>) -> ApiResult<Value> {
    v.ok_or_else(|| bad_request("Body expected in request."))
}

/// A JSON response written like `json.dumps(..., ensure_ascii=False)`.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let body = Bytes::from(pyjson::to_vec(v, false));
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An empty response from a controller (204, 202). WebOb gives it its
/// default `Content-Type: text/html; charset=UTF-8`, which Glance sends.
pub fn empty_response(status: StatusCode) -> Response {
    let mut r = bare_response(status);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    r
}

/// An empty response without any Content-Type (WebOb's `HTTPNoContent`,
/// or a `Response` built with an empty body).
pub fn bare_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Wrap an async handler: errors become Glance's error responses for the
/// request's `Accept` and method.
pub fn handler<F, Fut>(
    svc: Arc<ImageService>,
    f: F,
) -> impl Fn(Request, Params) -> BoxFuture<Response> + Send + Sync + 'static
where
    F: Fn(Arc<ImageService>, Request, Params) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ApiResult<Response>> + Send + 'static,
{
    move |req: Request, params: Params| {
        let headers: HeaderMap = req.headers().clone();
        let method: Method = req.method().clone();
        let fut = f(svc.clone(), req, params);
        Box::pin(async move {
            match fut.await {
                Ok(r) => r,
                Err(e) => e.render(&headers, &method),
            }
        })
    }
}

/// The query of a list's `first`/`next` link: `urlencode(dict(params))`
/// as Glance's serializers build it (a repeated parameter keeps its first
/// position and its last value), `marker` left out, then `marker=m` when
/// given.
pub fn link_query(params: &[(String, String)], marker: Option<&str>) -> String {
    let mut link: Vec<(&str, &str)> = Vec::new();
    for (k, v) in params.iter().filter(|(k, _)| k != "marker") {
        match link.iter_mut().find(|(lk, _)| lk == k) {
            Some(slot) => slot.1 = v,
            None => link.push((k, v)),
        }
    }
    glimpse_domain::py::urlencode(link.into_iter().chain(marker.map(|m| ("marker", m))))
}

/// A `limit` query parameter that must be an integer (the tasks and
/// metadef lists; Glance's namespaces list fails with a 500 instead).
pub fn parse_limit(v: &str) -> ApiResult<i64> {
    match glimpse_domain::py::int(v) {
        Some(Ok(n)) => Ok(n),
        _ => Err(bad_request("limit param must be an integer")),
    }
}

/// A path parameter the route template guarantees.
pub fn param<'a>(p: &'a Params, name: &str) -> &'a str {
    p.get(name).unwrap_or("")
}
