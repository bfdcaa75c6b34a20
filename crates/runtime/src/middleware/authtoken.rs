//! keystonemiddleware's `auth_token` filter: validates `X-Auth-Token` (and
//! `X-Service-Token`) against Keystone v3 and passes the identity on as
//! request headers (`X-Identity-Status`, `X-Roles`, `X-Project-Id`, …) for
//! the service's context filter, exactly the headers keystonemiddleware
//! sets, after removing any the client sent.
//!
//! Configured from `[keystone_authtoken]` (paste-section keys override, as
//! keystonemiddleware reads them): the password auth plugin (`auth_type =
//! password`) gets the service's own token, which validates users' tokens
//! with `GET /v3/auth/tokens`. Validations are cached in the worker until
//! the token expires or `token_cache_time` passes, whichever is first
//! (bounded; keystonemiddleware's in-process cache has no bound); cached
//! tokens keep working while Keystone is down. A token past its
//! `expires_at` is refused even from the cache.
//!
//! Differences, on purpose:
//! - Keystone unreachable (or refusing the service's own credentials)
//!   answers 503 even with `delay_auth_decision = true`, where
//!   keystonemiddleware marks the token invalid and the service then says
//!   401 — which sends clients to re-authenticate against a Keystone that
//!   is down.
//! - A missing or unsupported auth plugin is a start-up error; only
//!   `password`/`v3password` are supported. `memcached_servers` is ignored
//!   (the cache is per worker) and token binding (`enforce_token_bind`,
//!   Kerberos only) is not checked.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::client::{Client, ClientError, ClientOptions, ClientTls};
use glimpse_http::{Body, BoxFuture, Handler, Request, Response, SharedHandler};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use super::common::{Overrides, conf_error, error_response, parse_int};
use crate::paste::{ConfMap, FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

pub const GROUP: &str = "keystone_authtoken";

/// Most validations kept per worker.
const CACHE_ENTRIES: usize = 10_000;
/// The service token is renewed this long before it expires
/// (keystoneauth's default stale duration).
const RENEW_BEFORE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub www_authenticate_uri: Option<String>,
    pub auth_type: Option<String>,
    pub auth_url: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<String>,
    pub user_domain_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub system_scope: Option<String>,
    pub interface: String,
    pub region_name: Option<String>,
    pub delay_auth_decision: bool,
    pub include_service_catalog: bool,
    pub token_cache_time: i64,
    pub http_connect_timeout: Option<i64>,
    pub http_request_max_retries: i64,
    pub service_token_roles: Vec<String>,
    pub service_token_roles_required: bool,
    pub cafile: Option<String>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
    pub insecure: bool,
    pub memcached_servers: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            www_authenticate_uri: None,
            auth_type: None,
            auth_url: None,
            username: None,
            user_id: None,
            password: None,
            user_domain_id: None,
            user_domain_name: None,
            project_id: None,
            project_name: None,
            project_domain_id: None,
            project_domain_name: None,
            system_scope: None,
            interface: "internal".into(),
            region_name: None,
            delay_auth_decision: false,
            include_service_catalog: true,
            token_cache_time: 300,
            http_connect_timeout: None,
            http_request_max_retries: 3,
            service_token_roles: vec!["service".into()],
            service_token_roles_required: false,
            cafile: None,
            certfile: None,
            keyfile: None,
            insecure: false,
            memcached_servers: Vec::new(),
        }
    }
}

