//! The Image API v2 handlers mounted by `glance.api.v2.router:API.factory`.
//!
//! Tour:
//! - [`schemas`]: `GET /v2/schemas/*` (and the `[image_format]` options the
//!   image schema's format lists come from).
//! - [`info`]: `GET /v2/info/import` and `GET /v2/info/stores`.
//! - [`data`]: pure helpers for the image-data handlers (hashing with the
//!   size cap, `Range` decisions, `x-openstack-image-size`).
//! - [`service`]: the state the image handlers share (settings, schema,
//!   stores, policy, the per-process database pool) and request plumbing.
//! - [`images`]: image create/list/show/PATCH/delete, deactivate and
//!   reactivate, tags.
//! - [`image_data`]: `PUT`/`GET /images/{id}/file`.
//! - [`in_doubt`]: the data of a change whose commit is in doubt (the
//!   connection failed during `COMMIT`), kept or removed once the database
//!   says whether it was committed.
//! - [`members`]: image sharing.
//! - [`metadefs`]: metadata definitions (`/metadefs/*`).
//! - [`tasks`]: `/tasks` and the legacy `import` task's work.
//!
//! Route paths here are relative to the `/v2` mount: the urlmap has moved
//! `/v2` into SCRIPT_NAME before the router sees the request.

pub mod data;
pub mod image_data;
pub mod images;
pub mod in_doubt;
pub mod info;
pub mod members;
pub mod metadefs;
pub mod schemas;
pub mod service;
pub mod tasks;

use std::sync::Arc;

use glimpse_config::ConfigOpts;

use crate::router::Router;

/// Register every v2 route this module serves.
pub fn add_routes(router: &mut Router, conf: &ConfigOpts) -> Result<(), String> {
    let docs = Arc::new(schemas::Schemas::from_conf(conf)?);
    schemas::add_routes(router, docs.clone());
    schemas::add_metadef_routes(router);
    let info = Arc::new(info::Info::from_conf(conf)?);
    info::add_routes(router, info.clone());
    let svc = Arc::new(service::ImageService::from_conf(conf, docs)?);
    info::add_context_routes(router, info, &svc);
    images::add_routes(router, &svc);
    image_data::add_routes(router, &svc);
    members::add_routes(router, &svc);
    metadefs::add_routes(router, &svc);
    tasks::add_routes(router, &svc);
    Ok(())
}
