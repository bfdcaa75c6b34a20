//! oslo.middleware's `Healthcheck` app (`oslo_middleware:Healthcheck.app_factory`).
//!
//! GET answers 200 `OK` or 503 with the failing reasons; HEAD answers
//! 204/503 with no body. The body is text/plain (the default), text/html or
//! application/json by `Accept`, rendered exactly as oslo's templates do.
//! Backends: `disable_by_file`, `disable_by_files_ports`, `enable_by_files`.
//! `[healthcheck]` options can be overridden by keys in the paste section.
//!
//! In `detailed` mode the Python-specific parts (GC counters, interpreter
//! version, thread stacks) have no Rust equivalent; they are reported as
//! zeros/empty lists so the document keeps oslo's shape.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::ext::ConnInfo;
use glimpse_http::{Body, BoxFuture, Handler, Request, Response, SharedHandler};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::common::{Overrides, acceptable_offers, conf_error, error_response, py_json_pretty};
use super::http_proxy_to_wsgi::ForwardedFor;
use crate::paste::{ConfMap, FactoryContext, FactoryRegistry, LocalConf, PasteError};

pub const GROUP: &str = "healthcheck";

/// `[healthcheck]` options (all backends' options included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub detailed: bool,
    pub backends: Vec<String>,
    pub allowed_source_ranges: Vec<String>,
    pub ignore_proxied_requests: bool,
    pub disable_by_file_path: Option<String>,
    pub disable_by_file_paths: Vec<String>,
    pub enable_by_file_paths: Vec<String>,
}

impl Settings {
    pub fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        let e = |err| conf_error(GROUP, err);
        let mut s = Settings {
            detailed: conf
                .get_bool(GROUP, "detailed")
                .map_err(e)?
                .unwrap_or(false),
            backends: conf
                .get_list(GROUP, "backends")
                .map_err(e)?
                .unwrap_or_default(),
            allowed_source_ranges: conf
                .get_list(GROUP, "allowed_source_ranges")
                .map_err(e)?
                .unwrap_or_default(),
            ignore_proxied_requests: conf
                .get_bool(GROUP, "ignore_proxied_requests")
                .map_err(e)?
                .unwrap_or(false),
            disable_by_file_path: conf.get_str(GROUP, "disable_by_file_path").map_err(e)?,
            disable_by_file_paths: conf
                .get_list(GROUP, "disable_by_file_paths")
                .map_err(e)?
                .unwrap_or_default(),
            enable_by_file_paths: conf
                .get_list(GROUP, "enable_by_file_paths")
                .map_err(e)?
                .unwrap_or_default(),
        };
        s.apply_overrides(paste_conf)?;
        Ok(s)
    }

    pub fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        let o = Overrides(paste_conf);
        o.bool("detailed", &mut self.detailed)?;
        o.list("backends", &mut self.backends);
        o.list("allowed_source_ranges", &mut self.allowed_source_ranges);
        o.bool("ignore_proxied_requests", &mut self.ignore_proxied_requests)?;
        o.opt_str("disable_by_file_path", &mut self.disable_by_file_path);
        o.list("disable_by_file_paths", &mut self.disable_by_file_paths);
        o.list("enable_by_file_paths", &mut self.enable_by_file_paths);
        Ok(())
    }
}

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_all(GROUP, [
        Opt::bool("detailed").default("false").help(
            "Show more detailed information as part of the response. Security note: Enabling this \
             option may expose sensitive details about the service being monitored. Be sure to verify \
             that it will not violate your security policies.",
        ),
        Opt::list("backends").default("").help(
            "Additional backends that can perform health checks and report that information back as \
             part of a request.",
        ),
        Opt::list("allowed_source_ranges").default("").help(
            "A list of network addresses to limit source ip allowed to access healthcheck information. \
             Any request from ip outside of these network addresses are ignored.",
        ),
        Opt::bool("ignore_proxied_requests").default("false").help("Ignore requests with proxy headers."),
        Opt::str("disable_by_file_path").help(
            "Check the presence of a file to determine if an application is running on a port. Used by \
             DisableByFileHealthcheck plugin.",
        ),
        Opt::list("disable_by_file_paths").default("").help(
            "Check the presence of a file based on a port to determine if an application is running on \
             a port. Expects a \"port:path\" list of strings. Used by DisableByFilesPortsHealthcheck plugin.",
        ),
        Opt::list("enable_by_file_paths")
            .default("")
            .help("Check the presence of files. Used by EnableByFilesHealthcheck plugin."),
    ])
}

