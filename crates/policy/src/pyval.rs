//! Python's `str()` and `repr()` of JSON-like values.
//!
//! oslo.policy compares strings produced by Python: `str(creds value)`,
//! `%(key)s` substitutions and `str(ast.literal_eval(kind))`. To decide the
//! same way we must render values exactly as CPython does (`True`, `None`,
//! `1.0`, `1e+16`, `['a', 'b']`, `{'k': 1}`).

use serde_json::Value;

/// `str(v)` for a JSON value as Python sees it after `json.loads`.
pub fn py_str(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        other => py_repr(other, out, false),
    }
}

/// `py_str` into a fresh string.
pub fn py_str_owned(v: &Value) -> String {
    let mut s = String::new();
    py_str(v, &mut s);
    s
}

/// `repr(v)` (or `ascii(v)` when `ascii` is set).
pub fn py_repr(v: &Value, out: &mut String, ascii: bool) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN), true));
            }
        }
        Value::String(s) => str_repr(s, out, ascii),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out, ascii);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                str_repr(k, out, ascii);
                out.push_str(": ");
                py_repr(item, out, ascii);
            }
            out.push('}');
        }
    }
}

/// Python's truth value of a JSON value (`if creds.get('system_scope')`).
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// `repr(float)`; with `add_dot0` false, the form `complex.__repr__` uses
/// for its parts (`2` rather than `2.0`), which differs only in that suffix.
pub fn float_repr(f: f64, add_dot0: bool) -> String {
    let r = glimpse_config::py_float_repr(f);
    match r.strip_suffix(".0") {
        Some(bare) if !add_dot0 => bare.to_string(),
        _ => r,
    }
}

/// Whether CPython's `str.isprintable()` holds for `c`. An approximation of
/// the Unicode tables: controls, separators other than the space, format
/// characters we know of, private use and non-characters are unprintable.
fn printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || u == 0x1680
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x2064).contains(&u)
        || (0x2066..=0x206f).contains(&u)
        || u == 0x3000
        || u == 0xfeff
        || (0xe000..=0xf8ff).contains(&u)
        || (0xfff9..=0xfffb).contains(&u)
        || (u & 0xfffe) == 0xfffe
        || u >= 0xf0000)
}

/// `repr(str)`: single quotes unless the text has `'` and no `"`.
pub fn str_repr(s: &str, out: &mut String, ascii: bool) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x80 && printable(c) => out.push(c),
            c if !ascii && (c as u32) >= 0x80 && printable(c) => out.push(c),
            c => {
                let u = c as u32;
                if u < 0x100 {
                    out.push_str(&format!("\\x{u:02x}"));
                } else if u < 0x10000 {
                    out.push_str(&format!("\\u{u:04x}"));
                } else {
                    out.push_str(&format!("\\U{u:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

/// `repr(bytes)`.
pub fn bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_like_python() {
        for (f, s) in [
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (1.5e-7, "1.5e-07"),
            (2.5e20, "2.5e+20"),
            (123.456, "123.456"),
        ] {
            assert_eq!(float_repr(f, true), s);
        }
        assert_eq!(float_repr(2.0, false), "2");
    }

    #[test]
    fn containers_like_python() {
        let v = json!({"a": 1, "b": [1, null, true, 1.5, "it's"]});
        assert_eq!(
            py_str_owned(&v),
            r#"{'a': 1, 'b': [1, None, True, 1.5, "it's"]}"#
        );
        assert_eq!(py_str_owned(&json!("x")), "x");
    }
}
