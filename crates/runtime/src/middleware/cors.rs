//! oslo.middleware's CORS filter (`oslo_middleware.cors`): answers
//! preflight `OPTIONS` requests and decorates responses to allowed origins.
//! With no `allowed_origin` configured it changes nothing.

use std::sync::Arc;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::{Body, BoxFuture, Handler, Request, Response, SharedHandler};
use http::header::{HeaderName, HeaderValue, VARY};
use http::{HeaderMap, Method, StatusCode};

use super::common::{Overrides, conf_error};
use crate::paste::{ConfMap, FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

pub const GROUP: &str = "cors";

/// The headers a browser may always send (CORS "simple headers").
const SIMPLE_HEADERS: [&str; 8] = [
    "Accept",
    "Accept-Language",
    "Content-Type",
    "Cache-Control",
    "Content-Language",
    "Expires",
    "Last-Modified",
    "Pragma",
];

const ACAO: &str = "access-control-allow-origin";

/// `[cors]` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub allowed_origin: Vec<String>,
    pub allow_credentials: bool,
    pub expose_headers: Vec<String>,
    /// `0` sends no `Access-Control-Max-Age`.
    pub max_age: i64,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for Settings {
    /// oslo.middleware's defaults.
    fn default() -> Self {
        Settings {
            allowed_origin: Vec::new(),
            allow_credentials: true,
            expose_headers: Vec::new(),
            max_age: 3600,
            allow_methods: strings(&[
                "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PATCH",
            ]),
            allow_headers: Vec::new(),
        }
    }
}

/// Glance's `set_cors_middleware_defaults` values.
pub const GLANCE_ALLOW_HEADERS: [&str; 11] = [
    "Content-MD5",
    "X-Image-Meta-Checksum",
    "X-Storage-Token",
    "Accept-Encoding",
    "X-Auth-Token",
    "X-Identity-Status",
    "X-Roles",
    "X-Service-Catalog",
    "X-User-Id",
    "X-Tenant-Id",
    "X-OpenStack-Request-ID",
];
pub const GLANCE_EXPOSE_HEADERS: [&str; 5] = [
    "X-Image-Meta-Checksum",
    "X-Auth-Token",
    "X-Subject-Token",
    "X-Service-Token",
    "X-OpenStack-Request-ID",
];
pub const GLANCE_ALLOW_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

impl Settings {
    /// oslo's defaults as changed by Glance's `set_cors_middleware_defaults`.
    pub fn glance_defaults() -> Self {
        Settings {
            expose_headers: strings(&GLANCE_EXPOSE_HEADERS),
            allow_methods: strings(&GLANCE_ALLOW_METHODS),
            allow_headers: strings(&GLANCE_ALLOW_HEADERS),
            ..Settings::default()
        }
    }

    /// Read `[cors]` from `conf`, then apply paste overrides from `paste_conf`
    /// (global_conf updated with the section's local conf).
    pub fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        let e = |err| conf_error(GROUP, err);
        let mut s = Settings {
            allowed_origin: conf
                .get_list(GROUP, "allowed_origin")
                .map_err(e)?
                .unwrap_or_default(),
            allow_credentials: conf
                .get_bool(GROUP, "allow_credentials")
                .map_err(e)?
                .unwrap_or(false),
            expose_headers: conf
                .get_list(GROUP, "expose_headers")
                .map_err(e)?
                .unwrap_or_default(),
            max_age: conf.get_int(GROUP, "max_age").map_err(e)?.unwrap_or(0),
            allow_methods: conf
                .get_list(GROUP, "allow_methods")
                .map_err(e)?
                .unwrap_or_default(),
            allow_headers: conf
                .get_list(GROUP, "allow_headers")
                .map_err(e)?
                .unwrap_or_default(),
        };
        s.apply_overrides(paste_conf)?;
        Ok(s)
    }

    /// Paste-section values override the config (oslo's `_conf_get`).
    pub fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        let o = Overrides(paste_conf);
        o.list("allowed_origin", &mut self.allowed_origin);
        o.bool("allow_credentials", &mut self.allow_credentials)?;
        o.list("expose_headers", &mut self.expose_headers);
        o.int("max_age", &mut self.max_age)?;
        o.list("allow_methods", &mut self.allow_methods);
        o.list("allow_headers", &mut self.allow_headers);
        Ok(())
    }
}

