//! Python-compatible text helpers.
//!
//! oslo.config error messages embed Python `repr()` of strings, `%g` of
//! numbers and `int()`/`float()` failure texts; operators and tests grep for
//! those exact strings, so they are reproduced here.

/// Python's `str.isspace()` set: Unicode whitespace plus the ASCII
/// information separators that Rust does not count as whitespace.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

pub(crate) fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

pub(crate) fn py_lstrip(s: &str) -> &str {
    s.trim_start_matches(is_py_space)
}

/// Python `repr()` of a `str`.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
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
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Splits Rust's shortest `{:e}` rendering into (digits, decimal exponent).
fn sci_parts(x: f64, precision: Option<usize>) -> (String, i32) {
    let s = match precision {
        Some(p) => format!("{:.*e}", p, x.abs()),
        None => format!("{:e}", x.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn render(neg: bool, digits: &str, exp: i32, fixed: bool, keep_point_zero: bool) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if fixed {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                if keep_point_zero {
                    out.push_str(".0");
                }
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    }
    out
}

/// Python `'%g' % x` (six significant digits, trailing zeros removed).
pub fn py_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits, exp) = sci_parts(x, Some(5));
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    render(x < 0.0, digits, exp, (-4..6).contains(&exp), false)
}

/// Python `repr()` of a `float` (shortest round-trip form).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let (digits, exp) = sci_parts(x, None);
    render(x < 0.0, &digits, exp, (-4..16).contains(&exp), true)
}

/// Removes PEP 515 underscores, which Python accepts only between digits.
fn strip_underscores(s: &str) -> Option<String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == '_' {
            let prev_ok = i > 0 && b[i - 1].is_ascii_digit();
            let next_ok = b.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if !(prev_ok && next_ok) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Python `int(value)` for base 10, with Python's failure text.
pub fn py_int(value: &str) -> Result<i64, String> {
    let fail = || format!("invalid literal for int() with base 10: {}", py_repr(value));
    let t = py_strip(value);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(fail());
    }
    let cleaned = strip_underscores(t).ok_or_else(fail)?;
    let digits = cleaned.strip_prefix(['+', '-']).unwrap_or(&cleaned);
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(fail());
    }
    cleaned
        .parse::<i64>()
        .map_err(|_| format!("integer value {} is out of range", py_repr(value)))
}

/// Python `float(value)`, with Python's failure text.
pub fn py_float(value: &str) -> Result<f64, String> {
    let fail = || format!("could not convert string to float: {}", py_repr(value));
    let t = py_strip(value);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t).to_ascii_lowercase();
    let special = matches!(body.as_str(), "inf" | "infinity" | "nan");
    if !special
        && !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | '_'))
    {
        return Err(fail());
    }
    let cleaned = strip_underscores(t).ok_or_else(fail)?;
    cleaned.parse::<f64>().map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'\""), "'a\\'\"'");
        assert_eq!(py_repr("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(py_repr("\u{1}"), "'\\x01'");
    }

    #[test]
    fn g_matches_python() {
        assert_eq!(py_g(0.0), "0");
        assert_eq!(py_g(65535.0), "65535");
        assert_eq!(py_g(1.5), "1.5");
        assert_eq!(py_g(1_000_000.0), "1e+06");
        assert_eq!(py_g(1e20), "1e+20");
        assert_eq!(py_g(0.0001), "0.0001");
        assert_eq!(py_g(0.00001), "1e-05");
        assert_eq!(py_g(-3.0), "-3");
        assert_eq!(py_g(123456.7), "123457");
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(py_float_repr(3.0), "3.0");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1e15), "1000000000000000.0");
        assert_eq!(py_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(py_float_repr(-2.5), "-2.5");
    }

    #[test]
    fn int_parse_matches_python() {
        assert_eq!(py_int(" 7 "), Ok(7));
        assert_eq!(py_int("+5"), Ok(5));
        assert_eq!(py_int("-0"), Ok(0));
        assert_eq!(py_int("1_000"), Ok(1000));
        assert_eq!(
            py_int("abc"),
            Err("invalid literal for int() with base 10: 'abc'".into())
        );
        assert_eq!(
            py_int("1.5"),
            Err("invalid literal for int() with base 10: '1.5'".into())
        );
        assert!(py_int("0x10").is_err());
        assert!(py_int("1__0").is_err());
        assert!(py_int("_1").is_err());
        assert!(py_int("-").is_err());
    }

    #[test]
    fn float_parse_matches_python() {
        assert_eq!(py_float("1e3"), Ok(1000.0));
        assert_eq!(py_float(" 1.5 "), Ok(1.5));
        assert!(py_float("nan").is_ok_and(f64::is_nan));
        assert_eq!(py_float("-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(
            py_float("x"),
            Err("could not convert string to float: 'x'".into())
        );
    }
}
