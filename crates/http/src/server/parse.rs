//! Request-head scanning and parsing, and request-body framing, with
//! eventlet.wsgi's limits and its exact error replies.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version};

/// eventlet's MAX_REQUEST_LINE (`url_length_limit`): a request line this
/// long or longer (terminator included) gets a 414.
pub const MAX_REQUEST_LINE: usize = 8192;
/// eventlet's MAX_TOTAL_HEADER_SIZE.
pub const MAX_TOTAL_HEADER_SIZE: usize = 65536;
/// Most headers accepted in one request.
pub const MAX_HEADERS: usize = 256;

/// Why a request head was refused; each maps to eventlet's bare reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    UriTooLong,
    HeaderLineTooLong,
    HeadersTooLarge,
    TooManyHeaders,
    VersionNotSupported,
    Malformed,
    BadContentLength,
    LengthAndChunked,
}

impl HeadError {
    /// The bytes eventlet writes before closing the connection.
    pub fn reply(self) -> &'static [u8] {
        match self {
            HeadError::UriTooLong => {
                b"HTTP/1.0 414 Request URI Too Long\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            }
            HeadError::HeaderLineTooLong => {
                b"HTTP/1.0 400 Header Line Too Long\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
            }
            HeadError::HeadersTooLarge => {
                b"HTTP/1.0 400 Headers Too Large\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
            }
            HeadError::TooManyHeaders => {
                b"HTTP/1.0 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
            }
            HeadError::VersionNotSupported => {
                b"HTTP/1.0 505 HTTP Version Not Supported\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
            }
            HeadError::Malformed | HeadError::BadContentLength => {
                b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\nContent-length: 0\r\n\r\n"
            }
            HeadError::LengthAndChunked => {
                b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\nContent-Length: 62\r\n\r\n\
                  Content-Length and Transfer-Encoding are not allowed together\n"
            }
        }
    }
}

/// Drop empty lines before a request line (RFC 9112 §2.2 robustness; some
/// clients send a stray CRLF after a body). Returns false when a lone CR is
/// all that is left and more input is needed to decide.
pub fn skip_empty_lines(buf: &mut BytesMut) {
    loop {
        if buf.starts_with(b"\r\n") {
            let _ = buf.split_to(2);
        } else if buf.starts_with(b"\n") {
            let _ = buf.split_to(1);
        } else {
            return;
        }
    }
}

/// Look for a complete head at the start of `buf`, enforcing the line
/// limits as eventlet does line by line: a header line whose length with its
/// terminator is `>= max_header_line` is refused (0 = no limit).
/// `Ok(Some(n))`: the head is `buf[..n]`. `Ok(None)`: need more bytes.
pub fn scan_head(buf: &[u8], max_header_line: usize) -> Result<Option<usize>, HeadError> {
    let line_too_long = |len: usize| max_header_line > 0 && len >= max_header_line;
    let Some(nl) = memchr(b'\n', buf) else {
        return if buf.len() >= MAX_REQUEST_LINE {
            Err(HeadError::UriTooLong)
        } else {
            Ok(None)
        };
    };
    if nl + 1 >= MAX_REQUEST_LINE {
        return Err(HeadError::UriTooLong);
    }
    let mut pos = nl + 1;
    let mut total = 0usize;
    loop {
        let rest = &buf[pos..];
        match memchr(b'\n', rest) {
            None => {
                if line_too_long(rest.len()) {
                    return Err(HeadError::HeaderLineTooLong);
                }
                if total + rest.len() > MAX_TOTAL_HEADER_SIZE {
                    return Err(HeadError::HeadersTooLarge);
                }
                return Ok(None);
            }
            Some(i) => {
                let len = i + 1;
                if line_too_long(len) {
                    return Err(HeadError::HeaderLineTooLong);
                }
                total += len;
                if total > MAX_TOTAL_HEADER_SIZE {
                    return Err(HeadError::HeadersTooLarge);
                }
                pos += len;
                if len == 1 || (len == 2 && rest[0] == b'\r') {
                    return Ok(Some(pos));
                }
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// A parsed request head.
#[derive(Debug)]
pub struct Head {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// The request line as sent, for the access log.
    pub request_line: String,
}

/// Parse a complete head found by [`scan_head`].
pub fn parse_head(head: &[u8]) -> Result<Head, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_multiple_spaces_in_request_line_delimiters(true);
    match cfg.parse_request(&mut req, head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::VersionNotSupported),
        Err(_) => return Err(HeadError::Malformed),
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Malformed)?;
    let uri = parse_target(req.path.unwrap_or("").as_bytes()).ok_or(HeadError::Malformed)?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::VersionNotSupported),
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::Malformed)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HeadError::Malformed)?;
        headers.append(name, value);
    }
    let line_end = memchr(b'\n', head).unwrap_or(head.len());
    let line = &head[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(Head {
        method,
        uri,
        version,
        headers,
        request_line: String::from_utf8_lossy(line).into_owned(),
    })
}

/// The request target as a `Uri`. eventlet passes any path through, so an
/// origin-form target with bytes `Uri` refuses is percent-encoded first;
/// PATH_INFO (the decoded path) is unchanged by that.
pub fn parse_target(raw: &[u8]) -> Option<Uri> {
    if let Ok(u) = Uri::from_maybe_shared(Bytes::copy_from_slice(raw)) {
        return Some(u);
    }
    if !raw.starts_with(b"/") {
        return None;
    }
    let mut enc = Vec::with_capacity(raw.len() + 16);
    for &b in raw {
        if b <= 0x20 || b >= 0x7f || b"\"#<>\\^`{|}".contains(&b) {
            enc.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            enc.push(b);
        }
    }
    Uri::from_maybe_shared(Bytes::from(enc)).ok()
}

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Empty,
    Length(u64),
    Chunked,
}

