//! Incremental request-body decoders: Content-Length and chunked
//! transfer coding (with chunk extensions and trailers, both ignored).

use bytes::{Bytes, BytesMut};

/// Longest chunk-size line (size plus extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most trailer bytes accepted.
const MAX_TRAILERS: usize = 65536;

/// Result of one decoding step.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Body bytes (never empty).
    Data(Bytes),
    /// More input is needed.
    NeedMore,
    /// The body is complete.
    Done,
}

/// A malformed body.
#[derive(Debug, PartialEq, Eq)]
pub struct BodyError(pub &'static str);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<BodyError> for std::io::Error {
    fn from(e: BodyError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

/// Decoder for either framing.
#[derive(Debug)]
pub enum Decoder {
    Length(u64),
    Chunked(State),
}

impl Decoder {
    pub fn length(n: u64) -> Self {
        Decoder::Length(n)
    }

    pub fn chunked() -> Self {
        Decoder::Chunked(State::Size)
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Decoder::Length(0) | Decoder::Chunked(State::Done))
    }

    /// Take the next piece of body from `buf` (at most `max` bytes).
    pub fn decode(&mut self, buf: &mut BytesMut, max: usize) -> Result<Step, BodyError> {
        let max = max.max(1);
        match self {
            Decoder::Length(0) => Ok(Step::Done),
            Decoder::Length(rem) => {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let take = (*rem).min(buf.len() as u64).min(max as u64) as usize;
                *rem -= take as u64;
                Ok(Step::Data(buf.split_to(take).freeze()))
            }
            Decoder::Chunked(state) => decode_chunked(state, buf, max),
        }
    }
}

fn decode_chunked(state: &mut State, buf: &mut BytesMut, max: usize) -> Result<Step, BodyError> {
    loop {
        match *state {
            State::Done => return Ok(Step::Done),
            State::Size => {
                let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
                    if buf.len() > MAX_SIZE_LINE {
                        return Err(BodyError("chunk size line too long"));
                    }
                    return Ok(Step::NeedMore);
                };
                if nl > MAX_SIZE_LINE {
                    return Err(BodyError("chunk size line too long"));
                }
                let line = buf.split_to(nl + 1);
                let size = parse_size(&line[..nl])?;
                *state = if size == 0 {
                    State::Trailers(0)
                } else {
                    State::Data(size)
                };
            }
            State::Data(rem) => {
                if buf.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let take = rem.min(buf.len() as u64).min(max as u64) as usize;
                let left = rem - take as u64;
                *state = if left == 0 {
                    State::DataEnd
                } else {
                    State::Data(left)
                };
                return Ok(Step::Data(buf.split_to(take).freeze()));
            }
            State::DataEnd => {
                if buf.starts_with(b"\r\n") {
                    let _ = buf.split_to(2);
                } else if buf.starts_with(b"\n") {
                    let _ = buf.split_to(1);
                } else if buf.is_empty() || &buf[..] == b"\r" {
                    return Ok(Step::NeedMore);
                } else {
                    return Err(BodyError("missing CRLF after chunk data"));
                }
                *state = State::Size;
            }
            State::Trailers(seen) => {
                let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
                    if seen + buf.len() > MAX_TRAILERS {
                        return Err(BodyError("trailers too large"));
                    }
                    return Ok(Step::NeedMore);
                };
                let line = buf.split_to(nl + 1);
                let seen = seen + line.len();
                if seen > MAX_TRAILERS {
                    return Err(BodyError("trailers too large"));
                }
                let content = line.strip_suffix(b"\n").unwrap_or(&line);
                let content = content.strip_suffix(b"\r").unwrap_or(content);
                *state = if content.is_empty() {
                    State::Done
                } else {
                    State::Trailers(seen)
                };
            }
        }
    }
}

/// `1*HEXDIG [ BWS ; ext ]`, CR optional, spaces tolerated around the size.
fn parse_size(line: &[u8]) -> Result<u64, BodyError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let size_part = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    let start = size_part
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(size_part.len());
    let end = size_part
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    let hex = &size_part[start..end];
    if hex.is_empty() || hex.len() > 15 {
        return Err(BodyError("invalid chunk size"));
    }
    let mut n: u64 = 0;
    for &b in hex {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(BodyError("invalid chunk size")),
        };
        n = (n << 4) | u64::from(d);
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feed `input` in pieces split at `cuts`; collect the body.
    fn run(
        mut dec: Decoder,
        input: &[u8],
        cuts: &[usize],
        max: usize,
    ) -> Result<(Vec<u8>, bool, usize), BodyError> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        points.push(input.len());
        for p in points {
            if p > pos {
                buf.extend_from_slice(&input[pos..p]);
                pos = p;
            }
            loop {
                match dec.decode(&mut buf, max)? {
                    Step::Data(b) => {
                        assert!(!b.is_empty() && b.len() <= max);
                        out.extend_from_slice(&b);
                    }
                    Step::NeedMore => break,
                    Step::Done => return Ok((out, true, buf.len())),
                }
            }
        }
        Ok((out, false, buf.len()))
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, done, left) = run(Decoder::chunked(), input, &[], 64).unwrap();
        assert_eq!(body, b"hello world");
        assert!(done);
        assert_eq!(left, 4);
        assert!(run(Decoder::chunked(), b"zz\r\n", &[], 64).is_err());
        assert!(run(Decoder::chunked(), b"3\r\nabcX", &[], 64).is_err());
        assert!(run(Decoder::chunked(), b"ffffffffffffffffff\r\n", &[], 64).is_err());
        let (body, done, _) = run(Decoder::length(3), b"abcdef", &[1], 64).unwrap();
        assert_eq!((body.as_slice(), done), (&b"abc"[..], true));
    }

    fn encode(data: &[u8], sizes: &[usize], ext: bool, lf_only: bool) -> Vec<u8> {
        let nl: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < data.len() {
            let n = sizes
                .get(i)
                .copied()
                .unwrap_or(7)
                .clamp(1, data.len() - pos);
            i += 1;
            out.extend_from_slice(format!("{n:x}").as_bytes());
            if ext {
                out.extend_from_slice(b"; foo=\"bar\"");
            }
            out.extend_from_slice(nl);
            out.extend_from_slice(&data[pos..pos + n]);
            out.extend_from_slice(nl);
            pos += n;
        }
        out.extend_from_slice(b"0");
        out.extend_from_slice(nl);
        if ext {
            out.extend_from_slice(b"Trailer: x");
            out.extend_from_slice(nl);
        }
        out.extend_from_slice(nl);
        out
    }

    proptest! {
        #[test]
        fn chunked_round_trip(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            sizes in proptest::collection::vec(1usize..600, 0..20),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            ext in any::<bool>(),
            lf_only in any::<bool>(),
            max in 1usize..700,
        ) {
            let wire = encode(&data, &sizes, ext, lf_only);
            let (body, done, left) = run(Decoder::chunked(), &wire, &cuts, max).unwrap();
            prop_assert!(done);
            prop_assert_eq!(left, 0);
            prop_assert_eq!(body, data);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            max in 1usize..100,
        ) {
            let _ = run(Decoder::chunked(), &data, &cuts, max);
            let _ = run(Decoder::length(data.len() as u64 / 2), &data, &cuts, max);
        }
    }
}
