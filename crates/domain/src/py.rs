//! The few Python built-in behaviours Glance's rules lean on, reproduced so
//! edge cases answer the same: `str.strip()`, `int(str)`, `str.title()`,
//! `str(obj)` of parsed JSON, `iso8601.parse_date`, `urlencode`, and WebOb's
//! query-string parsing.

use std::fmt::Write as _;

use serde_json::Value;

/// `str.isspace()` for one character: Unicode White_Space plus the four
/// ASCII information separators Python also counts.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `s.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// The zero of every Unicode `Nd` run (each run is ten consecutive digits),
/// so `int()` accepts the same digits Python 3.11 does.
pub(crate) const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

fn decimal(c: char) -> Option<u32> {
    let c = c as u32;
    ND_ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&c))
        .map(|z| c - z)
}

/// The value of `int(s)` for a decimal string, or `None` where Python
/// raises `ValueError`. Python ints are unbounded: `Some(Err(sign))` says
/// the value does not fit an `i64` (the sign tells which way).
pub fn int(s: &str) -> Option<Result<i64, i8>> {
    let s = strip(s);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut acc: i128 = 0;
    let mut overflow = false;
    let mut prev_us = false;
    for c in digits.chars() {
        if c == '_' {
            if prev_us {
                return None;
            }
            prev_us = true;
            continue;
        }
        prev_us = false;
        let d = decimal(c)?;
        if !overflow {
            acc = acc * 10 + i128::from(d);
            if acc > i128::from(i64::MAX) + 1 {
                overflow = true;
            }
        }
    }
    let v = if neg { -acc } else { acc };
    Some(match i64::try_from(v) {
        Ok(v) if !overflow => Ok(v),
        _ => Err(if neg { -1 } else { 1 }),
    })
}

/// `s.title()`: a cased character after an uncased one is upper-cased, the
/// rest lower-cased (used in Glance's 4-byte-unicode message).
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        let cased = c.is_lowercase() || c.is_uppercase();
        if cased && !prev_cased {
            out.extend(c.to_uppercase());
        } else if cased {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_cased = cased;
    }
    out
}

/// `repr()` of a Python str, as `str(list)`/`str(dict)` print elements.
pub fn repr_str(s: &str) -> String {
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn repr_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&repr_str(s)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_value(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&repr_str(k));
                out.push_str(": ");
                repr_value(x, out);
            }
            out.push('}');
        }
    }
}

/// `repr(value)` of a parsed JSON value (Python's literal form).
pub fn repr(v: &Value) -> String {
    let mut out = String::new();
    repr_value(v, &mut out);
    out
}

/// `pprint.pformat(value, width=width, sort_dicts=False)`, as jsonschema
/// prints schemas and instances in its error messages: the one-line repr
/// when it fits, else one item per line with Python's alignment (and long
/// strings split into adjacent literals).
pub fn pformat(v: &Value, width: usize) -> String {
    let mut out = String::new();
    pformat_into(v, &mut out, 0, 0, 1, width);
    out
}

fn pformat_into(
    v: &Value,
    out: &mut String,
    indent: usize,
    allowance: usize,
    level: usize,
    width: usize,
) {
    let rep = repr(v);
    let max_width = width.saturating_sub(indent + allowance);
    if rep.chars().count() <= max_width {
        out.push_str(&rep);
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('{');
            let indent = indent + 1;
            let last = m.len() - 1;
            for (i, (k, x)) in m.iter().enumerate() {
                let krep = repr_str(k);
                out.push_str(&krep);
                out.push_str(": ");
                let a = if i == last { allowance + 1 } else { 1 };
                pformat_into(
                    x,
                    out,
                    indent + krep.chars().count() + 2,
                    a,
                    level + 1,
                    width,
                );
                if i != last {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(indent));
                }
            }
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            let indent = indent + 1;
            let last = a.len() - 1;
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(indent));
                }
                let al = if i == last { allowance + 1 } else { 1 };
                pformat_into(x, out, indent, al, level + 1, width);
            }
            out.push(']');
        }
        Value::String(s) if !s.is_empty() => pformat_str(s, out, indent, allowance, level, width),
        _ => out.push_str(&rep),
    }
}