/// The string options, by name, with where each lands in [`Settings`].
fn str_fields(s: &mut Settings) -> [(&'static str, &mut Option<String>); 17] {
    [
        ("www_authenticate_uri", &mut s.www_authenticate_uri),
        ("auth_type", &mut s.auth_type),
        ("auth_url", &mut s.auth_url),
        ("username", &mut s.username),
        ("user_id", &mut s.user_id),
        ("password", &mut s.password),
        ("user_domain_id", &mut s.user_domain_id),
        ("user_domain_name", &mut s.user_domain_name),
        ("project_id", &mut s.project_id),
        ("project_name", &mut s.project_name),
        ("project_domain_id", &mut s.project_domain_id),
        ("project_domain_name", &mut s.project_domain_name),
        ("system_scope", &mut s.system_scope),
        ("region_name", &mut s.region_name),
        ("cafile", &mut s.cafile),
        ("certfile", &mut s.certfile),
        ("keyfile", &mut s.keyfile),
    ]
}

impl Settings {
    pub fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        let e = |e| conf_error(GROUP, e);
        let mut s = Settings::default();
        for (name, field) in str_fields(&mut s) {
            *field = conf.get_str(GROUP, name).map_err(e)?;
        }
        if let Some(v) = conf.get_str(GROUP, "interface").map_err(e)? {
            s.interface = v;
        }
        s.delay_auth_decision = conf
            .get_bool(GROUP, "delay_auth_decision")
            .map_err(e)?
            .unwrap_or(false);
        s.include_service_catalog = conf
            .get_bool(GROUP, "include_service_catalog")
            .map_err(e)?
            .unwrap_or(true);
        s.insecure = conf
            .get_bool(GROUP, "insecure")
            .map_err(e)?
            .unwrap_or(false);
        s.service_token_roles_required = conf
            .get_bool(GROUP, "service_token_roles_required")
            .map_err(e)?
            .unwrap_or(false);
        s.token_cache_time = conf
            .get_int(GROUP, "token_cache_time")
            .map_err(e)?
            .unwrap_or(300);
        s.http_connect_timeout = conf.get_int(GROUP, "http_connect_timeout").map_err(e)?;
        s.http_request_max_retries = conf
            .get_int(GROUP, "http_request_max_retries")
            .map_err(e)?
            .unwrap_or(3);
        if let Some(v) = conf.get_list(GROUP, "service_token_roles").map_err(e)? {
            s.service_token_roles = v;
        }
        s.memcached_servers = conf
            .get_list(GROUP, "memcached_servers")
            .map_err(e)?
            .unwrap_or_default();
        s.apply_overrides(paste_conf)?;
        Ok(s)
    }

    /// keystonemiddleware reads every option from the paste section first.
    pub fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        let o = Overrides(paste_conf);
        for (name, field) in str_fields(self) {
            o.opt_str(name, field);
        }
        if let Some(v) = paste_conf.get("interface") {
            self.interface = v.to_string();
        }
        o.bool("delay_auth_decision", &mut self.delay_auth_decision)?;
        o.bool("include_service_catalog", &mut self.include_service_catalog)?;
        o.bool("insecure", &mut self.insecure)?;
        o.bool(
            "service_token_roles_required",
            &mut self.service_token_roles_required,
        )?;
        o.int("token_cache_time", &mut self.token_cache_time)?;
        o.int(
            "http_request_max_retries",
            &mut self.http_request_max_retries,
        )?;
        if let Some(v) = paste_conf.get("http_connect_timeout") {
            self.http_connect_timeout = Some(parse_int("http_connect_timeout", v)?);
        }
        o.list("service_token_roles", &mut self.service_token_roles);
        o.list("memcached_servers", &mut self.memcached_servers);
        Ok(())
    }
}

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register_group(GROUP, "keystonemiddleware's auth_token options");
    let strs: &[(&str, &str)] = &[
        (
            "www_authenticate_uri",
            "Public Keystone endpoint given to clients in WWW-Authenticate on 401 answers (default: auth_url).",
        ),
        (
            "auth_type",
            "Authentication plugin for the service's own token: password (v3password).",
        ),
        (
            "auth_url",
            "Keystone endpoint the service authenticates against.",
        ),
        ("username", "The service user's name."),
        ("user_id", "The service user's id."),
        ("user_domain_id", "Domain id of the service user."),
        ("user_domain_name", "Domain name of the service user."),
        ("project_id", "Project id the service token is scoped to."),
        (
            "project_name",
            "Project name the service token is scoped to.",
        ),
        ("project_domain_id", "Domain id of that project."),
        ("project_domain_name", "Domain name of that project."),
        (
            "system_scope",
            "Scope the service token to the system instead (e.g. all).",
        ),
        (
            "region_name",
            "Region of the identity endpoint used for validation.",
        ),
        ("cafile", "CA bundle for HTTPS connections to Keystone."),
        (
            "certfile",
            "Client certificate for HTTPS connections to Keystone.",
        ),
        ("keyfile", "Client key for HTTPS connections to Keystone."),
        ("auth_version", "Identity API version (only v3 is spoken)."),
        (
            "auth_section",
            "Ignored: the auth options are read from this group.",
        ),
        (
            "enforce_token_bind",
            "Ignored: token binding is not checked.",
        ),
        ("cache", "Ignored: validations are cached per worker."),
    ];
    for (name, help) in strs {
        let mut opt = Opt::str(name).help(help);
        if *name == "www_authenticate_uri" {
            opt = opt.deprecated(None, Some("auth_uri"));
        }
        conf.register(GROUP, opt)?;
    }
    conf.register(
        GROUP,
        Opt::str("password")
            .secret()
            .help("The service user's password."),
    )?;
    conf.register(
        GROUP,
        Opt::str("interface")
            .default("internal")
            .help("Catalog interface of the identity endpoint used for validation."),
    )?;
    conf.register(
        GROUP,
        Opt::bool("delay_auth_decision")
            .default("false")
            .help("Pass requests without a valid token on (marked X-Identity-Status: Invalid) and let the service decide."),
    )?;
    conf.register(
        GROUP,
        Opt::bool("include_service_catalog")
            .default("true")
            .help("Pass the token's service catalog on in X-Service-Catalog."),
    )?;
    conf.register(
        GROUP,
        Opt::bool("insecure")
            .default("false")
            .help("Do not verify Keystone's HTTPS certificate."),
    )?;
    conf.register(
        GROUP,
        Opt::int("token_cache_time")
            .default("300")
            .help("Seconds a validated token is trusted without asking Keystone again (never past its expiry); -1 disables the cache."),
    )?;
    conf.register(
        GROUP,
        Opt::int("http_connect_timeout").help("Seconds to wait for a connection to Keystone."),
    )?;
    conf.register(
        GROUP,
        Opt::int("http_request_max_retries")
            .default("3")
            .help("Retries of a request Keystone did not answer."),
    )?;
    conf.register(
        GROUP,
        Opt::list("service_token_roles")
            .default("service")
            .help("A service token must hold one of these roles to be trusted."),
    )?;
    conf.register(
        GROUP,
        Opt::bool("service_token_roles_required")
            .default("false")
            .help("Refuse service tokens without one of service_token_roles."),
    )?;
    conf.register(
        GROUP,
        Opt::list("memcached_servers").help("Ignored: validations are cached per worker."),
    )?;
    Ok(())
}

