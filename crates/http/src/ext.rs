//! Request extensions: the WSGI environ keys Glimpse needs, typed.

use std::net::SocketAddr;

/// Set by the server on every request.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub remote_addr: SocketAddr,
    pub local_addr: SocketAddr,
    /// `http` or `https`; `http_proxy_to_wsgi` may rewrite it.
    pub scheme: String,
}

/// WSGI `SCRIPT_NAME`: the prefix a urlmap (or a proxy's
/// `X-Forwarded-Prefix`) consumed. The request URI path is `PATH_INFO`.
#[derive(Clone, Debug, Default)]
pub struct ScriptName(pub String);

/// The `req-<uuid>` id of this request, as sent in `x-openstack-request-id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Host as the client addressed us (`Host` header, or rewritten by a proxy filter).
#[derive(Clone, Debug)]
pub struct ForwardedHost(pub String);

/// WSGI `application_url`: scheme://host + SCRIPT_NAME, as WebOb computes it.
pub fn application_url(req: &crate::Request) -> String {
    let script = req
        .extensions()
        .get::<ScriptName>()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    format!("{}{script}", host_url(req))
}

/// WebOb's `host_url`: scheme://host, what a relative `Location` header
/// is absolutized against.
pub fn host_url(req: &crate::Request) -> String {
    let scheme = req
        .extensions()
        .get::<ConnInfo>()
        .map(|c| c.scheme.clone())
        .unwrap_or_else(|| "http".to_string());
    format!("{scheme}://{}", host_url_host(req))
}

/// The host part of WebOb's `host_url`: the Host header, else the server
/// address, with the default port for the scheme omitted.
pub fn host_url_host(req: &crate::Request) -> String {
    if let Some(h) = req.extensions().get::<ForwardedHost>() {
        return h.0.clone();
    }
    if let Some(h) = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    {
        return h.to_string();
    }
    match req.extensions().get::<ConnInfo>() {
        Some(c) => {
            let default = if c.scheme == "https" { 443 } else { 80 };
            if c.local_addr.port() == default {
                c.local_addr.ip().to_string()
            } else {
                c.local_addr.to_string()
            }
        }
        None => "localhost".to_string(),
    }
}
