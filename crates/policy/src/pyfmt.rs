//! Python's `match % target` for the match half of a check.
//!
//! A `role:` or generic check substitutes `%(key)s` from the target with
//! Python's `%` operator before comparing. A missing key makes the check
//! false (oslo catches `KeyError`); any other formatting failure is an
//! exception in oslo, which we surface as an evaluation error. The match is
//! compiled once so a request only walks a few segments.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::pyval::{py_repr, py_str};

/// Widths above this would make Python allocate absurd strings; we refuse.
const MAX_WIDTH: usize = 1 << 16;

/// A compiled `%`-format string.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    raw: String,
    /// `None` when the text has no `%` at all (it is its own result).
    segs: Option<Vec<Seg>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Lit(String),
    /// `%(key)...`: looked up first (a missing key wins over a bad spec).
    Key(String, Result<Spec, String>),
    /// `%s` and friends without a key format the whole target mapping;
    /// the flag records that an earlier directive already took the argument.
    Whole(Result<Spec, String>, bool),
    /// A malformed format: Python raises when it gets here.
    Fail(String),
}

#[derive(Clone, Debug, PartialEq, Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    prec: Option<usize>,
    conv: char,
}

/// What formatting produced: the text, or "a key was missing".
pub type Formatted<'a> = Result<Option<Cow<'a, str>>, String>;

impl Template {
    pub fn new(raw: &str) -> Template {
        let segs = raw.contains('%').then(|| compile(raw));
        Template {
            raw: raw.to_string(),
            segs,
        }
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `self.raw % target`: `Ok(None)` on a missing key, `Err` for what
    /// Python raises as `TypeError`/`ValueError`.
    pub fn format<'a>(&'a self, target: &'a Map<String, Value>) -> Formatted<'a> {
        let Some(segs) = &self.segs else {
            return Ok(Some(Cow::Borrowed(&self.raw)));
        };
        // The common `%(key)s` alone: no allocation for string values.
        if let [Seg::Key(key, Ok(spec))] = segs.as_slice()
            && spec.conv == 's'
            && spec.width == 0
            && spec.prec.is_none()
        {
            return Ok(match target.get(key) {
                None => None,
                Some(Value::String(s)) => Some(Cow::Borrowed(s)),
                Some(v) => {
                    let mut out = String::new();
                    py_str(v, &mut out);
                    Some(Cow::Owned(out))
                }
            });
        }
        let mut out = String::new();
        for seg in segs {
            match seg {
                Seg::Lit(s) => out.push_str(s),
                Seg::Key(key, spec) => {
                    let Some(v) = target.get(key) else {
                        return Ok(None);
                    };
                    format_one(spec.as_ref().map_err(Clone::clone)?, v, &mut out)?;
                }
                Seg::Whole(spec, taken) => {
                    if *taken {
                        return Err("not enough arguments for format string".into());
                    }
                    let spec = spec.as_ref().map_err(Clone::clone)?;
                    let whole = Value::Object(target.clone());
                    format_one(spec, &whole, &mut out)?;
                }
                Seg::Fail(msg) => return Err(msg.clone()),
            }
        }
        Ok(Some(Cow::Owned(out)))
    }
}

fn compile(raw: &str) -> Vec<Seg> {
    let chars: Vec<char> = raw.chars().collect();
    let mut segs = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let mut taken = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            lit.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            lit.push('%');
            i += 1;
            continue;
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(std::mem::take(&mut lit)));
        }
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            // Python counts nested parentheses inside the key.
            let mut depth = 1;
            let kstart = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            if depth > 0 {
                segs.push(Seg::Fail("incomplete format key".into()));
                return segs;
            }
            key = Some(chars[kstart..i - 1].iter().collect::<String>());
        }
        let spec = parse_spec(&chars, &mut i);
        let stop = spec.is_err();
        match key {
            Some(k) => segs.push(Seg::Key(k, spec)),
            None => segs.push(Seg::Whole(spec, taken)),
        }
        taken = true;
        if stop {
            return segs;
        }
    }
    if !lit.is_empty() {
        segs.push(Seg::Lit(lit));
    }
    segs
}

