//! Paste's `urlmap`: dispatch on the longest matching path prefix (and
//! optionally the host), moving the prefix from PATH_INFO to SCRIPT_NAME.

use std::sync::Arc;

use glimpse_http::ext::{ConnInfo, ForwardedHost, ScriptName};
use glimpse_http::{BoxFuture, Handler, Request, SharedHandler};
use http::StatusCode;

use super::registry::{CompositeLoader, FactoryContext};
use super::{LocalConf, PasteError, py_repr};

/// One mapping: an optional `host[:port]` and a normalised path prefix
/// (no trailing `/`; the root is the empty string).
#[derive(Clone)]
struct Entry {
    domain: Option<String>,
    path: String,
    app: SharedHandler,
}

/// A URL map. Entries are kept sorted as paste sorts them: host-specific
/// entries first (by host), then by decreasing prefix length.
#[derive(Clone, Default)]
pub struct UrlMap {
    entries: Vec<Entry>,
    not_found: Option<SharedHandler>,
}

/// Collapse runs of `/` into one (`//+` → `/`).
fn collapse_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_slash = false;
    for c in s.chars() {
        if c == '/' {
            if !prev_slash {
                out.push(c);
            }
            prev_slash = true;
        } else {
            out.push(c);
            prev_slash = false;
        }
    }
    out
}

/// paste's `URLMap.normalize_url`: split off an `http(s)://domain` part,
/// collapse slashes and (if `trim`) drop trailing slashes.
fn normalize_url(url: &str, trim: bool) -> Result<(Option<String>, String), String> {
    let stripped = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let (domain, path) = match stripped {
        Some(rest) => match rest.split_once('/') {
            Some((d, p)) => (Some(d.to_string()), format!("/{p}")),
            None => (Some(rest.to_string()), String::new()),
        },
        None if url.is_empty() || url.starts_with('/') => (None, url.to_string()),
        None => {
            return Err(format!(
                "URL fragments must start with / or http:// (you gave {})",
                py_repr(url)
            ));
        }
    };
    let mut path = collapse_slashes(&path);
    if trim {
        path.truncate(path.trim_end_matches('/').len());
    }
    Ok((domain, path))
}

/// paste's `parse_path_expression`: `/path`, or `domain <host> [port <n>] /path`.
pub fn parse_path_expression(expr: &str) -> Result<String, String> {
    let mut parts = expr.split_whitespace();
    let (mut domain, mut port, mut path): (Option<&str>, Option<&str>, Option<&str>) =
        (None, None, None);
    while let Some(p) = parts.next() {
        match p {
            "domain" => {
                let d = parts
                    .next()
                    .ok_or("'domain' must be followed with a domain name")?;
                if domain.is_some() {
                    return Err("'domain' given twice".into());
                }
                domain = Some(d);
            }
            "port" => {
                let n = parts
                    .next()
                    .ok_or("'port' must be followed with a port number")?;
                if port.is_some() {
                    return Err("'port' given twice".into());
                }
                port = Some(n);
            }
            other => {
                if let Some(have) = path {
                    return Err(format!(
                        "more than one path given (have {}, got {})",
                        py_repr(have),
                        py_repr(other)
                    ));
                }
                path = Some(other);
            }
        }
    }
    let mut s = String::new();
    if let Some(d) = domain {
        s = format!("http://{d}");
    }
    if let Some(p) = port {
        if domain.is_none() {
            return Err("If you give a port, you must also give a domain".into());
        }
        s.push(':');
        s.push_str(p);
    }
    if let Some(p) = path {
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(p);
    }
    Ok(s)
}

impl UrlMap {
    pub fn new() -> Self {
        UrlMap::default()
    }

    /// Answer unmatched requests with `app` instead of a 404.
    pub fn set_not_found(&mut self, app: SharedHandler) {
        self.not_found = Some(app);
    }

    /// Map `url` (`/v2`, `http://host[:port]/path`) to `app`, replacing an
    /// existing mapping for the same normalised key.
    pub fn insert(&mut self, url: &str, app: SharedHandler) -> Result<(), String> {
        let (domain, path) = normalize_url(url, true)?;
        self.entries
            .retain(|e| !(e.domain == domain && e.path == path));
        self.entries.push(Entry { domain, path, app });
        // Host-less entries sort last (paste keys them with '\xff').
        self.entries.sort_by(|a, b| {
            let ka = (
                a.domain.is_none(),
                a.domain.as_deref(),
                std::cmp::Reverse(a.path.len()),
                &a.path,
            );
            let kb = (
                b.domain.is_none(),
                b.domain.as_deref(),
                std::cmp::Reverse(b.path.len()),
                &b.path,
            );
            ka.cmp(&kb)
        });
        Ok(())
    }