/// One backend's verdict (oslo's `HealthcheckResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub available: bool,
    pub reason: String,
    pub details: String,
}

impl CheckResult {
    fn new(available: bool, reason: &str, details: String) -> Self {
        CheckResult {
            available,
            reason: reason.to_string(),
            details,
        }
    }
}

#[derive(Clone, Debug)]
enum Backend {
    DisableByFile(Option<String>),
    DisableByFilesPorts(Vec<(u16, String)>),
    EnableByFiles(Vec<String>),
}

impl Backend {
    fn check(&self, server_port: u16) -> CheckResult {
        match self {
            Backend::DisableByFile(None) => {
                log::warn!(
                    "DisableByFile healthcheck middleware enabled without disable_by_file_path set"
                );
                CheckResult::new(
                    true,
                    "OK",
                    "No 'disable_by_file_path' configuration value specified".into(),
                )
            }
            Backend::DisableByFile(Some(path)) => {
                if Path::new(path).exists() {
                    CheckResult::new(
                        false,
                        "DISABLED BY FILE",
                        format!("Path '{path}' was found"),
                    )
                } else {
                    CheckResult::new(true, "OK", format!("Path '{path}' was not found"))
                }
            }
            Backend::DisableByFilesPorts(map) => {
                match map.iter().find(|(p, _)| *p == server_port) {
                    Some((_, path)) if !path.is_empty() && Path::new(path).exists() => {
                        CheckResult::new(false, "DISABLED BY FILE", String::new())
                    }
                    Some((_, path)) if !path.is_empty() => {
                        CheckResult::new(true, "OK", String::new())
                    }
                    _ => {
                        log::warn!(
                            "DisableByFilesPorts healthcheck middleware enabled without disable_by_file_paths \
                         set for port {server_port}"
                        );
                        CheckResult::new(true, "OK", String::new())
                    }
                }
            }
            Backend::EnableByFiles(paths) => {
                for p in paths {
                    if !Path::new(p).exists() {
                        log::warn!("EnableByFiles healthcheck middleware: Path {p} is not present");
                        return CheckResult::new(
                            false,
                            "FILE PATH MISSING",
                            format!("File path {p} is missing"),
                        );
                    }
                }
                CheckResult::new(true, "OK", "Specified file paths are available".into())
            }
        }
    }
}

/// An IP network as Python's `ipaddress.ip_network(s)` (strict) accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let bad = || format!("'{s}' does not appear to be an IPv4 or IPv6 network");
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        let net = IpNet { addr, prefix };
        if net.network_bits(addr) != Self::bits(addr) {
            return Err(format!("{s} has host bits set"));
        }
        Ok(net)
    }

    fn bits(a: IpAddr) -> u128 {
        match a {
            IpAddr::V4(v) => u128::from(u32::from(v)),
            IpAddr::V6(v) => u128::from(v),
        }
    }

    fn network_bits(&self, a: IpAddr) -> u128 {
        let width = if a.is_ipv4() { 32 } else { 128 };
        let host = u32::from(width - self.prefix);
        let mask = if host >= 128 {
            0
        } else {
            (u128::MAX >> host) << host
        };
        Self::bits(a) & mask
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        a.is_ipv4() == self.addr.is_ipv4() && self.network_bits(a) == Self::bits(self.addr)
    }
}

