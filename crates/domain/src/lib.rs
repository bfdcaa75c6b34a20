//! Glance's image domain rules as pure functions: no I/O, no clock, no
//! configuration lookups (limits and flags are passed in).
//!
//! Tour:
//! - [`error`]: [`DomainError`], the one place rule violations map to
//!   Glance's HTTP statuses and texts.
//! - [`image`]: the [`Image`] model (core fields, extra properties, tags,
//!   locations), members, and the status machine (`set_status`,
//!   `delete`, `deactivate`, `reactivate`).
//! - [`props`]: read-only/reserved keys, the create-body rules
//!   ([`props::parse_create`]), 4-byte UTF-8, `min_*` limits, quotas.
//! - [`schema`]: the `/v2/schemas/*` documents and a validator for the
//!   JSON-schema subset the image schema uses.
//! - [`render`]: the image JSON, the list body and its `first`/`next`
//!   links, key for key as Glance writes them.
//! - [`patch`]: PATCH bodies in both JSON-patch dialects.
//! - [`query`]: `GET /v2/images` parameters into a [`ListQuery`].
//! - [`metadefs`]: metadata definitions: request checks, model
//!   conversions and JSON views.
//! - [`task`]: tasks: the status machine, expiry, create checks, views.
//! - [`update`]: applying PATCH changes through the image's setters.
//! - [`protections`]: property protections (the rules file, which
//!   caller may create/read/update/delete which extra property).
//! - [`py`]: the Python built-ins Glance's behaviour leans on (`int()`,
//!   `strip()`, `iso8601`, `urlencode`, WebOb query parsing).

#![recursion_limit = "512"]

pub mod error;
pub mod image;
pub mod metadefs;
pub mod patch;
pub mod props;
pub mod protections;
pub mod py;
pub mod query;
pub mod render;
pub mod schema;
pub mod task;
pub mod update;

pub use error::DomainError;
pub use image::{ExtraProperties, Image, ImageStatus, Location, Member, MemberStatus, Visibility};
pub use patch::{PatchChange, PatchDialect, PatchOp, parse_patch};
pub use query::{Filter, ListLimits, ListQuery, SortDir, parse_list_query};
pub use render::{RenderOptions, image_json};
