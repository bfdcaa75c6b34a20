//! The paste factory names of Glance's stock `glance-api-paste.ini`, mapped
//! to Glimpse's handlers and filters. Factories are pure constructors: they
//! run in the master (to validate before forking) and the result is inherited
//! by every worker.

use std::sync::Arc;
use std::time::Duration;

use glimpse_config::ConfigOpts;
use glimpse_http::{BoxFuture, Handler, Request, Response, SharedHandler};
use glimpse_runtime::paste::{FactoryContext, FactoryRegistry, Filter, LocalConf};

use crate::context::{ContextMiddleware, UnauthenticatedContext};
use crate::negotiation::VersionNegotiation;
use crate::versions::{self, VersionSettings};

/// The factories' state is the parsed configuration (`ConfigOpts`), which
/// the runtime's middleware reads too.
fn conf(ctx: &FactoryContext) -> Result<&ConfigOpts, glimpse_runtime::paste::PasteError> {
    ctx.state::<ConfigOpts>()
        .ok_or_else(|| ctx.error("the service configuration is missing from the factory state"))
}

/// The versions-document settings from `[DEFAULT]`.
pub fn version_settings(conf: &ConfigOpts) -> Result<VersionSettings, glimpse_config::ConfigError> {
    Ok(VersionSettings {
        public_endpoint: conf.get_str("DEFAULT", "public_endpoint")?,
        cache_enabled: conf.get_str("DEFAULT", "image_cache_dir")?.is_some(),
        multi_store: conf
            .get_dict("DEFAULT", "enabled_backends")?
            .is_some_and(|d| !d.is_empty()),
    })
}

fn versions_of(
    ctx: &FactoryContext,
) -> Result<Arc<VersionSettings>, glimpse_runtime::paste::PasteError> {
    version_settings(conf(ctx)?)
        .map(Arc::new)
        .map_err(|e| ctx.error(e.to_string()))
}

/// The v2 API router (`glance.api.v2.router:API.factory`). Paths without a
/// handler yet answer Glance's 404/405.
pub fn v2_router(conf: &ConfigOpts) -> Result<SharedHandler, String> {
    let mut router = crate::router::Router::new();
    crate::v2::add_routes(&mut router, conf)?;
    Ok(Arc::new(router))
}

/// Build the registry: the runtime's standard middleware plus the Glance API.
pub fn registry() -> FactoryRegistry {
    let mut reg = FactoryRegistry::new();
    glimpse_runtime::middleware::register_all(&mut reg);

    reg.register_app("glance.api.versions:create_resource", |ctx, _local| {
        let settings = versions_of(ctx)?;
        Ok(glimpse_http::handler_fn(move |req: Request| {
            let r = versions::response(&settings, &req, false);
            async move { r }
        }))
    });
    reg.register_app("glance.api.v2.router:API.factory", |ctx, _local| {
        v2_router(conf(ctx)?).map_err(|e| ctx.error(e))
    });
    reg.register_filter(
        "glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory",
        |ctx, _local| {
            let settings = versions_of(ctx)?;
            let f: Filter = Arc::new(move |app| VersionNegotiation::wrap(settings.clone(), app));
            Ok(f)
        },
    );
    reg.register_filter(
        "glance.api.middleware.context:UnauthenticatedContextMiddleware.factory",
        |_ctx, _local| {
            let f: Filter = Arc::new(UnauthenticatedContext::wrap);
            Ok(f)
        },
    );
    reg.register_filter(
        "glance.api.middleware.context:ContextMiddleware.factory",
        |ctx, _local| {
            let settings = crate::context::ContextSettings::from_conf(conf(ctx)?)
                .map_err(|e| ctx.error(e.to_string()))?;
            let enforcer =
                crate::policy::Enforcer::from_conf(conf(ctx)?).map_err(|e| ctx.error(e))?;
            let f: Filter = Arc::new(move |app| {
                ContextMiddleware::wrap(settings.clone(), enforcer.clone(), app)
            });
            Ok(f)
        },
    );
    reg.register_filter("glimpse.testing:DelayFilter.factory", |_ctx, local| {
        let d = DelaySettings::from_local(local)?;
        let f: Filter = Arc::new(move |app| -> SharedHandler {
            Arc::new(DelayFilter {
                settings: d.clone(),
                app,
            })
        });
        Ok(f)
    });
    reg
}

/// Fault injection for drain and timeout tests: requests whose path starts
/// with `path_prefix` are held for `seconds` before being passed on. Only
/// active when an operator puts it in a pipeline.
#[derive(Clone)]
struct DelaySettings {
    delay: Duration,
    path_prefix: String,
}

impl DelaySettings {
    fn from_local(local: &LocalConf) -> Result<Self, glimpse_runtime::paste::PasteError> {
        let secs = local.get("seconds").unwrap_or("1");
        let secs: f64 = secs.parse().map_err(|_| {
            glimpse_runtime::paste::PasteError::Config(format!(
                "DelayFilter: seconds must be a number, not {secs:?}"
            ))
        })?;
        if !(0.0..=3600.0).contains(&secs) {
            return Err(glimpse_runtime::paste::PasteError::Config(
                "DelayFilter: seconds must be between 0 and 3600".into(),
            ));
        }
        Ok(DelaySettings {
            delay: Duration::from_secs_f64(secs),
            path_prefix: local.get("path_prefix").unwrap_or("/").to_string(),
        })
    }
}

struct DelayFilter {
    settings: DelaySettings,
    app: SharedHandler,
}

impl Handler for DelayFilter {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        if !req.uri().path().starts_with(&self.settings.path_prefix) {
            return self.app.call(req);
        }
        let delay = self.settings.delay;
        let app = self.app.clone();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            app.call(req).await
        })
    }
}
