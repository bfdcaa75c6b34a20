//! Request and response bodies.
//!
//! A body is consumed chunk by chunk. Incoming request bodies are fed by the
//! connection task through a small bounded channel, so a slow handler applies
//! back-pressure to the client instead of buffering in memory.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

type BoxStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// An HTTP message body.
pub struct Body {
    inner: Inner,
    /// Exact length when known up front (Content-Length).
    len: Option<u64>,
}

enum Inner {
    Empty,
    Full(Option<Bytes>),
    Stream(BoxStream),
    Channel(mpsc::Receiver<io::Result<Bytes>>),
    File(FileSlice),
}

/// Largest chunk read from a file body when it is streamed rather than
/// sent with `sendfile(2)` (TLS, middleware reading the body).
const FILE_CHUNK: usize = 256 * 1024;

/// A byte range of an open file: `pos..end`, read with positioned reads so
/// the file offset is never shared state.
pub(crate) struct FileSlice {
    pub(crate) file: Arc<File>,
    pub(crate) pos: u64,
    pub(crate) end: u64,
    /// The read in flight on the blocking pool, if any.
    pending: Option<JoinHandle<io::Result<Bytes>>>,
}

impl FileSlice {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if let Some(task) = self.pending.as_mut() {
                let r = match Pin::new(task).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(r)) => r,
                    Poll::Ready(Err(e)) => Err(io::Error::other(e)),
                };
                self.pending = None;
                return Poll::Ready(Some(self.advance(r)));
            }
            if self.pos >= self.end {
                return Poll::Ready(None);
            }
            let want = usize::try_from(self.end - self.pos)
                .unwrap_or(usize::MAX)
                .min(FILE_CHUNK);
            let (file, pos) = (self.file.clone(), self.pos);
            match tokio::runtime::Handle::try_current() {
                // Disk reads block; keep them off the async workers.
                Ok(h) => self.pending = Some(h.spawn_blocking(move || pread(&file, pos, want))),
                // Polled outside a runtime: just read.
                Err(_) => return Poll::Ready(Some(self.advance(pread(&file, pos, want)))),
            }
        }
    }

    fn advance(&mut self, r: io::Result<Bytes>) -> io::Result<Bytes> {
        let b = r?;
        if b.is_empty() {
            // The file is shorter than the slice promised (truncated under us).
            self.pos = self.end;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ended before the end of the body",
            ));
        }
        self.pos += b.len() as u64;
        Ok(b)
    }
}

/// One positioned read of up to `want` bytes (short only at end of file).
fn pread(file: &File, pos: u64, want: usize) -> io::Result<Bytes> {
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], pos + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(Bytes::from(buf))
}

/// The sending half of an incoming body (see [`Body::channel`]).
pub type BodySender = mpsc::Sender<io::Result<Bytes>>;

/// Why [`Body::collect`] failed.
#[derive(Debug)]
pub enum CollectError {
    /// More than the given limit arrived.
    TooLarge,
    /// The peer went away or sent a malformed body.
    Io(io::Error),
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::TooLarge => f.write_str("request body too large"),
            CollectError::Io(e) => write!(f, "error reading request body: {e}"),
        }
    }
}

impl std::error::Error for CollectError {}

impl Body {
    pub fn empty() -> Self {
        Body {
            inner: Inner::Empty,
            len: Some(0),
        }
    }

    /// A streamed body; `len` is its exact length if known (sent as
    /// Content-Length), otherwise it is sent chunked.
    pub fn from_stream<S>(stream: S, len: Option<u64>) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Body {
            inner: Inner::Stream(Box::pin(stream)),
            len,
        }
    }

    /// `len` bytes of `file` starting at `offset` (a store's file slice).
    /// On a plain TCP connection the server sends it with `sendfile(2)`;
    /// otherwise it is read in chunks. The file must hold the whole range:
    /// a shorter file ends the body with an error (and the connection).
    pub fn from_file(file: File, offset: u64, len: u64) -> Self {
        Body {
            inner: Inner::File(FileSlice {
                file: Arc::new(file),
                pos: offset,
                end: offset.saturating_add(len),
                pending: None,
            }),
            len: Some(len),
        }
    }

    /// The unread file range, when this is an untouched file body and so
    /// can be sent straight from the page cache.
    pub(crate) fn file_slice(&mut self) -> Option<&mut FileSlice> {
        match &mut self.inner {
            Inner::File(f) if f.pending.is_none() => Some(f),
            _ => None,
        }
    }

    /// A body fed from elsewhere (the server uses this for request bodies).
    pub fn channel(capacity: usize, len: Option<u64>) -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            tx,
            Body {
                inner: Inner::Channel(rx),
                len,
            },
        )
    }

    /// Exact length, if known without reading.
    pub fn exact_len(&self) -> Option<u64> {
        self.len
    }

    /// True when the body is known to carry no bytes.
    pub fn is_empty(&self) -> bool {
        matches!(self.inner, Inner::Empty) || self.len == Some(0)
    }

    /// Poll for the next chunk; `None` at the end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        match &mut self.inner {
            Inner::Empty => Poll::Ready(None),
            Inner::Full(b) => Poll::Ready(b.take().filter(|b| !b.is_empty()).map(Ok)),
            Inner::Stream(s) => s.as_mut().poll_next(cx),
            Inner::Channel(rx) => rx.poll_recv(cx),
            Inner::File(f) => f.poll_chunk(cx),
        }
    }

    /// The next chunk; `None` at the end.
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Read the whole body, refusing more than `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, CollectError> {
        if let Inner::Full(b) = &mut self.inner {
            let b = b.take().unwrap_or_default();
            return if b.len() > limit {
                Err(CollectError::TooLarge)
            } else {
                Ok(b)
            };
        }
        if let Some(len) = self.len
            && len > limit as u64
        {
            return Err(CollectError::TooLarge);
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            let chunk = chunk.map_err(CollectError::Io)?;
            if buf.len() + chunk.len() > limit {
                return Err(CollectError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Empty => "empty",
            Inner::Full(_) => "full",
            Inner::Stream(_) => "stream",
            Inner::Channel(_) => "channel",
            Inner::File(_) => "file",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("len", &self.len)
            .finish()
    }
}

impl Stream for Body {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        let len = Some(b.len() as u64);
        Body {
            inner: Inner::Full(Some(b)),
            len,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}
