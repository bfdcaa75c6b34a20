//! Pure helpers for the image-data handlers (`PUT /file`, `PUT /stage`,
//! `GET /file`), each reproducing what Glance 33 does:
//! - [`HashingStream`]: one pass over the upload computing the md5
//!   `checksum`, the `os_hash_value` multihash and the size, refusing more
//!   than `image_size_cap` bytes (Glance's `LimitingReader`).
//! - [`download_range`]: the `Range` (and legacy `Content-Range`) request
//!   headers of `GET /file`, as `glance.common.wsgi.Request
//!   .get_range_from_request` and WebOb's `byterange` parse them, with the
//!   statuses and texts Glance answers.
//! - [`image_size`]: the `x-openstack-image-size` header.

use std::cmp::Ordering;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use glimpse_http::fault::HttpError;
use http::StatusCode;
use md5::Md5;
use sha2::Digest;

/// `image_size_cap`'s default (1 TiB).
pub const DEFAULT_IMAGE_SIZE_CAP: u64 = 1 << 40;

/// `hashing_algorithm`'s default.
pub const DEFAULT_HASHING_ALGORITHM: &str = "sha512";

/// A `hashing_algorithm` Glimpse computes. Glance accepts any name in
/// Python's `hashlib.algorithms_available`; these are the guaranteed ones
/// that matter in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// An unsupported `hashing_algorithm`; the text is glance_store's
/// `UnknownHashingAlgo` (Glance only fails at the first upload, Glimpse
/// refuses to start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHashingAlgo(pub String);

impl fmt::Display for UnknownHashingAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unknown hashing algorithm identifier: {}", self.0)
    }
}

impl std::error::Error for UnknownHashingAlgo {}

impl HashAlgo {
    pub fn from_name(name: &str) -> Result<HashAlgo, UnknownHashingAlgo> {
        // hashlib names are case-sensitive.
        Ok(match name {
            "md5" => HashAlgo::Md5,
            "sha1" => HashAlgo::Sha1,
            "sha224" => HashAlgo::Sha224,
            "sha256" => HashAlgo::Sha256,
            "sha384" => HashAlgo::Sha384,
            "sha512" => HashAlgo::Sha512,
            _ => return Err(UnknownHashingAlgo(name.to_string())),
        })
    }

    /// The name recorded as `os_hash_algo`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha224 => "sha224",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha384 => "sha384",
            HashAlgo::Sha512 => "sha512",
        }
    }
}

enum Hasher {
    Md5(Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Md5 => Hasher::Md5(Md5::new()),
            HashAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgo::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(b),
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Md5(h) => hex(&h.finalize()),
            Hasher::Sha1(h) => hex(&h.finalize()),
            Hasher::Sha224(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha384(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

/// What a complete upload hashed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    /// md5 hex: the image's `checksum`.
    pub checksum: String,
    /// `os_hash_algo`.
    pub algo: &'static str,
    /// `os_hash_value` (hex).
    pub hash: String,
}

/// The upload grew past `image_size_cap`: 413 with
/// [`SizeCapExceeded::explanation`]. It is the `io::Error` payload the
/// stream fails with (see [`HashingStream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeCapExceeded {
    pub cap: u64,
}

impl SizeCapExceeded {
    /// Glance's 413 explanation (`HTTPRequestEntityTooLarge`).
    pub fn explanation(&self) -> &'static str {
        "The incoming image is too large: The provided image is too large."
    }

    pub fn http_error(&self) -> HttpError {
        HttpError::new(StatusCode::PAYLOAD_TOO_LARGE).explanation(self.explanation())
    }
}

impl fmt::Display for SizeCapExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "The provided image is too large (limit {} bytes).",
            self.cap
        )
    }
}

impl std::error::Error for SizeCapExceeded {}

#[derive(Debug, Default)]
struct Outcome {
    digests: Option<Digests>,
    cap_exceeded: Option<SizeCapExceeded>,
}

/// The handler's side of a [`HashingStream`], which the store consumes.
#[derive(Debug, Clone, Default)]
pub struct HashHandle(Arc<Mutex<Outcome>>);