// --- Keystone ------------------------------------------------------------

/// A validated token, as keystonemiddleware turns it into headers.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub expires_at: SystemTime,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub user_domain_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub domain_id: Option<String>,
    pub domain_name: Option<String>,
    pub system_all: bool,
    pub roles: Vec<String>,
    pub is_admin_project: bool,
    /// The v3 catalog in keystonemiddleware's normalised (v2-like) form.
    pub catalog: Option<Value>,
    /// The user headers, rendered once per validated token (a cached
    /// token is used by many requests).
    user_headers: OnceLock<HeaderMap>,
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_string)
}

impl TokenInfo {
    /// From the body of `GET`/`POST /v3/auth/tokens`.
    pub fn from_body(body: &Value) -> Option<TokenInfo> {
        let t = body.get("token")?;
        let expires_at = parse_iso8601(t.get("expires_at")?.as_str()?)?;
        Some(TokenInfo {
            expires_at,
            user_id: text(t, &["user", "id"]),
            user_name: text(t, &["user", "name"]),
            user_domain_id: text(t, &["user", "domain", "id"]),
            user_domain_name: text(t, &["user", "domain", "name"]),
            project_id: text(t, &["project", "id"]),
            project_name: text(t, &["project", "name"]),
            project_domain_id: text(t, &["project", "domain", "id"]),
            project_domain_name: text(t, &["project", "domain", "name"]),
            domain_id: text(t, &["domain", "id"]),
            domain_name: text(t, &["domain", "name"]),
            system_all: t
                .get("system")
                .and_then(|s| s.get("all"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            roles: t
                .get("roles")
                .and_then(Value::as_array)
                .map(|rs| rs.iter().filter_map(|r| text(r, &["name"])).collect())
                .unwrap_or_default(),
            is_admin_project: t
                .get("is_admin_project")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            user_headers: OnceLock::new(),
            catalog: t
                .get("catalog")
                .and_then(Value::as_array)
                .map(|c| normalize_catalog(c)),
        })
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.expires_at <= now
    }
}

/// keystonemiddleware's v3 → v2-style catalog: per service, endpoints
/// grouped by region with `<interface>URL` keys.
fn normalize_catalog(catalog: &[Value]) -> Value {
    let services: Vec<Value> = catalog
        .iter()
        .map(|svc| {
            let mut out = serde_json::Map::new();
            out.insert(
                "type".into(),
                svc.get("type").cloned().unwrap_or(Value::Null),
            );
            if let Some(name) = svc.get("name") {
                out.insert("name".into(), name.clone());
            }
            let mut regions: Vec<(Option<String>, serde_json::Map<String, Value>)> = Vec::new();
            for ep in svc
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let region = text(ep, &["region"]);
                let idx = match regions.iter().position(|(r, _)| *r == region) {
                    Some(i) => i,
                    None => {
                        let mut m = serde_json::Map::new();
                        if let Some(r) = &region {
                            m.insert("region".into(), Value::String(r.clone()));
                        }
                        regions.push((region.clone(), m));
                        regions.len() - 1
                    }
                };
                if let (Some(iface), Some(url)) = (text(ep, &["interface"]), ep.get("url")) {
                    regions[idx]
                        .1
                        .insert(format!("{}URL", iface.to_lowercase()), url.clone());
                }
            }
            out.insert(
                "endpoints".into(),
                Value::Array(regions.into_iter().map(|(_, m)| Value::Object(m)).collect()),
            );
            Value::Object(out)
        })
        .collect();
    Value::Array(services)
}

/// Keystone's `expires_at` (`2026-11-21T23:00:00.000000Z`).
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let offset_secs = match offset {
        "" | "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    let nanos = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(9).collect();
        let n: u32 = digits.parse().ok()?;
        n * 10u32.pow(9 - digits.len() as u32)
    };
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The outcome of validating one token.
#[derive(Debug, Clone)]
enum Validation {
    Valid(Arc<TokenInfo>),
    Invalid,
}

/// Keystone could not give an answer (→ 503).
#[derive(Debug, Clone)]
struct Unavailable(String);

/// The service's own token and where to validate.
#[derive(Debug, Clone)]
struct ServiceAuth {
    token: String,
    expires_at: SystemTime,
    identity_url: String,
}

/// The Keystone side: service authentication, validation, the cache.
struct Keystone {
    settings: Settings,
    /// `auth_url` as a v3 root.
    auth_v3: String,
    client: Client,
    service: tokio::sync::Mutex<Option<ServiceAuth>>,
    cache: Mutex<HashMap<String, (Arc<TokenInfo>, SystemTime)>>,
    /// `WWW-Authenticate` for 401 answers, built once.
    www: HeaderValue,
}

/// `http://k:5000`, `http://k:5000/`, `http://k/identity/v3/` → `…/v3`.
fn v3_root(url: &str) -> String {
    let u = url.trim_end_matches('/');
    if u.ends_with("/v3") {
        u.to_string()
    } else if let Some(base) = u.strip_suffix("/v2.0") {
        format!("{base}/v3")
    } else {
        format!("{u}/v3")
    }
}

impl Keystone {
    fn new(settings: Settings) -> Result<Keystone, String> {
        match settings.auth_type.as_deref() {
            Some("password" | "v3password") => {}
            Some(other) => {
                return Err(format!(
                    "[{GROUP}] auth_type {other:?} is not supported (use password)"
                ));
            }
            None => {
                return Err(format!(
                    "[{GROUP}] auth_type is not set: the service needs its own credentials (auth_type = password, auth_url, username, password, project_name, ...) to validate tokens"
                ));
            }
        }
        let auth_url = settings
            .auth_url
            .clone()
            .ok_or_else(|| format!("[{GROUP}] auth_url is not set"))?;
        if settings.password.is_none()
            || (settings.username.is_none() && settings.user_id.is_none())
        {
            return Err(format!(
                "[{GROUP}] the password plugin needs username (or user_id) and password"
            ));
        }
        if !settings.memcached_servers.is_empty() {
            log::info!(target: "keystonemiddleware.auth_token", "memcached_servers is ignored: validated tokens are cached in each worker");
        }
        let mut opts = ClientOptions {
            user_agent: "glimpse keystonemiddleware.auth_token".into(),
            tls: ClientTls {
                cafile: settings.cafile.clone().map(Into::into),
                certfile: settings.certfile.clone().map(Into::into),
                keyfile: settings.keyfile.clone().map(Into::into),
                insecure: settings.insecure,
            },
            ..ClientOptions::default()
        };
        if let Some(t) = settings.http_connect_timeout.filter(|t| *t > 0) {
            opts.connect_timeout = Duration::from_secs(t as u64);
            opts.timeout = Duration::from_secs(t as u64).max(opts.timeout);
        }
        let client = Client::new(opts).map_err(|e| format!("[{GROUP}] {e}"))?;
        let uri = settings
            .www_authenticate_uri
            .as_deref()
            .unwrap_or(&auth_url);
        let www = HeaderValue::from_str(&format!("Keystone uri=\"{uri}\"")).map_err(|_| {
            format!("[{GROUP}] www_authenticate_uri {uri:?} cannot be sent in a header")
        })?;
        Ok(Keystone {
            www,
            auth_v3: v3_root(&auth_url),
            settings,
            client,
            service: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        })
    }

