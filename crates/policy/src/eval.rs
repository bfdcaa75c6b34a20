//! Evaluating a check tree against a target and credentials, as oslo's
//! check classes do.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::check::{Check, MAX_DEPTH};
use crate::literal::Kind;
use crate::pyval::py_str_owned;

/// Credentials or a target: string keys to JSON-like values, as Python's
/// dicts hold them (`None` is `Value::Null`).
pub type Values = Map<String, Value>;

/// The name oslo falls back to for unknown rules (`policy_default_rule`).
pub const DEFAULT_RULE: &str = "default";

/// What one evaluation sees.
pub(crate) struct Scope<'a> {
    pub rules: &'a HashMap<String, Check>,
    pub target: &'a Values,
    pub creds: &'a Values,
    /// oslo copies a truthy `system_scope` into `creds['system']`.
    pub system: Option<&'a Value>,
}

impl<'a> Scope<'a> {
    pub fn new(rules: &'a HashMap<String, Check>, target: &'a Values, creds: &'a Values) -> Self {
        let system = creds
            .get("system_scope")
            .filter(|v| crate::pyval::truthy(Some(v)));
        Scope {
            rules,
            target,
            creds,
            system,
        }
    }

    /// A top-level credential, with oslo's `system` alias applied.
    pub fn cred(&self, key: &str) -> Option<&'a Value> {
        match (key, self.system) {
            ("system", Some(v)) => Some(v),
            _ => self.creds.get(key),
        }
    }

    /// Evaluates `check`; `Err` is what oslo would raise.
    pub fn eval(&self, check: &Check, depth: usize) -> Result<bool, String> {
        if depth > MAX_DEPTH {
            return Err("maximum recursion depth exceeded".into());
        }
        match check {
            Check::True => Ok(true),
            Check::False => Ok(false),
            Check::TooDeep => Err("maximum recursion depth exceeded".into()),
            Check::External { kind, target } => {
                log::debug!("{kind}:{target}: remote checks are unsupported; failing");
                Ok(false)
            }
            Check::Not(inner) => Ok(!self.eval(inner, depth + 1)?),
            Check::And(rules) => {
                for r in rules {
                    if !self.eval(r, depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Check::Or(rules) => {
                for r in rules {
                    if self.eval(r, depth + 1)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // A missing rule falls back to the `default` rule when there is
            // one (oslo's `Rules.__missing__`), otherwise fails closed.
            Check::Rule(name) => match self
                .rules
                .get(name)
                .or_else(|| self.rules.get(DEFAULT_RULE))
            {
                Some(rule) => self.eval(rule, depth + 1),
                None => Ok(false),
            },
            Check::Role(template) => {
                let Some(wanted) = template.format(self.target)? else {
                    return Ok(false);
                };
                self.has_role(&wanted)
            }
            Check::Generic { class, matcher, .. } => {
                let Some(wanted) = matcher.format(self.target)? else {
                    return Ok(false);
                };
                match class {
                    Kind::Literal(Some(lit)) => Ok(*lit == *wanted),
                    Kind::Literal(None) => Ok(false),
                    Kind::Invalid(msg) => Err(msg.clone()),
                    Kind::Path(path) => self.find_root(path, &wanted),
                }
            }
        }
    }

    fn has_role(&self, wanted: &str) -> Result<bool, String> {
        let Some(roles) = self.cred("roles") else {
            return Ok(false);
        };
        let wanted = wanted.to_lowercase();
        let same = |r: &str| {
            if r.is_ascii() && wanted.is_ascii() {
                r.eq_ignore_ascii_case(&wanted)
            } else {
                r.to_lowercase() == wanted
            }
        };
        match roles {
            // Python lowers every role before comparing, so a non-string
            // anywhere in the list raises even if a match came earlier.
            Value::Array(items) => {
                let mut found = false;
                for r in items {
                    let Value::String(r) = r else {
                        return Err(format!("'{}' object has no attribute 'lower'", py_type(r)));
                    };
                    found |= same(r);
                }
                Ok(found)
            }
            Value::Object(m) => Ok(m.keys().any(|k| same(k))),
            // Iterating a string yields its characters.
            Value::String(s) => Ok(s.chars().any(|c| same(c.encode_utf8(&mut [0; 4])))),
            other => Err(format!("'{}' object is not iterable", py_type(other))),
        }
    }

    /// `GenericCheck._find_in_dict` from the credentials' top level.
    fn find_root(&self, path: &[String], wanted: &str) -> Result<bool, String> {
        let Some((key, rest)) = path.split_first() else {
            return Ok(false);
        };
        match self.cred(key) {
            None => Ok(false),
            Some(v) => fan_out(v, rest, wanted),
        }
    }
}

/// After a lookup: a list is searched element by element.
fn fan_out(v: &Value, rest: &[String], wanted: &str) -> Result<bool, String> {
    if let Value::Array(items) = v {
        for item in items {
            if find(item, rest, wanted)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    find(v, rest, wanted)
}

fn find(v: &Value, path: &[String], wanted: &str) -> Result<bool, String> {
    let Some((key, rest)) = path.split_first() else {
        return Ok(match v {
            Value::String(s) => s == wanted,
            other => py_str_owned(other) == wanted,
        });
    };
    match v {
        Value::Object(m) => match m.get(key) {
            None => Ok(false),
            Some(next) => fan_out(next, rest, wanted),
        },
        other => Err(format!(
            "'{}' object cannot be indexed by {key:?}",
            py_type(other)
        )),
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
