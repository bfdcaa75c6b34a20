//! The request context (who is calling, with which roles, under which
//! request id) and the two filters that build it: `unauthenticated-context`
//! (no auth: an admin context without roles) and `context` (Glance's
//! `ContextMiddleware`: the identity headers `authtoken` set, oslo.context's
//! `from_environ` reading).

use std::sync::Arc;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::ext::RequestId;
use glimpse_http::fault::HttpError;
use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};
use http::{HeaderMap, HeaderValue, StatusCode};

/// The caller, as Glance's `RequestContext` knows it.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub global_request_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
    pub read_only: bool,
    pub auth_token: Option<String>,
    pub user_name: Option<String>,
    pub project_name: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_domain_id: Option<String>,
    pub system_scope: Option<String>,
    pub is_admin_project: bool,
    pub service_user_id: Option<String>,
    pub service_user_domain_id: Option<String>,
    pub service_project_id: Option<String>,
    pub service_project_domain_id: Option<String>,
    pub service_roles: Vec<String>,
    pub service_catalog: Option<serde_json::Value>,
    /// `to_policy_values()`, built on first use (every policy check of the
    /// request reads it); see [`crate::policy::creds`].
    pub policy_values: std::sync::OnceLock<glimpse_policy::Values>,
}

impl RequestContext {
    /// The no-auth context of `unauthenticated-context`: admin, no roles,
    /// no project.
    pub fn unauthenticated() -> Self {
        RequestContext {
            request_id: new_request_id(),
            is_admin: true,
            is_admin_project: true,
            ..Default::default()
        }
    }

    /// `ContextMiddleware._get_anonymous_context`: read-only, no roles.
    pub fn anonymous() -> Self {
        RequestContext {
            request_id: new_request_id(),
            read_only: true,
            is_admin_project: true,
            ..Default::default()
        }
    }

    /// oslo.context's `from_environ` over the identity headers `authtoken`
    /// set (roles lower-cased, as Glance does), with `request_id` given.
    pub fn from_headers(h: &HeaderMap, request_id: String) -> Self {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| h.get(*n).and_then(|v| v.to_str().ok()))
                .map(str::to_string)
        };
        let list = |names: &[&str]| -> Vec<String> {
            get(names)
                .filter(|v| !v.is_empty())
                .map(|v| v.split(',').map(|r| r.trim().to_lowercase()).collect())
                .unwrap_or_default()
        };
        let roles = list(&["x-roles", "x-role"]);
        RequestContext {
            request_id,
            global_request_id: None,
            user_id: get(&["x-user-id", "x-user"]),
            project_id: get(&["x-project-id", "x-tenant-id", "x-tenant"]),
            domain_id: get(&["x-domain-id"]),
            // Set from the `context_is_admin` rule by the context filter.
            is_admin: false,
            roles,
            read_only: false,
            auth_token: get(&["x-auth-token", "x-storage-token"]),
            user_name: get(&["x-user-name"]),
            project_name: get(&["x-project-name", "x-tenant-name"]),
            user_domain_id: get(&["x-user-domain-id"]),
            project_domain_id: get(&["x-project-domain-id"]),
            system_scope: get(&["openstack-system-scope"]),
            is_admin_project: get(&["x-is-admin-project"])
                .is_none_or(|v| v.eq_ignore_ascii_case("true")),
            service_user_id: get(&["x-service-user-id"]),
            service_user_domain_id: get(&["x-service-user-domain-id"]),
            service_project_id: get(&["x-service-project-id"]),
            service_project_domain_id: get(&["x-service-project-domain-id"]),
            service_roles: list(&["x-service-roles"]),
            service_catalog: None,
            policy_values: Default::default(),
        }
    }
}

/// `req-<uuid4>`, oslo.context's format.
pub fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

/// Glance's `BaseContextMiddleware.process_response`: every response that
/// went through a context filter carries the request id, `req-` prefixed.
pub fn stamp_request_id(resp: &mut Response, request_id: &str) {
    let id = if request_id.starts_with("req-") {
        request_id.to_string()
    } else {
        format!("req-{request_id}")
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-openstack-request-id", v);
    }
}

/// `glance.api.middleware.context:UnauthenticatedContextMiddleware`.
pub struct UnauthenticatedContext {
    app: SharedHandler,
}

impl UnauthenticatedContext {
    pub fn wrap(app: SharedHandler) -> SharedHandler {
        Arc::new(UnauthenticatedContext { app })
    }
}

