//! oslo.middleware's `RequestId`: gives every request a `req-<uuid4>` id
//! (the [`RequestId`] extension), echoes it in `x-openstack-request-id`
//! unless the app already set that header, and accepts a well-formed
//! inbound `X-Openstack-Request-Id` as the [`GlobalRequestId`].

use std::sync::Arc;

use glimpse_http::ext::RequestId;
use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};
use http::HeaderValue;

use crate::paste::{FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

/// oslo's `openstack.global_request_id`: the caller's request id, when it
/// has the `req-<uuid>` form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalRequestId(pub String);

pub const HEADER: &str = "x-openstack-request-id";

/// oslo.context's `generate_request_id`.
pub fn generate_request_id() -> String {
    format!("req-{}", uuid::Uuid::new_v4())
}

/// `^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$`
pub fn is_valid_request_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("req-") else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| {
            g.len() == n
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

pub struct RequestIdMiddleware {
    next: SharedHandler,
}

impl RequestIdMiddleware {
    pub fn filter() -> Filter {
        Arc::new(|next| Arc::new(RequestIdMiddleware { next }) as SharedHandler)
    }
}

impl Handler for RequestIdMiddleware {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        let inbound = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(g) = inbound.filter(|g| is_valid_request_id(g)) {
            req.extensions_mut().insert(GlobalRequestId(g));
        }
        let id = generate_request_id();
        req.extensions_mut().insert(RequestId(id.clone()));
        let fut = self.next.call(req);
        Box::pin(async move {
            let mut resp = fut.await;
            if !resp.headers().contains_key(HEADER)
                && let Ok(v) = HeaderValue::from_str(&id)
            {
                resp.headers_mut().insert(HEADER, v);
            }
            resp
        })
    }
}

fn factory(_ctx: &FactoryContext, _local: &LocalConf) -> Result<Filter, PasteError> {
    Ok(RequestIdMiddleware::filter())
}

pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "oslo_middleware:RequestId.factory",
        "oslo_middleware.request_id:RequestId.factory",
        "egg:oslo.middleware#request_id",
    ] {
        registry.register_filter(name, factory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse_http::{Body, handler_fn};

    fn echo(set_header: bool) -> SharedHandler {
        handler_fn(move |req: Request| async move {
            let mut r = Response::new(Body::empty());
            let id = req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            let g = req
                .extensions()
                .get::<GlobalRequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            r.headers_mut()
                .insert("x-seen-id", HeaderValue::from_str(&id).expect("hv"));
            r.headers_mut()
                .insert("x-seen-global", HeaderValue::from_str(&g).expect("hv"));
            if set_header {
                r.headers_mut()
                    .insert(HEADER, HeaderValue::from_static("req-from-app"));
            }
            r
        })
    }

    fn h(r: &Response, k: &str) -> String {
        r.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    #[tokio::test]
    async fn generates_and_echoes_id() {
        let f = RequestIdMiddleware::filter()(echo(false));
        let global = "req-0123abcd-0123-4567-89ab-0123456789ab";
        let req = http::Request::builder()
            .header("X-Openstack-Request-Id", global)
            .body(Body::empty())
            .expect("req");
        let r = f.call(req).await;
        let id = h(&r, HEADER);
        assert!(is_valid_request_id(&id), "{id}");
        assert_ne!(id, global);
        assert_eq!(h(&r, "x-seen-id"), id);
        assert_eq!(h(&r, "x-seen-global"), global);
        // An invalid inbound id is ignored.
        let req = http::Request::builder()
            .header(HEADER, "req-XYZ")
            .body(Body::empty())
            .expect("req");
        assert_eq!(h(&f.call(req).await, "x-seen-global"), "");
        // The app's own header wins.
        let f = RequestIdMiddleware::filter()(echo(true));
        let r = f.call(http::Request::new(Body::empty())).await;
        assert_eq!(h(&r, HEADER), "req-from-app");
    }

    #[test]
    fn id_format() {
        assert!(is_valid_request_id(
            "req-0123abcd-0123-4567-89ab-0123456789ab"
        ));
        assert!(!is_valid_request_id(
            "req-0123ABCD-0123-4567-89ab-0123456789ab"
        ));
        assert!(!is_valid_request_id(
            "req-0123abcd-0123-4567-89ab-0123456789ab0"
        ));
        assert!(!is_valid_request_id("0123abcd-0123-4567-89ab-0123456789ab"));
    }
}
