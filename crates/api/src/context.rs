//! The request context (who is calling, with which roles, under which
//! request id) and the filters that build it. Issue-level note: the
//! Keystone `context` filter joins `unauthenticated-context` here.

use std::sync::Arc;

use glimpse_http::ext::RequestId;
use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};
use http::HeaderValue;

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
}

impl RequestContext {
    /// The no-auth context of `unauthenticated-context`: admin, no roles,
    /// no project.
    pub fn unauthenticated() -> Self {
        RequestContext {
            request_id: new_request_id(),
            is_admin: true,
            ..Default::default()
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
}