fn parse_spec(chars: &[char], i: &mut usize) -> Result<Spec, String> {
    let mut spec = Spec::default();
    while let Some(&c) = chars.get(*i) {
        match c {
            '-' => spec.left = true,
            '+' => spec.plus = true,
            ' ' => spec.space = true,
            '#' => spec.alt = true,
            '0' => spec.zero = true,
            _ => break,
        }
        *i += 1;
    }
    if chars.get(*i) == Some(&'*') {
        return Err("* wants int".into());
    }
    spec.width = digits(chars, i)?;
    if chars.get(*i) == Some(&'.') {
        *i += 1;
        if chars.get(*i) == Some(&'*') {
            return Err("* wants int".into());
        }
        spec.prec = Some(digits(chars, i)?);
    }
    while matches!(chars.get(*i), Some('h' | 'l' | 'L')) {
        *i += 1;
    }
    let Some(&conv) = chars.get(*i) else {
        return Err("incomplete format".into());
    };
    *i += 1;
    if !"sradiuoxXeEfFgGc".contains(conv) {
        return Err(format!(
            "unsupported format character '{conv}' (0x{:x}) at index {}",
            conv as u32,
            *i - 1
        ));
    }
    spec.conv = conv;
    Ok(spec)
}

fn digits(chars: &[char], i: &mut usize) -> Result<usize, String> {
    let mut n: usize = 0;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *i += 1;
    }
    if n > MAX_WIDTH {
        return Err("width or precision too big".into());
    }
    Ok(n)
}

fn format_one(spec: &Spec, v: &Value, out: &mut String) -> Result<(), String> {
    let body = match spec.conv {
        's' | 'r' | 'a' => {
            let mut s = String::new();
            match spec.conv {
                's' => py_str(v, &mut s),
                'r' => py_repr(v, &mut s, false),
                _ => py_repr(v, &mut s, true),
            }
            if let Some(p) = spec.prec {
                s = s.chars().take(p).collect();
            }
            s
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => return format_int(spec, v, out),
        c => {
            return Err(format!(
                "%{c} conversions are not supported by glimpse-policy"
            ));
        }
    };
    pad(out, &body, spec.width, spec.left, ' ');
    Ok(())
}

fn pad(out: &mut String, body: &str, width: usize, left: bool, fill: char) {
    let n = body.chars().count();
    let fill_n = width.saturating_sub(n);
    if left {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill_n));
    } else {
        out.extend(std::iter::repeat_n(fill, fill_n));
        out.push_str(body);
    }
}

/// The integer value of `v` as `%d` takes it (`int(v)`), as sign and
/// decimal magnitude digits.
fn int_of(v: &Value, conv: char) -> Result<(bool, String), String> {
    let type_name = match v {
        Value::Bool(b) => return Ok((false, if *b { "1" } else { "0" }.into())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok((i < 0, i.unsigned_abs().to_string()));
            }
            if let Some(u) = n.as_u64() {
                return Ok((false, u.to_string()));
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err("cannot convert float to integer".into());
            }
            if conv != 'd' && conv != 'i' && conv != 'u' {
                return Err(format!("%{conv} format: an integer is required, not float"));
            }
            let t = f.trunc();
            return Ok((t < 0.0, format!("{:.0}", t.abs())));
        }
        Value::Null => "NoneType",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    };
    Err(if matches!(conv, 'd' | 'i' | 'u') {
        format!("%{conv} format: a real number is required, not {type_name}")
    } else {
        format!("%{conv} format: an integer is required, not {type_name}")
    })
}