/// `PrettyPrinter._pprint_str`.
fn pformat_str(
    s: &str,
    out: &mut String,
    indent: usize,
    allowance: usize,
    level: usize,
    width: usize,
) {
    let (indent, allowance) = if level == 1 {
        (indent + 1, allowance + 1)
    } else {
        (indent, allowance)
    };
    let max_width = width.saturating_sub(indent);
    let mut max_width1 = max_width;
    let lines: Vec<&str> = s.split_inclusive('\n').collect();
    let mut chunks: Vec<String> = Vec::new();
    let len = |x: &str| repr_str(x).chars().count();
    for (i, line) in lines.iter().enumerate() {
        let last_line = i == lines.len() - 1;
        if last_line {
            max_width1 = max_width1.saturating_sub(allowance);
        }
        if len(line) <= max_width1 {
            chunks.push(repr_str(line));
            continue;
        }
        // Alternating runs of non-space then space (`re.findall(r'\S*\s*')`).
        let mut parts: Vec<&str> = Vec::new();
        let mut start = 0;
        let b: Vec<(usize, char)> = line.char_indices().collect();
        let mut j = 0;
        while j < b.len() {
            while j < b.len() && !b[j].1.is_whitespace() {
                j += 1;
            }
            while j < b.len() && b[j].1.is_whitespace() {
                j += 1;
            }
            let end = if j < b.len() { b[j].0 } else { line.len() };
            parts.push(&line[start..end]);
            start = end;
        }
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (k, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if k == parts.len() - 1 && last_line {
                max_width2 = max_width2.saturating_sub(allowance);
            }
            if len(&candidate) > max_width2 {
                if !current.is_empty() {
                    chunks.push(repr_str(&current));
                }
                current = (*part).to_string();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(repr_str(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&repr_str(s));
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, c) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(c);
    }
    if level == 1 {
        out.push(')');
    }
}

/// `str(value)` of a parsed JSON value (strings print bare, containers in
/// Python's repr form). Float spelling may differ from Python's `repr`.
pub fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => {
            let mut out = String::new();
            repr_value(v, &mut out);
            out
        }
    }
}

/// `urllib.parse.quote_plus(s)` (UTF-8, nothing but `_.-~` and
/// alphanumerics left bare, spaces as `+`).
pub fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `urllib.parse.urlencode(pairs)`.
pub fn urlencode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&quote_plus(k));
        out.push('=');
        out.push_str(&quote_plus(v));
    }
    out
}

/// `urllib.parse.unquote` on text, invalid UTF-8 replaced: `%XX` escapes
/// decoded, anything else (a stray `%`) kept.
pub fn unquote(s: &str) -> String {
    String::from_utf8_lossy(&unquote_bytes(s.as_bytes())).into_owned()
}

