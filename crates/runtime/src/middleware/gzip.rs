//! Glance's `GzipMiddleware` (`glance.api.middleware.gzip`): gzip the
//! response when `Accept-Encoding` mentions `gzip` as a word. Like WebOb's
//! `encode_content`, image data (`application/octet-stream`) is compressed
//! as a stream without a Content-Length; anything else is compressed whole.
//! Already-gzipped responses are left alone. Bodiless responses (HEAD,
//! 1xx/204/304) are skipped, where WebOb would emit a gzip trailer.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_core::Stream;
use glimpse_http::{Body, BoxFuture, Handler, Request, Response, SharedHandler};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};

use super::common::error_response;
use crate::paste::{FactoryContext, FactoryRegistry, Filter, LocalConf, PasteError};

/// Python's `re.search(r'\bgzip\b', value)`.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    accept_encoding.match_indices("gzip").any(|(i, _)| {
        !word(accept_encoding[..i].chars().next_back())
            && !word(accept_encoding[i + 4..].chars().next())
    })
}

/// The gzip member WebOb writes: mtime 0, XFL 2 (level 9), OS 255.
fn encoder() -> GzEncoder<Vec<u8>> {
    flate2::GzBuilder::new().write(Vec::new(), Compression::best())
}

/// Compress a body as it streams.
struct GzipStream {
    inner: Body,
    enc: Option<GzEncoder<Vec<u8>>>,
}

impl Stream for GzipStream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(enc) = this.enc.as_mut() else {
                return Poll::Ready(None);
            };
            match this.inner.poll_chunk(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.enc = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(e) = enc.write_all(&chunk) {
                        this.enc = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    let out = std::mem::take(enc.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(None) => {
                    let Some(enc) = this.enc.take() else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(Some(enc.finish().map(Bytes::from)));
                }
            }
        }
    }
}

fn gzip_all(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = encoder();
    enc.write_all(data)?;
    enc.finish()
}

pub struct GzipMiddleware {
    next: SharedHandler,
}

impl GzipMiddleware {
    pub fn filter() -> Filter {
        Arc::new(|next| Arc::new(GzipMiddleware { next }) as SharedHandler)
    }
}

fn has_no_body(method: &Method, status: StatusCode) -> bool {
    *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

impl Handler for GzipMiddleware {
    fn call(&self, req: Request) -> BoxFuture<Response> {
        let wanted = req
            .headers()
            .get_all(http::header::ACCEPT_ENCODING)
            .iter()
            .any(|v| accepts_gzip(&String::from_utf8_lossy(v.as_bytes())));
        if !wanted {
            return self.next.call(req);
        }
        let headers = req.headers().clone();
        let method = req.method().clone();
        let fut = self.next.call(req);
        Box::pin(async move {
            let resp = fut.await;
            let already = resp
                .headers()
                .get(CONTENT_ENCODING)
                .is_some_and(|v| v.as_bytes() == b"gzip");
            if already || has_no_body(&method, resp.status()) {
                return resp;
            }
            let lazy = resp
                .headers()
                .get(CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
            let (mut parts, body) = resp.into_parts();
            let body = if lazy {
                parts.headers.remove(CONTENT_LENGTH);
                Body::from_stream(
                    GzipStream {
                        inner: body,
                        enc: Some(encoder()),
                    },
                    None,
                )
            } else {
                let data = match body.collect(usize::MAX).await {
                    Ok(d) => d,
                    Err(_) => {
                        return error_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            None,
                            None,
                            &headers,
                            &method,
                        );
                    }
                };
                match gzip_all(&data) {
                    Ok(z) => {
                        parts
                            .headers
                            .insert(CONTENT_LENGTH, HeaderValue::from(z.len()));
                        Body::from(z)
                    }
                    Err(_) => {
                        return error_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            None,
                            None,
                            &headers,
                            &method,
                        );
                    }
                }
            };
            parts
                .headers
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Response::from_parts(parts, body)
        })
    }
}

fn factory(_ctx: &FactoryContext, _local: &LocalConf) -> Result<Filter, PasteError> {
    log::info!("Initialized gzip middleware");
    Ok(GzipMiddleware::filter())
}

pub fn register(registry: &mut FactoryRegistry) {
    registry.register_filter("glance.api.middleware.gzip:GzipMiddleware.factory", factory);
}

#[cfg(test)]
mod tests {
    use super::*;
    use glimpse_http::handler_fn;
    use std::io::Read;

    fn app(content_type: &'static str, body: &'static [u8]) -> SharedHandler {
        handler_fn(move |_req: Request| async move {
            let mut r = Response::new(Body::from(body));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            r.headers_mut()
                .insert("content-md5", HeaderValue::from_static("abc"));
            r
        })
    }

    fn req(method: Method, ae: Option<&str>) -> Request {
        let mut b = http::Request::builder().method(method);
        if let Some(ae) = ae {
            b = b.header("accept-encoding", ae);
        }
        b.body(Body::empty()).expect("req")
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    }

    #[test]
    fn gzip_word_match() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("x-gzip"));
        assert!(!accepts_gzip("gzipped"));
        assert!(!accepts_gzip("identity"));
    }

    #[tokio::test]
    async fn compresses_json_whole_and_octets_streaming() {
        let body: &'static [u8] = b"{\"images\": []}{\"images\": []}{\"images\": []}";
        let f = GzipMiddleware::filter()(app("application/json", body));
        let r = f.call(req(Method::GET, Some("gzip, deflate"))).await;
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()["content-md5"], "abc");
        let len: usize = r.headers()[CONTENT_LENGTH]
            .to_str()
            .expect("len")
            .parse()
            .expect("int");
        let data = r.into_body().collect(1 << 20).await.expect("body");
        assert_eq!(data.len(), len);
        // WebOb's header: mtime 0, XFL 2, OS 255.
        assert_eq!(&data[..10], b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff");
        assert_eq!(gunzip(&data), body);

        let f = GzipMiddleware::filter()(app("application/octet-stream", b"0123456789"));
        let r = f.call(req(Method::GET, Some("gzip"))).await;
        assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
        assert!(r.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(r.body().exact_len(), None);
        let data = r.into_body().collect(1 << 20).await.expect("body");
        assert_eq!(gunzip(&data), b"0123456789");
    }

    #[tokio::test]
    async fn leaves_others_alone() {
        let f = GzipMiddleware::filter()(app("application/json", b"{}"));
        for r in [
            req(Method::GET, None),
            req(Method::GET, Some("br")),
            req(Method::HEAD, Some("gzip")),
        ] {
            let resp = f.call(r).await;
            assert!(resp.headers().get(CONTENT_ENCODING).is_none());
        }
    }
}