impl HashHandle {
    /// The digests, once the stream has ended cleanly (`None` before, or
    /// after an error).
    pub fn digests(&self) -> Option<Digests> {
        self.0.lock().ok().and_then(|o| o.digests.clone())
    }

    /// Set when the stream failed because of the size cap, however the
    /// consumer wrapped that error: the handler answers 413.
    pub fn cap_exceeded(&self) -> Option<SizeCapExceeded> {
        self.0.lock().ok().and_then(|o| o.cap_exceeded)
    }
}

/// The multihash, computed on a thread of its own so it runs beside the
/// md5 (on another core) instead of after it: the two digests together
/// are the upload's CPU cost. Falls back to hashing inline when no thread
/// can be started.
enum MultiHash {
    Thread {
        tx: std::sync::mpsc::SyncSender<Bytes>,
        join: std::thread::JoinHandle<String>,
    },
    Inline(Hasher),
}

/// Chunks queued for the hashing thread before the stream waits for it.
const HASH_QUEUE: usize = 32;

impl MultiHash {
    fn start(algo: HashAlgo) -> MultiHash {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(HASH_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("glimpse-hash".into())
            .spawn(move || {
                let mut h = Hasher::new(algo);
                while let Ok(chunk) = rx.recv() {
                    h.update(&chunk);
                }
                h.hex()
            });
        match spawned {
            Ok(join) => MultiHash::Thread { tx, join },
            Err(e) => {
                log::warn!("cannot start a hashing thread ({e}); hashing inline");
                MultiHash::Inline(Hasher::new(algo))
            }
        }
    }

    fn update(&mut self, chunk: &Bytes) {
        match self {
            MultiHash::Thread { tx, .. } => {
                // The thread only stops when this sender is dropped.
                let _ = tx.send(chunk.clone());
            }
            MultiHash::Inline(h) => h.update(chunk),
        }
    }

    /// The hex digest; waits for the thread to drain its queue.
    fn finish(self) -> Option<String> {
        match self {
            MultiHash::Thread { tx, join } => {
                drop(tx);
                join.join().ok()
            }
            MultiHash::Inline(h) => Some(h.hex()),
        }
    }
}

/// Passes the upload through unchanged while hashing and counting it.
/// Like Glance's `LimitingReader`, a chunk taking the total past the cap is
/// not passed on: the stream fails with an `io::Error` (kind `Other`)
/// carrying [`SizeCapExceeded`]. Errors from the inner stream pass through.
/// After any error or the end, it yields nothing more.
pub struct HashingStream<S> {
    inner: S,
    state: Option<(Md5, MultiHash)>,
    algo: HashAlgo,
    size: u64,
    cap: u64,
    handle: HashHandle,
}

impl<S> HashingStream<S>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    pub fn new(inner: S, algo: HashAlgo, cap: u64) -> (HashingStream<S>, HashHandle) {
        let handle = HashHandle::default();
        (
            HashingStream {
                inner,
                state: Some((Md5::new(), MultiHash::start(algo))),
                algo,
                size: 0,
                cap,
                handle: handle.clone(),
            },
            handle,
        )
    }
}

impl<S> Stream for HashingStream<S>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some((md5, h)) = this.state.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                let size = this.size.saturating_add(chunk.len() as u64);
                if size > this.cap {
                    this.state = None;
                    let e = SizeCapExceeded { cap: this.cap };
                    if let Ok(mut o) = this.handle.0.lock() {
                        o.cap_exceeded = Some(e);
                    }
                    return Poll::Ready(Some(Err(io::Error::other(e))));
                }
                this.size = size;
                h.update(&chunk);
                md5.update(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.state = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                if let Some((md5, h)) = this.state.take() {
                    let checksum = hex(&md5.finalize());
                    // A hashing thread that died leaves no digests: the
                    // upload then fails instead of recording a wrong hash.
                    if let Some(hash) = h.finish() {
                        let d = Digests {
                            size: this.size,
                            checksum,
                            algo: this.algo.name(),
                            hash,
                        };
                        if let Ok(mut o) = this.handle.0.lock() {
                            o.digests = Some(d);
                        }
                    }
                }
                Poll::Ready(None)
            }
        }
    }
}

