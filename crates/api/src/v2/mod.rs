//! The Image API v2 handlers mounted by `glance.api.v2.router:API.factory`.
//!
//! Tour:
//! - [`schemas`]: `GET /v2/schemas/*` (and the `[image_format]` options the
//!   image schema's format lists come from).
//! - [`info`]: `GET /v2/info/import` and `GET /v2/info/stores`.
//! - [`data`]: pure helpers for the image-data handlers (hashing with the
//!   size cap, `Range` decisions, `x-openstack-image-size`).
//!
//! Route paths here are relative to the `/v2` mount: the urlmap has moved
//! `/v2` into SCRIPT_NAME before the router sees the request.

pub mod data;
pub mod info;
pub mod schemas;

use std::sync::Arc;

use glimpse_config::ConfigOpts;

use crate::router::Router;

/// Register every v2 route this module serves.
pub fn add_routes(router: &mut Router, conf: &ConfigOpts) -> Result<(), String> {
    let docs = schemas::Schemas::from_conf(conf)?;
    schemas::add_routes(router, Arc::new(docs));
    info::add_routes(router, Arc::new(info::Info::from_conf(conf)?));
    Ok(())
}
