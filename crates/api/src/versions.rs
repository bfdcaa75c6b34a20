//! The versions document (`GET /`, `GET /versions`) exactly as Glance 33
//! builds it: which versions are listed depends on whether an image cache
//! and multiple stores are configured.

use glimpse_http::{Body, Request, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

/// The configuration that shapes the versions document.
#[derive(Clone, Debug, Default)]
pub struct VersionSettings {
    /// `[DEFAULT] public_endpoint`: replaces the request's URL in links.
    pub public_endpoint: Option<String>,
    /// `[DEFAULT] image_cache_dir` is set.
    pub cache_enabled: bool,
    /// `[DEFAULT] enabled_backends` is set.
    pub multi_store: bool,
}

/// (version, status) in Glance's order for the given configuration.
pub fn version_list(s: &VersionSettings) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::with_capacity(20);
    if s.cache_enabled {
        v.extend([
            ("2.18", "CURRENT"),
            ("2.17", "SUPPORTED"),
            ("2.16", "SUPPORTED"),
            ("2.15", "SUPPORTED"),
            ("2.14", "SUPPORTED"),
        ]);
    } else {
        v.push(("2.15", "SUPPORTED"));
    }
    if s.multi_store {
        for n in ["2.13", "2.12", "2.11", "2.10", "2.9", "2.8"] {
            v.push((n, "SUPPORTED"));
        }
    } else {
        v.push(("2.9", "SUPPORTED"));
    }
    if !s.cache_enabled {
        v.push(("2.17", "CURRENT"));
    }
    for n in ["2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0"] {
        v.push((n, "SUPPORTED"));
    }
    v
}

/// Whether a `vX.Y` token names a version this deployment accepts.
pub fn is_allowed(s: &VersionSettings, token: &str) -> bool {
    match token {
        "v2" | "v2.0" | "v2.1" | "v2.2" | "v2.3" | "v2.4" | "v2.5" | "v2.6" | "v2.7" | "v2.9"
        | "v2.15" | "v2.17" => true,
        "v2.14" | "v2.16" | "v2.18" => s.cache_enabled,
        "v2.8" | "v2.10" | "v2.11" | "v2.12" | "v2.13" => s.multi_store,
        _ => false,
    }
}

/// The document body. `base` is `public_endpoint` or the request's
/// application URL.
pub fn document(s: &VersionSettings, base: &str) -> Value {
    // Glance joins "v2" onto the base with a trailing slash, then ensures one.
    let href = format!("{}/v2/", base.trim_end_matches('/'));
    let versions: Vec<Value> = version_list(s)
        .into_iter()
        .map(|(id, status)| {
            json!({"id": format!("v{id}"), "status": status, "links": [{"rel": "self", "href": href}]})
        })
        .collect();
    json!({ "versions": versions })
}

/// Render the versions response: 200 when asked for explicitly
/// (`/versions`), 300 Multiple Choices otherwise.
pub fn response(s: &VersionSettings, req: &Request, explicit: bool) -> Response {
    let base = match &s.public_endpoint {
        Some(p) => p.clone(),
        None => glimpse_http::ext::application_url(req),
    };
    let body = crate::pyjson::to_vec(&document(s, &base), true);
    let status = if explicit {
        StatusCode::OK
    } else {
        StatusCode::MULTIPLE_CHOICES
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &VersionSettings) -> Vec<String> {
        version_list(s)
            .iter()
            .map(|(v, st)| format!("{v}:{st}"))
            .collect()
    }

    #[test]
    fn default_order() {
        let s = VersionSettings::default();
        assert_eq!(
            ids(&s)[..3],
            ["2.15:SUPPORTED", "2.9:SUPPORTED", "2.17:CURRENT"]
        );
        assert_eq!(version_list(&s).len(), 11);
    }

    #[test]
    fn cache_and_multistore() {
        let s = VersionSettings {
            cache_enabled: true,
            multi_store: true,
            public_endpoint: None,
        };
        let v = ids(&s);
        assert_eq!(v[0], "2.18:CURRENT");
        assert_eq!(v[5], "2.13:SUPPORTED");
        assert_eq!(v.len(), 19);
        assert!(is_allowed(&s, "v2.18") && is_allowed(&s, "v2.8"));
        let d = VersionSettings::default();
        assert!(!is_allowed(&d, "v2.18") && !is_allowed(&d, "v2.8") && !is_allowed(&d, "v3"));
    }

    #[test]
    fn links() {
        let d = document(&VersionSettings::default(), "http://h:9292/");
        assert_eq!(d["versions"][0]["links"][0]["href"], "http://h:9292/v2/");
        assert_eq!(d["versions"][0]["links"][0]["rel"], "self");
    }
}
