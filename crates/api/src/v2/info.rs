//! `GET /v2/info/import` and `GET /v2/info/stores`
//! (`glance.api.v2.discovery.InfoController`), rendered once from the
//! configuration as Glance's serializer writes them (`json.dumps`,
//! ASCII-escaped); and `/info/stores/detail` (policy `stores_info_detail`)
//! and `/info/usage` (empty: Glimpse has no unified limits).
//!
//! The stores list follows `CONF.enabled_backends` (not the loaded
//! drivers): Glance lists every configured id in configuration order,
//! including http stores (marked read-only) that Glimpse cannot load yet.

use std::sync::Arc;

use bytes::Bytes;
use glimpse_config::ConfigOpts;
use glimpse_http::fault::HttpError;
use glimpse_http::{Body, Response};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::service::{ImageService, context};
use crate::error::{ApiResult, forbidden, not_found};
use crate::policy::ImageTarget;
use crate::router::Router;

/// `enabled_import_methods`' default in Glance 33.
pub const DEFAULT_IMPORT_METHODS: [&str; 3] = ["glance-direct", "web-download", "copy-image"];

/// Register `[DEFAULT] enabled_import_methods` with Glance's default.
pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), glimpse_config::ConfigError> {
    conf.register(
        "DEFAULT",
        glimpse_config::Opt::list("enabled_import_methods")
            .bounds()
            .default(&format!("[{}]", DEFAULT_IMPORT_METHODS.join(",")))
            .help("Import methods advertised by /v2/info/import and accepted by the import call."),
    )
}

/// `enabled_import_methods`, as oslo's `String(quotes=True)` items give
/// them (surrounding quotes dropped).
pub fn import_methods(conf: &ConfigOpts) -> Result<Vec<String>, String> {
    Ok(conf
        .get_list("DEFAULT", "enabled_import_methods")
        .map_err(|e| e.to_string())?
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let t = m.trim();
            let unq = ["\"", "'"]
                .iter()
                .find_map(|q| t.strip_prefix(q).and_then(|r| r.strip_suffix(q)));
            unq.unwrap_or(t).to_string()
        })
        .collect())
}

/// The two documents, rendered.
#[derive(Debug, Clone)]
pub struct Info {
    import: Bytes,
    /// None in single-store mode (404).
    stores: Option<Bytes>,
    /// The `/info/stores` list, which the detail call extends.
    stores_list: Vec<Value>,
}

impl Info {
    pub fn from_conf(conf: &ConfigOpts) -> Result<Info, String> {
        let methods = import_methods(conf)?;
        let import = json!({
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": methods,
            }
        });
        let backends = conf
            .get_dict("DEFAULT", "enabled_backends")
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let mut stores_list = Vec::new();
        let stores = if backends.is_empty() {
            None
        } else {
            let default = conf
                .get_str("glance_store", "default_backend")
                .ok()
                .flatten();
            let mut list = Vec::new();
            for (id, ty) in backends.iter() {
                let ty = ty.as_str();
                if id.starts_with("os_glance_") {
                    continue;
                }
                // Glance leaves out a multi-tenant swift store that also
                // has a config file (mutually exclusive options).
                if ty == "swift"
                    && conf
                        .get_bool(id, "swift_store_multi_tenant")
                        .ok()
                        .flatten()
                        .unwrap_or(false)
                    && conf
                        .get_str(id, "swift_store_config_file")
                        .ok()
                        .flatten()
                        .is_some_and(|s| !s.is_empty())
                {
                    continue;
                }
                let mut s = Map::new();
                s.insert("id".into(), Value::String(id.clone()));
                if let Some(d) = conf
                    .get_str(id, "store_description")
                    .ok()
                    .flatten()
                    .filter(|d| !d.is_empty())
                {
                    s.insert("description".into(), Value::String(d));
                }
                if default.as_deref() == Some(id.as_str()) {
                    s.insert("default".into(), Value::String("true".into()));
                }
                if ty == "http" {
                    s.insert("read-only".into(), Value::String("true".into()));
                }
                list.push(Value::Object(s));
            }
            let doc = super::schemas::render(&json!({ "stores": list }));
            stores_list = list;
            Some(doc)
        };
        Ok(Info {
            import: super::schemas::render(&import),
            stores,
            stores_list,
        })
    }

    pub fn import_body(&self) -> &Bytes {
        &self.import
    }

    /// None in single-store mode.
    pub fn stores_body(&self) -> Option<&Bytes> {
        self.stores.as_ref()
    }
}