/// Register the `[cors]` options with oslo's defaults.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    let d = Settings::default();
    conf.register_all(GROUP, [
        Opt::list("allowed_origin").help(
            "Indicate whether this resource may be shared with the domain received in the requests \
             \"origin\" header. Format: \"<protocol>://<host>[:<port>]\", no trailing slash. \
             Example: https://horizon.example.com",
        ),
        Opt::bool("allow_credentials")
            .default("true")
            .help("Indicate that the actual request can include user credentials"),
        Opt::list("expose_headers")
            .default("")
            .help("Indicate which headers are safe to expose to the API. Defaults to HTTP Simple Headers."),
        Opt::int("max_age").default("3600").help("Maximum cache age of CORS preflight requests."),
        Opt::list("allow_methods")
            .default(&d.allow_methods.join(","))
            .help("Indicate which methods can be used during the actual request."),
        Opt::list("allow_headers")
            .default("")
            .help("Indicate which header field names may be used during the actual request."),
    ])
}

/// Glance's `set_cors_middleware_defaults` (call after [`register_opts`]).
pub fn set_glance_defaults(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.set_default(GROUP, "allow_headers", &GLANCE_ALLOW_HEADERS.join(","))?;
    conf.set_default(GROUP, "expose_headers", &GLANCE_EXPOSE_HEADERS.join(","))?;
    conf.set_default(GROUP, "allow_methods", &GLANCE_ALLOW_METHODS.join(","))
}

/// The CORS filter.
pub struct Cors {
    next: SharedHandler,
    settings: Arc<Settings>,
}

impl Cors {
    pub fn new(next: SharedHandler, settings: Arc<Settings>) -> Self {
        Cors { next, settings }
    }

    /// A filter applying `settings`.
    pub fn filter(settings: Settings) -> Filter {
        let settings = Arc::new(settings);
        Arc::new(move |next| Arc::new(Cors::new(next, settings.clone())) as SharedHandler)
    }
}

/// What the response decoration needs from the request.
struct RequestInfo {
    method: Method,
    origin: Option<String>,
    request_method: Option<String>,
    request_headers: Vec<String>,
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

impl RequestInfo {
    fn of(req: &Request) -> Self {
        let h = req.headers();
        let request_headers = h
            .get_all("access-control-request-headers")
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect();
        RequestInfo {
            method: req.method().clone(),
            origin: header_str(h, "origin"),
            request_method: header_str(h, "access-control-request-method"),
            request_headers,
        }
    }
}

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

impl Settings {
    /// The origin to echo for `origin`: itself, or `*` if that is allowed.
    fn match_origin(&self, origin: &str) -> Option<String> {
        if self.allowed_origin.iter().any(|o| o == origin) {
            Some(origin.to_string())
        } else if self.allowed_origin.iter().any(|o| o == "*") {
            Some("*".to_string())
        } else {
            None
        }
    }

    /// CORS §6.2: preflight.
    fn preflight(&self, info: &RequestInfo, mut resp: Response) -> Response {
        // A non-2xx answer (typically 404/405 for OPTIONS) becomes an empty 200.
        if !resp.status().is_success() {
            resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::OK;
        }
        let Some(origin) = info.origin.as_deref().and_then(|o| self.match_origin(o)) else {
            return resp;
        };
        let Some(method) = info.request_method.as_deref() else {
            return resp;
        };
        if !self.allow_methods.iter().any(|m| m == method) {
            return resp;
        }
        let permitted: Vec<String> = self
            .allow_headers
            .iter()
            .map(String::as_str)
            .chain(SIMPLE_HEADERS)
            .map(str::to_uppercase)
            .collect();
        if info
            .request_headers
            .iter()
            .any(|h| !permitted.contains(&h.to_uppercase()))
        {
            return resp;
        }
        set(&mut resp, "vary", "Origin");
        set(&mut resp, ACAO, &origin);
        if self.allow_credentials {
            set(&mut resp, "access-control-allow-credentials", "true");
        }
        if self.max_age != 0 {
            set(
                &mut resp,
                "access-control-max-age",
                &self.max_age.to_string(),
            );
        }
        set(&mut resp, "access-control-allow-methods", method);
        if !info.request_headers.is_empty() {
            set(
                &mut resp,
                "access-control-allow-headers",
                &info.request_headers.join(","),
            );
        }
        resp
    }