    #[cfg(test)]
    fn www_authenticate(&self) -> &str {
        self.www.to_str().unwrap_or_default()
    }

    /// Sends a request, retrying unreachable Keystone like keystoneauth
    /// (`http_request_max_retries`, 0.5 s doubling).
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<glimpse_http::client::ClientResponse, Unavailable> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            match self
                .client
                .request(method.clone(), url, headers, body.clone())
                .await
            {
                Ok(r) => return Ok(r),
                Err(e)
                    if e.is_unavailable() && attempt < self.settings.http_request_max_retries =>
                {
                    log::warn!(target: "keystonemiddleware.auth_token", "Keystone at {url} did not answer ({e}); retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                    attempt += 1;
                }
                Err(e) => return Err(Unavailable(unavailable_text(url, &e))),
            }
        }
    }

    /// The password plugin's request body.
    fn auth_request(&self) -> Value {
        let s = &self.settings;
        let mut user = serde_json::Map::new();
        if let Some(id) = &s.user_id {
            user.insert("id".into(), json!(id));
        }
        if let Some(name) = &s.username {
            user.insert("name".into(), json!(name));
        }
        user.insert(
            "password".into(),
            json!(s.password.clone().unwrap_or_default()),
        );
        if let Some(d) = &s.user_domain_id {
            user.insert("domain".into(), json!({"id": d}));
        } else if let Some(d) = &s.user_domain_name {
            user.insert("domain".into(), json!({"name": d}));
        }
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
        let scope = if let Some(id) = &s.project_id {
            Some(json!({"project": {"id": id}}))
        } else if let Some(name) = &s.project_name {
            let domain = match (&s.project_domain_id, &s.project_domain_name) {
                (Some(id), _) => json!({"id": id}),
                (None, Some(name)) => json!({"name": name}),
                (None, None) => json!({"id": "default"}),
            };
            Some(json!({"project": {"name": name, "domain": domain}}))
        } else {
            s.system_scope
                .as_ref()
                .map(|sys| json!({"system": {sys.as_str(): true}}))
        };
        if let (Some(scope), Some(obj)) = (scope, auth.as_object_mut()) {
            obj.insert("scope".into(), scope);
        }
        json!({ "auth": auth })
    }