/// Register the routes (paths relative to the `/v2` mount).
pub fn add_routes(router: &mut Router, info: Arc<Info>) {
    let i = info.clone();
    router.route(Method::GET, "/info/import", move |_req, _params| {
        let body = i.import.clone();
        Box::pin(async move { json_response(body) })
    });
    router.route(Method::GET, "/info/stores", move |req, _params| {
        let r = match info.stores.clone() {
            Some(body) => json_response(body),
            None => HttpError::new(StatusCode::NOT_FOUND)
                .explanation("Multi backend is not supported at this site.")
                .render(req.headers(), req.method()),
        };
        Box::pin(async move { r })
    });
}

/// `GET /info/stores/detail` and `GET /info/usage`, which need the
/// caller's context (policy) and the loaded stores.
pub fn add_context_routes(router: &mut Router, info: Arc<Info>, svc: &Arc<ImageService>) {
    let svc_detail = svc.clone();
    router.route(Method::GET, "/info/stores/detail", move |req, _params| {
        let r = stores_detail(&info, &svc_detail, &req)
            .unwrap_or_else(|e| e.render(req.headers(), req.method()));
        Box::pin(async move { r })
    });
    router.route(Method::GET, "/info/usage", move |req, _params| {
        let r = match context(&req) {
            // Without unified limits (`use_keystone_limits`, which Glimpse
            // does not offer) Glance reports no usage at all.
            Ok(_) => json_response(Bytes::from_static(b"{\"usage\": {}}")),
            Err(e) => e.render(req.headers(), req.method()),
        };
        Box::pin(async move { r })
    });
}

fn stores_detail(
    info: &Info,
    svc: &ImageService,
    req: &glimpse_http::Request,
) -> ApiResult<Response> {
    if info.stores.is_none() {
        return Err(not_found("Multi backend is not supported at this site."));
    }
    let ctx = context(req)?;
    if !svc
        .enforcer
        .check(&ctx, "stores_info_detail", &ImageTarget::default())
    {
        return Err(forbidden(
            "You are not authorized to complete stores_info_detail action.",
        ));
    }
    let mut list = info.stores_list.clone();
    for store in &mut list {
        let Value::Object(m) = store else { continue };
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let entry = svc.stores.entry(&id);
        let type_name = entry
            .map(|e| e.type_name.clone())
            .unwrap_or_else(|| "http".into());
        let properties = entry
            .map(|e| Value::Object(e.store.info().properties))
            .unwrap_or_else(|| Value::Object(Map::new()));
        m.insert("type".into(), Value::String(type_name));
        m.insert("properties".into(), properties);
        m.insert("weight".into(), Value::from(entry.map_or(0, |e| e.weight)));
    }
    Ok(json_response(super::schemas::render(
        &json!({ "stores": list }),
    )))
}

fn json_response(body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn conf(text: &str) -> (ConfigOpts, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "glimpse-info-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("glance-api.conf");
        std::fs::write(&f, text).unwrap();
        let mut c = ConfigOpts::new("glance", "glance-api", "0")
            .without_env()
            .with_search_paths(glimpse_config::SearchPaths::rooted(
                "/nonexistent",
                "/nonexistent",
            ));
        glimpse_store::register_opts(&mut c).unwrap();
        register_opts(&mut c).unwrap();
        c.parse_args(&["--config-file".into(), f.display().to_string()])
            .unwrap();
        glimpse_store::register_opts(&mut c).unwrap();
        (c, dir)
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn single_store() {
        let (c, dir) = conf("[glance_store]\nstores = file\n");
        let info = Info::from_conf(&c).unwrap();
        assert_eq!(&info.import_body()[..], &fixture("info-import.json")[..]);
        assert!(info.stores_body().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn multi_store_in_config_order() {
        let (c, dir) = conf(
            "[DEFAULT]\nenabled_backends = fast:file, cheap:file, web:http\n\
             [glance_store]\ndefault_backend = fast\n\
             [fast]\nfilesystem_store_datadir = /tmp/f\nstore_description = Fast \"store\" \u{e9}\n\
             [cheap]\nfilesystem_store_datadir = /tmp/c\n",
        );
        let info = Info::from_conf(&c).unwrap();
        assert_eq!(
            &info.stores_body().unwrap()[..],
            &fixture("info-stores-multi.json")[..]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
