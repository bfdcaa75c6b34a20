//! Policy files as PyYAML's `safe_load` sees them.
//!
//! oslo.policy reads YAML and JSON files alike with PyYAML, a YAML 1.1
//! loader: plain `yes`/`off` are booleans, `1e5` is a string, `~` is null.
//! A rule's value only matters through its Python type (string: the rule
//! language; anything else: the list form, where falsy values mean "always"
//! and truthy scalars are a `TypeError`), so plain scalars are resolved with
//! PyYAML's 1.1 rules into [`Doc`], not yaml-rust2's 1.2 ones.

use yaml_rust2::parser::{Event, EventReceiver, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Nesting deeper than this is refused (PyYAML's recursive composer would
/// hit Python's recursion limit not far above it).
const MAX_NESTING: usize = 200;

/// A loaded YAML node, reduced to what oslo's handling distinguishes.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    /// An int or float; the flag says whether it is non-zero (truthy).
    Number(bool),
    Str(String),
    Seq(Vec<Doc>),
    Map(Vec<(Doc, Doc)>),
    /// A timestamp or other truthy scalar that is not iterable.
    Other,
    /// The `<<` merge key (only ever a mapping key).
    MergeKey,
}

impl Doc {
    /// Python's truth value.
    pub fn truthy(&self) -> bool {
        match self {
            Doc::Null => false,
            Doc::Bool(b) | Doc::Number(b) => *b,
            Doc::Str(s) => !s.is_empty(),
            Doc::Seq(v) => !v.is_empty(),
            Doc::Map(m) => !m.is_empty(),
            Doc::Other | Doc::MergeKey => true,
        }
    }

    /// `for x in value`: items of a list, keys of a mapping, characters of
    /// a string; a `TypeError` for the rest.
    pub fn iter_items(&self) -> Result<Vec<&Doc>, String> {
        match self {
            Doc::Seq(v) => Ok(v.iter().collect()),
            Doc::Map(m) => Ok(m.iter().map(|(k, _)| k).collect()),
            Doc::Str(_) => Err("a string is not a list rule".into()),
            other => Err(format!("{other:?} is not iterable")),
        }
    }
}

/// Parses a policy file's text into its top-level mapping, keeping the
/// string keys in order (later duplicates win, as in a Python dict).
/// An empty or falsy document is an empty mapping; any other non-mapping
/// document is an error, as oslo fails on `.items()`.
pub fn load_mapping(text: &str) -> Result<Vec<(String, Doc)>, String> {
    let doc = std::panic::catch_unwind(|| load(text))
        .map_err(|_| "the YAML parser failed on this input".to_string())??;
    let Some(doc) = doc else {
        return Ok(Vec::new());
    };
    if !doc.truthy() {
        return Ok(Vec::new());
    }
    let Doc::Map(entries) = doc else {
        return Err("the policy file is not a mapping of rule names to rules".into());
    };
    let mut out: Vec<(String, Doc)> = Vec::new();
    for (k, v) in entries {
        // Non-string keys can never be named by `enforce` or `rule:`.
        let Doc::Str(k) = k else { continue };
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    Ok(out)
}

fn load(text: &str) -> Result<Option<Doc>, String> {
    let mut b = Builder::default();
    Parser::new_from_str(text)
        .load(&mut b, true)
        .map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    if b.docs.len() > 1 {
        return Err("expected a single document in the stream".into());
    }
    Ok(b.docs.pop())
}

enum Frame {
    Seq(Vec<Doc>, usize),
    Map(Vec<(Doc, Doc)>, Option<Doc>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Doc>,
    anchors: Vec<(usize, Doc)>,
    error: Option<String>,
}

impl Builder {
    fn fail(&mut self, msg: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(msg.into());
        }
    }

    fn finish_node(&mut self, node: Doc, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, key, _)) => match key.take() {
                None => {
                    if matches!(node, Doc::Seq(_) | Doc::Map(_)) {
                        self.error
                            .get_or_insert_with(|| "found unhashable key".into());
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl EventReceiver for Builder {
    fn on_event(&mut self, ev: Event) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| {
                    let handle = if t.handle == "!!" {
                        "tag:yaml.org,2002:".to_string()
                    } else {
                        t.handle
                    };
                    handle + &t.suffix
                });
                match resolve(value, style, tag.as_deref()) {
                    Ok(doc) => self.finish_node(doc, anchor),
                    Err(e) => self.fail(e),
                }
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if tag.is_some() =>
            {
                let _ = anchor;
                self.fail("explicit tags on collections are not supported");
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_NESTING {
                    return self.fail("the policy file is nested too deeply");
                }
                self.stack.push(Frame::Seq(Vec::new(), anchor));
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_NESTING {
                    return self.fail("the policy file is nested too deeply");
                }
                self.stack.push(Frame::Map(Vec::new(), None, anchor));
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(items, anchor)) => self.finish_node(Doc::Seq(items), anchor),
                Some(Frame::Map(entries, _, anchor)) => {
                    let entries = merge_keys(entries);
                    self.finish_node(Doc::Map(entries), anchor)
                }
                None => self.fail("unbalanced collection events"),
            },
            Event::Alias(id) => match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, doc)) => {
                    let doc = doc.clone();
                    self.finish_node(doc, 0);
                }
                None => self.fail("found undefined alias"),
            },
            _ => {}
        }
    }
}