    /// CORS §6.1: a simple or actual request.
    fn simple(&self, info: &RequestInfo, mut resp: Response) -> Response {
        let Some(origin) = info.origin.as_deref().and_then(|o| self.match_origin(o)) else {
            return resp;
        };
        // WebOb reads the last Vary value and replaces them all.
        let vary = match resp.headers().get_all(VARY).iter().next_back() {
            Some(v) => format!("{},Origin", String::from_utf8_lossy(v.as_bytes())),
            None => "Origin".to_string(),
        };
        set(&mut resp, "vary", &vary);
        set(&mut resp, ACAO, &origin);
        if self.allow_credentials {
            set(&mut resp, "access-control-allow-credentials", "true");
        }
        if !self.expose_headers.is_empty() {
            set(
                &mut resp,
                "access-control-expose-headers",
                &self.expose_headers.join(","),
            );
        }
        resp
    }

    fn process_response(&self, info: &RequestInfo, resp: Response) -> Response {
        // Something further in already handled CORS.
        if resp.headers().contains_key(ACAO) {
            return resp;
        }
        if info.method == Method::OPTIONS {
            self.preflight(info, resp)
        } else {
            self.simple(info, resp)
        }
    }
}

impl Handler for Cors {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        if self.settings.allowed_origin.is_empty() {
            return self.next.call(req);
        }
        let info = RequestInfo::of(&req);
        let fut = self.next.call(req);
        let settings = self.settings.clone();
        Box::pin(async move { settings.process_response(&info, fut.await) })
    }
}

/// `oslo_middleware.cors:filter_factory` / `CORS.factory`.
impl crate::middleware::common::FilterSettings for Settings {
    fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        Settings::from_conf(conf, paste_conf)
    }
    fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        Settings::apply_overrides(self, paste_conf)
    }
}

fn factory(ctx: &FactoryContext, local: &LocalConf) -> Result<Filter, PasteError> {
    if !local.contains_key("allowed_origin") && !local.contains_key("oslo_config_project") {
        return Err(ctx.error("allowed_origin or oslo_config_project is required"));
    }
    let settings: Settings = crate::middleware::common::settings_for(ctx, local)?;
    Ok(Cors::filter(settings))
}

