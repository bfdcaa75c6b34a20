//! Helpers shared by the filters: error bodies, `Accept` negotiation as
//! WebOb does it, and oslo.config-style parsing of paste option strings.

use glimpse_http::Response;
use http::{HeaderMap, Method, StatusCode};

use crate::paste::{ConfMap, FactoryContext};
use glimpse_config::{ConfigError, ConfigOpts};

/// The service configuration in the loader state, if there is one.
pub(crate) fn oslo_conf(ctx: &FactoryContext) -> Option<&ConfigOpts> {
    ctx.state::<ConfigOpts>().or_else(|| {
        ctx.state::<std::sync::Arc<ConfigOpts>>()
            .map(|a| a.as_ref())
    })
}

/// A filter's settings: oslo defaults, read from `[group]` options when the
/// loader state holds the service configuration, overridden by the paste
/// section's keys.
pub(crate) trait FilterSettings: Default + Sized {
    fn from_conf(conf: &ConfigOpts, paste_conf: &ConfMap) -> Result<Self, String>;
    fn apply_overrides(&mut self, paste_conf: &ConfMap) -> Result<(), String>;
}

/// Build a filter's settings for a factory call (oslo.middleware's
/// `ConfigurableMiddleware` lookup order).
pub(crate) fn settings_for<S: FilterSettings>(
    ctx: &FactoryContext,
    local: &crate::paste::LocalConf,
) -> Result<S, crate::paste::PasteError> {
    let merged = ctx.merged_conf(local);
    match oslo_conf(ctx) {
        Some(conf) => S::from_conf(conf, &merged),
        None => {
            let mut s = S::default();
            s.apply_overrides(&merged).map(|_| s)
        }
    }
    .map_err(|m| ctx.error(m))
}

/// Explain a config lookup failure, pointing at the usual cause.
pub(crate) fn conf_error(group: &str, e: ConfigError) -> String {
    match e {
        ConfigError::NoSuchOpt { .. } | ConfigError::NoSuchGroup(_) => format!(
            "{e} (register the [{group}] options with glimpse_runtime::middleware::register_all_opts before parsing)"
        ),
        e => e.to_string(),
    }
}

/// Python-style JSON (`json.dumps(v, indent=4, sort_keys=True)`, with
/// `ensure_ascii`): keys are emitted in the map's order, so callers insert
/// them sorted.
pub(crate) fn py_json_pretty(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(v, 0, &mut out);
    out
}

fn write_json(v: &serde_json::Value, level: usize, out: &mut String) {
    use serde_json::Value;
    let pad = |n: usize| "    ".repeat(n);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_str(s, out),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&pad(level + 1));
                write_json(item, level + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(level));
            out.push(']');
        }
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&pad(level + 1));
                write_json_str(k, out);
                out.push_str(": ");
                write_json(item, level + 1, out);
            }
            out.push('\n');
            out.push_str(&pad(level));
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A WebOb-compatible error response (body format chosen by `Accept`).
pub(crate) fn error_response(
    status: StatusCode,
    explanation: Option<&str>,
    detail: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
) -> Response {
    let mut e = glimpse_http::fault::HttpError::new(status);
    if let Some(x) = explanation {
        e = e.explanation(x);
    }
    if let Some(d) = detail {
        e = e.detail(d);
    }
    e.render(headers, method)
}

/// WebOb's `Accept.acceptable_offers(offers)`: the offers the header
/// accepts, best quality first (ties keep the offers' order). No header, or
/// an unparsable one, accepts every offer.
pub(crate) fn acceptable_offers<'a>(accept: Option<&str>, offers: &[&'a str]) -> Vec<&'a str> {
    let Some(header) = accept else {
        return offers.to_vec();
    };
    let Some(ranges) = parse_accept(header) else {
        return offers.to_vec();
    };
    let mut scored: Vec<(usize, u32, &'a str)> = Vec::new();
    for (i, offer) in offers.iter().enumerate() {
        let (otype, osub) = offer.split_once('/').unwrap_or((offer, ""));
        // The most specific matching range decides the quality.
        let mut best: Option<(u8, u32)> = None;
        for r in &ranges {
            let spec = if r.has_params {
                // A range with parameters never matches a bare offer.
                continue;
            } else if r.typ == "*" && r.sub == "*" {
                1
            } else if r.typ.eq_ignore_ascii_case(otype) && r.sub == "*" {
                2
            } else if r.typ.eq_ignore_ascii_case(otype) && r.sub.eq_ignore_ascii_case(osub) {
                3
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| spec > s) {
                best = Some((spec, r.q));
            }
        }
        if let Some((_, q)) = best
            && q > 0
        {
            scored.push((i, q, offer));
        }
    }
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().map(|(_, _, o)| o).collect()
}