/// The healthcheck application.
pub struct Healthcheck {
    detailed: bool,
    source_ranges: Vec<IpNet>,
    ignore_proxied_requests: bool,
    backends: Vec<Backend>,
    /// Where ignored requests go; `None` in app mode, where oslo would
    /// fail calling a missing application (a 500).
    next: Option<SharedHandler>,
}

impl Healthcheck {
    /// Validate `settings` and build the app.
    pub fn new(settings: &Settings, next: Option<SharedHandler>) -> Result<Healthcheck, String> {
        let names = &settings.backends;
        if names.iter().any(|b| b == "disable_by_file")
            && names.iter().any(|b| b == "enable_by_files")
        {
            return Err("`enable_by_files` plugin and `disable_by_file` plugin should not be enabled at the \
                        same time."
                .into());
        }
        let source_ranges = settings
            .allowed_source_ranges
            .iter()
            .map(|r| IpNet::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut backends = Vec::new();
        for name in names {
            match name.as_str() {
                "disable_by_file" => backends.push(Backend::DisableByFile(
                    settings.disable_by_file_path.clone(),
                )),
                "disable_by_files_ports" => {
                    let mut map = Vec::new();
                    for pp in &settings.disable_by_file_paths {
                        let pp = pp.trim();
                        if pp.is_empty() {
                            continue;
                        }
                        let (port, path) = pp.split_once(':').ok_or_else(|| {
                            "not enough values to unpack (expected 2, got 1)".to_string()
                        })?;
                        let port = port.trim().parse::<u16>().map_err(|_| {
                            format!("invalid literal for int() with base 10: '{port}'")
                        })?;
                        map.push((port, path.to_string()));
                    }
                    backends.push(Backend::DisableByFilesPorts(map));
                }
                "enable_by_files" => backends.push(Backend::EnableByFiles(
                    settings.enable_by_file_paths.clone(),
                )),
                // stevedore skips unknown names with a warning.
                other => log::warn!("Could not load {other}"),
            }
        }
        Ok(Healthcheck {
            detailed: settings.detailed,
            source_ranges,
            ignore_proxied_requests: settings.ignore_proxied_requests,
            backends,
            next,
        })
    }

    /// Whether this request is left to the next app (oslo returns None).
    fn ignores(&self, req: &Request) -> Result<bool, ()> {
        if !self.source_ranges.is_empty() {
            let remote = match req.extensions().get::<ForwardedFor>() {
                Some(f) => Some(f.0.clone()),
                None => req
                    .extensions()
                    .get::<ConnInfo>()
                    .map(|c| c.remote_addr.ip().to_string()),
            };
            let Some(remote) = remote.filter(|r| !r.is_empty()) else {
                return Ok(true);
            };
            // Python's ip_address() raises on a non-address: a 500.
            let ip: IpAddr = remote.trim().parse().map_err(|_| ())?;
            if !self.source_ranges.iter().any(|r| r.contains(ip)) {
                return Ok(true);
            }
        }
        if self.ignore_proxied_requests {
            for h in [
                "x-forwarded",
                "x-forwarded-proto",
                "x-forwarded-host",
                "x-forwarded-for",
                "x-forwarded-prefix",
            ] {
                if req.headers().get(h).is_some_and(|v| !v.is_empty()) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Run the backends for a request on `server_port`.
    pub fn results(&self, server_port: u16) -> Vec<CheckResult> {
        self.backends.iter().map(|b| b.check(server_port)).collect()
    }

    /// The response oslo gives for these results.
    pub fn respond(
        &self,
        method: &Method,
        accept: Option<&str>,
        results: &[CheckResult],
    ) -> Response {
        let healthy = results.iter().all(|r| r.available);
        let (status, body, ctype) = if *method == Method::HEAD {
            let s = if healthy {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (s, String::new(), "text/plain; charset=UTF-8")
        } else {
            let s = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let offers = ["text/plain", "text/html", "application/json"];
            match acceptable_offers(accept, &offers)
                .first()
                .copied()
                .unwrap_or("text/plain")
            {
                "text/html" => (s, self.html(results), "text/html; charset=UTF-8"),
                "application/json" => (s, self.json(results), "application/json"),
                _ => (s, plain(results), "text/plain; charset=UTF-8"),
            }
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        // WebOb drops Content-Type from a 204 (seen against Glance 33).
        if status != StatusCode::NO_CONTENT {
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        }
        resp
    }

    fn json(&self, results: &[CheckResult]) -> String {
        // Keys inserted in sorted order (oslo dumps with sort_keys=True).
        let v = if self.detailed {
            let reasons: Vec<Value> = results
                .iter()
                .map(|r| json!({"class": "HealthcheckResult", "details": r.details, "reason": r.reason}))
                .collect();
            json!({
                "detailed": true,
                "gc": {"counts": [0, 0, 0], "threshold": [0, 0, 0]},
                "greenthreads": [],
                "now": utc_now_python(),
                "platform": platform(),
                "python_version": runtime_version(),
                "reasons": reasons,
                "threads": [],
            })
        } else {
            json!({"detailed": false, "reasons": results.iter().map(|r| r.reason.clone()).collect::<Vec<_>>()})
        };
        py_json_pretty(&v)
    }

    fn html(&self, results: &[CheckResult]) -> String {
        let mut s =
            String::from("<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n");
        if self.detailed {
            s.push_str("<H1>Server status</H1>\n");
            if let Some(h) = glimpse_config::hostname() {
                s.push_str(&format!(
                    "<B>Server hostname:</B><PRE>{}</PRE>",
                    html_escape(&h)
                ));
            }
            s.push_str(&format!(
                "\n<B>Current time:</B><PRE>{}</PRE>\n<B>Python version:</B><PRE>{}</PRE>\n\
                 <B>Platform:</B><PRE>{}</PRE>\n<HR></HR>\n<H2>Garbage collector:</H2>\n\
                 <B>Counts:</B><PRE>(0, 0, 0)</PRE>\n<B>Thresholds:</B><PRE>(0, 0, 0)</PRE>\n<HR></HR>",
                html_escape(&utc_now_python()),
                html_escape(&runtime_version()),
                html_escape(&platform())
            ));
        }
        s.push_str(&format!(
            "\n<H2>Result of {} checks:</H2>\n<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n",
            results.len()
        ));
        s.push_str(if self.detailed {
            "<TH>\nKind\n</TH>\n<TH>\nReason\n</TH>\n<TH>\nDetails\n</TH>\n"
        } else {
            "\n<TH>\nReason\n</TH>"
        });
        s.push_str("\n</TR>\n");
        for r in results.iter().filter(|r| !r.reason.is_empty()) {
            if self.detailed {
                s.push_str(&format!(
                    "<TR>\n<TD>HealthcheckResult</TD>\n    <TD>{}</TD>\n<TD>{}</TD>\n</TR>",
                    html_escape(&r.reason),
                    html_escape(&r.details)
                ));
            } else {
                s.push_str(&format!(
                    "<TR>\n\n    <TD>{}</TD>\n\n</TR>",
                    html_escape(&r.reason)
                ));
            }
        }
        s.push_str("\n</TBODY>\n</TABLE>\n<HR></HR>\n");
        if self.detailed {
            // No greenthread or thread stacks to show.
            s.push('\n');
        }
        s.push_str("\n</BODY>\n</HTML>");
        s
    }
}

/// oslo's plain template: the non-empty reasons, one per line.
fn plain(results: &[CheckResult]) -> String {
    let mut s = String::new();
    for r in results {
        s.push('\n');
        s.push_str(&r.reason);
    }
    s.trim_matches(crate::paste::ini::py_isspace).to_string()
}

/// Jinja's `|e` (markupsafe).
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn runtime_version() -> String {
    format!("glimpse {} (Rust)", env!("CARGO_PKG_VERSION"))
}

/// `str(datetime.utcnow())`: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
fn utc_now_python() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let micros = now.subsec_micros();
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = glimpse_http::server::civil_from_days(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

impl Handler for Healthcheck {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        match self.ignores(&req) {
            Ok(false) => {}
            Ok(true) if self.next.is_some() => {
                if let Some(next) = &self.next {
                    return next.call(req);
                }
            }
            _ => {
                let resp = error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    None,
                    req.headers(),
                    req.method(),
                );
                return Box::pin(async move { resp });
            }
        }
        let port = req
            .extensions()
            .get::<ConnInfo>()
            .map(|c| c.local_addr.port())
            .unwrap_or(80);
        let results = self.results(port);
        let accept = req
            .headers()
            .get(http::header::ACCEPT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let resp = self.respond(req.method(), accept.as_deref(), &results);
        Box::pin(async move { resp })
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

fn app_factory(ctx: &FactoryContext, local: &LocalConf) -> Result<SharedHandler, PasteError> {
    let settings: Settings = crate::middleware::common::settings_for(ctx, local)?;
    Ok(Arc::new(
        Healthcheck::new(&settings, None).map_err(|m| ctx.error(m))?,
    ))
}

pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "oslo_middleware:Healthcheck.app_factory",
        "egg:oslo.middleware#healthcheck",
    ] {
        registry.register_app(name, app_factory);
    }
    for name in [
        "oslo_middleware:Healthcheck.factory",
        "oslo_middleware.healthcheck:Healthcheck.factory",
    ] {
        registry.register_filter(name, |ctx, _local| {
            Err(ctx.error("HealthcheckMiddleware should be deployed as an app, not a filter"))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(backends: &[&str]) -> Settings {
        Settings {
            backends: backends.iter().map(|s| s.to_string()).collect(),
            ..Settings::default()
        }
    }

    fn req(method: Method, accept: Option<&str>) -> Request {
        let mut b = http::Request::builder().method(method).uri("/healthcheck");
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        b.body(Body::empty()).expect("req")
    }

    async fn run(h: &Healthcheck, r: Request) -> (StatusCode, String, String) {
        let resp = h.call(r).await;
        let status = resp.status();
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.into_body().collect(1 << 20).await.expect("body");
        (status, ct, String::from_utf8_lossy(&body).into_owned())
    }

    fn tmp_file(name: &str) -> String {
        let p = std::env::temp_dir().join(format!("glimpse-hc-{}-{name}", std::process::id()));
        p.display().to_string()
    }

    #[tokio::test]
    async fn disable_by_file_states_and_negotiation() {
        let path = tmp_file("disable");
        let _ = std::fs::remove_file(&path);
        let s = Settings {
            disable_by_file_path: Some(path.clone()),
            ..settings(&["disable_by_file"])
        };
        let h = Healthcheck::new(&s, None).expect("build");
        assert_eq!(
            run(&h, req(Method::GET, None)).await,
            (
                StatusCode::OK,
                "text/plain; charset=UTF-8".into(),
                "OK".into()
            )
        );
        assert_eq!(
            run(&h, req(Method::GET, Some("application/json"))).await,
            (
                StatusCode::OK,
                "application/json".into(),
                "{\n    \"detailed\": false,\n    \"reasons\": [\n        \"OK\"\n    ]\n}".into()
            )
        );
        let (_, ct, body) = run(&h, req(Method::GET, Some("text/html"))).await;
        assert_eq!(ct, "text/html; charset=UTF-8");
        assert_eq!(
            body,
            "<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n\n<H2>Result of 1 checks:</H2>\n\
             <TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n<TH>\nReason\n</TH>\n</TR>\n<TR>\n\n    \
             <TD>OK</TD>\n\n</TR>\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>"
        );
        // Nothing acceptable: text/plain anyway.
        assert_eq!(
            run(&h, req(Method::GET, Some("image/png"))).await.1,
            "text/plain; charset=UTF-8"
        );
        assert_eq!(
            run(&h, req(Method::HEAD, None)).await,
            (StatusCode::NO_CONTENT, String::new(), String::new())
        );

        std::fs::write(&path, b"").expect("touch");
        assert_eq!(
            run(&h, req(Method::GET, None)).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(run(&h, req(Method::GET, None)).await.2, "DISABLED BY FILE");
        assert_eq!(
            run(&h, req(Method::HEAD, None)).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=UTF-8".into(),
                String::new()
            )
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn html_detailed_and_plain_match_oslo_templates() {
        let results = vec![
            CheckResult::new(true, "OK", "a".into()),
            CheckResult::new(true, "", "b".into()),
            CheckResult::new(false, "D&", "c".into()),
        ];
        let h = Healthcheck::new(&settings(&[]), None).expect("build");
        assert_eq!(
            h.html(&results),
            "<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n\n<H2>Result of 3 checks:</H2>\n\
             <TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n<TH>\nReason\n</TH>\n</TR>\n<TR>\n\n    \
             <TD>OK</TD>\n\n</TR><TR>\n\n    <TD>D&amp;</TD>\n\n</TR>\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>"
        );
        assert_eq!(
            h.html(&[]),
            "<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n\n<H2>Result of 0 checks:</H2>\n\
             <TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n<TH>\nReason\n</TH>\n</TR>\n\n</TBODY>\n\
             </TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>"
        );
        assert_eq!(plain(&results), "OK\n\nD&");
        assert_eq!(plain(&[]), "");
        let d = Healthcheck::new(
            &Settings {
                detailed: true,
                ..settings(&[])
            },
            None,
        )
        .expect("build");
        let html = d.html(&results[..1]);
        assert!(html.starts_with("<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n<H1>Server status</H1>\n"));
        assert!(html.ends_with(
            "<H2>Result of 1 checks:</H2>\n<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n<TH>\nKind\n</TH>\n\
             <TH>\nReason\n</TH>\n<TH>\nDetails\n</TH>\n\n</TR>\n<TR>\n<TD>HealthcheckResult</TD>\n    <TD>OK</TD>\n\
             <TD>a</TD>\n</TR>\n</TBODY>\n</TABLE>\n<HR></HR>\n\n\n</BODY>\n</HTML>"
        ));
        let json = d.json(&results[..1]);
        assert!(json.contains("\"reasons\": [\n        {\n            \"class\": \"HealthcheckResult\",\n            \"details\": \"a\",\n            \"reason\": \"OK\"\n        }\n    ],"), "{json}");
    }

    #[test]
    fn backends_and_validation() {
        assert!(
            Healthcheck::new(&settings(&["disable_by_file", "enable_by_files"]), None).is_err()
        );
        let missing = tmp_file("missing");
        let s = Settings {
            enable_by_file_paths: vec![missing.clone()],
            ..settings(&["enable_by_files"])
        };
        let r = Healthcheck::new(&s, None).expect("build").results(80);
        assert_eq!(
            r,
            vec![CheckResult::new(
                false,
                "FILE PATH MISSING",
                format!("File path {missing} is missing")
            )]
        );
        let present = tmp_file("present");
        std::fs::write(&present, b"").expect("touch");
        let s = Settings {
            disable_by_file_paths: vec![format!("9292:{present}"), format!("81:{missing}")],
            ..settings(&["disable_by_files_ports", "unknown_backend"])
        };
        let h = Healthcheck::new(&s, None).expect("build");
        assert!(!h.results(9292)[0].available);
        assert!(h.results(81)[0].available);
        assert!(h.results(82)[0].available);
        let bad = Settings {
            disable_by_file_paths: vec!["x:/p".into()],
            ..settings(&["disable_by_files_ports"])
        };
        assert!(Healthcheck::new(&bad, None).is_err());
        let _ = std::fs::remove_file(&present);
        assert_eq!(
            Healthcheck::new(
                &Settings {
                    allowed_source_ranges: vec!["10.0.0.1/8".into()],
                    ..Settings::default()
                },
                None
            )
            .err(),
            Some("10.0.0.1/8 has host bits set".to_string())
        );
    }

    #[test]
    fn ip_networks() {
        let n = IpNet::parse("10.0.0.0/8").expect("net");
        assert!(n.contains("10.1.2.3".parse().expect("ip")));
        assert!(!n.contains("11.0.0.1".parse().expect("ip")));
        assert!(!n.contains("::1".parse().expect("ip")));
        assert!(
            IpNet::parse("::1")
                .expect("net")
                .contains("::1".parse().expect("ip"))
        );
        assert!(
            IpNet::parse("0.0.0.0/0")
                .expect("net")
                .contains("1.2.3.4".parse().expect("ip"))
        );
        assert!(
            IpNet::parse("fe80::/10")
                .expect("net")
                .contains("fe80::1".parse().expect("ip"))
        );
        assert!(IpNet::parse("1.2.3.4/33").is_err());
        assert!(IpNet::parse("nope").is_err());
    }

    #[tokio::test]
    async fn source_ranges_and_proxied_requests_are_ignored() {
        let s = Settings {
            allowed_source_ranges: vec!["10.0.0.0/8".into()],
            ignore_proxied_requests: true,
            ..settings(&[])
        };
        let next = glimpse_http::handler_fn(|_r: Request| async {
            let mut r = Response::new(Body::from("next"));
            *r.status_mut() = StatusCode::IM_A_TEAPOT;
            r
        });
        let h = Healthcheck::new(&s, Some(next)).expect("build");
        let with_remote = |ip: &str, headers: &[(&str, &str)]| {
            let mut r = req(Method::GET, None);
            for (k, v) in headers {
                r.headers_mut().insert(
                    http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("v"),
                );
            }
            r.extensions_mut().insert(ConnInfo {
                remote_addr: format!("{ip}:1234").parse().expect("addr"),
                local_addr: "10.0.0.2:9292".parse().expect("addr"),
                scheme: "http".into(),
            });
            r
        };
        assert_eq!(
            run(&h, with_remote("10.1.1.1", &[])).await.0,
            StatusCode::OK
        );
        assert_eq!(
            run(&h, with_remote("192.168.1.1", &[])).await.0,
            StatusCode::IM_A_TEAPOT
        );
        assert_eq!(
            run(
                &h,
                with_remote("10.1.1.1", &[("x-forwarded-for", "1.2.3.4")])
            )
            .await
            .0,
            StatusCode::IM_A_TEAPOT
        );
        // As an app (no next), an ignored request is a 500, as in oslo.
        let h = Healthcheck::new(&s, None).expect("build");
        assert_eq!(
            run(&h, with_remote("192.168.1.1", &[])).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn factories() {
        let mut reg = FactoryRegistry::new();
        register(&mut reg);
        assert!(reg.contains("oslo_middleware:Healthcheck.app_factory"));
        let ctx = FactoryContext::new(Arc::new(()));
        let local: LocalConf = [
            ("backends", "disable_by_file"),
            ("disable_by_file_path", "/etc/glance/healthcheck_disable"),
        ]
        .into_iter()
        .collect();
        assert!(app_factory(&ctx, &local).is_ok());
        let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        register_opts(&mut conf).expect("register");
        conf.set_override(GROUP, "detailed", "true")
            .expect("override");
        let s = Settings::from_conf(&conf, &local).expect("settings");
        assert!(s.detailed);
        assert_eq!(
            s.disable_by_file_path.as_deref(),
            Some("/etc/glance/healthcheck_disable")
        );
        assert_eq!(s.backends, vec!["disable_by_file"]);
    }
}
