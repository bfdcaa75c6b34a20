//! Byte ranges for partial reads.
//!
//! The API layer parses the `Range` header (multi-range → 400 and so on)
//! and hands one range here; this module resolves it against the stored
//! size the way Glance's `get_data(offset, chunk_size)` path does.

use std::fmt;

use crate::error::{Result, StoreError};

/// One byte range, as in a single HTTP `bytes=` range spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-end`, both inclusive.
    FromTo { start: u64, end: u64 },
    /// `start-`: from `start` to the end.
    From { start: u64 },
    /// `-len`: the last `len` bytes.
    Suffix { len: u64 },
}

impl ByteRange {
    /// Parses one spec without the `bytes=` prefix: `a-b`, `a-` or `-n`.
    /// Surrounding spaces are allowed, nothing else; `b < a` is rejected.
    pub fn parse(spec: &str) -> Result<ByteRange> {
        let bad = || StoreError::BadRange(spec.chars().take(64).collect());
        let (a, b) = spec.trim().split_once('-').ok_or_else(bad)?;
        let num = |s: &str| -> Result<u64> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<u64>().map_err(|_| bad())
        };
        match (a.trim().is_empty(), b.trim().is_empty()) {
            (true, true) => Err(bad()),
            (true, false) => Ok(ByteRange::Suffix { len: num(b)? }),
            (false, true) => Ok(ByteRange::From { start: num(a)? }),
            (false, false) => {
                let (start, end) = (num(a)?, num(b)?);
                if end < start {
                    return Err(bad());
                }
                Ok(ByteRange::FromTo { start, end })
            }
        }
    }

    /// `(offset, length)` within data of `size` bytes. The end is clamped
    /// to the data; a range starting at or past the end, an empty suffix,
    /// or any range on empty data is not satisfiable (→ 416).
    pub fn resolve(&self, size: u64) -> Result<(u64, u64)> {
        let unsat = StoreError::RangeNotSatisfiable { size };
        match *self {
            ByteRange::FromTo { start, end } => {
                if start >= size || end < start {
                    return Err(unsat);
                }
                let last = end.min(size - 1);
                Ok((start, last - start + 1))
            }
            ByteRange::From { start } => {
                if start >= size {
                    return Err(unsat);
                }
                Ok((start, size - start))
            }
            ByteRange::Suffix { len } => {
                if len == 0 || size == 0 {
                    return Err(unsat);
                }
                let len = len.min(size);
                Ok((size - len, len))
            }
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::FromTo { start, end } => write!(f, "{start}-{end}"),
            ByteRange::From { start } => write!(f, "{start}-"),
            ByteRange::Suffix { len } => write!(f, "-{len}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_forms() {
        assert_eq!(
            ByteRange::parse("0-499").ok(),
            Some(ByteRange::FromTo { start: 0, end: 499 })
        );
        assert_eq!(
            ByteRange::parse(" 7- ").ok(),
            Some(ByteRange::From { start: 7 })
        );
        assert_eq!(
            ByteRange::parse("-5").ok(),
            Some(ByteRange::Suffix { len: 5 })
        );
        for bad in [
            "",
            "-",
            "5",
            "a-b",
            "5-4",
            "+1-2",
            "1-2-3",
            "99999999999999999999-",
        ] {
            assert!(
                matches!(ByteRange::parse(bad), Err(StoreError::BadRange(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn resolve_rules() {
        let r = |s: &str| ByteRange::parse(s).map_err(|e| e.to_string());
        assert_eq!(r("0-9").map(|r| r.resolve(100).ok()), Ok(Some((0, 10))));
        assert_eq!(r("90-200").map(|r| r.resolve(100).ok()), Ok(Some((90, 10))));
        assert_eq!(r("-10").map(|r| r.resolve(100).ok()), Ok(Some((90, 10))));
        assert_eq!(r("-1000").map(|r| r.resolve(100).ok()), Ok(Some((0, 100))));
        assert_eq!(r("99-").map(|r| r.resolve(100).ok()), Ok(Some((99, 1))));
        for s in ["100-", "100-200", "-0"] {
            let res = ByteRange::parse(s).and_then(|r| r.resolve(100));
            assert!(
                matches!(res, Err(StoreError::RangeNotSatisfiable { size: 100 })),
                "{s}"
            );
        }
        let res = ByteRange::parse("-5").and_then(|r| r.resolve(0));
        assert!(matches!(
            res,
            Err(StoreError::RangeNotSatisfiable { size: 0 })
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = ByteRange::parse(&s);
        }

        #[test]
        fn parse_display_roundtrip(a in any::<u64>(), b in any::<u64>(), kind in 0u8..3) {
            let r = match kind {
                0 => ByteRange::FromTo { start: a.min(b), end: a.max(b) },
                1 => ByteRange::From { start: a },
                _ => ByteRange::Suffix { len: a },
            };
            prop_assert_eq!(ByteRange::parse(&r.to_string()).ok(), Some(r));
        }

        #[test]
        fn resolve_stays_inside(a in any::<u64>(), b in any::<u64>(), kind in 0u8..3, size in any::<u64>()) {
            let r = match kind {
                0 => ByteRange::FromTo { start: a.min(b), end: a.max(b) },
                1 => ByteRange::From { start: a },
                _ => ByteRange::Suffix { len: a },
            };
            if let Ok((off, len)) = r.resolve(size) {
                prop_assert!(len >= 1);
                prop_assert!(off < size);
                prop_assert!(len <= size - off);
            }
        }
    }
}