    /// The service token, authenticating when there is none, it is about to
    /// expire, or `renew` (Keystone refused it).
    async fn service_auth(&self, renew: bool) -> Result<ServiceAuth, Unavailable> {
        let mut slot = self.service.lock().await;
        if let Some(s) = slot.as_ref()
            && !renew
            && s.expires_at > SystemTime::now() + RENEW_BEFORE
        {
            return Ok(s.clone());
        }
        let url = format!("{}/auth/tokens", self.auth_v3);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let body = Bytes::from(self.auth_request().to_string());
        let resp = self.send(Method::POST, &url, &headers, body).await?;
        if resp.status != StatusCode::CREATED && resp.status != StatusCode::OK {
            log::error!(target: "keystonemiddleware.auth_token", "The service could not authenticate with Keystone at {url}: {} {}", resp.status, String::from_utf8_lossy(&resp.body));
            return Err(Unavailable(format!(
                "Keystone refused the service credentials ({})",
                resp.status
            )));
        }
        let token = resp
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let data: Option<Value> = serde_json::from_slice(&resp.body).ok();
        let info = data.as_ref().and_then(TokenInfo::from_body);
        let (Some(token), Some(info), Some(data)) = (token, info, data) else {
            return Err(Unavailable(
                "Keystone's answer to the service authentication is unreadable".into(),
            ));
        };
        let identity_url = data
            .get("token")
            .and_then(|t| t.get("catalog"))
            .and_then(Value::as_array)
            .and_then(|c| self.identity_endpoint(c))
            .map_or_else(|| self.auth_v3.clone(), |u| v3_root(&u));
        let auth = ServiceAuth {
            token,
            expires_at: info.expires_at,
            identity_url,
        };
        *slot = Some(auth.clone());
        Ok(auth)
    }

    /// The catalog's identity endpoint on the configured interface/region.
    fn identity_endpoint(&self, catalog: &[Value]) -> Option<String> {
        let iface = self
            .settings
            .interface
            .trim_end_matches("URL")
            .to_lowercase();
        catalog
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str) == Some("identity"))
            .flat_map(|s| {
                s.get("endpoints")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .find(|ep| {
                text(ep, &["interface"]).is_some_and(|i| i == iface)
                    && self
                        .settings
                        .region_name
                        .as_ref()
                        .is_none_or(|r| text(ep, &["region"]).as_ref() == Some(r))
            })
            .and_then(|ep| text(ep, &["url"]))
    }

    fn cached(&self, token: &str) -> Option<Arc<TokenInfo>> {
        let cache = self.cache.lock().ok()?;
        let (info, until) = cache.get(token)?;
        (SystemTime::now() < *until).then(|| info.clone())
    }

    fn remember(&self, token: &str, info: Arc<TokenInfo>) {
        if self.settings.token_cache_time < 0 {
            return;
        }
        let until = (SystemTime::now()
            + Duration::from_secs(self.settings.token_cache_time as u64))
        .min(info.expires_at);
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_ENTRIES {
            let now = SystemTime::now();
            cache.retain(|_, (_, u)| *u > now);
            if cache.len() >= CACHE_ENTRIES {
                // Still full of live entries: drop an arbitrary half rather
                // than grow without bound.
                let drop: Vec<String> = cache.keys().take(CACHE_ENTRIES / 2).cloned().collect();
                for k in drop {
                    cache.remove(&k);
                }
            }
        }
        cache.insert(token.to_string(), (info, until));
    }

    /// `fetch_token` + `_validate_token`.
    async fn validate(&self, token: &str, allow_expired: bool) -> Result<Validation, Unavailable> {
        let token = token.trim();
        let now = SystemTime::now();
        if let Some(info) = self.cached(token) {
            return Ok(if info.expired(now) && !allow_expired {
                Validation::Invalid
            } else {
                Validation::Valid(info)
            });
        }
        let Ok(subject) = HeaderValue::from_str(token) else {
            return Ok(Validation::Invalid);
        };
        let mut renew = false;
        for _ in 0..2 {
            let service = self.service_auth(renew).await?;
            let mut url = format!("{}/auth/tokens", service.identity_url);
            let mut query = Vec::new();
            if !self.settings.include_service_catalog {
                query.push("nocatalog");
            }
            if allow_expired {
                query.push("allow_expired=1");
            }
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            );
            let service_token = HeaderValue::from_str(&service.token)
                .map_err(|_| Unavailable("the service token is not a valid header".into()))?;
            headers.insert("x-auth-token", service_token);
            headers.insert("x-subject-token", subject.clone());
            let resp = self.send(Method::GET, &url, &headers, Bytes::new()).await?;
            match resp.status.as_u16() {
                200 => {
                    let info = serde_json::from_slice::<Value>(&resp.body)
                        .ok()
                        .as_ref()
                        .and_then(TokenInfo::from_body);
                    let Some(info) = info else {
                        log::warn!(target: "keystonemiddleware.auth_token", "Invalid token contents.");
                        return Ok(Validation::Invalid);
                    };
                    let info = Arc::new(info);
                    self.remember(token, info.clone());
                    if info.expired(SystemTime::now()) && !allow_expired {
                        return Ok(Validation::Invalid);
                    }
                    return Ok(Validation::Valid(info));
                }
                404 => {
                    log::info!(target: "keystonemiddleware.auth_token", "Authorization failed for token");
                    return Ok(Validation::Invalid);
                }
                401 => {
                    log::info!(target: "keystonemiddleware.auth_token", "Identity server rejected authorization; retrying with a new service token");
                    renew = true;
                }
                other => {
                    log::error!(target: "keystonemiddleware.auth_token", "Bad response code while validating token: {other}");
                    return Err(Unavailable(format!(
                        "Failed to fetch token data from identity server ({other})"
                    )));
                }
            }
        }
        Err(Unavailable(
            "Identity server rejected authorization necessary to fetch token data".into(),
        ))
    }
}