/// Register the factory names.
pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "oslo_middleware.cors:filter_factory",
        "oslo_middleware:CORS.factory",
        "egg:oslo.middleware#cors",
    ] {
        registry.register_filter(name, factory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse_http::handler_fn;

    fn app(status: StatusCode, vary: Option<&'static str>) -> SharedHandler {
        handler_fn(move |_req: Request| async move {
            let mut r = Response::new(Body::from("body"));
            *r.status_mut() = status;
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
            if let Some(v) = vary {
                r.headers_mut().insert(VARY, HeaderValue::from_static(v));
            }
            r
        })
    }

    fn settings() -> Settings {
        Settings {
            allowed_origin: vec!["http://a.example".into()],
            ..Settings::glance_defaults()
        }
    }

    fn req(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut b = http::Request::builder().method(method).uri("/v2/images");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).expect("request")
    }

    fn h(resp: &Response, name: &str) -> Option<String> {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    }

    #[tokio::test]
    async fn preflight_from_allowed_origin() {
        let cors = Cors::filter(settings())(app(StatusCode::NOT_FOUND, None));
        let resp = cors
            .call(req(
                Method::OPTIONS,
                &[
                    ("origin", "http://a.example"),
                    ("access-control-request-method", "PUT"),
                    (
                        "access-control-request-headers",
                        "x-auth-token, Content-Type",
                    ),
                ],
            ))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(h(&resp, "vary").as_deref(), Some("Origin"));
        assert_eq!(h(&resp, ACAO).as_deref(), Some("http://a.example"));
        assert_eq!(
            h(&resp, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        assert_eq!(h(&resp, "access-control-max-age").as_deref(), Some("3600"));
        assert_eq!(
            h(&resp, "access-control-allow-methods").as_deref(),
            Some("PUT")
        );
        assert_eq!(
            h(&resp, "access-control-allow-headers").as_deref(),
            Some("x-auth-token,Content-Type")
        );
        // The 404 was replaced by an empty response without a content type.
        assert_eq!(h(&resp, "content-type"), None);
        assert!(resp.body().is_empty());
    }

    #[tokio::test]
    async fn preflight_refusals_leave_plain_200() {
        let cors = Cors::filter(settings())(app(StatusCode::METHOD_NOT_ALLOWED, None));
        for headers in [
            vec![
                ("origin", "http://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            vec![("origin", "http://a.example")],
            vec![
                ("origin", "http://a.example"),
                ("access-control-request-method", "TRACE"),
            ],
            vec![
                ("origin", "http://a.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "X-Bogus"),
            ],
        ] {
            let resp = cors.call(req(Method::OPTIONS, &headers)).await;
            assert_eq!(resp.status(), StatusCode::OK, "{headers:?}");
            assert_eq!(h(&resp, ACAO), None, "{headers:?}");
        }
        // A 2xx OPTIONS answer is kept.
        let cors = Cors::filter(settings())(app(StatusCode::NO_CONTENT, None));
        let resp = cors.call(req(Method::OPTIONS, &[])).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }

    #[tokio::test]
    async fn simple_request_gets_origin_vary_and_expose() {
        let cors = Cors::filter(settings())(app(StatusCode::OK, Some("Accept")));
        let resp = cors
            .call(req(Method::GET, &[("origin", "http://a.example")]))
            .await;
        assert_eq!(h(&resp, "vary").as_deref(), Some("Accept,Origin"));
        assert_eq!(h(&resp, ACAO).as_deref(), Some("http://a.example"));
        assert_eq!(
            h(&resp, "access-control-expose-headers").as_deref(),
            Some(
                "X-Image-Meta-Checksum,X-Auth-Token,X-Subject-Token,X-Service-Token,X-OpenStack-Request-ID"
            )
        );
        let resp = cors
            .call(req(Method::GET, &[("origin", "http://b.example")]))
            .await;
        assert_eq!(h(&resp, ACAO), None);
        assert_eq!(h(&resp, "vary").as_deref(), Some("Accept"));
    }

    #[tokio::test]
    async fn wildcard_and_passthrough() {
        let s = Settings {
            allowed_origin: vec!["*".into()],
            allow_credentials: false,
            ..Settings::default()
        };
        let cors = Cors::filter(s)(app(StatusCode::OK, None));
        let resp = cors.call(req(Method::GET, &[("origin", "http://x")])).await;
        assert_eq!(h(&resp, ACAO).as_deref(), Some("*"));
        assert_eq!(h(&resp, "access-control-allow-credentials"), None);
        // No allowed_origin: untouched.
        let cors = Cors::filter(Settings::glance_defaults())(app(StatusCode::OK, None));
        let resp = cors.call(req(Method::GET, &[("origin", "http://x")])).await;
        assert_eq!(h(&resp, ACAO), None);
        assert_eq!(h(&resp, "vary"), None);
    }

    #[test]
    fn factory_requires_origin_or_project_and_reads_config() {
        let ctx = FactoryContext::new(Arc::new(()));
        let err = factory(&ctx, &LocalConf::new()).err().expect("error");
        assert!(
            err.to_string()
                .ends_with("allowed_origin or oslo_config_project is required")
        );
        let local: LocalConf = [("oslo_config_project", "glance"), ("max_age", "x")]
            .into_iter()
            .collect();
        assert!(factory(&ctx, &local).is_err());

        let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        register_opts(&mut conf).expect("register");
        set_glance_defaults(&mut conf).expect("defaults");
        conf.set_override(GROUP, "allowed_origin", "http://a,http://b")
            .expect("override");
        let local: ConfMap = [("allow_credentials", "false")].into_iter().collect();
        let s = Settings::from_conf(&conf, &local).expect("settings");
        assert_eq!(
            s,
            Settings {
                allowed_origin: vec!["http://a".into(), "http://b".into()],
                allow_credentials: false,
                ..Settings::glance_defaults()
            }
        );
    }
}
