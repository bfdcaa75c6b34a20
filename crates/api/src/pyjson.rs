//! JSON written the way Python's `json.dumps` writes it (`", "` and `": "`
//! separators, optional `ensure_ascii`), so response bodies and their
//! Content-Length match Glance byte for byte.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

/// Python's default separators; `ascii` escapes every non-ASCII character
/// as `\uXXXX` (surrogate pairs above the BMP), like `ensure_ascii=True`.
pub struct PyFormatter {
    pub ascii: bool,
}

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if !self.ascii || fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        esc: CharEscape,
    ) -> io::Result<()> {
        // Same escapes as Python; spelled out so the hex case matches (\u001f).
        let s: &[u8] = match esc {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => return write!(w, "\\u{:04x}", b),
        };
        w.write_all(s)
    }
}

/// Serialize like `json.dumps(value, ensure_ascii=ascii)`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, ascii: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = Serializer::with_formatter(&mut out, PyFormatter { ascii });
    // Serializing a serde_json::Value or plain structs cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_separators() {
        let v = json!({"a": [1, 2], "b": {"c": null, "d": "x"}});
        assert_eq!(
            to_vec(&v, true),
            br#"{"a": [1, 2], "b": {"c": null, "d": "x"}}"#
        );
    }

    #[test]
    fn ensure_ascii() {
        let v = json!({"n": "caf\u{e9} \u{1f600}\u{1}"});
        assert_eq!(
            String::from_utf8(to_vec(&v, true)).unwrap_or_default(),
            r#"{"n": "caf\u00e9 \ud83d\ude00\u0001"}"#
        );
        assert_eq!(
            String::from_utf8(to_vec(&v, false)).unwrap_or_default(),
            "{\"n\": \"caf\u{e9} \u{1f600}\\u0001\"}"
        );
    }
}