/// Request body framing, checked in eventlet's order: a bad Content-Length
/// first, then Content-Length together with Transfer-Encoding.
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, HeadError> {
    let mut length: Option<u64> = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for part in v.as_bytes().split(|&b| b == b',') {
            let part = trim(part);
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err(HeadError::BadContentLength);
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(HeadError::BadContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::BadContentLength);
            }
            length = Some(n);
        }
    }
    let te: Vec<&HeaderValue> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if !te.is_empty() {
        if length.is_some() {
            return Err(HeadError::LengthAndChunked);
        }
        // Only chunked is understood; it must be the final coding.
        let last = te
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(trim)
            .rfind(|c| !c.is_empty());
        return match last {
            Some(c) if c.eq_ignore_ascii_case(b"chunked") => Ok(BodyKind::Chunked),
            _ => Err(HeadError::Malformed),
        };
    }
    Ok(match length {
        None | Some(0) => BodyKind::Empty,
        Some(n) => BodyKind::Length(n),
    })
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// True when a comma-separated header (Connection) lists `token`.
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scan_limits() {
        assert_eq!(
            scan_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100),
            Ok(Some(27))
        );
        assert_eq!(scan_head(b"GET / HTTP/1.1\nHost: x\n\n", 100), Ok(Some(24)));
        assert_eq!(scan_head(b"GET / HTTP/1.1\r\nHost: x\r\n", 100), Ok(None));
        // 98 bytes + CRLF = 100 >= 100: refused, as eventlet's readline does.
        let line = format!("X: {}\r\n", "a".repeat(95));
        assert_eq!(line.len(), 100);
        let req = format!("GET / HTTP/1.1\r\n{line}\r\n");
        assert_eq!(
            scan_head(req.as_bytes(), 100),
            Err(HeadError::HeaderLineTooLong)
        );
        assert_eq!(scan_head(req.as_bytes(), 101), Ok(Some(req.len())));
        assert_eq!(scan_head(req.as_bytes(), 0), Ok(Some(req.len())));
        // Refused before the line is complete.
        let partial = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(200));
        assert_eq!(
            scan_head(partial.as_bytes(), 100),
            Err(HeadError::HeaderLineTooLong)
        );
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(8200));
        assert_eq!(scan_head(long.as_bytes(), 0), Err(HeadError::UriTooLong));
        assert_eq!(scan_head(&long.as_bytes()[..8191], 0), Ok(None));
        let many = format!(
            "GET / HTTP/1.1\r\n{}",
            "X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(2000)
        );
        assert_eq!(
            scan_head(many.as_bytes(), 0),
            Err(HeadError::HeadersTooLarge)
        );
    }

    #[test]
    fn parse_and_frame() {
        let h = parse_head(
            b"PUT /v2/images/x/file?a=1 HTTP/1.1\r\nContent-Length: 5\r\nHost: h\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.method, Method::PUT);
        assert_eq!(h.uri.path(), "/v2/images/x/file");
        assert_eq!(h.uri.query(), Some("a=1"));
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.request_line, "PUT /v2/images/x/file?a=1 HTTP/1.1");
        assert_eq!(body_kind(&h.headers), Ok(BodyKind::Length(5)));
        let h = parse_head(b"GET /a|b{c} HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(h.uri.path(), "/a|b{c}");
        assert_eq!(
            parse_target(b"/a\"b^c\x80").unwrap().path(),
            "/a%22b%5Ec%80"
        );
        assert!(parse_target(b"ht tp://x").is_none());
        assert_eq!(h.version, Version::HTTP_10);
        assert_eq!(
            parse_head(b"GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            HeadError::VersionNotSupported
        );
        assert_eq!(
            parse_head(b"GE(T / HTTP/1.1\r\n\r\n").unwrap_err(),
            HeadError::Malformed
        );
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(300));
        assert_eq!(
            parse_head(many.as_bytes()).unwrap_err(),
            HeadError::TooManyHeaders
        );

        let frame = |raw: &str| body_kind(&parse_head(raw.as_bytes()).unwrap().headers);
        assert_eq!(
            frame("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::LengthAndChunked)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Err(HeadError::BadContentLength)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n"),
            Err(HeadError::BadContentLength)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n"),
            Ok(BodyKind::Length(3))
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            Ok(BodyKind::Empty)
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            Err(HeadError::BadContentLength)
        );
        assert_eq!(HeadError::LengthAndChunked.reply().len(), 67 + 62);
    }

    proptest! {
        #[test]
        fn arbitrary_heads_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), max in 0usize..300) {
            let mut buf = BytesMut::from(&data[..]);
            skip_empty_lines(&mut buf);
            if let Ok(Some(n)) = scan_head(&buf, max) {
                prop_assert!(n <= buf.len());
                if let Ok(h) = parse_head(&buf[..n]) {
                    let _ = body_kind(&h.headers);
                }
            }
        }

        #[test]
        fn structured_heads_never_panic(
            method in "[A-Z]{1,8}",
            path in "/[ -~]{0,40}",
            names in proptest::collection::vec("[!-~]{1,12}", 0..8),
            values in proptest::collection::vec("[ -~\t]{0,30}", 0..8),
        ) {
            let mut raw = format!("{method} {path} HTTP/1.1\r\n");
            for (n, v) in names.iter().zip(values.iter()) {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            if let Ok(Some(n)) = scan_head(raw.as_bytes(), 0)
                && let Ok(h) = parse_head(&raw.as_bytes()[..n])
            {
                let _ = body_kind(&h.headers);
            }
        }
    }
}
