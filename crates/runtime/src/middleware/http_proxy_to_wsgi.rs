//! oslo.middleware's `HTTPProxyToWSGI`: when the service sits behind a
//! reverse proxy, take the scheme, host, client address and path prefix
//! from the proxy's headers (RFC 7239 `Forwarded` first, else
//! `X-Forwarded-*`). Off unless `[oslo_middleware]
//! enable_proxy_headers_parsing` is true.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::ext::{ConnInfo, ForwardedHost, ScriptName};
use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};
use http::HeaderValue;

use super::common::{Overrides, conf_error};
use crate::paste::{ConfMap, FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

pub const GROUP: &str = "oslo_middleware";

/// WSGI `REMOTE_ADDR` as the proxy reported it, verbatim (it need not be
/// an IP address; [`ConnInfo::remote_addr`] is updated only when it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedFor(pub String);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub enable_proxy_headers_parsing: bool,
}

impl Settings {
    pub fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        let mut s = Settings {
            enable_proxy_headers_parsing: conf
                .get_bool(GROUP, "enable_proxy_headers_parsing")
                .map_err(|e| conf_error(GROUP, e))?
                .unwrap_or(false),
        };
        s.apply_overrides(paste_conf)?;
        Ok(s)
    }

    pub fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        Overrides(paste_conf).bool(
            "enable_proxy_headers_parsing",
            &mut self.enable_proxy_headers_parsing,
        )
    }
}

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register(
        GROUP,
        Opt::bool("enable_proxy_headers_parsing").default("false").help(
            "Whether the application is behind a proxy or not. This determines if the middleware \
             should parse the headers or not.",
        ),
    )
}

/// Values taken from the proxy headers.
#[derive(Debug, Default, PartialEq, Eq)]
struct Forwarded {
    proto: Option<String>,
    host: Option<String>,
    for_: Option<String>,
}

/// RFC 7239 `Forwarded`, as oslo parses it: the first element's `proto`,
/// `host` and `for` (values taken verbatim, quotes included).
fn parse_rfc7239(header: &str) -> Forwarded {
    let first = header.split(',').next().unwrap_or("");
    let mut f = Forwarded::default();
    for pair in first.split(';') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.trim().to_string();
        match k.trim().to_lowercase().as_str() {
            "proto" => f.proto = Some(v),
            "host" => f.host = Some(v),
            "for" => f.for_ = Some(v),
            _ => {}
        }
    }
    f
}

/// All values of a header joined with `,` (how a WSGI server folds
/// repeated headers into one environ key).
fn header_joined(req: &Request, name: &str) -> Option<String> {
    let vals: Vec<String> = req
        .headers()
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!vals.is_empty()).then(|| vals.join(","))
}

/// Parse a forwarded client address (`1.2.3.4`, `[::1]:80`, `"[::1]"`).
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse().ok())
}

/// Rewrite the request from its proxy headers.
pub fn apply_proxy_headers(req: &mut Request) {
    let fwd = match header_joined(req, "forwarded").filter(|v| !v.is_empty()) {
        Some(h) => parse_rfc7239(&h),
        None => Forwarded {
            proto: header_joined(req, "x-forwarded-proto"),
            host: header_joined(req, "x-forwarded-host"),
            for_: header_joined(req, "x-forwarded-for"),
        },
    };
    if let Some(proto) = fwd.proto.filter(|v| !v.is_empty())
        && let Some(c) = req.extensions_mut().get_mut::<ConnInfo>()
    {
        c.scheme = proto;
    }
    if let Some(host) = fwd.host.filter(|v| !v.is_empty()) {
        if let Ok(v) = HeaderValue::from_str(&host) {
            req.headers_mut().insert(http::header::HOST, v);
        }
        req.extensions_mut().insert(ForwardedHost(host));
    }
    if let Some(for_) = fwd.for_.filter(|v| !v.is_empty()) {
        if let (Some(ip), Some(c)) = (
            parse_addr(&for_),
            req.extensions_mut().get_mut::<ConnInfo>(),
        ) {
            c.remote_addr = SocketAddr::new(ip, c.remote_addr.port());
        }
        req.extensions_mut().insert(ForwardedFor(for_));
    }
    if let Some(prefix) = header_joined(req, "x-forwarded-prefix").filter(|v| !v.is_empty()) {
        let current = req
            .extensions()
            .get::<ScriptName>()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        req.extensions_mut().insert(ScriptName(prefix + &current));
    }
}

pub struct HttpProxyToWsgi {
    next: SharedHandler,
    settings: Settings,
}

impl HttpProxyToWsgi {
    pub fn filter(settings: Settings) -> Filter {
        Arc::new(move |next| {
            Arc::new(HttpProxyToWsgi {
                next,
                settings: settings.clone(),
            }) as SharedHandler
        })
    }
}

impl Handler for HttpProxyToWsgi {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        if self.settings.enable_proxy_headers_parsing {
            apply_proxy_headers(&mut req);
        }
        self.next.call(req)
    }
}

impl crate::middleware::common::FilterSettings for Settings {
    fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        Settings::from_conf(conf, paste_conf)
    }
    fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        Settings::apply_overrides(self, paste_conf)
    }
}

fn factory(ctx: &FactoryContext, local: &LocalConf) -> Result<Filter, PasteError> {
    let settings: Settings = crate::middleware::common::settings_for(ctx, local)?;
    Ok(HttpProxyToWsgi::filter(settings))
}

pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "oslo_middleware:HTTPProxyToWSGI.factory",
        "oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory",
        "egg:oslo.middleware#http_proxy_to_wsgi",
    ] {
        registry.register_filter(name, factory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse_http::{Body, handler_fn};

    /// An app reporting what it saw in headers.
    fn echo() -> SharedHandler {
        handler_fn(|req: Request| async move {
            let mut r = Response::new(Body::empty());
            let c = req.extensions().get::<ConnInfo>().cloned();
            let vals = [
                (
                    "x-scheme",
                    c.as_ref().map(|c| c.scheme.clone()).unwrap_or_default(),
                ),
                (
                    "x-remote",
                    c.as_ref()
                        .map(|c| c.remote_addr.ip().to_string())
                        .unwrap_or_default(),
                ),
                (
                    "x-for",
                    req.extensions()
                        .get::<ForwardedFor>()
                        .map(|f| f.0.clone())
                        .unwrap_or_default(),
                ),
                ("x-host", glimpse_http::ext::host_url_host(&req)),
                (
                    "x-script",
                    req.extensions()
                        .get::<ScriptName>()
                        .map(|s| s.0.clone())
                        .unwrap_or_default(),
                ),
                ("x-app-url", glimpse_http::ext::application_url(&req)),
            ];
            for (k, v) in vals {
                r.headers_mut()
                    .insert(k, HeaderValue::from_str(&v).expect("hv"));
            }
            r
        })
    }

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = http::Request::builder()
            .uri("/v2/images")
            .header("host", "internal:9292");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut r = b.body(Body::empty()).expect("req");
        r.extensions_mut().insert(ConnInfo {
            remote_addr: "10.0.0.1:5000".parse().expect("addr"),
            local_addr: "10.0.0.2:9292".parse().expect("addr"),
            scheme: "http".into(),
        });
        r.extensions_mut().insert(ScriptName("/sn".into()));
        r
    }

    fn h(r: &Response, k: &str) -> String {
        r.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    #[tokio::test]
    async fn disabled_by_default() {
        let f = HttpProxyToWsgi::filter(Settings::default())(echo());
        let r = f.call(req(&[("x-forwarded-proto", "https")])).await;
        assert_eq!(h(&r, "x-scheme"), "http");
    }

    #[tokio::test]
    async fn rfc7239_first_element_wins() {
        let f = HttpProxyToWsgi::filter(Settings {
            enable_proxy_headers_parsing: true,
        })(echo());
        let r = f
            .call(req(&[
                (
                    "forwarded",
                    "for=192.0.2.60;proto=https;host=public.example, for=192.0.2.61;proto=http",
                ),
                ("x-forwarded-proto", "ftp"),
                ("x-forwarded-prefix", "/image"),
            ]))
            .await;
        assert_eq!(h(&r, "x-scheme"), "https");
        assert_eq!(h(&r, "x-host"), "public.example");
        assert_eq!(h(&r, "x-remote"), "192.0.2.60");
        assert_eq!(h(&r, "x-for"), "192.0.2.60");
        assert_eq!(h(&r, "x-script"), "/image/sn");
        assert_eq!(h(&r, "x-app-url"), "https://public.example/image/sn");
    }

    #[tokio::test]
    async fn x_forwarded_headers() {
        let f = HttpProxyToWsgi::filter(Settings {
            enable_proxy_headers_parsing: true,
        })(echo());
        let r = f
            .call(req(&[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "h.example:8443"),
                ("x-forwarded-for", "2001:db8::1"),
            ]))
            .await;
        assert_eq!(h(&r, "x-scheme"), "https");
        assert_eq!(h(&r, "x-host"), "h.example:8443");
        assert_eq!(h(&r, "x-remote"), "2001:db8::1");
        assert_eq!(h(&r, "x-script"), "/sn");
        // A non-address `for` is kept verbatim but does not touch ConnInfo.
        let r = f.call(req(&[("x-forwarded-for", "unknown")])).await;
        assert_eq!(h(&r, "x-remote"), "10.0.0.1");
        assert_eq!(h(&r, "x-for"), "unknown");
    }

    #[test]
    fn parsing_helpers() {
        assert_eq!(
            parse_rfc7239("For=\"[2001:db8::1]:4711\";Proto=http")
                .for_
                .as_deref(),
            Some("\"[2001:db8::1]:4711\"")
        );
        assert_eq!(
            parse_addr("\"[2001:db8::1]:4711\""),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(parse_addr("[::1]"), "::1".parse().ok());
        assert_eq!(parse_addr("_hidden"), None);
    }

    #[test]
    fn settings_from_conf_and_overrides() {
        let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        register_opts(&mut conf).expect("register");
        assert_eq!(
            Settings::from_conf(&conf, &ConfMap::new()),
            Ok(Settings::default())
        );
        let local: ConfMap = [("enable_proxy_headers_parsing", "True")]
            .into_iter()
            .collect();
        assert_eq!(
            Settings::from_conf(&conf, &local),
            Ok(Settings {
                enable_proxy_headers_parsing: true
            })
        );
        let bad: ConfMap = [("enable_proxy_headers_parsing", "sure")]
            .into_iter()
            .collect();
        assert!(Settings::from_conf(&conf, &bad).is_err());
        // Unregistered options are a clear error.
        let empty = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        assert!(
            Settings::from_conf(&empty, &ConfMap::new())
                .expect_err("unregistered")
                .contains("register_all_opts")
        );
    }
}