/// YAML 1.1's `<<` merge key, which PyYAML's safe loader honours.
fn merge_keys(entries: Vec<(Doc, Doc)>) -> Vec<(Doc, Doc)> {
    if !entries.iter().any(|(k, _)| *k == Doc::MergeKey) {
        return entries;
    }
    let mut merged: Vec<(Doc, Doc)> = Vec::new();
    let mut own = Vec::new();
    for (k, v) in entries {
        if k == Doc::MergeKey {
            let sources = match v {
                Doc::Map(m) => vec![m],
                Doc::Seq(items) => items
                    .into_iter()
                    .filter_map(|d| match d {
                        Doc::Map(m) => Some(m),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for m in sources {
                for (mk, mv) in m {
                    if !merged.iter().any(|(k2, _)| *k2 == mk) {
                        merged.push((mk, mv));
                    }
                }
            }
        } else {
            own.push((k, v));
        }
    }
    merged.retain(|(k, _)| !own.iter().any(|(k2, _)| k2 == k));
    merged.extend(own);
    merged
}

fn resolve(value: String, style: TScalarStyle, tag: Option<&str>) -> Result<Doc, String> {
    if let Some(tag) = tag {
        return match tag.strip_prefix("tag:yaml.org,2002:") {
            Some("str") => Ok(Doc::Str(value)),
            Some("null") => Ok(Doc::Null),
            Some("bool") => Ok(Doc::Bool(matches!(
                value.as_str(),
                "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON"
            ))),
            Some("int" | "float") => Ok(Doc::Number(nonzero(&value))),
            _ => Err(format!(
                "could not determine a constructor for the tag {tag}"
            )),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Doc::Str(value));
    }
    Ok(resolve_plain(value))
}

/// PyYAML's implicit resolvers for plain scalars.
fn resolve_plain(v: String) -> Doc {
    match v.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Doc::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Doc::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Doc::Bool(false);
        }
        "<<" => return Doc::MergeKey,
        _ => {}
    }
    if is_int(&v) || is_float(&v) {
        return Doc::Number(nonzero(&v));
    }
    if is_timestamp(&v) {
        return Doc::Other;
    }
    Doc::Str(v)
}

fn all_in(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

fn unsign(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

fn is_int(v: &str) -> bool {
    let s = unsign(v);
    if let Some(b) = s.strip_prefix("0b") {
        return all_in(b, |c| c == '0' || c == '1' || c == '_');
    }
    if let Some(h) = s.strip_prefix("0x") {
        return all_in(h, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if s == "0" {
        return true;
    }
    if let Some(o) = s.strip_prefix('0') {
        return all_in(o, |c| ('0'..='7').contains(&c) || c == '_');
    }
    if !s.starts_with(|c: char| ('1'..='9').contains(&c)) {
        return false;
    }
    // Decimal, or sexagesimal `1:30:00`.
    let mut parts = s.split(':');
    let head = parts.next().unwrap_or("");
    all_in(head, |c| c.is_ascii_digit() || c == '_') && parts.all(sexagesimal_part)
}

fn sexagesimal_part(p: &str) -> bool {
    (1..=2).contains(&p.len())
        && p.chars().all(|c| c.is_ascii_digit())
        && (p.len() == 1 || p.as_bytes()[0] <= b'5')
}

fn is_float(v: &str) -> bool {
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let s = unsign(v);
    if matches!(s, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(e) = exp {
        // PyYAML requires a signed exponent.
        let Some(digits) = e.strip_prefix(['-', '+']) else {
            return false;
        };
        if !all_in(digits, |c| c.is_ascii_digit()) {
            return false;
        }
    }
    let Some((int, frac)) = mant.split_once('.') else {
        return false;
    };
    if frac.contains('.') {
        return false;
    }
    let frac_ok = frac.chars().all(|c| c.is_ascii_digit() || c == '_');
    if int.is_empty() {
        // `.5`: the fraction must start with a digit, and no exponent-less
        // sign is allowed before the dot in this form.
        return v == s && frac.starts_with(|c: char| c.is_ascii_digit()) && frac_ok;
    }
    if int.contains(':') {
        let mut parts = int.split(':');
        let head = parts.next().unwrap_or("");
        return exp.is_none()
            && head.starts_with(|c: char| c.is_ascii_digit())
            && all_in(head, |c| c.is_ascii_digit() || c == '_')
            && parts.all(sexagesimal_part)
            && frac_ok;
    }
    int.starts_with(|c: char| c.is_ascii_digit())
        && all_in(int, |c| c.is_ascii_digit() || c == '_')
        && frac_ok
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && v[5..].starts_with(|c: char| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_digit() || "-:.+ TtZz".contains(c))
}

/// Whether a numeric scalar is non-zero (its truth value).
fn nonzero(v: &str) -> bool {
    let s = unsign(v);
    if s.contains("nan")
        || s.contains("NaN")
        || s.contains("NAN")
        || s.contains("inf")
        || s.contains("Inf")
        || s.contains("INF")
    {
        return true;
    }
    let body = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0b"))
        .unwrap_or(s);
    let mant = match body.find(['e', 'E']) {
        Some(i) if !s.starts_with("0x") => &body[..i],
        _ => body,
    };
    mant.chars().any(|c| c.is_ascii_alphanumeric() && c != '0')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pyyaml_scalars() {
        let m = load_mapping(
            "a: yes\nb: 'yes'\nc: 1e5\nd: 1.0e+5\ne: 0\nf: ~\ng: role:admin\nh: 0x0\ni: 2024-01-01\nj: []\nk: 0.0\nl: .5\n",
        )
        .unwrap();
        let get = |k: &str| m.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("a"), Doc::Bool(true));
        assert_eq!(get("b"), Doc::Str("yes".into()));
        assert_eq!(get("c"), Doc::Str("1e5".into()));
        assert_eq!(get("d"), Doc::Number(true));
        assert_eq!(get("e"), Doc::Number(false));
        assert_eq!(get("f"), Doc::Null);
        assert_eq!(get("g"), Doc::Str("role:admin".into()));
        assert_eq!(get("h"), Doc::Number(false));
        assert_eq!(get("i"), Doc::Other);
        assert_eq!(get("j"), Doc::Seq(vec![]));
        assert_eq!(get("k"), Doc::Number(false));
        assert_eq!(get("l"), Doc::Number(true));
    }

    #[test]
    fn documents() {
        assert!(load_mapping("").unwrap().is_empty());
        assert!(load_mapping("# only a comment\n").unwrap().is_empty());
        assert!(load_mapping("[]").unwrap().is_empty());
        assert!(load_mapping("false").unwrap().is_empty());
        assert!(load_mapping("- a\n- b\n").is_err());
        assert!(load_mapping("just text").is_err());
        assert!(load_mapping("a: [\n").is_err());
        assert!(load_mapping("a: b\n---\nc: d\n").is_err());
        let m = load_mapping("{\"a\": \"role:x\", \"a\": \"role:y\", \"1\": \"\"}").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], ("a".into(), Doc::Str("role:y".into())));
        let deep = "[".repeat(10_000);
        assert!(load_mapping(&deep).is_err());
    }
}