    /// The mapped `(domain, prefix)` keys in match order.
    pub fn keys(&self) -> Vec<(Option<String>, String)> {
        self.entries
            .iter()
            .map(|e| (e.domain.clone(), e.path.clone()))
            .collect()
    }

    fn find(&self, host: &str, port: &str, path_info: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            if let Some(d) = &e.domain
                && d != host
                && *d != format!("{host}:{port}")
            {
                return false;
            }
            path_info == e.path
                || (path_info.starts_with(e.path.as_str())
                    && path_info[e.path.len()..].starts_with('/'))
        })
    }
}

/// Host and port as paste's urlmap sees them (`HTTP_HOST`, else
/// `SERVER_NAME`, lowercased; the port defaults by scheme).
fn host_and_port(req: &Request) -> (String, String) {
    let conn = req.extensions().get::<ConnInfo>();
    let host = req
        .extensions()
        .get::<ForwardedHost>()
        .map(|h| h.0.clone())
        .or_else(|| {
            req.headers()
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .or_else(|| conn.map(|c| c.local_addr.ip().to_string()))
        .unwrap_or_default()
        .to_lowercase();
    match host.split_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => {
            let https = conn.is_some_and(|c| c.scheme != "http");
            (host, if https { "443" } else { "80" }.to_string())
        }
    }
}

/// Replace the request path, keeping the query. WSGI allows an empty
/// PATH_INFO but a URI path cannot be empty, so "" becomes "/".
fn set_path(req: &mut Request, path: &str) {
    let path = if path.is_empty() { "/" } else { path };
    let pq = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = pq.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

impl Handler for UrlMap {
    fn call(&self, mut req: Request) -> BoxFuture<glimpse_http::Response> {
        let (host, port) = host_and_port(&req);
        let raw_path = req.uri().path();
        // Paste asserts PATH_INFO starts with '/'; anything else (`*`) is unmatched.
        let path_info = if raw_path.is_empty() || raw_path.starts_with('/') {
            Some(collapse_slashes(raw_path))
        } else {
            None
        };
        if let Some(path_info) = path_info
            && let Some(entry) = self.find(&host, &port, &path_info)
        {
            let app = entry.app.clone();
            let prefix = entry.path.clone();
            match req.extensions_mut().get_mut::<ScriptName>() {
                Some(s) => s.0.push_str(&prefix),
                None => {
                    req.extensions_mut().insert(ScriptName(prefix.clone()));
                }
            }
            set_path(&mut req, &path_info[prefix.len()..]);
            return app.call(req);
        }
        if let Some(nf) = &self.not_found {
            return nf.call(req);
        }
        let resp = crate::middleware::common::error_response(
            StatusCode::NOT_FOUND,
            None,
            Some(req.uri().path()),
            req.headers(),
            req.method(),
        );
        Box::pin(async move { resp })
    }
}

/// `paste.urlmap:urlmap_factory` (also `egg:Paste#urlmap` and Glance's
/// `root_app_factory`): every local key is a path expression naming an app.
pub(crate) fn urlmap_factory(
    loader: &CompositeLoader<'_>,
    ctx: &FactoryContext,
    local: &LocalConf,
) -> Result<SharedHandler, PasteError> {
    let mut local = local.clone();
    let not_found = local
        .remove("not_found_app")
        .or_else(|| ctx.global_conf.get("not_found_app").map(str::to_string))
        .filter(|n| !n.is_empty());
    let mut map = UrlMap::new();
    if let Some(name) = not_found {
        map.set_not_found(loader.get_app(&name, Some(&ctx.global_conf))?);
    }
    for (expr, app_name) in local.iter() {
        let path = parse_path_expression(expr).map_err(|m| ctx.error(m))?;
        let app = loader.get_app(app_name, Some(&ctx.global_conf))?;
        map.insert(&path, app).map_err(|m| ctx.error(m))?;
    }
    Ok(Arc::new(map))
}