struct AcceptRange {
    typ: String,
    sub: String,
    /// Quality in thousandths.
    q: u32,
    has_params: bool,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parse an `Accept` header; `None` if it is not valid (WebOb then
/// treats it as accepting everything).
fn parse_accept(header: &str) -> Option<Vec<AcceptRange>> {
    let mut out = Vec::new();
    for item in header.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let mut parts = item.split(';');
        let media = parts.next()?.trim();
        let (typ, sub) = media.split_once('/')?;
        if !is_token(typ) || !is_token(sub) || (typ == "*" && sub != "*") {
            return None;
        }
        let mut q = 1000;
        let mut has_params = false;
        for p in parts {
            let (k, v) = p.trim().split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("q") {
                q = parse_qvalue(v)?;
                // Anything after q is an accept-extension, not a media param.
                break;
            }
            if !is_token(k) || v.is_empty() {
                return None;
            }
            has_params = true;
        }
        out.push(AcceptRange {
            typ: typ.to_string(),
            sub: sub.to_string(),
            q,
            has_params,
        });
    }
    Some(out)
}

/// RFC 7231 qvalue: `0[.ddd]` or `1[.000]`, in thousandths.
fn parse_qvalue(v: &str) -> Option<u32> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u32::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// oslo.config `Boolean`.
pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        _ => Err(format!(
            "Unexpected boolean value {} for option {key}",
            crate::paste::py_repr(v)
        )),
    }
}

/// oslo.config `Integer`.
pub(crate) fn parse_int(key: &str, v: &str) -> Result<i64, String> {
    v.trim().parse::<i64>().map_err(|_| {
        format!(
            "invalid literal for int() with base 10: {} (option {key})",
            crate::paste::py_repr(v)
        )
    })
}

/// oslo.config `List` of strings: strip, drop one trailing comma run,
/// split on commas, strip each item (empty items are kept).
pub(crate) fn parse_list(v: &str) -> Vec<String> {
    let s = v.trim().trim_end_matches(',');
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|i| i.trim().to_string()).collect()
}

/// Reads paste overrides for oslo-style options (`global_conf` updated with
/// `local_conf`, as `ConfigurableMiddleware._conf_get` consults them).
pub(crate) struct Overrides<'a>(pub &'a ConfMap);

impl Overrides<'_> {
    pub fn bool(&self, key: &str, cur: &mut bool) -> Result<(), String> {
        if let Some(v) = self.0.get(key) {
            *cur = parse_bool(key, v)?;
        }
        Ok(())
    }

    pub fn int(&self, key: &str, cur: &mut i64) -> Result<(), String> {
        if let Some(v) = self.0.get(key) {
            *cur = parse_int(key, v)?;
        }
        Ok(())
    }

    pub fn list(&self, key: &str, cur: &mut Vec<String>) {
        if let Some(v) = self.0.get(key) {
            *cur = parse_list(v);
        }
    }

    pub fn opt_str(&self, key: &str, cur: &mut Option<String>) {
        if let Some(v) = self.0.get(key) {
            *cur = Some(v.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFERS: [&str; 3] = ["text/plain", "text/html", "application/json"];

    #[test]
    fn negotiation_matches_webob() {
        let cases: &[(Option<&str>, &[&str])] = &[
            (None, &["text/plain", "text/html", "application/json"]),
            (Some("application/json"), &["application/json"]),
            (Some("text/html;level=1"), &[]),
            (
                Some("*/*;q=0.5, application/json"),
                &["application/json", "text/plain", "text/html"],
            ),
            (
                Some("text/*;q=0.9, application/json;q=0.95"),
                &["application/json", "text/plain", "text/html"],
            ),
            (
                Some("text/plain;q=0, */*"),
                &["text/html", "application/json"],
            ),
            (
                Some("garbage;;"),
                &["text/plain", "text/html", "application/json"],
            ),
            (
                Some("application/json;q=0.5, text/html;q=0.5"),
                &["text/html", "application/json"],
            ),
            (Some(""), &[]),
            (Some("TEXT/HTML"), &["text/html"]),
        ];
        for (h, want) in cases {
            assert_eq!(acceptable_offers(*h, &OFFERS), want.to_vec(), "{h:?}");
        }
    }

    #[test]
    fn oslo_types() {
        assert_eq!(parse_list(" a, b ,,c,, "), vec!["a", "b", "", "c"]);
        assert!(parse_list("  ").is_empty());
        assert_eq!(parse_bool("k", "Yes"), Ok(true));
        assert!(parse_bool("k", "maybe").is_err());
        assert_eq!(parse_int("k", " 12 "), Ok(12));
    }
}
