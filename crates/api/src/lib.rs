//! The Glance Image API, served by Glimpse.
//!
//! Tour:
//! - [`versions`]: the versions document and which versions a deployment
//!   advertises.
//! - [`negotiation`]: the `versionnegotiation` filter (URL and Accept forms).
//! - [`context`]: the request context and the `unauthenticated-context`
//!   filter that stamps `x-openstack-request-id` on responses.
//! - [`router`]: the route table with Glance's 404/405/501 semantics.
//! - [`error`]: [`error::ApiError`], where every lower layer's error becomes
//!   Glance's status code and WebOb body.
//! - [`policy`]: authorization at Glance's enforcement points (the seam the
//!   oslo.policy engine plugs into).
//! - [`protections`]: property protections (`property_protection_file`):
//!   the rules loaded at start-up and one caller's view of them.
//! - [`pyjson`]: JSON written byte-for-byte as Python's `json.dumps` does.
//! - [`v2`]: the v2 handlers (schemas so far).
//! - [`command`]: `glimpse api`: options, paste loading, the launcher.
//! - [`factories`]: registers the stock paste factory names
//!   (`glance.api.versions:create_resource`, ...) with the runtime.

pub mod command;
pub mod context;
pub mod error;
pub mod factories;
pub mod negotiation;
pub mod policy;
pub mod protections;
pub mod pyjson;
pub mod router;
pub mod v2;
pub mod versions;