/// `%XX` decoding on bytes (a stray `%` is kept).
pub fn unquote_bytes(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// WebOb's `parse_qsl_text`: split on `&` and `;`, `+` is a space, a
/// missing `=` gives an empty value, names and values are percent-decoded
/// and must be UTF-8 (Glance answers 400 otherwise: see
/// [`crate::DomainError`] and the text below).
pub fn parse_query_string(qs: &[u8]) -> Result<Vec<(String, String)>, crate::DomainError> {
    let mut out = Vec::new();
    let qs: Vec<u8> = qs
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    for part in qs.split(|&b| b == b'&' || b == b';') {
        if part.is_empty() {
            continue;
        }
        let (n, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let dec = |x: &[u8]| {
            String::from_utf8(unquote_bytes(x)).map_err(|_| {
                crate::DomainError::BadRequest(
                    "Error decoding your request. Either the URL or the request body \
                     contained characters that could not be decoded by Glance"
                        .to_string(),
                )
            })
        };
        out.push((dec(n)?, dec(v)?));
    }
    Ok(out)
}

/// A point in time with microseconds, stored as UTC.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00Z (may be negative).
    pub micros: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl Timestamp {
    /// From calendar fields in UTC; `None` if a field is out of range.
    pub fn from_utc(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> Option<Self> {
        if !(1..=9999).contains(&y)
            || !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || !(0..24).contains(&h)
            || !(0..60).contains(&mi)
            || !(0..60).contains(&s)
            || !(0..1_000_000).contains(&us)
        {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + s;
        Some(Timestamp {
            micros: secs * 1_000_000 + us,
        })
    }

    pub fn from_unix(secs: i64, micros: u32) -> Self {
        Timestamp {
            micros: secs.saturating_mul(1_000_000) + i64::from(micros % 1_000_000),
        }
    }

    fn fields(&self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let secs = self.micros.div_euclid(1_000_000);
        let us = self.micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, us)
    }

    /// `glance.common.timeutils.isotime`: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn isotime(&self) -> String {
        let (y, m, d, h, mi, s, _) = self.fields();
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// `datetime.isoformat()` of a naive UTC value (used by
    /// `jsonutils.to_primitive`): microseconds only when non-zero.
    pub fn isoformat(&self) -> String {
        let (y, m, d, h, mi, s, us) = self.fields();
        if us == 0 {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}")
        }
    }
}

fn iso_regex() -> Option<&'static regex_lite::Regex> {
    static RE: std::sync::OnceLock<Option<regex_lite::Regex>> = std::sync::OnceLock::new();
    // The iso8601 package's grammar. Its `(?!$)` after a two-digit month
    // (no `YYYYMM`) is expressed by making the day part mandatory in that
    // branch; the group names are split per branch. Python's `$` also
    // matches before one trailing newline.
    const T: &str = r"(?:(?P<SEP>[ T])(?P<HOUR>[0-9]{2})(?::?(?P<MIN>[0-9]{2}))?(?::?(?P<SEC>[0-9]{1,2})(?:[.,](?P<FRAC>[0-9]+))?)?(?P<TZ>Z|(?P<TZS>[-+])(?P<TZH>[0-9]{2}):?(?P<TZM>[0-9]{2})?)?)?";
    RE.get_or_init(|| {
        let pat = format!(
            r"^(?P<year>[0-9]{{4}})(?:-(?P<monthdash>[0-9]{{1,2}})(?:(?:-(?P<daydash1>[0-9]{{1,2}})|(?P<day1>[0-9]{{2}})){t1})?|(?P<month>[0-9]{{2}})(?:-(?P<daydash2>[0-9]{{1,2}})|(?P<day2>[0-9]{{2}})){t2})?\n?$",
            t1 = T.replace("?P<", "?P<a_"),
            t2 = T.replace("?P<", "?P<b_")
        );
        regex_lite::Regex::new(&pat).ok()
    })
    .as_ref()
}

/// `oslo_utils.timeutils.parse_isotime` followed by `normalize_time`:
/// the `iso8601` grammar, UTC when no zone is given. `None` where Python
/// raises `ValueError`.
pub fn parse_isotime(s: &str) -> Option<Timestamp> {
    let c = iso_regex()?.captures(s)?;
    let g = |n: &str| c.name(n).map(|m| m.as_str());
    let num = |x: &str| x.parse::<i64>().ok();
    let year = num(g("year")?)?;
    let month = match (g("monthdash"), g("month")) {
        (Some(m), _) | (None, Some(m)) => num(m)?,
        _ => 1,
    };
    let day = ["daydash1", "day1", "daydash2", "day2"]
        .iter()
        .find_map(|n| g(n))
        .map_or(Some(1), num)?;
    let p = if g("a_SEP").is_some() { "a_" } else { "b_" };
    let t = |n: &str| g(&format!("{p}{n}"));
    let hour = t("HOUR").map_or(Some(0), num)?;
    let minute = t("MIN").map_or(Some(0), num)?;
    let second = t("SEC").map_or(Some(0), num)?;
    let micro = match t("FRAC") {
        Some(f) => {
            let mut digits: String = f.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            num(&digits)?
        }
        None => 0,
    };
    let offset_min = match t("TZ") {
        None | Some("Z") => 0,
        Some(_) => {
            let h = t("TZH").map_or(Some(0), num)?;
            let m = t("TZM").map_or(Some(0), num)?;
            let total = h * 60 + m;
            // datetime.timezone needs |offset| < 24h.
            if total >= 24 * 60 {
                return None;
            }
            if t("TZS") == Some("-") { -total } else { total }
        }
    };
    let ts = Timestamp::from_utc(year, month, day, hour, minute, second, micro)?;
    Some(Timestamp {
        micros: ts.micros - offset_min * 60_000_000,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn python_int() {
        assert_eq!(int(" 12 "), Some(Ok(12)));
        assert_eq!(int("+1"), Some(Ok(1)));
        assert_eq!(int("1_000"), Some(Ok(1000)));
        assert_eq!(int("1__0"), None);
        assert_eq!(int("_1"), None);
        assert_eq!(int("１"), Some(Ok(1)));
        assert_eq!(int("1.5"), None);
        assert_eq!(int(""), None);
        assert_eq!(int("-"), None);
        assert_eq!(int("99999999999999999999999"), Some(Err(1)));
        assert_eq!(int("-99999999999999999999999"), Some(Err(-1)));
        assert_eq!(int("-9223372036854775808"), Some(Ok(i64::MIN)));
    }

    #[test]
    fn python_title_and_repr() {
        assert_eq!(title("os_distro"), "Os_Distro");
        assert_eq!(title("name"), "Name");
        assert_eq!(str_of(&serde_json::json!([])), "[]");
        assert_eq!(
            str_of(&serde_json::json!({"a": [1, null, true]})),
            "{'a': [1, None, True]}"
        );
        assert_eq!(repr_str("it's"), "\"it's\"");
    }

    #[test]
    fn query_strings() {
        let q = parse_query_string(b"a=1&b=x+y;c&d=%E2%82%AC&&e=%zz").unwrap();
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "€".into()),
                ("e".into(), "%zz".into()),
            ]
        );
        assert_eq!(parse_query_string(b"x=%FF").unwrap_err().status(), 400);
        assert_eq!(
            urlencode([("sort", "name:asc"), ("x", "€ y")]),
            "sort=name%3Aasc&x=%E2%82%AC+y"
        );
    }

    #[test]
    fn iso8601() {
        let t = |s| parse_isotime(s).map(|t| t.isoformat());
        assert_eq!(t("2020").as_deref(), Some("2020-01-01T00:00:00"));
        assert_eq!(t("2020-1").as_deref(), Some("2020-01-01T00:00:00"));
        assert_eq!(t("202001"), None);
        assert_eq!(t("20200102").as_deref(), Some("2020-01-02T00:00:00"));
        assert_eq!(
            t("2020-01-02T03:04:05.5+01:30").as_deref(),
            Some("2020-01-02T01:34:05.500000")
        );
        assert_eq!(t("2020-01-02 0304").as_deref(), Some("2020-01-02T03:04:00"));
        assert_eq!(t("2020-13-01"), None);
        assert_eq!(t("2020-02-30"), None);
        assert_eq!(t("2020-01-01T10:00:00+25:00"), None);
        assert_eq!(
            t("2020-01-01T10:00:00Z\n").as_deref(),
            Some("2020-01-01T10:00:00")
        );
        assert_eq!(t("x"), None);
        assert_eq!(t("0000"), None);
        assert_eq!(
            Timestamp::from_utc(2026, 11, 21, 17, 6, 23, 5)
                .unwrap()
                .isotime(),
            "2026-11-21T17:06:23Z"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod pformat_tests {
    /// Cases printed by CPython 3.11's `pprint.pformat(v, width=72,
    /// sort_dicts=False)`.
    #[test]
    fn matches_cpython() {
        let cases: Vec<(serde_json::Value, String)> =
            serde_json::from_str(include_str!("../tests/pformat_cases.json")).unwrap();
        for (v, want) in cases {
            assert_eq!(super::pformat(&v, 72), want, "{v}");
        }
    }
}