impl Handler for UnauthenticatedContext {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        let ctx = RequestContext::unauthenticated();
        let id = ctx.request_id.clone();
        req.extensions_mut().insert(RequestId(id.clone()));
        req.extensions_mut().insert(Arc::new(ctx));
        let fut = self.app.call(req);
        Box::pin(async move {
            let mut resp = fut.await;
            stamp_request_id(&mut resp, &id);
            resp
        })
    }
}

/// `[DEFAULT]` options of Glance's `ContextMiddleware`.
#[derive(Clone, Debug)]
pub struct ContextSettings {
    pub allow_anonymous_access: bool,
    pub max_request_id_length: i64,
}

impl Default for ContextSettings {
    fn default() -> Self {
        ContextSettings {
            allow_anonymous_access: false,
            max_request_id_length: 64,
        }
    }
}

impl ContextSettings {
    /// `allow_anonymous_access` (`max_request_id_length` is registered
    /// with the other `[DEFAULT]` server options).
    pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
        conf.register(
            "DEFAULT",
            Opt::bool("allow_anonymous_access")
                .default("false")
                .help("Let requests without a valid token in, read-only, with no roles (only with the context filter)."),
        )
    }

    pub fn from_conf(conf: &ConfigOpts) -> Result<Self, ConfigError> {
        Ok(ContextSettings {
            allow_anonymous_access: conf
                .get_bool("DEFAULT", "allow_anonymous_access")?
                .unwrap_or(false),
            max_request_id_length: conf
                .get_int("DEFAULT", "max_request_id_length")?
                .unwrap_or(64),
        })
    }
}

/// `glance.api.middleware.context:ContextMiddleware`: the context from the
/// headers `authtoken` set; without a confirmed identity, 401 (or the
/// anonymous read-only context when `allow_anonymous_access`).
///
/// Difference: a client request id longer than `max_request_id_length`
/// answers 431 as Glance intends; Glance 33 itself mistakenly stores the
/// 431 exception as the request context and fails later with a 500.
pub struct ContextMiddleware {
    app: SharedHandler,
    settings: ContextSettings,
    /// `is_admin` is the `context_is_admin` rule, as Glance's context sets it.
    enforcer: crate::policy::Enforcer,
}

impl ContextMiddleware {
    pub fn wrap(
        settings: ContextSettings,
        enforcer: crate::policy::Enforcer,
        app: SharedHandler,
    ) -> SharedHandler {
        Arc::new(ContextMiddleware {
            app,
            settings,
            enforcer,
        })
    }

    /// The context, or the error answer.
    fn context(&self, req: &Request) -> Result<RequestContext, Box<Response>> {
        let h = req.headers();
        let fail = |e: HttpError| Box::new(e.render(h, req.method()));
        let confirmed = h
            .get("x-identity-status")
            .is_some_and(|v| v.as_bytes() == b"Confirmed");
        if !confirmed {
            if self.settings.allow_anonymous_access {
                return Ok(RequestContext::anonymous());
            }
            return Err(fail(HttpError::new(StatusCode::UNAUTHORIZED)));
        }
        let catalog = match h.get("x-service-catalog") {
            None => None,
            Some(v) => Some(serde_json::from_slice(v.as_bytes()).map_err(|_| {
                fail(
                    HttpError::new(StatusCode::INTERNAL_SERVER_ERROR)
                        .detail("Invalid service catalog json."),
                )
            })?),
        };
        let client_id = h
            .get("x-openstack-request-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .filter(|v| !v.is_empty());
        let max = self.settings.max_request_id_length;
        if let Some(id) = &client_id
            && max > 0
            && id.chars().count() as i64 > max
        {
            return Err(fail(
                HttpError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).comment(format!(
                    "x-openstack-request-id is too long, max size {max}"
                )),
            ));
        }
        let mut ctx = RequestContext::from_headers(h, client_id.unwrap_or_else(new_request_id));
        ctx.service_catalog = catalog;
        // Glance passes the context's own dict as the target.
        let target = crate::policy::creds(&ctx).clone();
        ctx.is_admin = self
            .enforcer
            .check_values(&ctx, "context_is_admin", &target);
        Ok(ctx)
    }
}