fn unavailable_text(url: &str, e: &ClientError) -> String {
    format!("Unable to validate token: {url}: {e}")
}

// --- the filter ----------------------------------------------------------

/// Headers keystonemiddleware sets (and so first removes from requests).
/// Reads one identity field of a token.
type Field = fn(&TokenInfo) -> Option<&String>;

const USER_FIELDS: [(&str, Field); 10] = [
    ("Domain-Id", |t| t.domain_id.as_ref()),
    ("Domain-Name", |t| t.domain_name.as_ref()),
    ("Project-Id", |t| t.project_id.as_ref()),
    ("Project-Name", |t| t.project_name.as_ref()),
    ("Project-Domain-Id", |t| t.project_domain_id.as_ref()),
    ("Project-Domain-Name", |t| t.project_domain_name.as_ref()),
    ("User-Id", |t| t.user_id.as_ref()),
    ("User-Name", |t| t.user_name.as_ref()),
    ("User-Domain-Id", |t| t.user_domain_id.as_ref()),
    ("User-Domain-Name", |t| t.user_domain_name.as_ref()),
];

const DEPRECATED: [(&str, &str); 5] = [
    ("x-role", "x-roles"),
    ("x-user", "x-user-name"),
    ("x-tenant-id", "x-project-id"),
    ("x-tenant-name", "x-project-name"),
    ("x-tenant", "x-project-name"),
];

/// Every header keystonemiddleware may set, lower-cased once.
static AUTH_HEADERS: LazyLock<Vec<HeaderName>> = LazyLock::new(|| {
    let mut names: Vec<String> = [
        "x-service-catalog",
        "x-identity-status",
        "x-service-identity-status",
        "x-is-admin-project",
        "openstack-system-scope",
        "x-roles",
        "x-service-roles",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    names.extend(DEPRECATED.iter().map(|(old, _)| old.to_string()));
    for (field, _) in USER_FIELDS {
        names.push(format!("x-{field}").to_lowercase());
        names.push(format!("x-service-{field}").to_lowercase());
    }
    names
        .iter()
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect()
});

/// `remove_auth_headers`: a client cannot claim an identity.
fn strip_auth_headers(h: &mut HeaderMap) {
    for name in AUTH_HEADERS.iter() {
        h.remove(name);
    }
}

fn put(h: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        h.insert(n, v);
    }
}

/// `_set_auth_headers` with `prefix` "" (user) or "-Service".
fn set_identity_headers(h: &mut HeaderMap, info: &TokenInfo, prefix: &str) {
    put(h, &format!("x{prefix}-roles"), &info.roles.join(","));
    if info.system_all {
        put(h, "openstack-system-scope", "all");
    }
    for (field, get) in USER_FIELDS {
        if let Some(v) = get(info) {
            put(h, &format!("x{prefix}-{field}").to_lowercase(), v);
        }
    }
}

fn set_user_headers(h: &mut HeaderMap, info: &TokenInfo, catalog: bool) {
    set_identity_headers(h, info, "");
    put(
        h,
        "x-is-admin-project",
        if info.is_admin_project {
            "True"
        } else {
            "False"
        },
    );
    for (old, new) in DEPRECATED {
        if let Some(v) = h.get(new).cloned() {
            h.insert(HeaderName::from_static(old), v);
        }
    }
    if catalog && let Some(c) = &info.catalog {
        put(h, "x-service-catalog", &c.to_string());
    }
}

