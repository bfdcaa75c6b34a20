//! oslo.middleware's `RequestBodySizeLimiter`: refuses request bodies over
//! `[oslo_middleware] max_request_body_size` with 413 — at once when
//! Content-Length says so, otherwise (chunked) as soon as the app has read
//! past the limit.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use glimpse_config::{ConfigError, ConfigOpts, Opt};
use glimpse_http::{Body, BoxFuture, Handler, Request, Response, SharedHandler};
use http::StatusCode;

use super::common::{Overrides, conf_error, error_response};
use crate::paste::{ConfMap, FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

pub const GROUP: &str = "oslo_middleware";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub max_request_body_size: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_request_body_size: 114688,
        }
    }
}

impl Settings {
    pub fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String> {
        let mut s = Settings {
            max_request_body_size: conf
                .get_int(GROUP, "max_request_body_size")
                .map_err(|e| conf_error(GROUP, e))?
                .unwrap_or(114688),
        };
        s.apply_overrides(paste_conf)?;
        Ok(s)
    }

    pub fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String> {
        Overrides(paste_conf).int("max_request_body_size", &mut self.max_request_body_size)
    }
}

pub fn register_opts(conf: &mut ConfigOpts) -> Result<(), ConfigError> {
    conf.register(
        GROUP,
        Opt::int("max_request_body_size")
            .default("114688")
            .help("The maximum body size for each request, in bytes."),
    )
}

/// The error a limited body yields once the limit is passed; apps can find
/// it with `io::Error::get_ref()` + `downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTooLarge {
    pub limit: u64,
}

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request is too large. Larger than {}.", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

/// oslo's `LimitingReader`: passes chunks through until more than `limit`
/// bytes were read, then fails and raises `tripped`.
pub struct LimitedBody {
    inner: Body,
    limit: u64,
    read: u64,
    tripped: Arc<AtomicBool>,
}

impl LimitedBody {
    pub fn new(inner: Body, limit: u64, tripped: Arc<AtomicBool>) -> Self {
        LimitedBody {
            inner,
            limit,
            read: 0,
            tripped,
        }
    }
}

impl Stream for LimitedBody {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.tripped.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match this.inner.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read += chunk.len() as u64;
                if this.read > this.limit {
                    this.tripped.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(io::Error::other(BodyTooLarge {
                        limit: this.limit,
                    }))))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            other => other,
        }
    }
}

pub struct RequestBodySizeLimiter {
    next: SharedHandler,
    limit: u64,
}

impl RequestBodySizeLimiter {
    pub fn filter(settings: Settings) -> Filter {
        let limit = settings.max_request_body_size.max(0) as u64;
        Arc::new(move |next| Arc::new(RequestBodySizeLimiter { next, limit }) as SharedHandler)
    }
}

/// WebOb's `req.content_length`: an unparsable header counts as absent.
fn content_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Handler for RequestBodySizeLimiter {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        match content_length(&req) {
            Some(len) if len > self.limit => {
                // oslo passes this message unformatted, "%s" and all.
                let resp = error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some("Request is too large. Larger than max_request_body_size (%s)."),
                    None,
                    req.headers(),
                    req.method(),
                );
                Box::pin(async move { resp })
            }
            Some(_) => self.next.call(req),
            None => {
                let tripped = Arc::new(AtomicBool::new(false));
                let headers = req.headers().clone();
                let method = req.method().clone();
                let limit = self.limit;
                let (parts, body) = req.into_parts();
                let body = Body::from_stream(LimitedBody::new(body, limit, tripped.clone()), None);
                let fut = self.next.call(Request::from_parts(parts, body));
                Box::pin(async move {
                    let resp = fut.await;
                    if tripped.load(Ordering::Relaxed) {
                        let msg = BodyTooLarge { limit }.to_string();
                        error_response(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Some(&msg),
                            None,
                            &headers,
                            &method,
                        )
                    } else {
                        resp
                    }
                })
            }
        }
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
    Ok(RequestBodySizeLimiter::filter(settings))
}

pub fn register(registry: &mut FactoryRegistry) {
    for name in [
        "oslo_middleware:RequestBodySizeLimiter.factory",
        "oslo_middleware.sizelimit:RequestBodySizeLimiter.factory",
        "egg:oslo.middleware#sizelimit",
    ] {
        registry.register_filter(name, factory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse_http::handler_fn;

    /// Reads the whole body and reports its size (or the read error).
    fn reader() -> SharedHandler {
        handler_fn(|req: Request| async move {
            let mut body = req.into_body();
            let mut n = 0;
            while let Some(chunk) = body.chunk().await {
                match chunk {
                    Ok(c) => n += c.len(),
                    Err(e) => {
                        assert!(
                            e.get_ref()
                                .and_then(|e| e.downcast_ref::<BodyTooLarge>())
                                .is_some()
                        );
                        let mut r = Response::new(Body::from("read error"));
                        *r.status_mut() = StatusCode::BAD_REQUEST;
                        return r;
                    }
                }
            }
            Response::new(Body::from(n.to_string()))
        })
    }

    fn chunked(chunks: Vec<&'static [u8]>) -> Body {
        let (tx, body) = Body::channel(chunks.len() + 1, None);
        for c in chunks {
            tx.try_send(Ok(Bytes::from_static(c))).expect("send");
        }
        body
    }

    async fn text(r: Response) -> String {
        String::from_utf8_lossy(&r.into_body().collect(1 << 20).await.expect("body")).into_owned()
    }

    #[tokio::test]
    async fn content_length_over_limit_is_413() {
        let f = RequestBodySizeLimiter::filter(Settings {
            max_request_body_size: 10,
        })(reader());
        let req = http::Request::builder()
            .method("PUT")
            .header("content-length", "11")
            .body(Body::from(vec![0u8; 11]))
            .expect("req");
        let r = f.call(req).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            text(r)
                .await
                .contains("Request is too large. Larger than max_request_body_size (%s).")
        );
        let req = http::Request::builder()
            .method("PUT")
            .header("content-length", "10")
            .body(Body::from(vec![0u8; 10]))
            .expect("req");
        let r = f.call(req).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(text(r).await, "10");
    }

    #[tokio::test]
    async fn chunked_body_is_cut_off_with_413() {
        let f = RequestBodySizeLimiter::filter(Settings {
            max_request_body_size: 10,
        })(reader());
        let req = http::Request::builder()
            .method("PUT")
            .body(chunked(vec![b"12345", b"67890"]))
            .expect("req");
        let r = f.call(req).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(text(r).await, "10");
        let req = http::Request::builder()
            .method("PUT")
            .body(chunked(vec![b"12345", b"67890", b"x"]))
            .expect("req");
        let r = f.call(req).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            text(r)
                .await
                .contains("Request is too large. Larger than 10.")
        );
    }

    #[test]
    fn settings() {
        let mut conf = ConfigOpts::new("nova", "nova-api", "1").without_env();
        register_opts(&mut conf).expect("register");
        assert_eq!(
            Settings::from_conf(&conf, &ConfMap::new()),
            Ok(Settings::default())
        );
        let local: ConfMap = [("max_request_body_size", "5")].into_iter().collect();
        assert_eq!(
            Settings::from_conf(&conf, &local),
            Ok(Settings {
                max_request_body_size: 5
            })
        );
    }
}