fn format_int(spec: &Spec, v: &Value, out: &mut String) -> Result<(), String> {
    let (neg, dec) = int_of(v, spec.conv)?;
    let mut mag = match spec.conv {
        'o' | 'x' | 'X' => {
            let radix = if spec.conv == 'o' { 8 } else { 16 };
            let s = to_radix(&dec, radix);
            if spec.conv == 'X' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => dec,
    };
    if let Some(p) = spec.prec {
        let n = mag.len();
        if p > n {
            mag = "0".repeat(p - n) + &mag;
        }
    }
    let mut prefix = String::new();
    if neg {
        prefix.push('-');
    } else if spec.plus {
        prefix.push('+');
    } else if spec.space {
        prefix.push(' ');
    }
    if spec.alt {
        prefix.push_str(match spec.conv {
            'o' => "0o",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        });
    }
    if spec.zero && !spec.left {
        out.push_str(&prefix);
        let width = spec.width.saturating_sub(prefix.len());
        pad(out, &mag, width, false, '0');
    } else {
        pad(out, &(prefix + &mag), spec.width, spec.left, ' ');
    }
    Ok(())
}

/// Decimal digits to another radix (the values are small in practice).
fn to_radix(dec: &str, radix: u32) -> String {
    let mut digits: Vec<u32> = dec.chars().filter_map(|c| c.to_digit(10)).collect();
    let mut out = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut rem = 0;
        for d in digits.iter_mut() {
            let cur = rem * 10 + *d;
            *d = cur / radix;
            rem = cur % radix;
        }
        out.push(std::char::from_digit(rem, radix).unwrap_or('0'));
    }
    if out.is_empty() {
        out.push('0');
    }
    out.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn fmt(t: &str, target: Value) -> Result<Option<String>, String> {
        let Value::Object(m) = target else { panic!() };
        Template::new(t)
            .format(&m)
            .map(|o| o.map(|c| c.into_owned()))
    }

    #[test]
    fn like_python_percent() {
        assert_eq!(fmt("%(a)s", json!({"a": null})).unwrap().unwrap(), "None");
        assert_eq!(fmt("%(a)s", json!({})).unwrap(), None);
        assert_eq!(
            fmt("%(a)-5s|%(a).2s|%(a)5r", json!({"a": "xyz"}))
                .unwrap()
                .unwrap(),
            "xyz  |xy|'xyz'"
        );
        assert_eq!(
            fmt("%s", json!({"a": 1, "b": [1, null, true, 1.5]}))
                .unwrap()
                .unwrap(),
            "{'a': 1, 'b': [1, None, True, 1.5]}"
        );
        assert!(fmt("%s %s", json!({})).is_err());
        assert!(fmt("%(a)s %s", json!({"a": 1})).is_err());
        assert_eq!(
            fmt("%s %(a)s", json!({"a": 1})).unwrap().unwrap(),
            "{'a': 1} 1"
        );
        assert_eq!(
            fmt(
                "%(a)d|%(b)05d|%(c)+d",
                json!({"a": true, "b": -3.7, "c": 2})
            )
            .unwrap()
            .unwrap(),
            "1|-0003|+2"
        );
        assert!(fmt("%(a)z %(b)s", json!({"a": 1})).is_err());
        assert_eq!(fmt("%(b)s %(a)z", json!({"a": 1})).unwrap(), None);
        assert_eq!(fmt("%(a)z", json!({})).unwrap(), None);
        assert!(fmt("%(a)d", json!({"a": "x"})).is_err());
        assert!(fmt("%(a", json!({})).is_err());
        assert!(fmt("100%", json!({})).is_err());
        assert_eq!(fmt("100%%", json!({})).unwrap().unwrap(), "100%");
        assert_eq!(
            fmt("%(a(b)c)s", json!({"a(b)c": "k"})).unwrap().unwrap(),
            "k"
        );
        assert_eq!(fmt("%(n)x", json!({"n": 255})).unwrap().unwrap(), "ff");
    }
}
