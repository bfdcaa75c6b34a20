//! Glimpse's HTTP layer: what every service and middleware speaks.
//!
//! Tour:
//! - [`body`]: the request/response [`Body`] (empty, bytes, stream, or the
//!   incoming socket), streamed in chunks so images never sit in memory.
//! - [`client`]: a small HTTP/1.1 client (pooled keep-alive, rustls) for
//!   calling other services such as Keystone.
//! - [`handler`]: the [`Handler`] trait; apps and paste filters are handlers
//!   wrapping handlers, like WSGI apps.
//! - [`ext`]: request extensions set by the server and middleware
//!   (connection info, SCRIPT_NAME, request id).
//! - [`fault`]: WebOb-compatible error bodies (JSON, HTML or plain text by
//!   `Accept`), the one place every layer renders an HTTP error.
//! - [`server`]: the built-in HTTP/1.1 server (keep-alive, chunked bodies,
//!   header-line limits, idle timeouts, graceful drain, optional TLS).
//! - [`socket`]: binding the listening socket the way Glance does
//!   (SO_REUSEPORT, EADDRINUSE retry, backlog, TCP keepalive).
//! - [`tls`]: rustls server configuration from PEM files.

pub mod body;
pub mod client;
pub mod ext;
pub mod fault;
pub mod handler;
pub mod server;
pub mod socket;
pub mod tls;

pub use body::Body;
pub use handler::{BoxFuture, Handler, SharedHandler, handler_fn};

/// A request as handlers see it.
pub type Request = http::Request<Body>;
/// A response as handlers produce it.
pub type Response = http::Response<Body>;