pub struct AuthProtocol {
    next: SharedHandler,
    keystone: Arc<Keystone>,
}

const UNAUTHORIZED_BODY: &str = r#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#;

impl AuthProtocol {
    pub fn filter(settings: Settings) -> Result<Filter, String> {
        let keystone = Arc::new(Keystone::new(settings)?);
        Ok(Arc::new(move |next| {
            Arc::new(AuthProtocol {
                next,
                keystone: keystone.clone(),
            }) as SharedHandler
        }))
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Handler for AuthProtocol {
    fn call(&self, mut req: Request) -> BoxFuture<Response> {
        let ks = self.keystone.clone();
        let next = self.next.clone();
        Box::pin(async move {
            let user_token = header_str(req.headers(), "x-auth-token")
                .or_else(|| header_str(req.headers(), "x-storage-token"));
            let service_token = header_str(req.headers(), "x-service-token");
            let method = req.method().clone();
            let unavailable = |req: &Request, e: Unavailable| {
                log::error!(target: "keystonemiddleware.auth_token", "{}", e.0);
                error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    Some("The Keystone service is temporarily unavailable."),
                    req.headers(),
                    &method,
                )
            };
            let h = req.headers_mut();
            strip_auth_headers(h);

            let mut allow_expired = false;
            let mut service_confirmed = true;
            let mut service_info = None;
            if let Some(tok) = &service_token {
                match ks.validate(tok, false).await {
                    Err(e) => return unavailable(&req, e),
                    Ok(Validation::Invalid) => {
                        log::info!(target: "keystonemiddleware.auth_token", "Invalid service token");
                        service_confirmed = false;
                    }
                    Ok(Validation::Valid(info)) => {
                        let role_ok = info
                            .roles
                            .iter()
                            .any(|r| ks.settings.service_token_roles.contains(r));
                        service_confirmed = role_ok || !ks.settings.service_token_roles_required;
                        allow_expired = role_ok;
                        service_info = Some(info);
                    }
                }
                put(
                    req.headers_mut(),
                    "x-service-identity-status",
                    if service_confirmed {
                        "Confirmed"
                    } else {
                        "Invalid"
                    },
                );
            }
            let mut user_valid = false;
            if let Some(tok) = &user_token {
                match ks.validate(tok, allow_expired).await {
                    Err(e) => return unavailable(&req, e),
                    Ok(Validation::Invalid) => {
                        log::info!(target: "keystonemiddleware.auth_token", "Invalid user token");
                    }
                    Ok(Validation::Valid(info)) => {
                        user_valid = true;
                        let rendered = info.user_headers.get_or_init(|| {
                            let mut h = HeaderMap::new();
                            set_user_headers(&mut h, &info, ks.settings.include_service_catalog);
                            h
                        });
                        let h = req.headers_mut();
                        for (name, value) in rendered {
                            h.insert(name.clone(), value.clone());
                        }
                    }
                }
            }
            put(
                req.headers_mut(),
                "x-identity-status",
                if user_valid { "Confirmed" } else { "Invalid" },
            );
            if let (Some(info), true) = (&service_info, service_confirmed) {
                set_identity_headers(req.headers_mut(), info, "-service");
            }
            if !(ks.settings.delay_auth_decision || (user_valid && service_confirmed)) {
                log::info!(target: "keystonemiddleware.auth_token", "Rejecting request");
                let mut resp = Response::new(Body::from(UNAUTHORIZED_BODY));
                *resp.status_mut() = StatusCode::UNAUTHORIZED;
                put(
                    resp.headers_mut(),
                    "content-type",
                    "application/json; charset=UTF-8",
                );
                resp.headers_mut()
                    .insert(http::header::WWW_AUTHENTICATE, ks.www.clone());
                return resp;
            }
            let mut resp = next.call(req).await;
            if resp.status() == StatusCode::UNAUTHORIZED {
                resp.headers_mut()
                    .append(http::header::WWW_AUTHENTICATE, ks.www.clone());
            }
            resp
        })
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
    AuthProtocol::filter(settings).map_err(|m| ctx.error(m))
}

pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "keystonemiddleware.auth_token:filter_factory",
        "egg:keystonemiddleware#auth_token",
    ] {
        registry.register_filter(name, factory);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keystone_timestamps() {
        let t = parse_iso8601("2026-11-21T23:00:00.000000Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_795_302_000
        );
        let frac = parse_iso8601("1970-01-01T00:00:01.5Z").unwrap();
        assert_eq!(frac.duration_since(UNIX_EPOCH).unwrap().as_millis(), 1500);
        let offset = parse_iso8601("1970-01-01T02:00:00+02:00").unwrap();
        assert_eq!(offset, UNIX_EPOCH);
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-11-21",
            "2026-11-21T25:00:00Z",
            "1960-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn v3_roots() {
        for (given, want) in [
            ("http://k:5000", "http://k:5000/v3"),
            ("http://k:5000/", "http://k:5000/v3"),
            ("http://k/identity/v3/", "http://k/identity/v3"),
            ("http://k:5000/v2.0", "http://k:5000/v3"),
        ] {
            assert_eq!(v3_root(given), want);
        }
    }

    fn token_body() -> Value {
        json!({"token": {
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "Reader"}],
            "is_admin_project": false,
            "catalog": [{"type": "image", "name": "glance", "endpoints": [
                {"interface": "public", "region": "RegionOne", "url": "http://g"},
                {"interface": "internal", "region": "RegionOne", "url": "http://gi"}]}]
        }})
    }

    #[test]
    fn token_to_headers_as_keystonemiddleware_sets_them() {
        let info = TokenInfo::from_body(&token_body()).unwrap();
        let mut h = HeaderMap::new();
        // Spoofed headers are removed first.
        put(&mut h, "x-roles", "admin");
        put(&mut h, "x-service-roles", "service");
        put(&mut h, "x-tenant-id", "evil");
        put(&mut h, "openstack-system-scope", "all");
        strip_auth_headers(&mut h);
        assert!(h.is_empty(), "{h:?}");
        set_user_headers(&mut h, &info, true);
        let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(get("x-roles").as_deref(), Some("member,Reader"));
        assert_eq!(get("x-role").as_deref(), Some("member,Reader"));
        assert_eq!(get("x-project-id").as_deref(), Some("p1"));
        assert_eq!(get("x-tenant-id").as_deref(), Some("p1"));
        assert_eq!(get("x-tenant").as_deref(), Some("demo"));
        assert_eq!(get("x-user-domain-name").as_deref(), Some("Default"));
        assert_eq!(get("x-user").as_deref(), Some("alice"));
        assert_eq!(get("x-is-admin-project").as_deref(), Some("False"));
        assert_eq!(get("openstack-system-scope"), None);
        assert_eq!(get("x-domain-id"), None);
        let catalog: Value = serde_json::from_str(&get("x-service-catalog").unwrap()).unwrap();
        assert_eq!(
            catalog,
            json!([{"type": "image", "name": "glance", "endpoints": [
                {"region": "RegionOne", "publicURL": "http://g", "internalURL": "http://gi"}]}])
        );
        let mut svc = HeaderMap::new();
        set_identity_headers(&mut svc, &info, "-service");
        assert_eq!(svc["x-service-roles"], "member,Reader");
        assert_eq!(svc["x-service-project-id"], "p1");
    }

    #[test]
    fn token_bodies_keystone_never_sends_are_refused() {
        assert_eq!(TokenInfo::from_body(&json!({})), None);
        assert_eq!(
            TokenInfo::from_body(&json!({"token": {"expires_at": "soon"}})),
            None
        );
        let sys = TokenInfo::from_body(
            &json!({"token": {"expires_at": "2099-01-01T00:00:00Z", "system": {"all": true}}}),
        )
        .unwrap();
        assert!(sys.system_all && sys.is_admin_project && sys.roles.is_empty());
    }

    fn settings() -> Settings {
        Settings {
            auth_type: Some("password".into()),
            auth_url: Some("http://127.0.0.1:1/v3".into()),
            username: Some("glance".into()),
            password: Some("pw".into()),
            project_name: Some("service".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn missing_credentials_are_start_up_errors() {
        for broken in [
            Settings {
                auth_type: None,
                ..settings()
            },
            Settings {
                auth_type: Some("token".into()),
                ..settings()
            },
            Settings {
                auth_url: None,
                ..settings()
            },
            Settings {
                password: None,
                ..settings()
            },
            Settings {
                username: None,
                ..settings()
            },
        ] {
            assert!(Keystone::new(broken).is_err());
        }
        let ks = Keystone::new(settings()).unwrap();
        let body = ks.auth_request();
        assert_eq!(body["auth"]["scope"]["project"]["domain"]["id"], "default");
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["name"],
            "glance"
        );
        assert_eq!(
            ks.www_authenticate(),
            "Keystone uri=\"http://127.0.0.1:1/v3\""
        );
    }

    #[test]
    fn the_cache_is_bounded_and_honours_expiry() {
        let ks = Keystone::new(settings()).unwrap();
        let mut info = TokenInfo::from_body(&token_body()).unwrap();
        for n in 0..CACHE_ENTRIES + 10 {
            ks.remember(&format!("t{n}"), Arc::new(info.clone()));
        }
        assert!(ks.cache.lock().unwrap().len() <= CACHE_ENTRIES);
        info.expires_at = SystemTime::now() - Duration::from_secs(1);
        ks.remember("old", Arc::new(info));
        assert!(ks.cached("old").is_none());
    }
}
