//! Glance's `versionnegotiation` filter: `/versions` answers 200 with the
//! versions document; otherwise the version comes from an
//! `Accept: application/vnd.openstack.images-vX` media type or from the
//! first path segment, and an accepted version is rewritten to `/v2/...`.
//! Anything else (including `/`) gets the versions document with 300.

use std::sync::Arc;

use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};

use crate::versions::{self, VersionSettings};

const VND: &str = "application/vnd.openstack.images-";

pub struct VersionNegotiation {
    settings: Arc<VersionSettings>,
    app: SharedHandler,
}

impl VersionNegotiation {
    pub fn wrap(settings: Arc<VersionSettings>, app: SharedHandler) -> SharedHandler {
        Arc::new(VersionNegotiation { settings, app })
    }
}

/// Replace the request path (PATH_INFO), keeping the query string.
pub fn set_path(req: &mut Request, path: &str) {
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    match pq.parse() {
        Ok(p) => parts.path_and_query = Some(p),
        Err(_) => return,
    }
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// What the filter decided for a request path and Accept header.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// `/versions`: the document with 200.
    Explicit,
    /// Unknown or missing version: the document with 300.
    Choices,
    /// Serve the request at this rewritten path.
    Rewrite(String),
}

/// The pure decision, for unit and property tests.
pub fn decide(settings: &VersionSettings, path: &str, accept: Option<&str>) -> Decision {
    let trimmed = path.trim_start_matches('/');
    let first = trimmed.split('/').next().unwrap_or("");
    if first == "versions" {
        return Decision::Explicit;
    }
    let (token, rest) = match accept {
        Some(a) if a.starts_with(VND) => (a[VND.len()..].to_string(), path.to_string()),
        _ => {
            if path.is_empty() {
                return Decision::Choices;
            }
            let idx = trimmed.find('/').unwrap_or(trimmed.len());
            (trimmed[..idx].to_string(), trimmed[idx..].to_string())
        }
    };
    if versions::is_allowed(settings, &token) {
        Decision::Rewrite(format!("/v2{rest}"))
    } else {
        Decision::Choices
    }
}

impl Handler for VersionNegotiation {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        let accept = req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match decide(&self.settings, req.uri().path(), accept.as_deref()) {
            Decision::Explicit => {
                let r = versions::response(&self.settings, &req, true);
                Box::pin(async move { r })
            }
            Decision::Choices => {
                log::debug!("Unknown version. Returning version choices.");
                let r = versions::response(&self.settings, &req, false);
                Box::pin(async move { r })
            }
            Decision::Rewrite(p) => {
                set_path(&mut req, &p);
                self.app.call(req)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let s = VersionSettings::default();
        assert_eq!(decide(&s, "/versions", None), Decision::Explicit);
        assert_eq!(decide(&s, "/versions/x", None), Decision::Explicit);
        assert_eq!(decide(&s, "/", None), Decision::Choices);
        assert_eq!(decide(&s, "", None), Decision::Choices);
        assert_eq!(decide(&s, "/v3/images", None), Decision::Choices);
        assert_eq!(decide(&s, "/v1/images", None), Decision::Choices);
        assert_eq!(
            decide(&s, "/v2/images", None),
            Decision::Rewrite("/v2/images".into())
        );
        assert_eq!(
            decide(&s, "/v2.1/images", None),
            Decision::Rewrite("/v2/images".into())
        );
        assert_eq!(decide(&s, "/v2", None), Decision::Rewrite("/v2".into()));
        assert_eq!(
            decide(&s, "//v2/x", None),
            Decision::Rewrite("/v2/x".into())
        );
        assert_eq!(decide(&s, "/v2.18/images", None), Decision::Choices);
        assert_eq!(
            decide(&s, "/images", Some("application/vnd.openstack.images-v2")),
            Decision::Rewrite("/v2/images".into())
        );
        assert_eq!(
            decide(&s, "/images", Some("application/vnd.openstack.images-v9")),
            Decision::Choices
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(path in ".*", accept in proptest::option::of(".*")) {
            let s = VersionSettings::default();
            let _ = decide(&s, &path, accept.as_deref());
        }
    }
}