/// How `GET /file` answers a request's range headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// No range header: 200 with the whole image.
    Full,
    /// 206: `len` bytes from `offset`, with this `Content-Range` value.
    Partial {
        offset: u64,
        len: u64,
        content_range: String,
    },
}

/// Why the range headers were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// 400: a `,` in `Range`.
    MultipleRanges,
    /// 416 with this detail (after WebOb's explanation "The Range requested
    /// is not available.").
    NotSatisfiable(String),
    /// Glance 33 fails with an unhandled Python exception (500): `bytes=-`,
    /// the legacy `bytes */N` form, or any valid range on an image without
    /// data (size unknown).
    Unhandled,
}

impl RangeError {
    pub fn status(&self) -> StatusCode {
        match self {
            RangeError::MultipleRanges => StatusCode::BAD_REQUEST,
            RangeError::NotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            RangeError::Unhandled => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as Glance renders it (WebOb's body for 400/416).
    pub fn http_error(&self) -> HttpError {
        match self {
            RangeError::MultipleRanges => HttpError::new(StatusCode::BAD_REQUEST).explanation(
                "Requests with multiple ranges are not supported in Glance. You may make \
                 multiple single-range requests instead.",
            ),
            RangeError::NotSatisfiable(d) => {
                HttpError::new(StatusCode::RANGE_NOT_SATISFIABLE).detail(d.clone())
            }
            RangeError::Unhandled => HttpError::new(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// Decides a `GET /file` from its `Range` and `Content-Range` request
/// headers (`Range` wins when both are present) for an image of
/// `image_size` bytes (`None`: the image has no data).
///
/// One deliberate difference: a legacy `Content-Range` that declares a
/// length (`bytes 0-20/100`) may end past the image; Glance then promises
/// more bytes than it sends and the connection breaks. Glimpse clamps the
/// slice (and its `Content-Range`) to the image.
pub fn download_range(
    range: Option<&[u8]>,
    content_range: Option<&[u8]>,
    image_size: Option<u64>,
) -> Result<RangeDecision, RangeError> {
    if let Some(r) = range {
        return from_range(trim_ows(r), image_size);
    }
    if let Some(r) = content_range {
        return from_content_range(trim_ows(r), image_size);
    }
    Ok(RangeDecision::Full)
}

/// The HTTP layer strips optional whitespace around values (as gunicorn
/// and eventlet do); do it here too so the parser does not depend on it.
fn trim_ows(b: &[u8]) -> &[u8] {
    let is_ows = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !is_ows(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ows(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// A byte cursor for the anchored regexes WebOb uses.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn eat(&mut self, lit: &[u8], ignore_case: bool) -> bool {
        let ok = self.0.len() >= lit.len()
            && if ignore_case {
                self.0[..lit.len()].eq_ignore_ascii_case(lit)
            } else {
                &self.0[..lit.len()] == lit
            };
        if ok {
            self.0 = &self.0[lit.len()..];
        }
        ok
    }
    fn spaces(&mut self) {
        while self.eat(b" ", false) {}
    }
    fn digits(&mut self) -> &'a [u8] {
        let n = self.0.iter().take_while(|c| c.is_ascii_digit()).count();
        let (d, rest) = self.0.split_at(n);
        self.0 = rest;
        d
    }
}

/// Compares two non-empty decimal digit strings of any length (Python ints
/// are unbounded, so `bytes=99999999999999999999999-` is a valid start).
fn cmp_dec(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> Vec<u8> {
        let i = s.iter().position(|c| *c != b'0').unwrap_or(s.len());
        s[i..].to_vec()
    };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

fn dec(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Digits already known to be below some u64 (so they fit).
fn small(d: &[u8]) -> u64 {
    std::str::from_utf8(d)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Glance's "[0, size - 1]" (which reads "[0, -1]" for an empty image).
fn last_index(size: u64) -> i128 {
    i128::from(size) - 1
}

fn partial(offset: u64, len: u64, end: i128, size: u64) -> RangeDecision {
    RangeDecision::Partial {
        offset,
        len,
        content_range: format!("bytes {offset}-{end}/{size}"),
    }
}

fn from_range(h: &[u8], size: Option<u64>) -> Result<RangeDecision, RangeError> {
    if h.contains(&b',') {
        return Err(RangeError::MultipleRanges);
    }
    let invalid = || RangeError::NotSatisfiable("Invalid Range header.".into());
    // WebOb: re.match(r'bytes *= *(\d*) *- *(\d*)', re.I); the rest of the
    // value is ignored.
    let mut c = Cursor(h);
    if !c.eat(b"bytes", true) {
        return Err(invalid());
    }
    c.spaces();
    if !c.eat(b"=", false) {
        return Err(invalid());
    }
    c.spaces();
    let first = c.digits();
    c.spaces();
    if !c.eat(b"-", false) {
        return Err(invalid());
    }
    c.spaces();
    let last = c.digits();
    // Both empty: WebOb calls int('') and raises.
    if first.is_empty() && last.is_empty() {
        return Err(RangeError::Unhandled);
    }
    // start >= end (end = last + 1) makes WebOb return None.
    if !first.is_empty() && !last.is_empty() && cmp_dec(first, last) == Ordering::Greater {
        return Err(invalid());
    }
    let Some(size) = size else {
        // `range_.start >= None` raises in Glance.
        return Err(RangeError::Unhandled);
    };
    // A suffix `-0` parses as start 0 (it is `-int('0')`).
    let suffix = first.is_empty() && cmp_dec(last, b"0") != Ordering::Equal;
    if !suffix {
        let start = if first.is_empty() {
            b"0".as_slice()
        } else {
            first
        };
        if cmp_dec(start, &dec(size)) != Ordering::Less {
            return Err(RangeError::NotSatisfiable(format!(
                "Invalid start position in Range header. Start position MUST be in the \
                 inclusive range [0, {}].",
                last_index(size)
            )));
        }
    }
    let offset = if suffix {
        // A suffix as long as the image (or longer) means all of it.
        if cmp_dec(last, &dec(size)) == Ordering::Less {
            size - small(last)
        } else {
            0
        }
    } else if first.is_empty() {
        0
    } else {
        small(first)
    };
    // With an explicit end before the image's end, stop there.
    if !suffix && !first.is_empty() && !last.is_empty() {
        let size_minus_1 = dec(size.saturating_sub(1));
        if size > 0 && cmp_dec(last, &size_minus_1) == Ordering::Less {
            let end = small(last);
            return Ok(partial(offset, end + 1 - offset, i128::from(end), size));
        }
    }
    Ok(partial(
        offset,
        size.saturating_sub(offset),
        last_index(size),
        size,
    ))
}

fn from_content_range(h: &[u8], size: Option<u64>) -> Result<RangeDecision, RangeError> {
    let invalid = || RangeError::NotSatisfiable("Invalid Content-Range header.".into());
    // WebOb: re.match(r'bytes (?:(\d+)-(\d+)|[*])/(?:(\d+)|[*])').
    let mut c = Cursor(h);
    if !c.eat(b"bytes ", false) {
        return Err(invalid());
    }
    let span = if c.eat(b"*", false) {
        None
    } else {
        let s = c.digits();
        if s.is_empty() || !c.eat(b"-", false) {
            return Err(invalid());
        }
        let e = c.digits();
        if e.is_empty() {
            return Err(invalid());
        }
        Some((s, e))
    };
    if !c.eat(b"/", false) {
        return Err(invalid());
    }
    let length = if c.eat(b"*", false) {
        None
    } else {
        let l = c.digits();
        if l.is_empty() {
            return Err(invalid());
        }
        Some(l)
    };
    // `bytes */N` parses, then Glance compares None with an int and raises.
    let Some((s, e)) = span else {
        return Err(RangeError::Unhandled);
    };
    // WebOb's response-side validity (stop = e + 1): s <= e, and with a
    // length, e < length and s < length.
    if cmp_dec(s, e) == Ordering::Greater {
        return Err(invalid());
    }
    if let Some(l) = length
        && (cmp_dec(e, l) != Ordering::Less || cmp_dec(s, l) != Ordering::Less)
    {
        return Err(invalid());
    }
    let Some(size) = size else {
        return Err(RangeError::Unhandled);
    };
    if length.is_none() && cmp_dec(e, &dec(size)) != Ordering::Less {
        return Err(RangeError::NotSatisfiable(format!(
            "Invalid stop position in Content-Range header. The stop position MUST be in the \
             inclusive range [0, {}].",
            last_index(size)
        )));
    }
    if cmp_dec(s, &dec(size)) != Ordering::Less {
        return Err(RangeError::NotSatisfiable(format!(
            "Invalid start position in Content-Range header. Start position MUST be in the \
             inclusive range [0, {}].",
            last_index(size)
        )));
    }
    let offset = small(s);
    // s < size here, so size >= 1. Clamp a declared-length range that runs
    // past the image (see download_range).
    let end = if cmp_dec(e, &dec(size)) == Ordering::Less {
        small(e)
    } else {
        size - 1
    };
    Ok(partial(offset, end + 1 - offset, i128::from(end), size))
}

/// `x-openstack-image-size` is not an integer: 400 with Glance's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidImageSize;

impl InvalidImageSize {
    pub fn http_error(&self) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST)
            .explanation("Invalid or missing image size in request headers.")
    }
}

impl fmt::Display for InvalidImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid or missing image size in request headers.")
    }
}

impl std::error::Error for InvalidImageSize {}

/// The declared upload size: `x-openstack-image-size` parsed as Python's
/// `int()` does (surrounding whitespace, a sign, `_` between digits), else
/// Content-Length, where 0 means unknown (`content_length or None`).
/// Glance keeps negative values; values beyond i64 saturate.
pub fn image_size(
    header: Option<&[u8]>,
    content_length: Option<u64>,
) -> Result<Option<i64>, InvalidImageSize> {
    let Some(h) = header else {
        return Ok(content_length
            .filter(|n| *n != 0)
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX)));
    };
    py_int(h).map(Some).ok_or(InvalidImageSize)
}

/// Python `int(str)` on a latin-1 decoded header value, saturating.
fn py_int(b: &[u8]) -> Option<i64> {
    // str.strip() whitespace within latin-1.
    let ws = |c: &u8| {
        matches!(
            c,
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | 0x85 | 0xa0
        )
    };
    let start = b.iter().position(|c| !ws(c))?;
    let end = b.iter().rposition(|c| !ws(c))? + 1;
    let mut s = &b[start..end];
    let neg = match s.first() {
        Some(b'-') => true,
        Some(b'+') => false,
        _ => {
            return digits_value(s).map(|v| sat(v, false));
        }
    };
    s = &s[1..];
    digits_value(s).map(|v| sat(v, neg))
}

/// Digits with single underscores between them; None if malformed.
fn digits_value(s: &[u8]) -> Option<u128> {
    let mut v: u128 = 0;
    let mut prev_digit = false;
    for c in s {
        match c {
            b'0'..=b'9' => {
                v = v.saturating_mul(10).saturating_add(u128::from(c - b'0'));
                prev_digit = true;
            }
            b'_' if prev_digit => prev_digit = false,
            _ => return None,
        }
    }
    prev_digit.then_some(v)
}

fn sat(v: u128, neg: bool) -> i64 {
    if neg {
        i64::try_from(v).map_or(i64::MIN, |x| -x)
    } else {
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(offset: u64, len: u64, cr: &str) -> Result<RangeDecision, RangeError> {
        Ok(RangeDecision::Partial {
            offset,
            len,
            content_range: cr.into(),
        })
    }
    fn e416(d: &str) -> Result<RangeDecision, RangeError> {
        Err(RangeError::NotSatisfiable(d.into()))
    }
    const BAD_RANGE: &str = "Invalid Range header.";
    const BAD_CR: &str = "Invalid Content-Range header.";
    const START9: &str = "Invalid start position in Range header. Start position MUST be in the inclusive range [0, 9].";

    /// Every case probed against Glance 33 (a 10-byte image, gunicorn).
    #[test]
    fn range_header_matches_glance_33() {
        let big = "99999999999999999999999";
        let cases: Vec<(String, Result<RangeDecision, RangeError>)> = vec![
            ("bytes=0-4".into(), ok(0, 5, "bytes 0-4/10")),
            ("bytes=2-".into(), ok(2, 8, "bytes 2-9/10")),
            ("bytes=-3".into(), ok(7, 3, "bytes 7-9/10")),
            ("bytes=-10".into(), ok(0, 10, "bytes 0-9/10")),
            ("bytes=-11".into(), ok(0, 10, "bytes 0-9/10")),
            ("bytes=-0".into(), ok(0, 10, "bytes 0-9/10")),
            ("bytes=9-9".into(), ok(9, 1, "bytes 9-9/10")),
            ("bytes=9-100".into(), ok(9, 1, "bytes 9-9/10")),
            ("bytes=10-".into(), e416(START9)),
            ("bytes=10-20".into(), e416(START9)),
            ("bytes=5-4".into(), e416(BAD_RANGE)),
            ("bytes=4-4".into(), ok(4, 1, "bytes 4-4/10")),
            ("bytes=-".into(), Err(RangeError::Unhandled)),
            ("bytes=0-1,3-4".into(), Err(RangeError::MultipleRanges)),
            (",".into(), Err(RangeError::MultipleRanges)),
            ("".into(), e416(BAD_RANGE)),
            ("bytes".into(), e416(BAD_RANGE)),
            ("BYTES = 1 - 2".into(), ok(1, 2, "bytes 1-2/10")),
            ("bytes=1-2junk".into(), ok(1, 2, "bytes 1-2/10")),
            ("bytes=1-2 ".into(), ok(1, 2, "bytes 1-2/10")),
            ("junk".into(), e416(BAD_RANGE)),
            (format!("bytes=0-{big}"), ok(0, 10, "bytes 0-9/10")),
            (format!("bytes={big}-"), e416(START9)),
            (format!("bytes=-{big}"), ok(0, 10, "bytes 0-9/10")),
            (
                format!("bytes={big}-{}", "99999999999999999999998"),
                e416(BAD_RANGE),
            ),
            ("bytes=00003-00004".into(), ok(3, 2, "bytes 3-4/10")),
            ("bytes= 3 -4".into(), ok(3, 2, "bytes 3-4/10")),
            ("bytes=+3-4".into(), e416(BAD_RANGE)),
            ("bytes=\t3-4".into(), e416(BAD_RANGE)),
            (" bytes=3-4".into(), ok(3, 2, "bytes 3-4/10")),
            ("bytes 0-4/10".into(), e416(BAD_RANGE)),
        ];
        for (h, want) in cases {
            assert_eq!(
                download_range(Some(h.as_bytes()), Some(b"bytes 0-1/10"), Some(10)),
                want,
                "Range: {h}"
            );
        }
    }

    #[test]
    fn content_range_header_matches_glance_33() {
        let stop9 = "Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, 9].";
        let start9 = "Invalid start position in Content-Range header. Start position MUST be in the inclusive range [0, 9].";
        let cases: Vec<(&str, Result<RangeDecision, RangeError>)> = vec![
            ("bytes 0-4/10", ok(0, 5, "bytes 0-4/10")),
            ("bytes 0-4/*", ok(0, 5, "bytes 0-4/10")),
            ("bytes */*", Err(RangeError::Unhandled)),
            ("bytes */10", Err(RangeError::Unhandled)),
            ("bytes 5-4/10", e416(BAD_CR)),
            ("bytes 0-9/10", ok(0, 10, "bytes 0-9/10")),
            ("bytes 0-10/10", e416(BAD_CR)),
            ("bytes 0-10/*", e416(stop9)),
            ("bytes 0-9/*", ok(0, 10, "bytes 0-9/10")),
            // Glance: Content-Length 21 then 10 bytes; Glimpse clamps.
            ("bytes 0-20/100", ok(0, 10, "bytes 0-9/10")),
            ("bytes 10-12/*", e416(stop9)),
            ("bytes 10-12/20", e416(start9)),
            ("Bytes 0-4/10", e416(BAD_CR)),
            ("bytes  0-4/10", e416(BAD_CR)),
            ("bytes 0-4/10junk", ok(0, 5, "bytes 0-4/10")),
            ("bytes 0-4", e416(BAD_CR)),
            ("bytes 0-4/5", ok(0, 5, "bytes 0-4/10")),
            ("junk", e416(BAD_CR)),
            ("", e416(BAD_CR)),
            ("bytes=0-4", e416(BAD_CR)),
        ];
        for (h, want) in cases {
            assert_eq!(
                download_range(None, Some(h.as_bytes()), Some(10)),
                want,
                "Content-Range: {h}"
            );
        }
    }

    #[test]
    fn no_data_and_empty_images() {
        assert_eq!(download_range(None, None, None), Ok(RangeDecision::Full));
        // Probed: queued image (no size) → 500 for parsable ranges.
        assert_eq!(
            download_range(Some(b"bytes=0-1"), None, None),
            Err(RangeError::Unhandled)
        );
        assert_eq!(
            download_range(Some(b"bytes=0-1,2"), None, None),
            Err(RangeError::MultipleRanges)
        );
        assert_eq!(download_range(Some(b"junk"), None, None), e416(BAD_RANGE));
        assert_eq!(
            download_range(None, Some(b"bytes 0-1/5"), None),
            Err(RangeError::Unhandled)
        );
        // Empty image: Glance's "[0, -1]" and its odd suffix answer.
        assert_eq!(
            download_range(Some(b"bytes=0-"), None, Some(0)),
            e416(
                "Invalid start position in Range header. Start position MUST be in the inclusive range [0, -1]."
            )
        );
        assert_eq!(
            download_range(Some(b"bytes=-5"), None, Some(0)),
            ok(0, 0, "bytes 0--1/0")
        );
    }

    #[test]
    fn error_rendering() {
        let e = RangeError::NotSatisfiable(BAD_RANGE.into()).http_error();
        assert_eq!(e.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(e.detail_text(), Some(BAD_RANGE));
        assert_eq!(RangeError::MultipleRanges.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            InvalidImageSize.http_error().explanation_text(),
            "Invalid or missing image size in request headers."
        );
    }

    #[test]
    fn image_size_header() {
        assert_eq!(image_size(None, None), Ok(None));
        assert_eq!(image_size(None, Some(0)), Ok(None));
        assert_eq!(image_size(None, Some(7)), Ok(Some(7)));
        assert_eq!(image_size(Some(b"10"), Some(7)), Ok(Some(10)));
        assert_eq!(image_size(Some(b" +1_000 "), None), Ok(Some(1000)));
        assert_eq!(image_size(Some(b"-5"), None), Ok(Some(-5)));
        assert_eq!(image_size(Some(b"0"), None), Ok(Some(0)));
        assert_eq!(
            image_size(Some(b"99999999999999999999999"), None),
            Ok(Some(i64::MAX))
        );
        for bad in [
            &b""[..],
            b"abc",
            b"1.5",
            b"1__0",
            b"_1",
            b"1_",
            b"0x10",
            b"- 1",
            b"1 2",
        ] {
            assert_eq!(
                image_size(Some(bad), None),
                Err(InvalidImageSize),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!(HashAlgo::from_name("sha512"), Ok(HashAlgo::Sha512));
        assert_eq!(
            HashAlgo::from_name("SHA512").unwrap_err().to_string(),
            "Unknown hashing algorithm identifier: SHA512"
        );
        assert!(HashAlgo::from_name("sha3_256").is_err());
    }

    struct Chunks(std::vec::IntoIter<io::Result<Bytes>>);
    impl Stream for Chunks {
        type Item = io::Result<Bytes>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.get_mut().0.next())
        }
    }

    /// Drains a stream that never returns Pending.
    fn drain<S: Stream<Item = io::Result<Bytes>> + Unpin>(s: &mut S) -> Vec<io::Result<Bytes>> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(x)) = Pin::new(&mut *s).poll_next(&mut cx) {
            out.push(x);
        }
        out
    }

    fn run(chunks: Vec<Vec<u8>>, algo: HashAlgo, cap: u64) -> (Vec<io::Result<Bytes>>, HashHandle) {
        let inner = Chunks(
            chunks
                .into_iter()
                .map(|c| Ok(Bytes::from(c)))
                .collect::<Vec<_>>()
                .into_iter(),
        );
        let (mut s, h) = HashingStream::new(inner, algo, cap);
        (drain(&mut s), h)
    }

    #[test]
    fn known_digests() {
        let (out, h) = run(
            vec![b"0123".to_vec(), b"456789".to_vec()],
            HashAlgo::Sha512,
            10,
        );
        assert_eq!(out.len(), 2);
        let d = h.digests().unwrap();
        assert_eq!(d.size, 10);
        // Glance's checksum for "0123456789" (probed above).
        assert_eq!(d.checksum, "781e5e245d69b566979b86e28d23f2c7");
        assert_eq!(d.algo, "sha512");
        assert_eq!(&d.hash[..16], "bb96c2fc40d2d546");
        let (_, h) = run(vec![], HashAlgo::Sha256, 0);
        assert_eq!(
            h.digests().unwrap().hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn size_cap() {
        let (out, h) = run(
            vec![b"01234".to_vec(), b"56789".to_vec(), b"x".to_vec()],
            HashAlgo::Md5,
            9,
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok());
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(
            e.get_ref()
                .and_then(|e| e.downcast_ref::<SizeCapExceeded>()),
            Some(&SizeCapExceeded { cap: 9 })
        );
        assert_eq!(h.cap_exceeded(), Some(SizeCapExceeded { cap: 9 }));
        assert_eq!(h.digests(), None);
        // Exactly at the cap is fine.
        let (_, h) = run(vec![b"0123456789".to_vec()], HashAlgo::Md5, 10);
        assert_eq!(h.digests().unwrap().size, 10);
    }

    fn reference(data: &[u8]) -> (String, String) {
        (hex(&Md5::digest(data)), hex(&sha2::Sha512::digest(data)))
    }

    proptest! {
        #[test]
        fn hashing_is_chunking_independent(data in proptest::collection::vec(any::<u8>(), 0..4096),
                                           cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for p in points.into_iter().chain([data.len()]) {
                chunks.push(data[prev..p].to_vec());
                prev = p;
            }
            let (out, h) = run(chunks, HashAlgo::Sha512, DEFAULT_IMAGE_SIZE_CAP);
            let passed: Vec<u8> = out.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
            prop_assert_eq!(&passed, &data);
            let d = h.digests().unwrap();
            let (m, s) = reference(&data);
            prop_assert_eq!(d.size, data.len() as u64);
            prop_assert_eq!(d.checksum, m);
            prop_assert_eq!(d.hash, s);
        }

        #[test]
        fn range_parsers_never_panic(r in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                                     c in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                                     size in proptest::option::of(any::<u64>())) {
            let _ = download_range(r.as_deref(), c.as_deref(), size);
        }

        #[test]
        fn structured_ranges_are_consistent(a in 0u64..50, b in 0u64..50, size in 0u64..40, suffix in any::<bool>()) {
            let h = if suffix { format!("bytes=-{a}") } else { format!("bytes={a}-{b}") };
            if let Ok(RangeDecision::Partial { offset, len, .. }) = download_range(Some(h.as_bytes()), None, Some(size)) {
                prop_assert!(offset + len <= size);
            }
            let h = format!("bytes {a}-{b}/*");
            if let Ok(RangeDecision::Partial { offset, len, .. }) = download_range(None, Some(h.as_bytes()), Some(size)) {
                prop_assert!(offset + len <= size && len > 0);
            }
        }

        #[test]
        fn image_size_never_panics(h in proptest::collection::vec(any::<u8>(), 0..30), n in any::<Option<u64>>()) {
            let _ = image_size(Some(&h), n);
        }
    }
}
