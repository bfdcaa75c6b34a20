//! The OpenStack service runtime that glance-api (and, in the same shape,
//! nova-api and cinder-volume) stands on.
//!
//! Tour:
//! - [`launcher`]: the pre-fork process master. It binds sockets, forks
//!   workers per service, respawns the dead (rate-limited), drains on
//!   SIGTERM, reloads on SIGHUP; it never starts an async runtime itself.
//! - [`isolate`]: start-up work (database checks) run in a throwaway child
//!   so the master stays single-threaded and shares nothing with workers.
//! - [`logging`]: oslo.log's line format to a file, stderr or stdout.
//! - [`paste`]: a PasteDeploy-compatible loader for `*-paste.ini`
//!   (pipelines, composites, urlmap, flavors) and the factory registry that
//!   maps stock Python factory names to Rust handlers and filters.
//! - [`middleware`]: the standard filters (cors, http_proxy_to_wsgi,
//!   healthcheck, request id, sizelimit, gzip, osprofiler).

pub mod isolate;
pub mod launcher;
pub mod logging;
pub mod middleware;
pub mod paste;
