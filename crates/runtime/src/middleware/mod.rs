//! The standard oslo.middleware-style filters (and Glance's gzip filter,
//! and keystonemiddleware's `auth_token` in [`authtoken`]),
//! each registered under the Python factory names a paste file uses.
//!
//! Every module has a `Settings` struct (plain data, `Default` = the oslo
//! defaults), `register_opts` for its `glimpse_config` options,
//! `Settings::from_conf` (the service config plus paste-section overrides,
//! as oslo's `ConfigurableMiddleware._conf_get` does), the handler, and
//! `register(&mut FactoryRegistry)`.
//!
//! Factories read the service configuration from the loader state: pass a
//! `glimpse_config::ConfigOpts` (or `Arc<ConfigOpts>`) as the `state` of
//! [`crate::paste::load_app`], with [`register_all_opts`] called on it
//! before parsing. Without one they use the defaults plus paste overrides.

pub mod authtoken;
pub(crate) mod common;
pub mod cors;
pub mod gzip;
pub mod healthcheck;
pub mod http_proxy_to_wsgi;
pub mod osprofiler;
pub mod request_id;
pub mod sizelimit;

use glimpse_config::{ConfigError, ConfigOpts};

use crate::paste::FactoryRegistry;

/// Register every filter's factory names.
pub fn register_all(registry: &mut FactoryRegistry) {
    authtoken::register(registry);
    cors::register(registry);
    gzip::register(registry);
    healthcheck::register(registry);
    http_proxy_to_wsgi::register(registry);
    osprofiler::register(registry);
    request_id::register(registry);
    sizelimit::register(registry);
}

/// Register every filter's configuration options (oslo defaults; see
/// [`cors::set_glance_defaults`] for Glance's CORS defaults).
pub fn register_all_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    authtoken::register_opts(conf)?;
    cors::register_opts(conf)?;
    healthcheck::register_opts(conf)?;
    http_proxy_to_wsgi::register_opts(conf)?;
    sizelimit::register_opts(conf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use glimpse_http::{Body, Request, Response, handler_fn};

    use super::*;

    /// The stock Glance paste file with the real filters and a config that
    /// enables CORS: /healthcheck answers OK, API requests get CORS headers.
    #[tokio::test]
    async fn stock_glance_file_with_real_middleware() {
        let Some(dir) = std::env::var_os("GLIMPSE_GLANCE_ETC") else {
            eprintln!("*** SKIPPED: set GLIMPSE_GLANCE_ETC to the Glance etc/ dir ***");
            return;
        };
        let path = std::path::PathBuf::from(dir).join("glance-api-paste.ini");
        let mut reg = FactoryRegistry::new();
        register_all(&mut reg);
        let app = || {
            Ok(handler_fn(|_r: Request| async {
                Response::new(Body::from("api"))
            }))
        };
        reg.register_app("glance.api.versions:create_resource", move |_c, _l| app());
        reg.register_app("glance.api.v2.router:API.factory", move |_c, _l| app());
        for name in [
            "glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory",
            "glance.api.middleware.context:UnauthenticatedContextMiddleware.factory",
        ] {
            reg.register_filter(name, |_c, _l| Ok(Arc::new(|next| next)));
        }
        let mut conf = ConfigOpts::new("glance", "glance-api", "33.0.0").without_env();
        register_all_opts(&mut conf).expect("register");
        cors::set_glance_defaults(&mut conf).expect("defaults");
        conf.set_override(cors::GROUP, "allowed_origin", "http://ui.example")
            .expect("override");
        let handler =
            crate::paste::load_app(&path, "glance-api", None, &reg, Arc::new(conf)).expect("load");

        let resp = handler
            .call(
                http::Request::builder()
                    .uri("/healthcheck")
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(resp.status(), http::StatusCode::OK);
        assert_eq!(
            &resp.into_body().collect(1024).await.expect("body")[..],
            b"OK"
        );

        let req = http::Request::builder()
            .uri("/v2/images")
            .header("origin", "http://ui.example")
            .body(Body::empty())
            .expect("req");
        let resp = handler.call(req).await;
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "http://ui.example"
        );
        assert!(
            resp.headers()["access-control-expose-headers"]
                .to_str()
                .expect("str")
                .contains("X-Subject-Token")
        );
    }
}