impl Handler for ContextMiddleware {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        let ctx = match self.context(&req) {
            Ok(ctx) => ctx,
            Err(resp) => return Box::pin(async move { *resp }),
        };
        let id = ctx.request_id.clone();
        req.extensions_mut().insert(RequestId(id.clone()));
        req.extensions_mut().insert(Arc::new(ctx));
        let fut = self.app.call(req);
        Box::pin(async move {
            let mut resp = fut.await;
            stamp_request_id(&mut resp, &id);
            resp
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use glimpse_http::{Body, handler_fn};

    #[tokio::test]
    async fn stamps_every_response() {
        let app = handler_fn(|req: Request| async move {
            let ctx = req.extensions().get::<Arc<RequestContext>>().cloned();
            let mut r = Response::new(Body::empty());
            if ctx.is_some_and(|c| c.is_admin && c.roles.is_empty()) {
                *r.status_mut() = http::StatusCode::NO_CONTENT;
            }
            r
        });
        let h = UnauthenticatedContext::wrap(app);
        let resp = h.call(Request::new(Body::empty())).await;
        assert_eq!(resp.status(), 204);
        let id = resp.headers()["x-openstack-request-id"].to_str().unwrap();
        assert!(id.starts_with("req-") && id.len() == 40, "{id}");
    }

    #[test]
    fn prefix_added() {
        let mut r = Response::new(glimpse_http::Body::empty());
        stamp_request_id(&mut r, "abc");
        assert_eq!(r.headers()["x-openstack-request-id"], "req-abc");
    }

    fn ctx_app() -> SharedHandler {
        handler_fn(|req: Request| async move {
            let ctx = req
                .extensions()
                .get::<Arc<RequestContext>>()
                .cloned()
                .unwrap();
            let body = serde_json::json!({
                "roles": ctx.roles, "project": ctx.project_id, "admin": ctx.is_admin,
                "read_only": ctx.read_only, "id": ctx.request_id,
                "catalog": ctx.service_catalog, "admin_project": ctx.is_admin_project,
            });
            Response::new(Body::from(body.to_string()))
        })
    }

    async fn through(settings: ContextSettings, headers: &[(&str, &str)]) -> Response {
        let enforcer =
            crate::policy::Enforcer::new(glimpse_policy::PolicyConfig::default()).unwrap();
        let h = ContextMiddleware::wrap(settings, enforcer, ctx_app());
        let mut req = Request::new(Body::empty());
        for (k, v) in headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h.call(req).await
    }

    async fn json_of(resp: Response) -> serde_json::Value {
        let bytes = resp.into_body().collect(1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn context_from_identity_headers() {
        let confirmed = [
            ("X-Identity-Status", "Confirmed"),
            ("X-Roles", "Member, READER"),
            ("X-Project-Id", "p1"),
            ("X-Is-Admin-Project", "False"),
            ("X-Service-Catalog", "[]"),
        ];
        let resp = through(ContextSettings::default(), &confirmed).await;
        assert_eq!(resp.status(), 200);
        let id = resp.headers()["x-openstack-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        let v = json_of(resp).await;
        assert_eq!(v["roles"], serde_json::json!(["member", "reader"]));
        assert_eq!(
            (v["project"].as_str(), v["admin"].as_bool()),
            (Some("p1"), Some(false))
        );
        assert_eq!(v["admin_project"], false);
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["catalog"], serde_json::json!([]));

        // The client's request id becomes the context's.
        let mut with_id = confirmed.to_vec();
        with_id.push(("X-OpenStack-Request-ID", "req-mine"));
        let resp = through(ContextSettings::default(), &with_id).await;
        assert_eq!(resp.headers()["x-openstack-request-id"], "req-mine");
        // ...unless it is too long.
        let long = "x".repeat(65);
        let mut too_long = confirmed.to_vec();
        too_long.push(("X-OpenStack-Request-ID", &long));
        assert_eq!(
            through(ContextSettings::default(), &too_long)
                .await
                .status(),
            431
        );
        let unlimited = ContextSettings {
            max_request_id_length: 0,
            ..Default::default()
        };
        assert_eq!(through(unlimited, &too_long).await.status(), 200);

        let mut bad_catalog = confirmed.to_vec();
        bad_catalog[4] = ("X-Service-Catalog", "[nope");
        assert_eq!(
            through(ContextSettings::default(), &bad_catalog)
                .await
                .status(),
            500
        );
    }

    #[tokio::test]
    async fn unconfirmed_is_401_unless_anonymous_access() {
        for status in [None, Some("Invalid")] {
            let headers: Vec<(&str, &str)> = status
                .map(|s| vec![("X-Identity-Status", s)])
                .unwrap_or_default();
            let resp = through(ContextSettings::default(), &headers).await;
            assert_eq!(resp.status(), 401);
            let anon = ContextSettings {
                allow_anonymous_access: true,
                ..Default::default()
            };
            let v = json_of(through(anon, &headers).await).await;
            assert_eq!(
                (v["read_only"].as_bool(), v["admin"].as_bool()),
                (Some(true), Some(false))
            );
            assert_eq!(v["roles"], serde_json::json!([]));
        }
    }
}
